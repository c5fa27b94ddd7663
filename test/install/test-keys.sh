#!/usr/bin/env bash
# create-keys, enroll-keys and install --auto-enroll on a directory ESP and a directory standing in for
# efivarfs. Every payload is checked against efitools (cert-to-efi-sig-list, sign-efi-sig-list) byte for
# byte; the bricking guard against event logs built here in the TCG crypto-agile format.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
IMAGE_DB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
MICROSOFT=77fa9abd-0359-4d32-bd60-28f4e78f784b
TS='2025-06-07 08:09:10'
export LANZATOOL_AUTH_TIMESTAMP=$TS
EV=$T/efivars

expect_fail() { # WHAT ERE CMD...: CMD exits 1 with a message matching ERE
	local what=$1 ere=$2 rc=0
	shift 2
	"$@" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "$what: exit $rc, expected 1"
	grep -qE -- "$ere" "$T/err" || fail "$what: message lacks /$ere/: $(cat "$T/err")"
}

efivar() { # NAME-GUID ATTRIBUTES_HEX FILE: a variable in the stand-in efivarfs
	{ printf '%b' "\\x$2\\x00\\x00\\x00"; cat "$3"; } >"$EV/$1"
}

setup_mode() { # 0|1
	printf '%b' "\\x06\\x00\\x00\\x00\\x0$1" >"$EV/SetupMode-$GLOBAL"
}

# mk_eventlog N OUT: OVMF-like crypto-agile log (SHA-1 and SHA-256 banks) with N option ROM drivers
mk_eventlog() {
	"$PY" - "$1" >"$2" <<'PY'
import struct, sys
def event(pcr, type_, data):
    digests = struct.pack("<H", 0x0004) + bytes([type_ & 0xff]) * 20 + struct.pack("<H", 0x000B) + bytes([pcr]) * 32
    return struct.pack("<III", pcr, type_, 2) + digests + struct.pack("<I", len(data)) + data
spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2) + struct.pack("<HHHH", 0x0004, 20, 0x000B, 32) + b"\0"
log = struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec
image = struct.pack("<QQQQ", 0, 0, 0, 4) + bytes([0x7F, 0xFF, 4, 0])   # UEFI_IMAGE_LOAD_EVENT, end node only
for _ in range(int(sys.argv[1])):
    log += event(2, 0x80000004, image)                                    # EV_EFI_BOOT_SERVICES_DRIVER
log += event(4, 0x80000007, b"Calling EFI Application from Boot Option")  # EV_EFI_ACTION
log += event(4, 0x00000004, bytes(4))                                     # EV_SEPARATOR
log += event(4, 0x80000003, image)                                        # EV_EFI_BOOT_SERVICES_APPLICATION
sys.stdout.buffer.write(log)
PY
}
mk_eventlog 0 "$T/log-none"
mk_eventlog 1 "$T/log-rom"

# efitools' payloads for bundle DIR into OUT, the certificate files of each list given as KEK=... db=...
# (our own certificate first, as enroll-keys puts it).
efitools_auth() { # DIR OUT [KEK_EXTRA_ESL] [DB_EXTRA_ESL]
	local dir=$1 out=$2 guid k
	guid=$(tr -d '\n' <"$dir/GUID")
	mkdir -p "$out"
	for k in PK KEK db; do cert-to-efi-sig-list -g "$guid" "$dir/keys/$k/$k.pem" "$out/$k.esl"; done
	[[ -z ${3:-} ]] || cat "$3" >>"$out/KEK.esl"
	[[ -z ${4:-} ]] || cat "$4" >>"$out/db.esl"
	local -A signer=([PK]=PK [KEK]=PK [db]=KEK)
	for k in PK KEK db; do
		sign-efi-sig-list -t "$TS" -k "$dir/keys/${signer[$k]}/${signer[$k]}.key" \
			-c "$dir/keys/${signer[$k]}/${signer[$k]}.pem" "$k" "$out/$k.esl" "$out/$k.auth" >/dev/null
	done
}

same_auth() { # WHAT DIR_A DIR_B
	local k
	for k in PK KEK db; do cmp -s "$2/$k.auth" "$3/$k.auth" || fail "$1: $k.auth differs"; done
}

# ---- create-keys ----------------------------------------------------------------------------------
B=$T/bundle
"$LANZATOOL" -q --pki-bundle="$B" --key-size=2048 create-keys || fail "create-keys"
[[ $(stat -c %a "$B" "$B/keys" "$B"/keys/{PK,KEK,db} | sort -u) == 700 ]] || fail "directories not 0700"
for k in PK KEK db; do
	[[ $(stat -c %a "$B/keys/$k/$k.key") == 400 ]] || fail "$k.key not 0400"
	[[ $(stat -c %a "$B/keys/$k/$k.pem") == 644 ]] || fail "$k.pem not 0644"
	openssl x509 -in "$B/keys/$k/$k.pem" -noout -text >"$T/x509" || fail "$k.pem is no certificate"
	grep -q "Public-Key: (2048 bit)" "$T/x509" || fail "$k: not RSA-2048"
	[[ $(openssl x509 -in "$B/keys/$k/$k.pem" -noout -pubkey) == $(openssl pkey -in "$B/keys/$k/$k.key" -pubout) ]] ||
		fail "$k: key and certificate do not match"
	head -1 "$B/keys/$k/$k.key" | grep -qx -- '-----BEGIN PRIVATE KEY-----' || fail "$k.key: not PKCS#8 PEM"
	openssl verify -CAfile "$B/keys/$k/$k.pem" "$B/keys/$k/$k.pem" >/dev/null || fail "$k: not self-signed"
done
grep -q "Subject: CN = Platform Key" <(openssl x509 -in "$B/keys/PK/PK.pem" -noout -text) || fail "PK subject"
grep -qxE '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' "$B/GUID" || fail "GUID: $(cat "$B/GUID")"
[[ $(stat -c %s "$B/GUID") == 36 ]] || fail "GUID has a newline, sbctl would not read it"
sum_before=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
expect_fail "create-keys over a bundle" 'keys: exists; refusing' "$LANZATOOL" --pki-bundle="$B" create-keys
[[ $(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha256sum) == "$sum_before" ]] ||
	fail "create-keys changed an existing bundle"
expect_fail "--key-size=1024" '1024-bit keys' "$LANZATOOL" --pki-bundle="$T/small" --key-size=1024 create-keys
mkdir -m 0700 "$T/guided" && printf '%s\n' 0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d >"$T/guided/GUID"
"$LANZATOOL" -q --pki-bundle="$T/guided" --key-size=2048 create-keys || fail "create-keys with a GUID"
grep -qx 0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d "$T/guided/GUID" || fail "an existing GUID was not kept"
[[ -z $(find "$B" -mindepth 1 -maxdepth 1 ! -name keys ! -name GUID) ]] || fail "temporary files left: $(ls -A "$B")"

# ---- enroll-keys --export-auth: efitools' bytes ----------------------------------------------------
enroll() { "$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog="$T/log-none" "$@" enroll-keys; }
enroll --export-auth="$T/ours" || fail "export"
efitools_auth "$B" "$T/efitools"
same_auth "export" "$T/ours" "$T/efitools"

# Extra certificates: a DER db certificate and a PEM KEK certificate, each in a list of its own with our
# owner GUID, after our own.
openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=Option ROM CA/" \
	-keyout "$T/rom.key" -out "$T/rom.pem" 2>/dev/null
openssl x509 -in "$T/rom.pem" -outform DER -out "$T/rom.der"
cert-to-efi-sig-list -g "$(cat "$B/GUID")" "$T/rom.pem" "$T/rom.esl"
enroll --export-auth="$T/ours-extra" --add-db-cert="$T/rom.der" --add-kek-cert="$T/rom.pem" ||
	fail "export with extra certificates"
efitools_auth "$B" "$T/efitools-extra" "$T/rom.esl" "$T/rom.esl"
same_auth "--add-db-cert, --add-kek-cert" "$T/ours-extra" "$T/efitools-extra"
expect_fail "--add-db-cert of a non-certificate" 'neither a PEM nor a DER' enroll --export-auth="$T/x" \
	--add-db-cert="$T/rom.key"

# ---- the bricking guard ------------------------------------------------------------------------------
rm -rf "$T/guarded"
expect_fail "guard: option ROM" 'ran 1 option ROM driver' "$LANZATOOL" --pki-bundle="$B" \
	--tpm-eventlog="$T/log-rom" --export-auth="$T/guarded" enroll-keys
grep -q -- '--yes-this-might-brick-my-machine' "$T/err" || fail "guard: the ways out are not explained"
[[ ! -e $T/guarded ]] || fail "guard: files written despite the refusal"
"$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog="$T/log-rom" --export-auth="$T/guarded" --add-db-cert="$T/rom.der" \
	enroll-keys || fail "guard: refused although db holds another certificate"
"$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog="$T/log-rom" --export-auth="$T/guarded" \
	--yes-this-might-brick-my-machine enroll-keys 2>/dev/null || fail "guard: refused despite --yes-this-might-brick"
head -c 100 "$T/log-rom" >"$T/log-cut"
expect_fail "guard: broken log" 'cannot tell whether the firmware runs option ROMs' "$LANZATOOL" \
	--pki-bundle="$B" --tpm-eventlog="$T/log-cut" --export-auth="$T/guarded" enroll-keys
expect_fail "guard: missing log" 'no such file' "$LANZATOOL" --pki-bundle="$B" --tpm-eventlog="$T/nothing" \
	--export-auth="$T/guarded" enroll-keys

# ---- live enrollment ---------------------------------------------------------------------------------
setup_mode 0
expect_fail "live in user mode" 'user mode' enroll
[[ ! -e $EV/PK-$GLOBAL ]] || fail "wrote PK in user mode"
setup_mode 1
enroll || fail "live enrollment"
for v in "PK-$GLOBAL:PK" "KEK-$GLOBAL:KEK" "db-$IMAGE_DB:db"; do
	cmp -s "$EV/${v%%:*}" <(printf '\x27\x00\x00\x00'; cat "$T/efitools/${v##*:}.auth") ||
		fail "efivarfs ${v%%:*}: not 0x27 followed by efitools' ${v##*:}.auth"
done

# --append keeps what db holds now (here a Microsoft-owned certificate) after our own.
cert-to-efi-sig-list -g "$MICROSOFT" "$T/rom.pem" "$T/ms.esl"
efivar "db-$IMAGE_DB" 27 "$T/ms.esl"
rm -f "$EV/KEK-$GLOBAL" "$EV/PK-$GLOBAL"
enroll --export-auth="$T/ours-append" --append || fail "--append"
efitools_auth "$B" "$T/efitools-append" "" "$T/ms.esl"
same_auth "--append" "$T/ours-append" "$T/efitools-append"
# Enrolled twice, our certificate is not listed twice.
cat "$T/efitools/db.esl" "$T/ms.esl" >"$T/both.esl"
efivar "db-$IMAGE_DB" 27 "$T/both.esl"
enroll --export-auth="$T/ours-append2" --append || fail "--append over our own certificate"
same_auth "--append, no duplicates" "$T/ours-append2" "$T/efitools-append"

# --firmware-builtin takes the volatile dbDefault and KEKDefault, and refuses non-volatile ones.
efivar "dbDefault-$GLOBAL" 06 "$T/ms.esl"
efivar "KEKDefault-$GLOBAL" 06 "$T/ms.esl"
enroll --export-auth="$T/ours-builtin" --firmware-builtin || fail "--firmware-builtin"
efitools_auth "$B" "$T/efitools-builtin" "$T/ms.esl" "$T/ms.esl"
same_auth "--firmware-builtin" "$T/ours-builtin" "$T/efitools-builtin"
efivar "dbDefault-$GLOBAL" 07 "$T/ms.esl"
expect_fail "--firmware-builtin, non-volatile" 'non-volatile' enroll --export-auth="$T/x" --firmware-builtin
rm "$EV/dbDefault-$GLOBAL"
expect_fail "--firmware-builtin, absent" 'no built-in keys' enroll --export-auth="$T/x" --firmware-builtin

# ---- install --auto-enroll ---------------------------------------------------------------------------
mk_generation 1 k1
auto() { lzbt -q --no-variables --timeout=0 --tpm-eventlog="$T/log-none" --auto-enroll "$@" install \
	"$T/profiles/system-1-link"; }
auto || fail "install --auto-enroll"
grep -qx 'secure-boot-enroll force' "$T/esp/loader/loader.conf" || fail "loader.conf: $(cat "$T/esp/loader/loader.conf")"
efitools_auth "$T/pki" "$T/efitools-pki"
same_auth "install --auto-enroll" "$T/esp/loader/keys/auto" "$T/efitools-pki"
check_esp
before=$(esp_snapshot)
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' auto || fail "install --auto-enroll again"
[[ $(esp_snapshot) == "$before" ]] || fail "a second install --auto-enroll changed the ESP"
auto --dry-run >"$T/plan" || fail "--dry-run"
grep -qx 'keep  loader/keys/auto/db.auth' "$T/plan" || fail "--dry-run: $(cat "$T/plan")"

# New keys: the files follow them, with a new timestamp.
rm -rf "$T/pki" && mk_pki "$T/pki"
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' auto || fail "install --auto-enroll with new keys"
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' "$LANZATOOL" -q --pki-bundle="$T/pki" --tpm-eventlog="$T/log-none" \
	--export-auth="$T/new-keys" enroll-keys || fail "export of the new keys"
same_auth "install --auto-enroll, new keys" "$T/esp/loader/keys/auto" "$T/new-keys"

# The guard protects install too, before anything is written.
rm -rf "$T/pki" && mk_pki "$T/pki"
before=$(esp_snapshot)
expect_fail "install --auto-enroll, option ROM" 'option ROM' lzbt --no-variables --timeout=0 \
	--tpm-eventlog="$T/log-rom" --auto-enroll install "$T/profiles/system-1-link"
[[ $(esp_snapshot) == "$before" ]] || fail "the refused install changed the ESP"

# remove takes the auto-enrollment payloads with the loader.conf that names them.
lzbt -q remove
[[ ! -e $T/esp/loader/keys/auto && ! -e $T/esp/loader/loader.conf ]] || fail "remove left the auto-enroll files"
echo ok
