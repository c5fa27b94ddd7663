# A specialisation gets its own entry and sort key; `bootctl set-default` boots it.
{ mkTest, ... }:
mkTest {
  name = "specialisation";
  machine = {
    environment.etc.which.text = "parent";
    specialisation.variant.configuration =
      { lib, ... }:
      {
        environment.etc.which.text = lib.mkForce "variant";
        boot.lanzaboote.sortKey = "variantSortKey";
      };
  };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    secure_boot_enabled()
    machine.succeed("grep -x parent /etc/which")
    machine.succeed("bootctl status | grep -F 'sort-key: lanza'")
    machine.succeed("bootctl list | grep -F 'sort-key: variantSortKey'")
    variant = esp_files("EFI/Linux/nixos-generation-1-specialisation-variant-*.efi")[0]
    machine.succeed(f"bootctl set-default {variant.split('/')[-1]}")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("grep -x variant /etc/which")
    secure_boot_enabled()
  '';
}
