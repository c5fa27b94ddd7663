#!/usr/bin/env bash
# lanzatool sign: any PE image (systemd-boot; fwupd's EFI binary, which Debian ships signed by its own
# CA) signed with the db key, checked with tools we did not write (sbverify, pesign, osslsigncode);
# the same bytes every time; anything that is not a PE image refused and left alone.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
FWUPD=/usr/libexec/fwupd/efi/fwupdx64.efi.signed # fwupd-amd64-signed
DB_PEM=$T/pki/keys/db/db.pem
[[ -f $SDBOOT ]] || fail "$SDBOOT missing (systemd-boot-efi)"

verifies() { # FILE: signed by the test db key, as sbverify, pesign and osslsigncode see it
	sbverify --cert "$DB_PEM" "$1" >/dev/null 2>&1 || fail "sbverify rejects $1"
	"$HERE/../lib/osslsigncode" verify -CAfile "$DB_PEM" -in "$1" >"$T/osslsigncode" 2>&1 || true
	grep -q '^Signature verification: ok' "$T/osslsigncode" ||
		fail "osslsigncode rejects $1: $(tail -n 3 "$T/osslsigncode")"
	pesign -S -i "$1" >"$T/pesign" 2>&1 || fail "pesign cannot read the signature of $1"
	grep -q "common name is lzbt test db" "$T/pesign" || fail "pesign: $(cat "$T/pesign")"
	grep -q "No signing time included" "$T/pesign" || fail "a signing time in $1: not reproducible"
	[[ $(sbverify --list "$1" 2>/dev/null | grep -c '^signature ') == 1 ]] || fail "$1: not exactly one signature"
}

# systemd-boot, into --output; the input is untouched.
cp "$SDBOOT" "$T/in.efi"
lzbt -q sign "$T/in.efi" --output="$T/a.efi" || fail "sign systemd-boot"
verifies "$T/a.efi"
cmp -s "$SDBOOT" "$T/in.efi" || fail "sign changed its input"

# Reproducible: again later, in place, and once more over its own output: the same bytes.
sleep 1
lzbt -q sign "$T/in.efi" -o "$T/b.efi" || fail "sign again"
cmp "$T/a.efi" "$T/b.efi" || fail "two signatures of one image differ"
lzbt -q sign "$T/in.efi" || fail "sign in place"
cmp "$T/a.efi" "$T/in.efi" || fail "signing in place gave other bytes"
lzbt -q sign "$T/a.efi" -o "$T/c.efi" || fail "re-sign a signed image"
cmp "$T/a.efi" "$T/c.efi" || fail "re-signing a signed image changed it"

# fwupd's EFI binary, signed by Debian's CA: our signature replaces that one.
if [[ -f $FWUPD ]]; then
	lzbt -q sign "$FWUPD" -o "$T/fwupdx64.efi" || fail "sign fwupd"
	verifies "$T/fwupdx64.efi"
	sbverify --list "$T/fwupdx64.efi" | grep -q 'Debian' && fail "fwupd keeps Debian's signature"
else
	fail "$FWUPD missing (fwupd-amd64-signed)"
fi

# The stub lanzatool installs: unsigned input, signed as the install path signs it.
lzbt -q sign "$LANZABOOTE_STUB" -o "$T/stub.efi" || fail "sign the stub"
verifies "$T/stub.efi"

# --dry-run signs in memory and writes nothing.
lzbt --dry-run sign "$SDBOOT" -o "$T/dry.efi" >"$T/out" || fail "sign --dry-run"
[[ ! -e $T/dry.efi ]] || fail "--dry-run wrote $T/dry.efi"
grep -qx "write $T/dry.efi" "$T/out" || fail "--dry-run printed: $(cat "$T/out")"

refused() { # FILE: sign refuses it, names it, and writes nothing
	local rc=0 before
	before=$(sha256sum <"$1")
	lzbt sign "$1" -o "$T/refused.efi" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "sign $1: exit $rc, expected 1"
	grep -qF "$1: not a PE32+ image" "$T/err" || fail "sign $1: $(cat "$T/err")"
	[[ ! -e $T/refused.efi ]] || fail "sign $1 wrote an output"
	lzbt sign "$1" 2>/dev/null && fail "sign $1 in place succeeded"
	[[ $(sha256sum <"$1") == "$before" ]] || fail "sign changed the refused $1"
}

printf 'not a PE image\n' >"$T/text.efi"
refused "$T/text.efi"
head -c 1000 "$SDBOOT" >"$T/truncated.efi"
refused "$T/truncated.efi"
: >"$T/empty.efi"
refused "$T/empty.efi"
# An MZ header whose PE header lies beyond the file.
{ printf 'MZ'; head -c 58 /dev/zero; printf '\xff\xff\x00\x00'; } >"$T/mz.efi"
refused "$T/mz.efi"

# Usage errors.
rc=0
"$LANZATOOL" sign "$SDBOOT" -o "$T/x.efi" 2>"$T/err" || rc=$?
[[ $rc == 2 ]] && grep -q -- '--pki-bundle' "$T/err" || fail "sign without --pki-bundle: exit $rc, $(cat "$T/err")"
rc=0
lzbt sign 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "sign without an image: exit $rc, expected 2"
rc=0
lzbt sign "$T/nonexistent.efi" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -qF "$T/nonexistent.efi: cannot read" "$T/err" || fail "missing input: $(cat "$T/err")"
echo ok
