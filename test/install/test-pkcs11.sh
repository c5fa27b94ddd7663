#!/usr/bin/env bash
# The db key in a PKCS#11 token (SoftHSM2, through libp11's OpenSSL engine): keys/db/db.uri names it.
# Install and sign give byte for byte what the same key gives from a file (RSASSA-PKCS1-v1_5 is
# deterministic), verified by sbverify; bad URIs, a missing PIN and ambiguous bundles are refused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
# ASan build: libp11's own leaks are suppressed by their stack (the slow unwinder sees through libcrypto).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan-libp11.supp"
SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
command -v softhsm2-util >/dev/null && [[ -f $SOFTHSM_MODULE ]] || fail "softhsm2 is not installed"
[[ -n $(find /usr/lib -path '*engines-3/pkcs11.so' -print -quit) ]] || fail "libengine-pkcs11-openssl is not installed"

# A token of our own: SoftHSM2 keeps it where its configuration says.
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label lzbt --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --import "$T/pki/keys/db/db.key" --token lzbt --label db --id 01 --pin 1234 >/dev/null
printf 1234 >"$T/pin"
KEY_URI="pkcs11:token=lzbt;object=db;type=private"

# The same bundle with the db key in the token: PK, KEK, the certificate and GUID as they are.
HSM=$T/hsm-pki
mkdir -p "$HSM/keys/db"
cp -r "$T/pki/keys/PK" "$T/pki/keys/KEK" "$HSM/keys/"
cp "$T/pki/GUID" "$HSM/"
cp "$T/pki/keys/db/db.pem" "$HSM/keys/db/"
set_uri() { printf '%s\n' "$1" >"$HSM/keys/db/db.uri"; }
set_uri "$KEY_URI?pin-source=file:$T/pin&module-path=$SOFTHSM_MODULE"

hsm() { # lanzatool with the token bundle and ESP $T/hsm-esp
	"$LANZATOOL" --esp-path="$T/hsm-esp" --pki-bundle="$HSM" --stub="$LANZABOOTE_STUB" "$@" </dev/null
}

# install: the same ESP, byte for byte, as with the key file.
mk_generation 1 k1
mk_generation 2 k2 docked
mkdir -p "$T/hsm-esp"
install_gens 1 2
hsm -q --no-variables --timeout=0 install "$T/profiles/system-1-link" "$T/profiles/system-2-link" ||
	fail "install with the db key in the token"
diff -r "$T/esp" "$T/hsm-esp" || fail "the token-signed ESP differs from the file-signed one"
for f in "$T"/hsm-esp/EFI/Linux/*.efi "$T/hsm-esp/EFI/systemd/systemd-bootx64.efi" "$T/hsm-esp/EFI/BOOT/BOOTX64.EFI"; do
	sbverify --cert "$T/pki/keys/db/db.pem" "$f" >/dev/null 2>&1 || fail "sbverify rejects $f"
done
check_esp

# sign: the same bytes as with the key file.
lzbt -q sign "$SDBOOT" -o "$T/file.efi" || fail "sign with the key file"
hsm -q sign "$SDBOOT" -o "$T/token.efi" || fail "sign with the token"
cmp "$T/file.efi" "$T/token.efi" || fail "token and file signatures differ"
sbverify --cert "$T/pki/keys/db/db.pem" "$T/token.efi" >/dev/null 2>&1 || fail "sbverify rejects $T/token.efi"

# A PIN file others can read is named in a warning, as ssh names a private key file.
chmod 0644 "$T/pin"
hsm sign "$SDBOOT" -o "$T/token-warn.efi" 2>"$T/err" || fail "sign with a 0644 PIN file: $(cat "$T/err")"
grep -qF "$T/pin: PKCS#11 PIN file with mode 0644, accessible by everyone" "$T/err" || fail "no PIN file warning: $(cat "$T/err")"
chmod 0400 "$T/pin"
hsm sign "$SDBOOT" -o "$T/token-quiet.efi" 2>"$T/err" || fail "sign with a 0400 PIN file"
grep -q 'mode' "$T/err" && fail "a warning for a 0400 PIN file: $(cat "$T/err")"

# Without module-path, p11-kit's proxy loads the registered SoftHSM2 module.
set_uri "$KEY_URI?pin-source=file:$T/pin"
hsm -q sign "$SDBOOT" -o "$T/proxy.efi" || fail "sign through p11-kit's proxy"
cmp "$T/file.efi" "$T/proxy.efi" || fail "p11-kit proxy signature differs"

refused() { # WHAT PATTERN: signing with the token bundle fails, saying PATTERN, writing nothing
	local rc=0
	hsm sign "$SDBOOT" -o "$T/refused.efi" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "$1: exit $rc, expected 1: $(cat "$T/err")"
	grep -qE "$2" "$T/err" || fail "$1: $(cat "$T/err")"
	[[ ! -e $T/refused.efi ]] || fail "$1: wrote an output"
}

set_uri "$KEY_URI?pin-value=1234&module-path=$SOFTHSM_MODULE"
refused "pin-value" "pin-value would show the PIN"
grep -q 1234 "$T/err" && fail "the PIN is in a message: $(cat "$T/err")"
set_uri "$KEY_URI?module-path=$SOFTHSM_MODULE"
refused "no PIN" "cannot load the private key from the token"
printf 9999 >"$T/wrong-pin"
set_uri "$KEY_URI?pin-source=file:$T/wrong-pin&module-path=$SOFTHSM_MODULE"
refused "wrong PIN" "cannot load the private key from the token"
set_uri "pkcs11:token=lzbt;object=nothing;type=private?pin-source=file:$T/pin&module-path=$SOFTHSM_MODULE"
refused "no such object" "cannot load the private key from the token"
set_uri "$KEY_URI?pin-source=file:$T/pin&module-path=$T/no-such-module.so"
refused "no such module" "module-path $T/no-such-module.so: No such file"
set_uri "$KEY_URI?pin-source=file:$T/pin&module-path=%zz"
refused "malformed module-path" "malformed module-path"
set_uri "/not/a/uri"
refused "not a URI" "db.uri: must hold one \"pkcs11:\" URI"

# A token key that is not the certificate's.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
softhsm2-util --import "$T/other.key" --token lzbt --label other --id 02 --pin 1234 >/dev/null
set_uri "pkcs11:token=lzbt;object=other;type=private?pin-source=file:$T/pin&module-path=$SOFTHSM_MODULE"
refused "other key" "private key does not match certificate"

# Both a key file and a URI: nobody should guess which one signs.
set_uri "$KEY_URI?pin-source=file:$T/pin&module-path=$SOFTHSM_MODULE"
cp "$T/pki/keys/db/db.key" "$HSM/keys/db/"
refused "db.key and db.uri" "db.key and .*db.uri both exist"
echo ok
