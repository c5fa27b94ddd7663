#!/usr/bin/env bash
# rotate-keys against a fake efivarfs: what it refuses before anything changes (no UEFI variables,
# setup mode, keys that are not the enrolled ones, --dry-run), and that it signs nothing with a key
# the firmware does not show: a fake efivarfs keeps what is written instead of applying it, so the
# read-back after the append fails, and the bundle must stay as it was. (The rotation itself runs
# against OVMF in test/vm/test-rotate-keys.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
DB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
guid=$(tr -d '\n' <"$T/pki/GUID")
mk_generation 1 k1
install_gens 1
esp_before=$(esp_snapshot)
bundle_before=$(cd "$T/pki" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

set_var() { # NAME GUID FILE...: the variable holds the files' bytes (attributes NV|BS|RT|TIME_BASED)
	{ printf '\x27\x00\x00\x00'; cat "${@:3}"; } >"$LANZATOOL_EFIVARFS/$1-$2"
}
set_mode() { printf '\x06\x00\x00\x00%b' "$1" >"$LANZATOOL_EFIVARFS/SetupMode-$GLOBAL"; }
esl() { cert-to-efi-sig-list -g "$guid" "$1" "$2"; }
for k in PK KEK db; do esl "$T/pki/keys/$k/$k.pem" "$T/$k.esl"; done
mk_pki "$T/other" other
esl "$T/other/keys/db/db.pem" "$T/other-db.esl"

refused() { # PATTERN ARGS...: rotate-keys fails saying PATTERN and changes nothing
	local rc=0
	lzbt --no-variables --timeout=0 "${@:2}" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "rotate-keys ${*:2}: exit $rc, expected 1: $(cat "$T/err")"
	grep -qE "$1" "$T/err" || fail "rotate-keys ${*:2}: $(cat "$T/err")"
	[[ ! -e $T/pki/rotate-keys ]] || fail "rotate-keys ${*:2} began a rotation"
	[[ $(esp_snapshot) == "$esp_before" ]] || fail "rotate-keys ${*:2} changed the ESP"
}
gen=$T/profiles/system-1-link

rc=0
"$LANZATOOL" rotate-keys "$gen" 2>"$T/err" || rc=$?
[[ $rc == 2 ]] && grep -q -- '--pki-bundle' "$T/err" || fail "without --pki-bundle: exit $rc, $(cat "$T/err")"
rc=0
lzbt rotate-keys 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "rotate-keys without a generation: exit $rc, expected 2"
rc=0
lzbt --dry-run rotate-keys "$gen" 2>"$T/err" || rc=$?
[[ $rc == 2 ]] && grep -q 'no --dry-run' "$T/err" || fail "rotate-keys --dry-run: exit $rc, $(cat "$T/err")"
[[ ! -e $T/pki/rotate-keys ]] || fail "rotate-keys --dry-run began a rotation"
refused 'setup mode' rotate-keys "$gen" # no SetupMode variable at all
set_mode '\x01'
refused 'setup mode: no keys are enforced' rotate-keys "$gen"
set_mode '\x00'
set_var db "$DB" "$T/other-db.esl"
set_var KEK "$GLOBAL" "$T/KEK.esl"
refused "db does not hold the bundle's certificate .*/keys/db/db.pem" rotate-keys "$gen"
set_var db "$DB" "$T/other-db.esl" "$T/db.esl"
set_var KEK "$GLOBAL" "$T/PK.esl"
refused 'KEK does not hold .*/keys/KEK/KEK.pem, which must sign updates of db' rotate-keys "$gen"
set_var KEK "$GLOBAL" "$T/KEK.esl"
set_var PK "$GLOBAL" "$T/KEK.esl"
refused 'PK does not hold .*/keys/PK/PK.pem, which must sign updates of KEK' --kek rotate-keys "$gen"

set_var PK "$GLOBAL" "$T/PK.esl"

# Only the keys that sign updates are needed: a db-only rotation runs with PK.key and db.key offline (it
# gets as far as this fake firmware lets it: the append to db, signed by KEK, is written; reading it back,
# the fake shows the payload rather than a signature list).
mkdir -p "$T/offline"
mv "$T/pki/keys/PK/PK.key" "$T/pki/keys/db/db.key" "$T/offline/"
rc=0
lzbt --no-variables --timeout=0 rotate-keys "$gen" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q '^lanzatool: db: signature list' "$T/err" && ! grep -q 'PK.key\|db.key' "$T/err" ||
	fail "db-only rotation without PK.key and db.key: exit $rc: $(cat "$T/err")"
[[ $(od -An -tx1 -N4 "$LANZATOOL_EFIVARFS/db-$DB" | tr -d ' ') == 67000000 ]] || fail "no append to db"
mv "$T/offline/PK.key" "$T/pki/keys/PK/" && mv "$T/offline/db.key" "$T/pki/keys/db/"
rm -rf "$T/pki/rotate-keys"
set_var db "$DB" "$T/other-db.esl" "$T/db.esl"

# Every ESP is re-signed, so rotate-keys takes --esp-path more than once; the verbs that work on one ESP
# (status) refuse that.
rc=0
"$LANZATOOL" --esp-path="$T/esp" --esp-path="$T/esp2" --pki-bundle="$T/pki" status 2>"$T/err" || rc=$?
[[ $rc == 2 ]] && grep -q 'status: takes one --esp-path' "$T/err" || fail "status with two ESPs: exit $rc: $(cat "$T/err")"

# A db key in a PKCS#11 token (SoftHSM2) is succeeded by a key in the same token, never by a key file.
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label lzbt --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --init-token --free --label elsewhere --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --import "$T/pki/keys/db/db.key" --token lzbt --label db --id 01 --pin 1234 >/dev/null
install -m 0400 /dev/null "$T/pin" && printf 1234 >"$T/pin"
uri() { printf 'pkcs11:token=%s;object=%s;type=private?pin-source=file:%s&module-path=%s' "$1" "$2" "$T/pin" "$SOFTHSM_MODULE"; }
mv "$T/pki/keys/db/db.key" "$T/offline/db.key"
uri lzbt db >"$T/pki/keys/db/db.uri"
refused 'keys/db/db.uri: the db key is in a PKCS#11 token, and rotate-keys never replaces it with a key file' \
	rotate-keys "$gen"
refused "new-db-key=.*: not in the token of" --new-db-key="$(uri elsewhere db2)" rotate-keys "$gen"
refused "new-db-key=/tmp/x.key: not a pkcs11: URI" --new-db-key=/tmp/x.key rotate-keys "$gen"
refused "new-kek-key: KEK is not rotated" --new-db-key="$(uri lzbt db2)" --new-kek-key="$(uri lzbt kek2)" \
	rotate-keys "$gen"
# The successor, made in the token beforehand with the token's own tool.
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label lzbt --login --pin 1234 --keypairgen --key-type rsa:2048 \
	--label db2 --id 02 >/dev/null 2>&1 || fail "pkcs11-tool --keypairgen"
rc=0
lzbt --no-variables --timeout=0 --new-db-key="$(uri lzbt db2)" rotate-keys "$gen" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q '^lanzatool: db: signature list' "$T/err" ||
	fail "rotation with the db successor in the token: exit $rc: $(cat "$T/err")"
new_db=$T/pki/rotate-keys/keys/db
[[ -f $new_db/db.uri && -f $new_db/db.pem && ! -e $new_db/db.key ]] || fail "new db: $(ls "$new_db")"
[[ $(cat "$new_db/db.uri") == "$(uri lzbt db2)" ]] || fail "new db.uri: $(cat "$new_db/db.uri")"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label lzbt --read-object --type pubkey --label db2 \
	-o "$T/db2.pub.der" >/dev/null 2>&1 || fail "pkcs11-tool --read-object"
[[ $(openssl pkey -pubin -inform DER -in "$T/db2.pub.der") == $(openssl x509 -in "$new_db/db.pem" -noout -pubkey) ]] ||
	fail "the new db certificate is not the token key's"
cmp -s "$new_db/db.pem" "$T/pki/rotate-keys/new-db.pem" || fail "new-db.pem is not the token key's certificate"
openssl verify -CAfile "$new_db/db.pem" "$new_db/db.pem" >/dev/null || fail "the new db certificate is not self-signed"
[[ -z $(find "$T/pki" -name '*.key' -newer "$T/pin" -path '*db*') ]] || fail "a db key file was written"
rm -rf "$T/pki/rotate-keys" "$T/pki/keys/db/db.uri"
mv "$T/offline/db.key" "$T/pki/keys/db/"
set_var db "$DB" "$T/other-db.esl" "$T/db.esl"

# Everything enrolled: the new keys are made and the append written, but this "firmware" does not
# apply it. Nothing may then be switched, signed or retired.
rc=0
lzbt --no-variables --timeout=0 --kek rotate-keys "$gen" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "rotate-keys against a fake firmware: exit $rc: $(cat "$T/err")"
# What it wrote: an append (attributes 0x67) to KEK; the read-back then finds no new certificate.
[[ $(od -An -tx1 -N4 "$LANZATOOL_EFIVARFS/KEK-$GLOBAL" | tr -d ' ') == 67000000 ]] || fail "no append to KEK"
grep -q '^lanzatool: KEK' "$T/err" || fail "$(cat "$T/err")"
cmp -s <(printf '\x27\x00\x00\x00'; cat "$T/other-db.esl" "$T/db.esl") "$LANZATOOL_EFIVARFS/db-$DB" ||
	fail "db was written though KEK did not take the new certificate"
[[ -d $T/pki/rotate-keys/keys/db && -f $T/pki/rotate-keys/new-db.pem && -f $T/pki/rotate-keys/new-KEK.pem ]] ||
	fail "no new keys in $T/pki/rotate-keys"
[[ $(cd "$T/pki" && find . -path ./rotate-keys -prune -o -type f -print0 | sort -z | xargs -0 sha256sum) == "$bundle_before" ]] ||
	fail "the bundle changed though the firmware did not take the new KEK"
[[ $(esp_snapshot) == "$esp_before" ]] || fail "the ESP changed though the firmware did not take the new KEK"
grep -q 'creating new 2048-bit keys' "$T/err" || fail "the new keys are not the size of the old: $(cat "$T/err")"
echo ok
