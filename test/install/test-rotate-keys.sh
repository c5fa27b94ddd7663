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
[[ $rc == 1 ]] && grep -q -- '--pki-bundle' "$T/err" || fail "without --pki-bundle: exit $rc, $(cat "$T/err")"
rc=0
lzbt rotate-keys 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "rotate-keys without a generation: exit $rc, expected 2"
refused 'no --dry-run' --dry-run rotate-keys "$gen"
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

# Everything enrolled: the new keys are made and the append written, but this "firmware" does not
# apply it. Nothing may then be switched, signed or retired.
set_var PK "$GLOBAL" "$T/PK.esl"
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
