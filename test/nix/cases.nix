# NixOS configurations using boot.lanzaboote, evaluated with nixpkgs' module system (test-eval.sh).
# `failures` lists every expectation that does not hold (empty: all pass); `run` gives the
# toplevels and the install hook for running against a directory ESP. Expected values are written
# out here by hand, never computed by nix/lib.nix.
{
  nixpkgs,
  lanzatool,
  stub,
  systemdBoot,
  kernel ? null,
  runDir ? "/nonexistent",
}:
let
  lib = import (nixpkgs + "/lib");
  standins = import ./standins.nix {
    inherit
      lib
      lanzatool
      stub
      systemdBoot
      ;
    kernel = if kernel == "" then null else kernel;
  };
  module = ../../nix/modules/lanzaboote.nix;
  pkg = standins.pkgs.lanzaboote;
  sd = standins.pkgs.systemd;

  eval = extra: standins.eval module ([ base ] ++ extra);
  cfgOf = extra: (eval extra).config;
  base = {
    boot.lanzaboote.enable = true;
    boot.lanzaboote.pkiBundle = "/var/lib/sbctl";
  };
  failed = c: map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);

  # The install command as a user would read it, for a list of options between the fixed ones.
  command =
    opts:
    "${pkg}/bin/lanzatool "
    + lib.concatMapStringsSep " " (o: "'${o}'") (
      [
        "--pki-bundle=/var/lib/sbctl"
        "--stub=${pkg}/lib/lanzaboote/lanzabootx64.efi.stub"
        "--systemd-boot=${sd}/lib/systemd/boot/efi/systemd-bootx64.efi"
      ]
      ++ opts
    )
    + " install";
  # NixOS' default boot.loader.efi.canTouchEfiVariables = false gives --no-variables, before the
  # loader.conf options.
  defaultLoader = [
    "--no-variables"
    "--timeout=5"
    "--default=nixos-*"
    "--editor=yes"
    "--console-mode=keep"
  ];

  # Nix 2.8's builtins.match refuses strings that refer to store paths.
  infix = needle: haystack: lib.hasInfix (builtins.unsafeDiscardStringContext needle) (builtins.unsafeDiscardStringContext haystack);
  eq =
    name: actual: expected:
    if actual == expected then
      [ ]
    else
      [ "${name}:\n  got      ${builtins.toJSON actual}\n  expected ${builtins.toJSON expected}" ];
  has =
    name: haystack: needle:
    if infix needle haystack then [ ] else [ "${name}: ${builtins.toJSON haystack} lacks ${builtins.toJSON needle}" ];
  hasNot =
    name: haystack: needle:
    if infix needle haystack then [ "${name}: ${builtins.toJSON haystack} has ${builtins.toJSON needle}" ] else [ ];
  # A configuration that must fail evaluation with an assertion mentioning `text`.
  refused =
    name: extra: text:
    let
      msgs = failed (cfgOf extra);
    in
    if lib.any (infix text) msgs then
      [ ]
    else
      [ "${name}: no failed assertion mentions ${builtins.toJSON text}; failed: ${builtins.toJSON msgs}" ];
  hookText = c: c.boot.loader.external.installHook.text;

  d = cfgOf [ ];
  withOpts =
    o:
    cfgOf [
      { boot.lanzaboote = o; }
    ];

  defaults =
    eq "defaults: no failed assertion" (failed d) [ ]
    ++ eq "defaults: installCommand" d.boot.lanzaboote.installCommand (command defaultLoader)
    ++ eq "defaults: boot.loader.external.enable" d.boot.loader.external.enable true
    ++ eq "defaults: installBootLoader is the hook" (toString d.system.build.installBootLoader) (toString d.boot.loader.external.installHook)
    ++ eq "defaults: supportsInitrdSecrets" d.boot.loader.supportsInitrdSecrets true
    ++ eq "defaults: bootspec extension" d.boot.bootspec.extensions {
      "org.nix-community.lanzaboote".sort_key = "lanza";
    }
    ++ eq "defaults: loader settings" d.boot.lanzaboote.settings {
      timeout = 5;
      console-mode = "keep";
      editor = true;
      default = "nixos-*";
    }
    ++ eq "defaults: configurationLimit" d.boot.lanzaboote.configurationLimit null
    ++ eq "defaults: units" (lib.attrNames d.systemd.services) [ ]
    ++ eq "defaults: /etc" (lib.attrNames d.environment.etc) [ ]
    ++ has "defaults: hook installs every generation into /boot, the one switched to as default" (hookText d)
      "${command defaultLoader} --esp-path='/boot' \${default:+\"$default\"} /nix/var/nix/profiles/system-*-link\n"
    ++ has "defaults: hook finds the generation switched to" (hookText d)
      "if [ \"$(readlink -f \"$link\")\" = \"$(readlink -f \"$toplevel\")\" ]; then\n      default=\"--default-generation=$link\"\n"
    ++ hasNot "defaults: hook creates no keys" (hookText d) "create-keys"
    ++ eq "defaults: bootspec document" (d.system.build.bootspecDocument "/T")."org.nix-community.lanzaboote" {
      sort_key = "lanza";
    };

  options =
    let
      limit = withOpts { configurationLimit = 3; };
      sdLimit = cfgOf [ { boot.loader.systemd-boot.configurationLimit = 7; } ];
      counting = withOpts { bootCounting.initialTries = 2; };
      debug = withOpts { logLevel = "debug"; };
      loaderNull = withOpts {
        settings = {
          timeout = null;
          console-mode = null;
        };
      };
      loaderSet = cfgOf [
        {
          boot.loader.timeout = 0;
          boot.loader.systemd-boot.editor = false;
          boot.loader.systemd-boot.consoleMode = "max";
          boot.lanzaboote.settings.default = "@saved";
        }
      ];
      sort = withOpts { sortKey = "mySpecialSortKey"; };
      touch = cfgOf [ { boot.loader.efi.canTouchEfiVariables = true; } ];
      extra = withOpts {
        extraEfiSysMountPoints = [ "/boot2" ];
      };
      gen = withOpts { autoGenerateKeys.enable = true; };
      enroll = withOpts {
        autoEnrollKeys = {
          enable = true;
          includeMicrosoftKeys = false;
          includeFirmwareBuiltinKeys = true;
          extraDbCertificates = [ "/etc/ms-uefi-ca.pem" ];
          extraKekCertificates = [ "/etc/ms-kek.pem" ];
          autoReboot = true;
        };
      };
      microsoft = withOpts {
        autoEnrollKeys = {
          enable = true;
          microsoftCertificates = "/etc/microsoft-certs";
          includeChecksumsFromTPM = true;
        };
      };
      brick = withOpts {
        autoEnrollKeys = {
          enable = true;
          includeMicrosoftKeys = false;
          allowBrickingMyMachine = true;
        };
      };
      measured = withOpts {
        configurationLimit = 8;
        measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/var/lib/pcr/priv.pem";
          pcrPublicKeyFile = "/var/lib/pcr/pub.pem";
          autoCryptenroll = {
            enable = true;
            device = "/dev/vda2";
          };
        };
      };
      fwupd = cfgOf [ { services.fwupd.enable = true; } ];
      pcrKeyOnly = withOpts { measuredBoot.pcrPrivateKeyFile = "/var/lib/pcr/priv.pem"; };
      enrollUnit = enroll.systemd.services.prepare-sb-auto-enroll;
      cryptUnit = measured.systemd.services.auto-cryptenroll;
    in
    eq "configurationLimit = 3" limit.boot.lanzaboote.installCommand (
      command ([ "--configuration-limit=3" ] ++ defaultLoader)
    )
    ++ eq "systemd-boot.configurationLimit = 7 is the default" sdLimit.boot.lanzaboote.installCommand (
      command ([ "--configuration-limit=7" ] ++ defaultLoader)
    )
    ++ eq "bootCounting.initialTries = 2" counting.boot.lanzaboote.installCommand (
      command ([ "--boot-counting=2" ] ++ defaultLoader)
    )
    ++ eq "logLevel = debug" debug.boot.lanzaboote.installCommand (
      lib.replaceStrings [ "lanzatool '" ] [ "lanzatool '-v' '" ] (command defaultLoader)
    )
    ++ eq "settings: null removes timeout and console-mode" loaderNull.boot.lanzaboote.installCommand (
      command [
        "--no-variables"
        "--default=nixos-*"
        "--editor=yes"
      ]
    )
    ++ eq "settings from boot.loader and default = @saved" loaderSet.boot.lanzaboote.installCommand (
      command [
        "--no-variables"
        "--timeout=0"
        "--default=@saved"
        "--editor=no"
        "--console-mode=max"
      ]
    )
    ++ eq "canTouchEfiVariables = true" touch.boot.lanzaboote.installCommand (
      command (lib.remove "--no-variables" defaultLoader)
    )
    ++ hasNot "settings.default = @saved: no rollback default" (hookText loaderSet) "--default-generation"
    ++ eq "sortKey" sort.boot.bootspec.extensions."org.nix-community.lanzaboote".sort_key "mySpecialSortKey"
    ++ has "extraEfiSysMountPoints: /boot" (hookText extra) "--esp-path='/boot' \${default:+\"$default\"} /nix/var/nix/profiles/system-*-link"
    ++ has "extraEfiSysMountPoints: /boot2" (hookText extra) "--esp-path='/boot2' \${default:+\"$default\"} /nix/var/nix/profiles/system-*-link"
    ++ eq "autoGenerateKeys: no failed assertion" (failed gen) [ ]
    ++ has "autoGenerateKeys: hook creates missing keys" (hookText gen)
      "if [ ! -e '/var/lib/sbctl'/keys ]; then\n  ${pkg}/bin/lanzatool --pki-bundle='/var/lib/sbctl' create-keys\nfi\n"
    ++ eq "autoGenerateKeys: unit" gen.systemd.services.generate-sb-keys.serviceConfig.ExecStart
      "${pkg}/bin/lanzatool --pki-bundle='/var/lib/sbctl' create-keys"
    ++ eq "autoGenerateKeys: unit condition" gen.systemd.services.generate-sb-keys.unitConfig.ConditionPathExists "!/var/lib/sbctl/keys"
    ++ eq "autoGenerateKeys: sbctl.conf" (lib.attrNames gen.environment.etc) [ "sbctl/sbctl.conf" ]
    ++ eq "autoEnrollKeys: no failed assertion" (failed enroll) [ ]
    ++ eq "autoEnrollKeys: installCommand" enroll.boot.lanzaboote.installCommand (
      command (
        defaultLoader
        ++ [
          "--auto-enroll"
          "--firmware-builtin"
          "--add-db-cert=/etc/ms-uefi-ca.pem"
          "--add-kek-cert=/etc/ms-kek.pem"
        ]
      )
    )
    ++ eq "microsoftCertificates, includeChecksumsFromTPM: no failed assertion" (failed microsoft) [ ]
    ++ has "microsoftCertificates: --microsoft=DIR" microsoft.boot.lanzaboote.installCommand "'--microsoft=/etc/microsoft-certs'"
    ++ has "includeChecksumsFromTPM: --tpm-eventlog" microsoft.boot.lanzaboote.installCommand "'--tpm-eventlog'"
    ++ eq "autoEnrollKeys: loader.conf asks systemd-boot to enroll" enroll.boot.lanzaboote.settings.secure-boot-enroll "force"
    ++ eq "autoEnrollKeys.autoReboot" enrollUnit.unitConfig.SuccessAction "reboot"
    ++ eq "autoEnrollKeys: unit runs the hook" enrollUnit.serviceConfig.ExecStart "${enroll.boot.loader.external.installHook} /run/current-system"
    ++ eq "autoEnrollKeys: unit only while the ESP lacks the keys" enrollUnit.unitConfig.ConditionPathExists [
      "!/boot/loader/keys/auto/PK.auth"
      "!/boot/loader/keys/auto/KEK.auth"
      "!/boot/loader/keys/auto/db.auth"
    ]
    ++ eq "allowBrickingMyMachine" brick.boot.lanzaboote.installCommand (
      command (
        defaultLoader
        ++ [
          "--auto-enroll"
          "--yes-this-might-brick-my-machine"
        ]
      )
    )
    ++ eq "measuredBoot: no failed assertion" (failed measured) [ ]
    ++ eq "measuredBoot: PCR 11 signing key" measured.boot.lanzaboote.installCommand (
      command (
        [ "--configuration-limit=8" ]
        ++ defaultLoader
        ++ [
          "--pcr-private-key=/var/lib/pcr/priv.pem"
          "--pcr-public-key=/var/lib/pcr/pub.pem"
        ]
      )
    )
    ++ eq "measuredBoot.pcrPrivateKeyFile without measuredBoot.enable" pcrKeyOnly.boot.lanzaboote.installCommand (
      command (defaultLoader ++ [ "--pcr-private-key=/var/lib/pcr/priv.pem" ])
    )
    ++ eq "measuredBoot.autoCryptenroll" cryptUnit.serviceConfig.ExecStart
      "'${sd}/bin/systemd-cryptenroll' '--wipe-slot=tpm2' '--tpm2-device=auto' '--unlock-tpm2-device=auto' '--tpm2-public-key=/var/lib/pcr/pub.pem' '--tpm2-public-key-pcrs=11' '/dev/vda2'"
    ++ eq "fwupd: FWUPD_EFIAPPDIR" fwupd.systemd.services.fwupd.environment.FWUPD_EFIAPPDIR "/run/fwupd-efi"
    ++ has "fwupd: signed with lanzatool" fwupd.systemd.services.fwupd-efi.script
      "${pkg}/bin/lanzatool --pki-bundle='/var/lib/sbctl' sign \\\n    --output=\"/run/fwupd-efi/$(basename \"$f\").signed\" \"$f\""
    ++ eq "fwupd: no shim" fwupd.services.fwupd.uefiCapsuleSettings.DisableShimForSecureBoot true;

  refusals =
    refused "no pkiBundle" [ { boot.lanzaboote.pkiBundle = lib.mkForce null; } ] "pkiBundle must be set"
    ++ refused "measured boot keeping all generations" [
      {
        boot.lanzaboote.measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/k.pem";
        };
      }
    ] "keep at most 8 generations"
    ++ refused "measured boot keeping 9 generations" [
      {
        boot.lanzaboote.configurationLimit = 9;
        boot.lanzaboote.measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/k.pem";
        };
      }
    ] "keep at most 8 generations"
    ++ refused "measured boot without a PCR key" [
      {
        boot.lanzaboote.configurationLimit = 8;
        boot.lanzaboote.measuredBoot.enable = true;
      }
    ] "needs measuredBoot.pcrPrivateKeyFile"
    ++ refused "auto-enroll of a db that would brick" [
      {
        boot.lanzaboote.autoEnrollKeys = {
          enable = true;
          includeMicrosoftKeys = false;
        };
      }
    ] "nothing but your certificate"
    ++ refused "includeMicrosoftKeys (default) with autoEnrollKeys" [
      { boot.lanzaboote.autoEnrollKeys.enable = true; }
    ] "lanzatool ships no Microsoft certificates"
    ++ refused "allowUnsigned" [ { boot.lanzaboote.allowUnsigned = true; } ] "never installs unsigned files"
    ++ refused "measuredBoot.pcrs" [
      {
        boot.lanzaboote.configurationLimit = 8;
        boot.lanzaboote.measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/k.pem";
          pcrs = [
            0
            7
          ];
        };
      }
    ] "no systemd-pcrlock files"
    ++ refused "measuredBoot.staticMeasurements" [
      { boot.lanzaboote.measuredBoot.staticMeasurements.x.source = "/x"; }
    ] "systemd-pcrlock policies are not supported"
    ++ refused "measuredBoot.pcrlockPolicy" [
      { boot.lanzaboote.measuredBoot.pcrlockPolicy = "/p.json"; }
    ] "systemd-pcrlock policies are not supported"
    ++ refused "autoCryptenroll without device" [
      {
        boot.lanzaboote.configurationLimit = 8;
        boot.lanzaboote.measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/k.pem";
          autoCryptenroll.enable = true;
        };
      }
    ] "needs autoCryptenroll.device"
    ++ refused "settings.beep" [ { boot.lanzaboote.settings.beep = true; } ] "settings.\"beep\""
    ++ refused "settings.default = null" [ { boot.lanzaboote.settings.default = null; } ] "always writes a default entry"
    ++ refused "settings.timeout = soon" [ { boot.lanzaboote.settings.timeout = "soon"; } ] "number of seconds"
    ++ refused "settings.secure-boot-enroll without autoEnrollKeys" [
      { boot.lanzaboote.settings.secure-boot-enroll = "manual"; }
    ] "secure-boot-enroll"
    ++ refused "privateKeyFile elsewhere" [ { boot.lanzaboote.privateKeyFile = "/root/db.key"; } ] "publicKeyFile/privateKeyFile"
    ++ refused "removed option enrollKeys" [ { boot.lanzaboote.enrollKeys = true; } ] "enrollKeys";

  # Three generations differing in their kernel parameters, each with a specialisation sorted
  # apart, installed to two directory ESPs by the generated hook, with the keys put there for
  # systemd-boot to enroll, db holding an extra certificate (test-eval.sh).
  runConfig = n: {
    boot.lanzaboote = {
      pkiBundle = lib.mkForce "${runDir}/pki";
      configurationLimit = 2;
      extraEfiSysMountPoints = [ "${runDir}/esp2" ];
      sortKey = "mysortkey";
      settings.timeout = 0;
      autoEnrollKeys = {
        enable = true;
        includeMicrosoftKeys = false;
        extraDbCertificates = [ "${runDir}/extra-db.pem" ];
      };
    };
    boot.loader.efi.efiSysMountPoint = "${runDir}/esp";
    boot.kernelParams = [
      "quiet"
      "gen=${toString n}"
    ];
    specialisation.alt.configuration = {
      boot.lanzaboote.sortKey = lib.mkForce "zz-alt";
      boot.kernelParams = [ "alt" ];
    };
  };
  runs = map (n: cfgOf [ (runConfig n) ]) [
    1
    2
    3
  ];

  # Every NixOS VM test definition: its machine configuration evaluates with the module, with no
  # failed assertion, and its test script is a string. (Running them needs KVM and a binary cache.)
  vmTests = import ../../nix/tests {
    inherit lib;
    inherit (standins) pkgs;
    lanzaboote = pkg;
  };
  vmTestFailures = lib.concatLists (
    lib.mapAttrsToList (
      name: t:
      let
        c = (standins.eval module [ standins.freeform t.nodes.machine ]).config;
      in
      eq "VM test ${name}: failed assertions" (failed c) [ ]
      ++ eq "VM test ${name}: name" t.name "lanzaboote-${name}"
      ++ eq "VM test ${name}: test script" (builtins.isString t.testScript && lib.hasInfix "machine.start()" t.testScript) true
      ++ eq "VM test ${name}: installs with lanzatool" (toString c.system.build.installBootLoader) (
        toString c.boot.loader.external.installHook
      )
    ) vmTests
  );
in
{
  failures = defaults ++ options ++ refusals ++ vmTestFailures;
  vmTestNames = lib.attrNames vmTests;
  run = {
    toplevels = map (c: c.system.build.toplevel) runs;
    hook = (lib.last runs).system.build.installBootLoader;
  };
  drvPath = d.system.build.toplevel.drvPath;
  nixpkgsLib = lib.trivial.version;
}
