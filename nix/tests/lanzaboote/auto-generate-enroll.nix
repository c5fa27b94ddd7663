# Keys created and enrolled without a hand: the image's first install creates them and puts the
# .auth files on the ESP; systemd-boot enrolls them; Secure Boot is enforcing from then on and the
# provisioning units have nothing left to do.
{ mkTest, ... }:
mkTest {
  name = "auto-generate-enroll";
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("grep -x 'secure-boot-enroll force' /boot/loader/loader.conf")
    machine.succeed("test -e /etc/sbctl/sbctl.conf")
    for k in ["PK", "KEK", "db"]:
        machine.succeed(f"test -s /boot/loader/keys/auto/{k}.auth")
    secure_boot_enabled()
    machine.succeed("systemctl status generate-sb-keys.service | grep -F 'start condition unmet'")
    machine.succeed("systemctl status prepare-sb-auto-enroll.service | grep -F 'start condition unmet'")
    machine.succeed("lanzatool --esp-path=/boot --pki-bundle=/var/lib/sbctl verify")
  '';
}
