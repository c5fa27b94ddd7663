# boot.lanzaboote: upstream lanzaboote's NixOS options, carried out by lanzatool.
# Every option that lanzatool can honour is mapped onto its command line (nix/lib.nix); every other
# one fails evaluation with an assertion that says why. Nothing is silently ignored.
{
  lib,
  config,
  options,
  pkgs,
  ...
}:
let
  cfg = config.boot.lanzaboote;
  lzbt = import ../lib.nix;
  espMountPoint = config.boot.loader.efi.efiSysMountPoint;
  efiSysMountPoints = [ espMountPoint ] ++ cfg.extraEfiSysMountPoints;
  system = pkgs.stdenv.hostPlatform.system;
  efiArch = lzbt.efiArchOf system;

  # upstream: lib.types.externalPath (nixpkgs lib since 2025-11); types.path before that.
  externalPath = lib.types.externalPath or lib.types.path;

  # lanzatool takes the bundle; separate key files work only where the bundle keeps them.
  bundleFile = name: "${toString cfg.pkiBundle}/keys/db/${name}";

  loader = lzbt.loaderSettings cfg.settings cfg.autoEnrollKeys.enable;
  enroll = cfg.autoEnrollKeys;
  measured = cfg.measuredBoot;

  installArgs = lzbt.installArgs {
    inherit (cfg) pkiBundle configurationLimit;
    stub = "${cfg.package}/lib/lanzaboote/lanzaboot${efiArch}.efi.stub";
    systemdBoot = "${config.systemd.package}/lib/systemd/boot/efi/systemd-boot${efiArch}.efi";
    bootCounting = cfg.bootCounting.initialTries;
    debug = cfg.logLevel == "debug";
    # As systemd-boot's module: the firmware's boot entries only when NixOS may touch them.
    noVariables = !config.boot.loader.efi.canTouchEfiVariables;
    loader = loader.args;
    autoEnroll =
      if enroll.enable then
        {
          microsoft = if enroll.includeMicrosoftKeys then enroll.microsoftCertificates else null;
          firmwareBuiltin = enroll.includeFirmwareBuiltinKeys;
          eventlogDigests = enroll.includeChecksumsFromTPM && lzbt.has "tpmEventlogDigests";
          dbCerts = enroll.extraDbCertificates;
          kekCerts = enroll.extraKekCertificates;
          allowBricking = enroll.allowBrickingMyMachine;
        }
      else
        null;
    # Signing PCR 11 policies needs nothing else: a key given is used, measuredBoot.enable or not.
    pcrPrivateKey = measured.pcrPrivateKeyFile;
    pcrPublicKey = measured.pcrPublicKeyFile;
  };

  # Rollback (nixos-rebuild switch --rollback): systemd-boot's default becomes the generation being
  # switched to, not the newest; unless settings.default names another default. A toplevel that is
  # no generation of the profile (a specialisation's, one never registered) leaves the newest.
  rollback = lzbt.has "defaultGeneration" && cfg.settings.default == "nixos-*";
  findDefaultGeneration = lib.optionalString rollback ''
    default=
    if [ -n "$toplevel" ]; then
      for link in /nix/var/nix/profiles/system-*-link; do
        if [ "$(readlink -f "$link")" = "$(readlink -f "$toplevel")" ]; then
          default="--default-generation=$link"
        fi
      done
    fi
  '';
  defaultGeneration = lib.optionalString rollback "\${default:+\"$default\"} ";

  createKeys = "${lib.getExe cfg.package} --pki-bundle=${lzbt.shellQuote cfg.pkiBundle} create-keys";

  # The hook gets the configuration being switched to as $1 (switch-to-configuration,
  # nixos-install); lanzatool installs every generation of the system profile.
  installHook = pkgs.writeShellScript "lanzaboote-install" (
    ''
      set -eu
      toplevel=''${1:-}
    ''
    + findDefaultGeneration
    + lib.optionalString cfg.autoGenerateKeys.enable ''
      if [ ! -e ${lzbt.shellQuote cfg.pkiBundle}/keys ]; then
        ${createKeys}
      fi
    ''
    + lib.concatMapStrings (esp: ''
      ${cfg.installCommand} --esp-path=${lzbt.shellQuote esp} ${defaultGeneration}/nix/var/nix/profiles/system-*-link
    '') efiSysMountPoints
  );

  sbctlConfig = pkgs.writeText "sbctl.conf" ''
    keydir: ${toString cfg.pkiBundle}/keys
    guid: ${toString cfg.pkiBundle}/GUID
  '';

  fwupdEfi = "${config.services.fwupd.package.fwupd-efi or config.services.fwupd.package}/libexec/fwupd/efi";

  unsupported = lzbt.unsupported [
    {
      when = efiArch == null;
      why = "system ${system}: lanzaboote builds stubs for x86_64-linux and aarch64-linux only";
    }
    {
      when = cfg.publicKeyFile != bundleFile "db.pem" || cfg.privateKeyFile != bundleFile "db.key";
      why = "publicKeyFile/privateKeyFile: lanzatool signs with pkiBundle's keys/db/db.{pem,key} (or a pkcs11: URI in keys/db/db.uri), not with key files elsewhere";
    }
    {
      when = cfg.allowUnsigned;
      why = "allowUnsigned: lanzatool never installs unsigned files; with autoGenerateKeys.enable the install hook creates the keys before the first install instead";
    }
    {
      when = enroll.enable && enroll.includeMicrosoftKeys && enroll.microsoftCertificates == null;
      why = "autoEnrollKeys.includeMicrosoftKeys: lanzatool ships no Microsoft certificates; set autoEnrollKeys.microsoftCertificates to a directory holding KEK/ and db/ certificate files (lanzatool --microsoft=DIR), or set includeMicrosoftKeys to false and use includeFirmwareBuiltinKeys (the firmware's own db and KEK, Microsoft's on most PCs) or extraDbCertificates/extraKekCertificates with the certificate files";
    }
    {
      when = enroll.enable && enroll.includeChecksumsFromTPM && !lzbt.has "tpmEventlogDigests";
      why = "autoEnrollKeys.includeChecksumsFromTPM: lanzatool does not add the event log's option ROM digests to db";
    }
    {
      when = measured.pcrs != [ ];
      why = "measuredBoot.pcrs: lanzatool writes no systemd-pcrlock files; it signs PCR 11 policies (.pcrsig) with measuredBoot.pcrPrivateKeyFile instead";
    }
    {
      when = measured.staticMeasurements != { } || measured.upstreamStaticMeasurements != [ ];
      why = "measuredBoot.staticMeasurements/upstreamStaticMeasurements: systemd-pcrlock policies are not supported by lanzatool";
    }
    {
      when =
        measured.pcrlockDirectory != options.boot.lanzaboote.measuredBoot.pcrlockDirectory.default
        || measured.pcrlockPolicy != options.boot.lanzaboote.measuredBoot.pcrlockPolicy.default;
      why = "measuredBoot.pcrlockDirectory/pcrlockPolicy: systemd-pcrlock policies are not supported by lanzatool";
    }
    {
      when = measured.autoCryptenroll.enable && !measured.enable;
      why = "measuredBoot.autoCryptenroll needs measuredBoot.enable";
    }
  ];
in
{
  imports = [
    (lib.mkRemovedOptionModule [ "boot" "lanzaboote" "enrollKeys" ] ''
      It was an internal option for tests; use autoEnrollKeys.enable.
    '')
  ];

  options.boot.lanzaboote = {
    enable = lib.mkEnableOption "Secure Boot with lanzaboote (signed stubs installed by lanzatool)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ../packages/lanzaboote.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/packages/lanzaboote.nix { }";
      description = "The lanzaboote package: lanzatool and the stubs.";
    };

    pkiBundle = lib.mkOption {
      type = lib.types.nullOr externalPath;
      default = null;
      example = "/var/lib/sbctl";
      description = "Directory of the Secure Boot keys in sbctl's layout (keys/{PK,KEK,db}/*.{key,pem}, GUID). Required.";
    };

    publicKeyFile = lib.mkOption {
      type = lib.types.path;
      default = bundleFile "db.pem";
      defaultText = lib.literalExpression ''"''${config.boot.lanzaboote.pkiBundle}/keys/db/db.pem"'';
      description = "The db certificate. lanzatool reads it from pkiBundle; another value fails evaluation.";
    };

    privateKeyFile = lib.mkOption {
      type = lib.types.path;
      default = bundleFile "db.key";
      defaultText = lib.literalExpression ''"''${config.boot.lanzaboote.pkiBundle}/keys/db/db.key"'';
      description = "The db key. lanzatool reads it from pkiBundle; another value fails evaluation.";
    };

    configurationLimit = lib.mkOption {
      type = lib.types.nullOr lib.types.int;
      default = config.boot.loader.systemd-boot.configurationLimit;
      defaultText = lib.literalExpression "config.boot.loader.systemd-boot.configurationLimit";
      example = 10;
      description = "Keep at most this many generations on the ESP (`--configuration-limit`); null keeps all.";
    };

    settings = lib.mkOption {
      type = lib.types.submodule {
        freeformType = lib.types.attrsOf (
          lib.types.nullOr (
            lib.types.oneOf [
              lib.types.bool
              lib.types.int
              lib.types.str
            ]
          )
        );
      };
      apply = lib.recursiveUpdate options.boot.lanzaboote.settings.default;
      default = {
        timeout = config.boot.loader.timeout;
        console-mode = config.boot.loader.systemd-boot.consoleMode;
        editor = config.boot.loader.systemd-boot.editor;
        default = "nixos-*";
      }
      // lib.optionalAttrs cfg.autoEnrollKeys.enable { secure-boot-enroll = "force"; };
      defaultText = lib.literalExpression ''
        {
          timeout = config.boot.loader.timeout;
          console-mode = config.boot.loader.systemd-boot.consoleMode;
          editor = config.boot.loader.systemd-boot.editor;
          default = "nixos-*";
        } // lib.optionalAttrs config.boot.lanzaboote.autoEnrollKeys.enable { secure-boot-enroll = "force"; }
      '';
      description = ''
        loader.conf, as lanzatool writes it: `timeout` (`--timeout`), `default` (`--default`),
        `editor` (`--editor`) and `console-mode` (`--console-mode`); null removes `timeout` and
        `console-mode`. Other keys fail evaluation.
      '';
    };

    sortKey = lib.mkOption {
      type = lib.types.str;
      default = "lanza";
      description = "systemd-boot sort key of the NixOS entries (bootspec extension org.nix-community.lanzaboote).";
    };

    bootCounting.initialTries = lib.mkOption {
      type = lib.types.ints.u32;
      default = 0;
      description = "Boot attempts of new entries (`--boot-counting`); 0 turns boot counting off.";
    };

    logLevel = lib.mkOption {
      type = lib.types.enum [
        "info"
        "debug"
      ];
      default = "info";
      description = "lanzatool's log level (debug: `-v`).";
    };

    installCommand = lib.mkOption {
      type = lib.types.str;
      readOnly = true;
      default = "${lib.getExe cfg.package} ${lzbt.shellArgs installArgs} install";
      defaultText = lib.literalExpression "lanzatool <options from this module> install";
      description = ''
        lanzatool with this configuration's options, up to the verb. For image builds append
        `--esp-path=DIR` and the toplevel (a plain directory as ESP needs
        `LANZATOOL_RELAX_ESP_CHECKS=1`).
      '';
    };

    extraEfiSysMountPoints = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "More ESPs, each installed like boot.loader.efi.efiSysMountPoint.";
    };

    allowUnsigned = lib.mkEnableOption "" // {
      default = false;
      description = ''
        Upstream installs unsigned files while no keys exist. lanzatool never does; with
        autoGenerateKeys.enable the install hook creates the keys first. true fails evaluation.
      '';
    };

    autoGenerateKeys.enable = lib.mkEnableOption "creating the keys (`lanzatool create-keys`) when pkiBundle has none";

    autoEnrollKeys = {
      enable = lib.mkEnableOption "" // {
        description = ''
          Put PK.auth, KEK.auth and db.auth on the ESP (`install --auto-enroll`) and let
          systemd-boot enroll them in setup mode (`secure-boot-enroll force`).
        '';
      };
      autoReboot = lib.mkEnableOption "rebooting once the keys wait on the ESP for enrollment";
      includeMicrosoftKeys = lib.mkEnableOption "" // {
        default = true;
        description = "Enroll Microsoft's certificates too, from autoEnrollKeys.microsoftCertificates (lanzatool ships none: true without that directory fails evaluation with autoEnrollKeys.enable).";
      };
      microsoftCertificates = lib.mkOption {
        type = lib.types.nullOr lib.types.path;
        default = null;
        description = "Directory with Microsoft's certificates, `KEK/` and `db/` holding .der/.pem/.crt/.cer files (`--microsoft=DIR`). Not in upstream.";
      };
      includeFirmwareBuiltinKeys = lib.mkEnableOption "the firmware's dbDefault and KEKDefault in db and KEK (`--firmware-builtin`)";
      includeChecksumsFromTPM = lib.mkEnableOption "" // {
        description = "Add the option ROM digests of the TPM event log to db (`--tpm-eventlog`).";
      };
      allowBrickingMyMachine = lib.mkEnableOption "" // {
        description = "Enroll a db holding nothing but your certificate (`--yes-this-might-brick-my-machine`).";
      };
      extraDbCertificates = lib.mkOption {
        type = lib.types.listOf lib.types.path;
        default = [ ];
        description = "Certificates (PEM or DER) added to db, e.g. Microsoft Corporation UEFI CA 2011 (`--add-db-cert`). Not in upstream.";
      };
      extraKekCertificates = lib.mkOption {
        type = lib.types.listOf lib.types.path;
        default = [ ];
        description = "Certificates (PEM or DER) added to KEK (`--add-kek-cert`). Not in upstream.";
      };
    };

    measuredBoot = {
      enable = lib.mkEnableOption "" // {
        description = ''
          Measured boot: every stub carries `.pcrpkey` and `.pcrsig`, systemd's signed PCR 11
          policies, signed with pcrPrivateKeyFile (`--pcr-private-key`), for
          `systemd-cryptenroll --tpm2-public-key`. systemd-pcrlock policies are not supported.
        '';
      };
      pcrPrivateKeyFile = lib.mkOption {
        type = lib.types.nullOr externalPath;
        default = null;
        description = "RSA key (PEM) signing the PCR 11 policies (`--pcr-private-key`). Not in upstream.";
      };
      pcrPublicKeyFile = lib.mkOption {
        type = lib.types.nullOr externalPath;
        default = null;
        description = "Its public key (PEM), checked against the private key (`--pcr-public-key`) and used by autoCryptenroll. Not in upstream.";
      };
      pcrs = lib.mkOption {
        type = lib.types.listOf (
          lib.types.enum [
            0
            1
            2
            3
            4
            7
          ]
        );
        default = [ ];
        description = "PCRs for a systemd-pcrlock policy. Not supported by lanzatool: a non-empty list fails evaluation.";
      };
      pcrlockDirectory = lib.mkOption {
        type = lib.types.path;
        default = "/var/lib/pcrlock.d";
        description = "systemd-pcrlock components. Not supported: another value fails evaluation.";
      };
      pcrlockPolicy = lib.mkOption {
        type = lib.types.path;
        default = "/var/lib/systemd/pcrlock.json";
        description = "systemd-pcrlock policy. Not supported: another value fails evaluation.";
      };
      upstreamStaticMeasurements = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        description = "systemd's static .pcrlock files. Not supported: a non-empty list fails evaluation.";
      };
      staticMeasurements = lib.mkOption {
        type = lib.types.attrsOf lib.types.anything;
        default = { };
        description = "Own .pcrlock files. Not supported: a non-empty set fails evaluation.";
      };
      autoCryptenroll = {
        enable = lib.mkEnableOption "enrolling the signed PCR 11 policy into a LUKS2 volume (`systemd-cryptenroll --tpm2-public-key`)";
        device = lib.mkOption {
          type = lib.types.nullOr lib.types.str;
          default = null;
          description = "The LUKS2 device.";
        };
        autoReboot = lib.mkEnableOption "rebooting after the enrollment";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      [
        {
          assertion = cfg.pkiBundle != null;
          message = "boot.lanzaboote.pkiBundle must be set: the directory of the Secure Boot keys, e.g. /var/lib/sbctl (`lanzatool --pki-bundle=DIR create-keys` makes them).";
        }
        {
          assertion = !(enroll.enable && lzbt.enrollWouldBrick enroll);
          message = ''
            boot.lanzaboote.autoEnrollKeys would enroll a db holding nothing but your certificate; option ROMs
            (graphics, disk, network cards) signed by Microsoft would no longer run. Keep them with
            includeFirmwareBuiltinKeys or extraDbCertificates, or accept the risk with allowBrickingMyMachine.
          '';
        }
        {
          assertion = measured.enable -> cfg.configurationLimit != null && cfg.configurationLimit > 0 && cfg.configurationLimit <= 8;
          message = "boot.lanzaboote.measuredBoot: keep at most 8 generations (set boot.lanzaboote.configurationLimit = 8), as upstream requires.";
        }
        {
          assertion = measured.enable -> measured.pcrPrivateKeyFile != null;
          message = "boot.lanzaboote.measuredBoot.enable needs measuredBoot.pcrPrivateKeyFile: lanzatool signs PCR 11 policies with it.";
        }
        {
          assertion = measured.autoCryptenroll.enable -> measured.autoCryptenroll.device != null && measured.pcrPublicKeyFile != null;
          message = "boot.lanzaboote.measuredBoot.autoCryptenroll needs autoCryptenroll.device and measuredBoot.pcrPublicKeyFile.";
        }
        {
          assertion = loader.problems == [ ];
          message = "boot.lanzaboote.settings not supported: ${lib.concatStringsSep "; " loader.problems}";
        }
      ]
      ++ map (why: {
        assertion = false;
        message = "boot.lanzaboote: not supported: ${why}";
      }) unsupported;

    boot.bootspec.extensions."org.nix-community.lanzaboote".sort_key = cfg.sortKey;
    boot.loader.supportsInitrdSecrets = true;
    boot.loader.external = {
      enable = true;
      installHook = installHook;
    };

    environment.etc."sbctl/sbctl.conf" = lib.mkIf (cfg.autoGenerateKeys.enable || enroll.enable) {
      source = sbctlConfig;
    };

    systemd.services.generate-sb-keys = lib.mkIf cfg.autoGenerateKeys.enable {
      description = "Create the Secure Boot keys";
      wantedBy = [ "multi-user.target" ];
      unitConfig.ConditionPathExists = "!${toString cfg.pkiBundle}/keys";
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = createKeys;
      };
    };

    # The keys of an image built without them: the first boot creates them (generate-sb-keys),
    # this reinstalls everything signed with them and puts the .auth files on the ESP.
    systemd.services.prepare-sb-auto-enroll = lib.mkIf enroll.enable {
      description = "Put the Secure Boot keys on the ESP for systemd-boot to enroll";
      wantedBy = [ "multi-user.target" ];
      after = [ "generate-sb-keys.service" ];
      unitConfig =
        {
          ConditionPathExists = map (k: "!${espMountPoint}/loader/keys/auto/${k}.auth") [
            "PK"
            "KEK"
            "db"
          ];
        }
        // lib.optionalAttrs enroll.autoReboot { SuccessAction = "reboot"; };
      serviceConfig =
        {
          Type = "oneshot";
          ExecStart = "${installHook} /run/current-system";
        }
        // lib.optionalAttrs (!enroll.autoReboot) { RemainAfterExit = true; };
    };

    systemd.services.auto-cryptenroll = lib.mkIf measured.autoCryptenroll.enable {
      description = "Enroll the signed PCR 11 policy into ${toString measured.autoCryptenroll.device}";
      wantedBy = [ "multi-user.target" ];
      unitConfig =
        {
          ConditionPathExists = "!/var/lib/auto-cryptenroll/1";
        }
        // lib.optionalAttrs enroll.enable { ConditionSecurity = "uefi-secureboot"; }
        // lib.optionalAttrs measured.autoCryptenroll.autoReboot { SuccessAction = "reboot"; };
      serviceConfig =
        {
          Type = "oneshot";
          StateDirectory = "auto-cryptenroll";
          ExecStart = lzbt.shellArgs [
            "${config.systemd.package}/bin/systemd-cryptenroll"
            "--wipe-slot=tpm2"
            "--tpm2-device=auto"
            "--unlock-tpm2-device=auto"
            "--tpm2-public-key=${toString measured.pcrPublicKeyFile}"
            "--tpm2-public-key-pcrs=11"
            "${toString measured.autoCryptenroll.device}"
          ];
          ExecStartPost = "${pkgs.coreutils}/bin/touch /var/lib/auto-cryptenroll/1";
        }
        // lib.optionalAttrs (!measured.autoCryptenroll.autoReboot) { RemainAfterExit = true; };
    };

    # fwupd's EFI program, signed with the db key into /run, as upstream does.
    systemd.services.fwupd = lib.mkIf config.services.fwupd.enable {
      environment.FWUPD_EFIAPPDIR = "/run/fwupd-efi";
    };
    systemd.services.fwupd-efi = lib.mkIf config.services.fwupd.enable {
      description = "Sign fwupd's EFI program";
      wantedBy = [ "fwupd.service" ];
      partOf = [ "fwupd.service" ];
      before = [ "fwupd.service" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        RuntimeDirectory = "fwupd-efi";
      };
      script = ''
        for f in ${fwupdEfi}/fwupd*.efi; do
          ln -sf "$f" /run/fwupd-efi/
          ${lib.getExe cfg.package} --pki-bundle=${lzbt.shellQuote cfg.pkiBundle} sign \
            --output="/run/fwupd-efi/$(basename "$f").signed" "$f"
        done
      '';
    };
    services.fwupd.uefiCapsuleSettings = lib.mkIf config.services.fwupd.enable {
      DisableShimForSecureBoot = true;
    };
  };
}
