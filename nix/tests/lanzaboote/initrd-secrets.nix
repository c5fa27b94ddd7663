# boot.initrd.secrets reach the initrd, with Secure Boot enforcing.
{ mkTest, pkgs, ... }:
let
  secret = pkgs.writeText "oh-so-secure" "uwu";
in
mkTest {
  name = "initrd-secrets";
  machine.boot.initrd.secrets."/test" = secret;
  machine.boot.initrd.postMountCommands = ''
    cp /test /mnt-root/secret-from-initramfs
  '';
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    secure_boot_enabled()
    machine.succeed("cmp ${secret} /secret-from-initramfs")
  '';
}
