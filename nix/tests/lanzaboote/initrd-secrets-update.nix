# A specialisation with another secret gets an initrd of its own: one kernel and two initrds in
# EFI/nixos; booting the specialisation shows its secret.
{ mkTest, pkgs, ... }:
let
  secret = text: pkgs.writeText "secret" text;
  machineWith = text: {
    boot.initrd.secrets."/test" = secret text;
    boot.initrd.postMountCommands = ''
      cp /test /mnt-root/secret-from-initramfs
    '';
  };
in
mkTest {
  name = "initrd-secrets-update";
  machine = {
    imports = [ (machineWith "one") ];
    specialisation.variant.configuration.boot.initrd.secrets."/test" = pkgs.lib.mkForce (secret "two");
  };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("cmp ${secret "one"} /secret-from-initramfs")
    assert len(esp_files("EFI/nixos/*")) == 3, esp_files("EFI/nixos/*")
    variant = esp_files("EFI/Linux/nixos-generation-1-specialisation-variant-*.efi")[0]
    machine.succeed(f"bootctl set-default {variant.split('/')[-1]}")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("cmp ${secret "two"} /secret-from-initramfs")
  '';
}
