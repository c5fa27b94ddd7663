# A specialisation gets its own entry and sort key. sortFirst = false: `bootctl set-default`
# boots it; sortFirst = true: its sort key sorts before the parent's, so systemd-boot's
# `default nixos-*` picks it on its own.
{ mkTest, ... }:
{ sortFirst }:
let
  sortKey = if sortFirst then "a-first" else "variantSortKey";
in
mkTest {
  name = if sortFirst then "specialisation-sort-key" else "specialisation";
  machine = {
    environment.etc.which.text = "parent";
    specialisation.variant.configuration =
      { lib, ... }:
      {
        environment.etc.which.text = lib.mkForce "variant";
        boot.lanzaboote.sortKey = sortKey;
      };
  };
  testScript =
    ''
      machine.start()
      machine.wait_for_unit("multi-user.target")
      secure_boot_enabled()
      machine.succeed("bootctl list | grep -F 'sort-key: ${sortKey}'")
    ''
    + (
      if sortFirst then
        ''
          machine.succeed("grep -x variant /etc/which")
        ''
      else
        ''
          machine.succeed("grep -x parent /etc/which")
          machine.succeed("bootctl status | grep -F 'sort-key: lanza'")
          variant = esp_files("EFI/Linux/nixos-generation-1-specialisation-variant-*.efi")[0]
          machine.succeed(f"bootctl set-default {variant.split('/')[-1]}")
          machine.reboot()
          machine.wait_for_unit("multi-user.target")
          machine.succeed("grep -x variant /etc/which")
          secure_boot_enabled()
        ''
    );
}
