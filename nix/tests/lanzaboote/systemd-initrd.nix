# The same with systemd in the initrd.
{ mkTest, ... }:
mkTest {
  name = "systemd-initrd";
  machine.boot.initrd.systemd.enable = true;
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    secure_boot_enabled()
  '';
}
