# Secure Boot enforcing with our own keys; the sort key reaches systemd-boot; the stub is a UKI to
# bootctl; lanzatool verify and sbverify accept what is on the ESP.
{ mkTest, ... }:
mkTest {
  name = "basic";
  machine.boot.lanzaboote.sortKey = "mySpecialSortKey";
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    secure_boot_enabled()
    machine.succeed("bootctl status | grep -F 'sort-key: mySpecialSortKey'")
    for stub in esp_files("EFI/Linux/nixos-generation-1-*.efi"):
        machine.succeed(f"bootctl kernel-inspect {stub} | grep -F 'Kernel Type: uki'")
    machine.succeed("lanzatool --esp-path=/boot --pki-bundle=/var/lib/sbctl verify")
    machine.succeed("sbverify --cert /var/lib/sbctl/keys/db/db.pem /boot/EFI/BOOT/BOOTX64.EFI")
  '';
}
