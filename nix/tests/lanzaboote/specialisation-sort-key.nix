# A specialisation whose sort key sorts first is systemd-boot's default (`default nixos-*`).
{ mkTest, ... }:
mkTest {
  name = "specialisation-sort-key";
  machine = {
    environment.etc.which.text = "parent";
    specialisation.variant.configuration =
      { lib, ... }:
      {
        environment.etc.which.text = lib.mkForce "variant";
        boot.lanzaboote.sortKey = "a-first";
      };
  };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("grep -x variant /etc/which")
  '';
}
