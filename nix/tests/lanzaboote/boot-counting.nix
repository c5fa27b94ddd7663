# bootCounting.initialTries: new entries carry +2; a specialisation sorted first whose
# boot-complete.target fails counts down to +0-2, and systemd-boot falls back to the good entry,
# which systemd-bless-boot marks good.
{ mkTest, ... }:
mkTest {
  name = "boot-counting";
  machine = {
    boot.lanzaboote.bootCounting.initialTries = 2;
    specialisation.bad.configuration = {
      boot.lanzaboote.sortKey = "a-bad-first";
      systemd.services.fail-boot = {
        wantedBy = [ "boot-complete.target" ];
        before = [ "boot-complete.target" ];
        requiredBy = [ "boot-complete.target" ];
        serviceConfig.Type = "oneshot";
        script = "exit 1";
      };
    };
  };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("test -e /sys/firmware/efi/efivars/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
    esp_files("EFI/Linux/nixos-generation-1-specialisation-bad-*+1-1.efi")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    esp_files("EFI/Linux/nixos-generation-1-specialisation-bad-*+0-2.efi")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    machine.fail("systemctl is-active fail-boot.service")
    machine.wait_until_succeeds("ls /boot/EFI/Linux/ | grep -E '^nixos-generation-1-[a-z2-7]{52}\\.efi$'")
  '';
}
