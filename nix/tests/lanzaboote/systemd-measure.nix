# PCR 11 as measured equals systemd-measure's prediction from the stub's sections and the files it
# pins; systemd sees a measured UKI.
{ mkTest, ... }:
mkTest {
  name = "systemd-measure";
  tpm = true;
  machine =
    { pkgs, ... }:
    {
      environment.systemPackages = [ pkgs.binutils ];
    };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    stub = esp_files("EFI/Linux/nixos-generation-1-*.efi")[0]
    machine.succeed(f"objcopy -O binary --only-section=.osrel {stub} /tmp/osrel")
    machine.succeed(f"objcopy -O binary --only-section=.cmdline {stub} /tmp/cmdline")
    # "11:sha256=<hex>"
    predicted = machine.succeed(
        "/run/current-system/sw/lib/systemd/systemd-measure calculate"
        + " --linux=$(ls /boot/EFI/nixos/kernel-*) --initrd=$(ls /boot/EFI/nixos/initrd-*)"
        + " --osrel=/tmp/osrel --cmdline=/tmp/cmdline --phase= --bank=sha256"
    ).strip().split("=")[-1].lower()
    actual = machine.succeed("cat /sys/class/tpm/tpm0/pcr-sha256/11").strip().lower()
    assert predicted == actual, f"predicted {predicted}, measured {actual}"
    machine.succeed("systemd-analyze condition ConditionSecurity=measured-uki")
    machine.fail("/run/current-system/sw/lib/systemd/systemd-measure status 2>&1 | grep -F 'Failed to parse EFI variable'")
  '';
}
