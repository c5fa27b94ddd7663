# lanzatool and the UEFI stubs, built with meson from this tree. The host side uses stdenv's
# compiler; the stub is compiled by clang for the UEFI ABI and linked by lld-link, without
# nixpkgs' cc-wrapper, whose hardening flags are meant for Linux programs.
{
  lib,
  stdenv,
  callPackage,
  meson,
  ninja,
  pkg-config,
  llvmPackages,
  makeWrapper,
  openssl,
  json-c,
  util-linux,
  libp11,
  withPkcs11 ? true,
}:
stdenv.mkDerivation (finalAttrs: {
  pname = "lanzaboote";
  version = "0.1.0";

  src = lib.fileset.toSource {
    root = ../..;
    fileset = lib.fileset.unions [
      ../../meson.build
      ../../meson_options.txt
      ../../src
      ../../test
      ../../bench
      ../../man
    ];
  };

  nativeBuildInputs = [
    meson
    ninja
    pkg-config
    llvmPackages.clang-unwrapped
    llvmPackages.lld
    makeWrapper
  ];
  buildInputs = [
    openssl
    json-c
    util-linux # libfdisk
  ];

  # meson finds `clang` for the stub: the unwrapped compiler, with its own headers (stddef.h,
  # stdint.h) from the wrapper's resource root.
  preConfigure = ''
    mkdir -p "$TMPDIR/efi-bin"
    cat > "$TMPDIR/efi-bin/clang" <<EOF
    #!${stdenv.shell}
    exec ${llvmPackages.clang-unwrapped}/bin/clang -resource-dir=${llvmPackages.clang}/resource-root "\$@"
    EOF
    chmod +x "$TMPDIR/efi-bin/clang"
    export PATH="$TMPDIR/efi-bin:$PATH"
  '';

  mesonFlags = [ (lib.mesonOption "sbindir" "bin") ];

  # The db key may live in a PKCS#11 token (keys/db/db.uri); OpenSSL loads libp11's engine.
  postInstall = lib.optionalString withPkcs11 ''
    wrapProgram $out/bin/lanzatool --set-default OPENSSL_ENGINES ${libp11}/lib/engines
  '';

  # The suite's oracles (sbverify, pesign, QEMU + OVMF + swtpm) run in tools/test.sh; the NixOS
  # VM tests are passthru.tests.
  doCheck = false;

  passthru.tests = callPackage ../tests { lanzaboote = finalAttrs.finalPackage; };

  meta = {
    description = "Secure Boot and measured boot for NixOS: signed per-generation UEFI stubs and lanzatool";
    license = lib.licenses.mit;
    mainProgram = "lanzatool";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
})
