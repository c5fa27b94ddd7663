# For users without flakes (niv, npins, fetchTarball):
#   imports = [ (import lanzaboote { inherit pkgs; }).nixosModules.lanzaboote ];
# NixOS VM tests: nix-build -A tests.basic
{
  pkgs ? import <nixpkgs> { },
}:
let
  lanzaboote = pkgs.callPackage ./nix/packages/lanzaboote.nix { };
in
{
  inherit lanzaboote;
  nixosModules.lanzaboote = ./nix/modules/lanzaboote.nix;
  tests = lanzaboote.passthru.tests;
}
