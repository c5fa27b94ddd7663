# Stand-ins for the parts of NixOS and nixpkgs that boot.lanzaboote touches, for evaluating the module
# with nixpkgs' real module system (lib.evalModules) but without nixos/ and pkgs/ (no binary cache
# here). Option names, types and defaults follow NixOS; every package is a small derivation built by
# /bin/sh. The toplevel writes a bootspec v1 document (boot.json) from this evaluation's values,
# specialisations included, as nixos/modules/system/activation/bootspec.nix does.
#
# Arguments: lib (nixpkgs' lib), and the files that stand in for the real lanzaboote package and the
# distribution's systemd-boot and kernel (built from this tree and taken from the host by the test).
{
  lib,
  lanzatool,
  stub,
  systemdBoot,
  kernel ? null,
}:
let
  inherit (lib) mkOption types;
  hostSh = "/bin/sh";
  hostPath = "/usr/bin:/bin";

  drv =
    name: script: env:
    derivation (
      {
        inherit name;
        system = builtins.currentSystem;
        builder = hostSh;
        args = [
          "-c"
          script
        ];
        PATH = hostPath;
      }
      // env
    );

  # A file's hash in the derivation, so that a rebuilt binary gives a new store path.
  fileDrv =
    name: script: files:
    drv name script (
      lib.mapAttrs (_: f: f) files // { inputHash = lib.concatMapStrings (builtins.hashFile "sha256") (lib.attrValues files); }
    );

  pkgs = rec {
    stdenv.hostPlatform.system = "x86_64-linux";
    writeText =
      name: text:
      drv name ''printf '%s' "$text" > $out'' { inherit text; };
    writeShellScript =
      name: text:
      drv name ''{ echo '#!${hostSh}'; printf '%s' "$text"; } > $out && chmod +x $out'' { inherit text; };
    callPackage = _: _: lanzaboote;
    coreutils = drv "coreutils" "mkdir -p $out/bin && ln -s /bin/touch $out/bin/touch" { };
    lanzaboote =
      fileDrv "lanzaboote-test"
        ''
          mkdir -p $out/bin $out/lib/lanzaboote
          cp "$lanzatool" $out/bin/lanzatool
          cp "$stub" $out/lib/lanzaboote/lanzabootx64.efi.stub
        ''
        { inherit lanzatool stub; }
      // {
        meta.mainProgram = "lanzatool";
      };
    systemd =
      fileDrv "systemd-test"
        ''
          mkdir -p $out/lib/systemd/boot/efi $out/bin
          cp "$systemdBoot" $out/lib/systemd/boot/efi/systemd-bootx64.efi
        ''
        { inherit systemdBoot; };
    linux =
      (
        if kernel == null then
          drv "linux-6.1.0" ''
            mkdir -p $out
            head -c 300000 /dev/urandom > $out/bzImage
          '' { }
        else
          fileDrv "linux-6.1.0" ''
            mkdir -p $out
            cp "$kernel" $out/bzImage
          '' { inherit kernel; }
      )
      // {
        version = "6.1.0";
      };
    # What the VM test definitions (nix/tests) refer to.
    inherit lib;
    testers.runNixOSTest = test: test;
    runCommand =
      name: env: script:
      drv name script env;
    OVMFFull.fd = drv "OVMF" "mkdir -p $out" { };
    sbsigntool = drv "sbsigntool" "mkdir -p $out" { };
    efibootmgr = drv "efibootmgr" "mkdir -p $out" { };
    dosfstools = drv "dosfstools" "mkdir -p $out" { };
    binutils = drv "binutils" "mkdir -p $out" { };
    cryptsetup = drv "cryptsetup" "mkdir -p $out" { };
    openssl = drv "openssl" "mkdir -p $out" { };
    fwupd = drv "fwupd" "mkdir -p $out" { } // {
      fwupd-efi = drv "fwupd-efi" "mkdir -p $out/libexec/fwupd/efi" { };
    };
  };

  # An initrd per distinct content: its kernel parameters name it, as in a real system where
  # the initrd depends on the configuration.
  initrdFor =
    name:
    drv "initrd-${name}" ''
      mkdir -p $out
      { printf '%s\n' "$name"; head -c 200000 /dev/urandom; } > $out/initrd
    '' { inherit name; };

  nixosOptions =
    { config, extendModules, ... }:
    {
      options = {
        assertions = mkOption {
          type = types.listOf types.unspecified;
          default = [ ];
        };
        warnings = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        boot.loader.efi.efiSysMountPoint = mkOption {
          type = types.str;
          default = "/boot";
        };
        boot.loader.efi.canTouchEfiVariables = mkOption {
          type = types.bool;
          default = false;
        };
        boot.loader.timeout = mkOption {
          type = types.nullOr types.int;
          default = 5;
        };
        boot.loader.systemd-boot = {
          configurationLimit = mkOption {
            type = types.nullOr types.int;
            default = null;
          };
          consoleMode = mkOption {
            type = types.enum [
              "0"
              "1"
              "2"
              "5"
              "auto"
              "max"
              "keep"
            ];
            default = "keep";
          };
          editor = mkOption {
            type = types.bool;
            default = true;
          };
        };
        boot.loader.supportsInitrdSecrets = mkOption {
          type = types.bool;
          default = false;
        };
        boot.loader.external = {
          enable = mkOption {
            type = types.bool;
            default = false;
          };
          installHook = mkOption { type = types.path; };
        };
        boot.bootspec.extensions = mkOption {
          type = types.attrsOf types.anything;
          default = { };
        };
        boot.kernelParams = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        boot.kernelPackages = mkOption {
          type = types.raw;
          default.kernel = pkgs.linux;
        };
        specialisation = mkOption {
          type = types.attrsOf (types.submodule { options.configuration = mkOption { type = types.deferredModule; }; });
          default = { };
        };
        system.nixos.label = mkOption {
          type = types.str;
          default = "26.05.test";
        };
        system.build = mkOption {
          type = types.lazyAttrsOf types.unspecified;
          default = { };
        };
        systemd.package = mkOption {
          type = types.package;
          default = pkgs.systemd;
        };
        systemd.services = mkOption {
          type = types.attrsOf (types.attrsOf types.anything);
          default = { };
        };
        environment.etc = mkOption {
          type = types.attrsOf (types.attrsOf types.anything);
          default = { };
        };
        services.fwupd = {
          enable = mkOption {
            type = types.bool;
            default = false;
          };
          package = mkOption {
            type = types.package;
            default = pkgs.fwupd;
          };
          uefiCapsuleSettings = mkOption {
            type = types.attrsOf types.anything;
            default = { };
          };
        };
      };

      config =
        let
          specs = lib.mapAttrs (
            _: s:
            (extendModules {
              modules = [
                s.configuration
                { specialisation = lib.mkOverride 0 { }; }
              ];
            }).config
          ) config.specialisation;
          kernelFile = "${config.boot.kernelPackages.kernel}/bzImage";
          initrd = initrdFor (builtins.hashString "sha256" (toString config.boot.kernelParams));
          bootspec = toplevel: {
            "org.nixos.bootspec.v1" = {
              init = "${toplevel}/init";
              initrd = "${initrd}/initrd";
              kernel = kernelFile;
              kernelParams = config.boot.kernelParams;
              label = "NixOS ${config.system.nixos.label} (Linux ${config.boot.kernelPackages.kernel.version})";
              system = pkgs.stdenv.hostPlatform.system;
              inherit toplevel;
            };
          }
          // config.boot.bootspec.extensions;
          # "@out@" is the toplevel's own path, only known while it is built.
          document =
            bootspec "@out@"
            // {
              "org.nixos.specialisation.v1" = lib.mapAttrs (
                _: c: c.system.build.bootspecDocument c.system.build.toplevel
              ) specs;
            };
        in
        {
          _module.args.pkgs = pkgs;
          system.build.bootspecDocument = bootspec;
          system.build.installBootLoader = lib.mkIf config.boot.loader.external.enable config.boot.loader.external.installHook;
          system.build.toplevel =
            if lib.any (a: !a.assertion) config.assertions then
              throw "failed assertions: ${lib.concatMapStringsSep "; " (a: a.message) (lib.filter (a: !a.assertion) config.assertions)}"
            else
              drv "nixos-system-test" ''
                mkdir -p $out/specialisation
                printf '%s' "$document" | sed "s|@out@|$out|g" > $out/boot.json
                ln -s ${kernelFile} $out/kernel
                ln -s ${initrd}/initrd $out/initrd
                printf '#!/bin/sh\n' > $out/init
                ${lib.concatStrings (
                  lib.mapAttrsToList (n: c: ''
                    ln -s ${c.system.build.toplevel} $out/specialisation/${n}
                  '') specs
                )}
              '' { document = builtins.toJSON document; };
        };
    };
in
{
  inherit pkgs nixosOptions;

  # Everything else NixOS declares (virtualisation.*, boot.initrd.*, …), accepted as free-form
  # values: for evaluating the VM tests' machine configurations with the module.
  freeform = {
    _module.freeformType = types.attrsOf types.anything;
  };

  # The module under test with these stand-ins and the given configuration modules.
  eval =
    lanzabooteModule: modules:
    lib.evalModules {
      modules = [
        nixosOptions
        lanzabooteModule
      ]
      ++ modules;
    };
}
