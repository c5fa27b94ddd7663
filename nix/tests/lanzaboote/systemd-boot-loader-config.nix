# boot.lanzaboote.settings reach loader.conf.
{ mkTest, ... }:
mkTest {
  name = "systemd-boot-loader-config";
  machine.boot.lanzaboote.settings = {
    timeout = 0;
    console-mode = "auto";
  };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("grep -x 'timeout 0' /boot/loader/loader.conf")
    machine.succeed("grep -x 'console-mode auto' /boot/loader/loader.conf")
  '';
}
