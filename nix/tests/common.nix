# The harness of the NixOS VM tests: one machine booting from its own disk image through OVMF
# (Secure Boot firmware, setup mode at first) and systemd-boot. lanzatool creates the keys when the
# image is built and puts PK.auth, KEK.auth and db.auth on the ESP; on the first boot systemd-boot
# enrolls them (`secure-boot-enroll force`) and resets, and from then on Secure Boot is enforcing.
# OVMF runs no option ROM signed by Microsoft here, so a db of our own certificate is safe.
{
  pkgs,
  lib,
  lanzaboote,
}:
{
  name,
  machine ? { },
  testScript,
  secureBoot ? true,
  tpm ? false,
  extraNodes ? { },
}:
pkgs.testers.runNixOSTest {
  name = "lanzaboote-${name}";
  globalTimeout = 600;
  nodes = {
    machine =
      { lib, pkgs, ... }:
      {
        imports = [
          ../modules/lanzaboote.nix
          machine
        ];
        virtualisation = {
          useBootLoader = true;
          useEFIBoot = true;
          useSecureBoot = secureBoot;
          efi.OVMF = pkgs.OVMFFull.fd;
          tpm.enable = tpm;
        };
        boot.loader.efi.canTouchEfiVariables = true;
        boot.loader.timeout = lib.mkDefault 0;
        boot.lanzaboote = {
          enable = true;
          package = lanzaboote;
          pkiBundle = "/var/lib/sbctl";
          autoGenerateKeys.enable = true;
          autoEnrollKeys = {
            enable = lib.mkDefault secureBoot;
            includeMicrosoftKeys = false;
            allowBrickingMyMachine = true;
          };
        };
        environment.systemPackages = [
          lanzaboote
          pkgs.sbsigntool
          pkgs.efibootmgr
        ];
      };
  }
  // extraNodes;
  testScript =
    ''
      def secure_boot_enabled(m=None):
          m = m or machine
          m.succeed("bootctl status | grep -F 'Secure Boot: enabled (user)'")

      def esp_files(pattern):
          return machine.succeed(f"ls /boot/{pattern}").split()

      def corrupt(path):
          machine.succeed(f"echo garbage >> {path}")
    ''
    + testScript;
}
