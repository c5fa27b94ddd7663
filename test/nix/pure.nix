# nix/lib.nix's pure functions against values written out by hand; evaluates to the list of
# failed expectations (test-pure.sh). Builtins only: no nixpkgs needed.
let
  l = import ../../nix/lib.nix;
  eq =
    name: actual: expected:
    if actual == expected then
      [ ]
    else
      [ "${name}: got ${builtins.toJSON actual}, expected ${builtins.toJSON expected}" ];
  loader = {
    timeout = 5;
    default = "nixos-*";
    editor = true;
    console-mode = "keep";
  };
  minimal = {
    pkiBundle = "/var/lib/sbctl";
    stub = "/s";
    systemdBoot = "/b";
    configurationLimit = null;
    bootCounting = 0;
    debug = false;
    noVariables = false;
    loader = [ ];
    autoEnroll = null;
    pcrPrivateKey = null;
    pcrPublicKey = null;
  };
  safeEnroll = {
    includeMicrosoftKeys = false;
    includeFirmwareBuiltinKeys = false;
    extraDbCertificates = [ ];
    allowBrickingMyMachine = false;
  };
in
eq "shellQuote" (l.shellQuote "it's") "'it'\\''s'"
++ eq "shellArgs" (l.shellArgs [ "a b" "c" ]) "'a b' 'c'"
++ eq "efiArchOf x86_64" (l.efiArchOf "x86_64-linux") "x64"
++ eq "efiArchOf aarch64" (l.efiArchOf "aarch64-linux") "aa64"
++ eq "efiArchOf riscv64" (l.efiArchOf "riscv64-linux") null
++ eq "loaderSettings: upstream defaults" (l.loaderSettings loader false) {
  args = [
    "--timeout=5"
    "--default=nixos-*"
    "--editor=yes"
    "--console-mode=keep"
  ];
  problems = [ ];
}
++ eq "loaderSettings: null removes timeout and console-mode"
  (l.loaderSettings (loader // { timeout = null; console-mode = null; editor = false; }) false).args
  [
    "--default=nixos-*"
    "--editor=no"
  ]
++ eq "loaderSettings: loader.conf's timeout words"
  (l.loaderSettings (loader // { timeout = "menu-hidden"; }) false).args
  [
    "--timeout=menu-hidden"
    "--default=nixos-*"
    "--editor=yes"
    "--console-mode=keep"
  ]
++ eq "loaderSettings: secure-boot-enroll force with auto-enroll"
  (l.loaderSettings (loader // { secure-boot-enroll = "force"; }) true).problems
  [ ]
++ eq "loaderSettings: beep, menu-force, null default, null editor, stray secure-boot-enroll" (
  map (p: builtins.substring 0 22 p) (
    l.loaderSettings (
      loader
      // {
        beep = true;
        timeout = "soon";
        default = null;
        editor = null;
        secure-boot-enroll = "manual";
      }
    ) false
  ).problems
) [
  "settings.\"beep\": lanza"
  "settings.timeout = soo"
  "settings.default = nul"
  "settings.editor must b"
  "settings.\"secure-boot-"
]
++ eq "installArgs: minimal" (l.installArgs minimal) [
  "--pki-bundle=/var/lib/sbctl"
  "--stub=/s"
  "--systemd-boot=/b"
]
++ eq "installArgs: everything" (l.installArgs (minimal // {
  configurationLimit = 8;
  bootCounting = 3;
  debug = true;
  noVariables = true;
  loader = [ "--timeout=0" ];
  autoEnroll = {
    microsoft = "/ms";
    firmwareBuiltin = true;
    eventlogDigests = true;
    dbCerts = [ "/ms.pem" ];
    kekCerts = [ "/kek.pem" ];
    allowBricking = true;
  };
  pcrPrivateKey = "/p.key";
  pcrPublicKey = "/p.pem";
})) [
  "-v"
  "--pki-bundle=/var/lib/sbctl"
  "--stub=/s"
  "--systemd-boot=/b"
  "--configuration-limit=8"
  "--boot-counting=3"
  "--no-variables"
  "--timeout=0"
  "--auto-enroll"
  "--microsoft=/ms"
  "--firmware-builtin"
  "--tpm-eventlog"
  "--add-db-cert=/ms.pem"
  "--add-kek-cert=/kek.pem"
  "--yes-this-might-brick-my-machine"
  "--pcr-private-key=/p.key"
  "--pcr-public-key=/p.pem"
]
++ eq "enrollWouldBrick: only our certificate" (l.enrollWouldBrick safeEnroll) true
++ eq "enrollWouldBrick: firmware's keys" (l.enrollWouldBrick (safeEnroll // { includeFirmwareBuiltinKeys = true; })) false
++ eq "enrollWouldBrick: Microsoft's" (l.enrollWouldBrick (safeEnroll // { includeMicrosoftKeys = true; })) false
++ eq "enrollWouldBrick: extra db certificate" (l.enrollWouldBrick (safeEnroll // { extraDbCertificates = [ /ms.pem ]; })) false
++ eq "enrollWouldBrick: overridden" (l.enrollWouldBrick (safeEnroll // { allowBrickingMyMachine = true; })) false
++ eq "unsupported" (l.unsupported [ { when = true; why = "a"; } { when = false; why = "b"; } ]) [ "a" ]
