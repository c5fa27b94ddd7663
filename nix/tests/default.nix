# The NixOS VM tests, upstream lanzaboote's scenarios (nix/tests/lanzaboote/*.nix) against
# pkgs.testers.runNixOSTest. They need KVM and a binary cache: run them with
#   nix build .#checks.x86_64-linux.<name>   or   nix-build -A tests.<name>
{
  pkgs,
  lib,
  lanzaboote,
}:
let
  mkTest = import ./common.nix { inherit pkgs lib lanzaboote; };
  call = file: import file { inherit mkTest pkgs lib; };
  hashMismatch = call ./lanzaboote/hash-mismatch.nix;
  exportEfivars = call ./lanzaboote/export-efivars.nix;
  specialisation = call ./lanzaboote/specialisation.nix;
in
{
  basic = call ./lanzaboote/basic.nix;
  systemd-initrd = call ./lanzaboote/systemd-initrd.nix;
  systemd-boot-loader-config = call ./lanzaboote/systemd-boot-loader-config.nix;
  specialisation = specialisation { sortFirst = false; };
  specialisation-sort-key = specialisation { sortFirst = true; };
  initrd-secrets = call ./lanzaboote/initrd-secrets.nix;
  initrd-secrets-update = call ./lanzaboote/initrd-secrets-update.nix;
  hash-mismatch-initrd = hashMismatch {
    what = "initrd";
    secureBoot = false;
  };
  hash-mismatch-initrd-sb = hashMismatch {
    what = "initrd";
    secureBoot = true;
  };
  hash-mismatch-kernel = hashMismatch {
    what = "kernel";
    secureBoot = false;
  };
  hash-mismatch-kernel-sb = hashMismatch {
    what = "kernel";
    secureBoot = true;
  };
  export-efivars = exportEfivars { tpm = false; };
  export-efivars-tpm = exportEfivars { tpm = true; };
  extra-efi-partitions = call ./lanzaboote/extra-efi-partitions.nix;
  auto-generate-enroll = call ./lanzaboote/auto-generate-enroll.nix;
  boot-counting = call ./lanzaboote/boot-counting.nix;
  systemd-measure = call ./lanzaboote/systemd-measure.nix;
  systemd-pcrlock = call ./lanzaboote/systemd-pcrlock.nix;
  measured-boot = call ./lanzaboote/measured-boot.nix;
}
