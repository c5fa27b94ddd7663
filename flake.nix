{
  description = "Lanzaboote: Secure Boot and measured boot for NixOS, written in C";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # The module builds its package from this tree with the system's own nixpkgs
      # (boot.lanzaboote.package); nothing else to wire.
      nixosModules.lanzaboote = ./nix/modules/lanzaboote.nix;
      nixosModules.default = self.nixosModules.lanzaboote;

      packages = forAllSystems (pkgs: {
        lanzaboote = pkgs.callPackage ./nix/packages/lanzaboote.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.lanzaboote;
      });

      # NixOS VM tests (KVM and a binary cache needed): nix build .#checks.x86_64-linux.basic
      checks = forAllSystems (pkgs: self.packages.${pkgs.stdenv.hostPlatform.system}.lanzaboote.passthru.tests);
    };
}
