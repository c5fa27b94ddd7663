# Pure functions of the NixOS module: from option values to lanzatool's command line.
# Builtins only (no nixpkgs), so that `nix-instantiate --eval` checks them without a nixpkgs tree
# (test/nix/test-pure.sh).
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    elem
    filter
    isBool
    isInt
    isString
    replaceStrings
    toString
    ;

  # What the lanzatool command line offers today. The module asserts "unsupported" for every
  # upstream option that needs a `false` here; test/nix/test-pure.sh checks each entry against
  # `lanzatool --help`, so a new lanzatool option fails that test until its entry is switched on.
  # allowUnsigned and pcrlock stay refused until lanzatool offers them and the module passes them on.
  features = {
    # install --default-generation=TOPLEVEL: boot the configuration being switched to (rollback)
    defaultGeneration = {
      available = true;
      option = "--default-generation";
    };
    # enroll: Microsoft's KEK and db certificates from a directory the user supplies (--microsoft=DIR)
    microsoftCertificates = {
      available = true;
      option = "--microsoft";
    };
    # enroll: the digests of the option ROMs in the TPM event log added to db
    tpmEventlogDigests = {
      available = true;
      option = "--tpm-eventlog-path";
    };
    # install: unsigned stubs and systemd-boot while no keys exist
    allowUnsigned = {
      available = false;
      option = "--allow-unsigned";
    };
    # install: systemd-pcrlock .pcrlock files for the stubs and systemd-boot
    pcrlock = {
      available = false;
      option = "--pcrlock-directory";
    };
  };

  has = name: features.${name}.available;

  # POSIX shell quoting, as lib.escapeShellArg does.
  shellQuote = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  shellArgs = args: concatStringsSep " " (map shellQuote args);

  # The UEFI architecture name in file names (systemd-boot<arch>.efi, lanzaboot<arch>.efi.stub).
  efiArchOf =
    system:
    {
      x86_64-linux = "x64";
      aarch64-linux = "aa64";
    }
    .${system} or null;

  # loader.conf keys that lanzatool writes, from their command line options.
  loaderKeys = [
    "timeout"
    "default"
    "editor"
    "console-mode"
    "secure-boot-enroll"
  ];

  boolWord = v: if v then "yes" else "no";

  # settings (upstream's freeform loader.conf, null removes a key) ->
  # { args = [ lanzatool options ]; problems = [ why a key cannot be honoured ]; }
  loaderSettings =
    settings: autoEnroll:
    let
      set = filter (k: settings.${k} != null) (attrNames settings);
      unknown = filter (k: !(elem k loaderKeys)) set;
      v = k: settings.${k} or null;
      timeout = v "timeout";
      timeoutWords = [
        "menu-force"
        "menu-hidden"
        "menu-disabled"
      ];
      editor = v "editor";
      enroll = v "secure-boot-enroll";
      problems =
        map (
          k: "settings.\"${k}\": lanzatool writes only ${concatStringsSep ", " loaderKeys} into loader.conf"
        ) unknown
        ++ (
          if timeout == null || (isInt timeout && timeout >= 0) || elem timeout timeoutWords then
            [ ]
          else
            [
              "settings.timeout = ${toString timeout}: lanzatool takes a number of seconds, ${concatStringsSep ", " timeoutWords}"
            ]
        )
        ++ (
          if v "default" != null then
            [ ]
          else
            [ "settings.default = null: lanzatool always writes a default entry (nixos-* unless set)" ]
        )
        ++ (
          if isBool editor then
            [ ]
          else
            [ "settings.editor must be true or false: lanzatool always writes an editor line" ]
        )
        ++ (
          if enroll == null && !autoEnroll || enroll == "force" && autoEnroll then
            [ ]
          else
            [
              "settings.\"secure-boot-enroll\": lanzatool writes \"secure-boot-enroll force\" exactly when autoEnrollKeys.enable is set"
            ]
        );
    in
    {
      inherit problems;
      args =
        (if timeout != null then [ "--timeout=${toString timeout}" ] else [ ])
        ++ (if isString (v "default") then [ "--default=${v "default"}" ] else [ ])
        ++ (if isBool editor then [ "--editor=${boolWord editor}" ] else [ ])
        ++ (if v "console-mode" != null then [ "--console-mode=${toString (v "console-mode")}" ] else [ ]);
    };

  # The lanzatool options of `install` (before the verb), in a fixed order.
  installArgs =
    {
      pkiBundle,
      stub,
      systemdBoot,
      configurationLimit, # null: all
      bootCounting, # 0: off
      debug,
      noVariables, # boot.loader.efi.canTouchEfiVariables = false
      loader, # loaderSettings' args
      autoEnroll, # null or { microsoft (null or a directory); firmwareBuiltin; eventlogDigests; dbCerts; kekCerts; allowBricking; }
      pcrPrivateKey, # null or a path
      pcrPublicKey, # null or a path
    }:
    (if debug then [ "-v" ] else [ ])
    ++ [
      "--pki-bundle=${toString pkiBundle}"
      "--stub=${toString stub}"
      "--systemd-boot=${toString systemdBoot}"
    ]
    ++ (
      if configurationLimit == null then
        [ ]
      else
        [ "--configuration-limit=${toString configurationLimit}" ]
    )
    ++ (if bootCounting > 0 then [ "--boot-counting=${toString bootCounting}" ] else [ ])
    ++ (if noVariables then [ "--no-variables" ] else [ ])
    ++ loader
    ++ (
      if autoEnroll == null then
        [ ]
      else
        [ "--auto-enroll" ]
        ++ (if autoEnroll.microsoft == null then [ ] else [ "--microsoft=${toString autoEnroll.microsoft}" ])
        ++ (if autoEnroll.firmwareBuiltin then [ "--firmware-builtin" ] else [ ])
        ++ (if autoEnroll.eventlogDigests then [ "--tpm-eventlog" ] else [ ])
        ++ map (c: "--add-db-cert=${toString c}") autoEnroll.dbCerts
        ++ map (c: "--add-kek-cert=${toString c}") autoEnroll.kekCerts
        ++ (if autoEnroll.allowBricking then [ "--yes-this-might-brick-my-machine" ] else [ ])
    )
    ++ (if pcrPrivateKey == null then [ ] else [ "--pcr-private-key=${toString pcrPrivateKey}" ])
    ++ (if pcrPublicKey == null then [ ] else [ "--pcr-public-key=${toString pcrPublicKey}" ]);

  # Auto-enrollment would leave db with nothing but our certificate, and nothing says that the
  # machine boots without the others (option ROMs of graphics, disk and network cards).
  enrollWouldBrick =
    {
      includeMicrosoftKeys,
      includeFirmwareBuiltinKeys,
      extraDbCertificates,
      allowBrickingMyMachine,
      ...
    }:
    !allowBrickingMyMachine
    && !includeMicrosoftKeys
    && !includeFirmwareBuiltinKeys
    && extraDbCertificates == [ ];
in
{
  inherit
    features
    has
    shellQuote
    shellArgs
    efiArchOf
    loaderKeys
    loaderSettings
    installArgs
    enrollWouldBrick
    ;

  # "problem" strings for the options that are set to something lanzatool cannot do.
  unsupported = checks: concatMap (c: if c.when then [ c.why ] else [ ]) checks;
}
