# extraEfiSysMountPoints: `switch-to-configuration boot` installs to /boot and /boot2.
{ mkTest, ... }:
mkTest {
  name = "extra-efi-partitions";
  machine =
    { pkgs, ... }:
    {
      virtualisation.emptyDiskImages = [ 64 ];
      boot.lanzaboote.extraEfiSysMountPoints = [ "/boot2" ];
      environment.systemPackages = [ pkgs.dosfstools ];
    };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("mkfs.vfat /dev/vdb && mkdir -p /boot2 && mount /dev/vdb /boot2")
    machine.succeed("/run/current-system/bin/switch-to-configuration boot")
    for esp in ["/boot", "/boot2"]:
        machine.succeed(f"ls {esp}/EFI/Linux/nixos-generation-1-*.efi")
        machine.succeed(f"bootctl kernel-inspect {esp}/EFI/Linux/nixos-generation-1-*.efi | grep -F 'Kernel Type: uki'")
  '';
}
