# A kernel or initrd changed on the ESP never boots, with Secure Boot on or off: the stub names the
# file and returns to systemd-boot.
{ mkTest, ... }:
{ what, secureBoot }:
mkTest {
  name = "hash-mismatch-${what}${if secureBoot then "-sb" else ""}";
  inherit secureBoot;
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    ${if secureBoot then "secure_boot_enabled()" else ""}
    for f in esp_files("EFI/nixos/${what}-*.efi"):
        corrupt(f)
    machine.succeed("sync")
    machine.crash()
    machine.start()
    machine.wait_for_console_text("does not match this boot entry")
  '';
}
