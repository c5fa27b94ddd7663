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

cn() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p'; } # PEM: its CN

setup_mode() { # 0|1
	printf '%b' "\\x06\\x00\\x00\\x00\\x0$1" >"$EV/SetupMode-$GLOBAL"
}

# mk_eventlog N OUT [SHA256_HEX]: OVMF-like crypto-agile log (SHA-1 and SHA-256 banks) with N option ROM
# drivers, whose SHA-256 digest is SHA256_HEX (the ROM's Authenticode hash) when given
mk_eventlog() {
	"$PY" - "$1" "${3:-}" >"$2" <<'PY'
import struct, sys
def event(pcr, type_, data):
    sha256 = bytes.fromhex(sys.argv[2]) if type_ == 0x80000004 and sys.argv[2] else bytes([pcr]) * 32
    digests = struct.pack("<H", 0x0004) + bytes([type_ & 0xff]) * 20 + struct.pack("<H", 0x000B) + sha256
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
rc=0 && "$LANZATOOL" --pki-bundle="$T/small" --key-size=1024 create-keys 2>"$T/err" || rc=$? # a usage error
[[ $rc == 2 ]] && grep -qF -- '--key-size: "1024"' "$T/err" || fail "--key-size=1024: exit $rc, $(cat "$T/err")"
mkdir -m 0700 "$T/guided" && printf '%s\n' 0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d >"$T/guided/GUID"
"$LANZATOOL" -q --pki-bundle="$T/guided" --key-size=2048 create-keys || fail "create-keys with a GUID"
grep -qx 0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d "$T/guided/GUID" || fail "an existing GUID was not kept"
[[ -z $(find "$B" -mindepth 1 -maxdepth 1 ! -name keys ! -name GUID) ]] || fail "temporary files left: $(ls -A "$B")"

# ---- enroll-keys --export-auth: efitools' bytes ----------------------------------------------------
enroll() { "$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog-path="$T/log-none" "$@" enroll-keys; }
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
# A stand-in option ROM: systemd-boot signed by a stand-in CA chain (root, then the signing CA) as a card
# vendor's ROM is signed by Microsoft's. The log records its Authenticode hash, as pesign computes it.
openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=Stand-in Marketplace Root/" \
	-addext basicConstraints=critical,CA:TRUE -keyout "$T/root.key" -out "$T/root.pem" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=Stand-in UEFI CA/" -keyout "$T/ca.key" -out "$T/ca.csr" 2>/dev/null
openssl x509 -req -in "$T/ca.csr" -CA "$T/root.pem" -CAkey "$T/root.key" -CAcreateserial -days 30 \
	-extfile <(printf 'basicConstraints=critical,CA:TRUE\n') -out "$T/ca.pem" 2>/dev/null
sbsign --key "$T/ca.key" --cert "$T/ca.pem" --output "$T/rom.efi" /usr/lib/systemd/boot/efi/systemd-bootx64.efi 2>/dev/null ||
	fail "sbsign the stand-in option ROM"
sbverify --cert "$T/root.pem" "$T/rom.efi" >/dev/null 2>&1 || fail "the stand-in ROM does not verify with its root"
rom_hash=$(pesign -h -i "$T/rom.efi" | sed -n 's/^hash: //p')
[[ $rom_hash =~ ^[0-9a-f]{64}$ ]] || fail "pesign -h: $rom_hash"
mk_eventlog 1 "$T/log-rom" "$rom_hash"

# Microsoft Corporation UEFI CA 2011 itself, as Debian's OVMF enrolls it (OVMF_VARS_4M.ms.fd): the DER
# certificate whose SHA-256 is the fingerprint Microsoft publishes.
MS_UEFI_CA_2011=48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507
"$PY" - /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$MS_UEFI_CA_2011" "$T/ms-uefi-ca-2011.der" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
i = data.find(b"\x30\x82")
while i >= 0:
    der = data[i:i + 4 + int.from_bytes(data[i + 2:i + 4], "big")]
    if hashlib.sha256(der).hexdigest() == sys.argv[2]:
        open(sys.argv[3], "wb").write(der)
        sys.exit(0)
    i = data.find(b"\x30\x82", i + 1)
sys.exit("no Microsoft UEFI CA 2011 in " + sys.argv[1])
PY
[[ $(openssl x509 -inform DER -in "$T/ms-uefi-ca-2011.der" -noout -subject) == *"Microsoft Corporation UEFI CA 2011"* ]] ||
	fail "not the Microsoft UEFI CA 2011"

guarded() { "$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog-path="$T/log-rom" --export-auth="$T/guarded" "$@" enroll-keys; }
rm -rf "$T/guarded"
expect_fail "guard: option ROM, our keys only" 'ran 1 option ROM driver' guarded
grep -q -- '--yes-this-might-brick-my-machine' "$T/err" && grep -q -- '--tpm-eventlog' "$T/err" ||
	fail "guard: the ways out are not explained: $(cat "$T/err")"
[[ ! -e $T/guarded ]] || fail "guard: files written despite the refusal"
expect_fail "guard: option ROM, an unrelated certificate" 'ran 1 option ROM driver' guarded --add-db-cert="$T/rom.der"
expect_fail "guard: option ROM, the stand-in CA" 'ran 1 option ROM driver' guarded --add-db-cert="$T/ca.pem"
[[ ! -e $T/guarded ]] || fail "guard: files written despite the refusal"
guarded --add-db-cert="$T/ms-uefi-ca-2011.der" || fail "guard: refused with the Microsoft UEFI CA 2011 in db"

# The 2023 CAs, the real certificates from Debian's python3-virt-firmware (test/lib/ms-certs.sh names each
# file after the subject openssl reads). Since 2025 Microsoft signs option ROMs with the Option ROM UEFI CA
# 2023 and boot loaders with the UEFI CA 2023, which does not verify an option ROM.
# shellcheck source=test/lib/apt-private.sh
source "$HERE/../lib/apt-private.sh"
# shellcheck source=test/lib/ms-certs.sh
source "$HERE/../lib/ms-certs.sh"
ms_certs_prepare || fail "Microsoft's certificates from python3-virt-firmware (test/lib/ms-certs.sh)"
MS_ROM_2023=$MS_CERTS/Microsoft-Option-ROM-UEFI-CA-2023.der MS_UEFI_2023=$MS_CERTS/Microsoft-UEFI-CA-2023.der
"$LANZATOOL" --pki-bundle="$B" --tpm-eventlog-path="$T/log-rom" --export-auth="$T/guarded" \
	--add-db-cert="$MS_ROM_2023" enroll-keys 2>"$T/err" ||
	fail "guard: refused with the Microsoft Option ROM UEFI CA 2023 in db: $(cat "$T/err")"
grep -q 'db lacks Microsoft Corporation UEFI CA 2011, so one signed by it would not run' "$T/err" ||
	fail "guard: no warning that db lacks the 2011 CA: $(cat "$T/err")"
"$LANZATOOL" --pki-bundle="$B" --tpm-eventlog-path="$T/log-rom" --export-auth="$T/guarded" \
	--add-db-cert="$MS_ROM_2023" --add-db-cert="$T/ms-uefi-ca-2011.der" enroll-keys 2>"$T/err" ||
	fail "guard: refused with both option ROM CAs in db: $(cat "$T/err")"
grep -q 'lacks' "$T/err" && fail "guard: a warning with both option ROM CAs in db: $(cat "$T/err")"
rm -rf "$T/guarded"
expect_fail "guard: option ROM, the UEFI CA 2023 (boot loaders only)" 'ran 1 option ROM driver' \
	guarded --add-db-cert="$MS_UEFI_2023"
expect_fail "guard: option ROM, the UEFI CA 2023 and an unrelated certificate" 'ran 1 option ROM driver' \
	guarded --add-db-cert="$MS_UEFI_2023" --add-db-cert="$T/rom.der"
[[ ! -e $T/guarded ]] || fail "guard: files written despite the refusal"

# --microsoft=DIR: DIR/db into db, DIR/KEK into KEK, owned by Microsoft's GUID, after our own.
mkdir -p "$T/ms/db" "$T/ms/KEK"
cp "$T/ms-uefi-ca-2011.der" "$T/ms/db/uefi-ca-2011.der"
cp "$T/rom.pem" "$T/ms/KEK/kek-ca.pem"
rm -rf "$T/guarded"
guarded --microsoft="$T/ms" || fail "guard: refused with --microsoft"
openssl x509 -inform DER -in "$T/ms-uefi-ca-2011.der" -out "$T/ms-uefi-ca-2011.pem"
cert-to-efi-sig-list -g "$MICROSOFT" "$T/ms-uefi-ca-2011.pem" "$T/ms-db.esl"
cert-to-efi-sig-list -g "$MICROSOFT" "$T/rom.pem" "$T/ms-kek.esl"
efitools_auth "$B" "$T/efitools-ms" "$T/ms-kek.esl" "$T/ms-db.esl"
same_auth "--microsoft" "$T/guarded" "$T/efitools-ms"
mkdir -p "$T/ms-empty/KEK" "$T/ms-empty/db"
expect_fail "--microsoft without certificates" "$T/ms-empty/KEK: no certificate files" guarded --microsoft="$T/ms-empty"
expect_fail "--microsoft, no such directory" "$T/nothing-here/KEK: cannot read" guarded --microsoft="$T/nothing-here"

# --microsoft without DIR: /usr/share/lanzaboote/microsoft when a package installed it (here under a stand-in
# root), else python3-virt-firmware's files: the KEK CAs into KEK, the UEFI and Windows CAs into db (chosen
# here by the subjects openssl reads, in file name order), not the OEM PK; else a refusal naming the files.
mkdir -p "$T/pkgroot/usr/share/lanzaboote" && cp -r "$T/ms" "$T/pkgroot/usr/share/lanzaboote/microsoft"
rm -rf "$T/guarded"
LANZATOOL_MICROSOFT_ROOT=$T/pkgroot guarded --microsoft || fail "--microsoft, the packaged directory"
same_auth "--microsoft, the packaged directory" "$T/guarded" "$T/efitools-ms"
: >"$T/vf-kek.esl" && : >"$T/vf-db.esl"
for f in "$MS_CERTS_ROOT"/usr/lib/python3/dist-packages/virt/firmware/certs/microsoft.com/*.pem; do
	openssl x509 -in "$f" -out "$T/vf.pem"
	case $(cn "$T/vf.pem") in
	*" KEK "*) list=kek ;;
	*"UEFI CA 20"* | "Microsoft Windows Production PCA 2011") list=db ;;
	*) continue ;;
	esac
	cert-to-efi-sig-list -g "$MICROSOFT" "$T/vf.pem" "$T/vf.esl" && cat "$T/vf.esl" >>"$T/vf-$list.esl"
done
[[ $(stat -c %s "$T/vf-kek.esl") -gt 0 && $(stat -c %s "$T/vf-db.esl") -gt 0 ]] || fail "python3-virt-firmware: no KEK or db CAs"
rm -rf "$T/guarded"
LANZATOOL_MICROSOFT_ROOT=$MS_CERTS_ROOT guarded --microsoft || fail "--microsoft, python3-virt-firmware's certificates"
efitools_auth "$B" "$T/efitools-vf" "$T/vf-kek.esl" "$T/vf-db.esl"
same_auth "--microsoft, python3-virt-firmware's certificates" "$T/guarded" "$T/efitools-vf"
mkdir -p "$T/emptyroot"
expect_fail "--microsoft without DIR, nothing installed" \
	'give --microsoft=DIR .*DIR/KEK/ Microsoft Corporation KEK CA 2011.*Microsoft Option ROM UEFI CA 2023' \
	env LANZATOOL_MICROSOFT_ROOT="$T/emptyroot" "$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog-path="$T/log-rom" \
	--export-auth="$T/guarded" --microsoft enroll-keys

# --tpm-eventlog: the logged digest goes into db as an EFI_CERT_SHA256 entry, and that satisfies the guard.
rm -rf "$T/guarded"
guarded --tpm-eventlog || fail "guard: refused with the logged digests enrolled"
efitools_auth "$B" "$T/efitools-digests"
"$PY" - "$T/guarded/db.auth" "$(cat "$B/GUID")" "$rom_hash" "$T/efitools-digests/db.esl" <<'PY' || fail "--tpm-eventlog: db"
import struct, sys, uuid
auth = open(sys.argv[1], "rb").read()
length = struct.unpack_from("<I", auth, 16)[0]          # EFI_TIME, then WIN_CERTIFICATE_UEFI_GUID
esl = auth[16 + length:]
ours = open(sys.argv[4], "rb").read()
assert esl.startswith(ours), "db does not start with our certificate's list"
rest = esl[len(ours):]
sha256_type = uuid.UUID("c1c41626-504c-4092-aca9-41f936934328").bytes_le
typ, list_size, header_size, sig_size = rest[:16], *struct.unpack_from("<III", rest, 16)
assert typ == sha256_type, "second list is not EFI_CERT_SHA256"
assert (list_size, header_size, sig_size) == (28 + 48, 0, 48), (list_size, header_size, sig_size)
assert rest[28:44] == uuid.UUID(sys.argv[2]).bytes_le, "owner is not the bundle's GUID"
assert rest[44:76].hex() == sys.argv[3], "digest is not pesign's hash of the option ROM"
assert len(rest) == list_size, "more lists than expected"
PY
cp "$T/guarded/db.auth" "$T/db-digests.auth"
"$LANZATOOL" -q --pki-bundle="$B" --tpm-eventlog-path="$T/log-rom" --export-auth="$T/guarded" \
	--yes-this-might-brick-my-machine enroll-keys 2>/dev/null || fail "guard: refused despite --yes-this-might-brick"
head -c 100 "$T/log-rom" >"$T/log-cut"
expect_fail "guard: broken log" 'cannot tell whether the firmware runs option ROMs' "$LANZATOOL" \
	--pki-bundle="$B" --tpm-eventlog-path="$T/log-cut" --export-auth="$T/guarded" enroll-keys
expect_fail "guard: missing log" 'no such file' "$LANZATOOL" --pki-bundle="$B" --tpm-eventlog-path="$T/nothing" \
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
auto() { lzbt -q --no-variables --timeout=0 --tpm-eventlog-path="$T/log-none" --auto-enroll "$@" install \
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

# PK and KEK may be offline once their payloads are on the ESP: the lists inside are compared and the
# signatures checked with the certificates, so the second install signs nothing and writes nothing.
mkdir -p "$T/offline"
mv "$T/pki/keys/PK/PK.key" "$T/pki/keys/KEK/KEK.key" "$T/offline/"
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' auto || fail "install --auto-enroll without PK.key and KEK.key"
[[ $(esp_snapshot) == "$before" ]] || fail "install --auto-enroll without PK.key and KEK.key changed the ESP"
# Our KEK list signed by another PK is not ours: replacing it needs PK.key, and says which file is missing.
mk_pki "$T/other-pki" other
cp "$T/efitools-pki/KEK.esl" "$T/kek-other.esl"
sign-efi-sig-list -t "$TS" -k "$T/other-pki/keys/PK/PK.key" -c "$T/other-pki/keys/PK/PK.pem" KEK "$T/kek-other.esl" \
	"$T/esp/loader/keys/auto/KEK.auth" >/dev/null
expect_fail "install --auto-enroll, KEK.auth by another PK, PK.key offline" "keys/PK/PK.key: cannot open private key" auto
mv "$T/offline/PK.key" "$T/pki/keys/PK/"
mv "$T/offline/KEK.key" "$T/pki/keys/KEK/"
auto || fail "install --auto-enroll replacing a foreign KEK.auth"
same_auth "install --auto-enroll, foreign KEK.auth replaced" "$T/esp/loader/keys/auto" "$T/efitools-pki"

# In user mode the keys are enrolled: auto-enrollment is skipped, the files stay as they are, even with
# another KEK certificate in the bundle (in setup mode, KEK.auth would be rewritten) and no PK or KEK key.
setup_mode 0
auto_before=$(sha256sum "$T"/esp/loader/keys/auto/*)
mv "$T/pki/keys/KEK" "$T/offline/KEK-dir" && mv "$T/pki/keys/PK/PK.key" "$T/offline/"
mkdir "$T/pki/keys/KEK" && cp "$T/other-pki/keys/KEK/KEK.pem" "$T/pki/keys/KEK/"
lzbt --no-variables --timeout=0 --tpm-eventlog-path="$T/log-none" --auto-enroll install \
	"$T/profiles/system-1-link" 2>"$T/err" || fail "install --auto-enroll in user mode: $(cat "$T/err")"
grep -q 'user mode: skipping auto-enrollment' "$T/err" || fail "user mode: $(cat "$T/err")"
[[ $(sha256sum "$T"/esp/loader/keys/auto/*) == "$auto_before" ]] || fail "user mode: the .auth files changed"
rm -r "$T/pki/keys/KEK" && mv "$T/offline/KEK-dir" "$T/pki/keys/KEK" && mv "$T/offline/PK.key" "$T/pki/keys/PK/"
setup_mode 1

# New keys: the files follow them, with a new timestamp.
rm -rf "$T/pki" && mk_pki "$T/pki"
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' auto || fail "install --auto-enroll with new keys"
LANZATOOL_AUTH_TIMESTAMP='2030-01-01 00:00:00' "$LANZATOOL" -q --pki-bundle="$T/pki" --tpm-eventlog-path="$T/log-none" \
	--export-auth="$T/new-keys" enroll-keys || fail "export of the new keys"
same_auth "install --auto-enroll, new keys" "$T/esp/loader/keys/auto" "$T/new-keys"

# The guard protects install too, before anything is written.
rm -rf "$T/pki" && mk_pki "$T/pki"
before=$(esp_snapshot)
expect_fail "install --auto-enroll, option ROM" 'option ROM' lzbt --no-variables --timeout=0 \
	--tpm-eventlog-path="$T/log-rom" --auto-enroll install "$T/profiles/system-1-link"
[[ $(esp_snapshot) == "$before" ]] || fail "the refused install changed the ESP"

# ---- list-enrolled-keys ------------------------------------------------------------------------------
# Variables as the firmware shows them; subjects, issuers and fingerprints as openssl prints them.
efivar "PK-$GLOBAL" 27 "$T/efitools/PK.esl"
efivar "KEK-$GLOBAL" 27 <(cat "$T/efitools/KEK.esl" "$T/ms-kek.esl")
"$PY" - "$T/db-digests.auth" >"$T/db-digests.esl" <<'PY'
import struct, sys
auth = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(auth[16 + struct.unpack_from("<I", auth, 16)[0]:])
PY
for c in "$MS_UEFI_2023" "$MS_ROM_2023"; do
	openssl x509 -inform DER -in "$c" -out "$T/${c##*/}.pem"
	cert-to-efi-sig-list -g "$MICROSOFT" "$T/${c##*/}.pem" "$T/${c##*/}.esl"
done
efivar "db-$IMAGE_DB" 27 <(cat "$T/db-digests.esl" "$T/ms-db.esl" "$T/${MS_UEFI_2023##*/}.esl" "$T/${MS_ROM_2023##*/}.esl")
rm -f "$EV/dbx-$IMAGE_DB"
"$LANZATOOL" --json=short list-enrolled-keys >"$T/enrolled.json" || fail "list-enrolled-keys --json"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
name() { openssl x509 -in "$1" -noout "-$2" -nameopt RFC2253 | sed "s/^$2=//"; }
"$PY" - "$T/enrolled.json" "$(cat "$B/GUID")" "$MICROSOFT" "$rom_hash" \
	"$(fp "$B/keys/PK/PK.pem")" "$(name "$B/keys/PK/PK.pem" subject)" \
	"$(fp "$B/keys/KEK/KEK.pem")" "$(fp "$T/rom.pem")" "$(name "$T/rom.pem" issuer)" \
	"$(fp "$B/keys/db/db.pem")" "$(fp "$T/ms-uefi-ca-2011.pem")" "$(name "$T/ms-uefi-ca-2011.pem" issuer)" \
	"$(fp "$T/${MS_UEFI_2023##*/}.pem")" "$(cn "$T/${MS_UEFI_2023##*/}.pem")" \
	"$(fp "$T/${MS_ROM_2023##*/}.pem")" "$(cn "$T/${MS_ROM_2023##*/}.pem")" <<'PY' ||
import json, sys
(j, guid, ms, rom, pk_fp, pk_subject, kek_fp, ms_kek_fp, ms_kek_issuer, db_fp, ms_db_fp, ms_db_issuer,
 uefi_2023_fp, uefi_2023_cn, rom_2023_fp, rom_2023_cn) = sys.argv[1:]
k = json.load(open(j))
assert k["dbx"] == [], k["dbx"]
assert [(e["type"], e["sha256"], e["subject"], e["owner"]) for e in k["PK"]] == [("x509", pk_fp, pk_subject, guid)], k["PK"]
assert [(e["sha256"], e["owner"]) for e in k["KEK"]] == [(kek_fp, guid), (ms_kek_fp, ms)], k["KEK"]
assert k["KEK"][1]["issuer"] == ms_kek_issuer and k["KEK"][1]["knownAs"] is None, k["KEK"][1]
assert [(e["type"], e["sha256"]) for e in k["db"]] == [("x509", db_fp), ("sha256", rom), ("x509", ms_db_fp),
                                                     ("x509", uefi_2023_fp), ("x509", rom_2023_fp)], k["db"]
assert k["db"][2]["knownAs"] == "Microsoft Corporation UEFI CA 2011" and k["db"][2]["issuer"] == ms_db_issuer, k["db"][2]
# Named by the fingerprint openssl computes of the package's certificate with that subject.
assert [e["knownAs"] for e in k["db"][3:]] == [uefi_2023_cn, rom_2023_cn], k["db"][3:]
PY
	fail "list-enrolled-keys --json: $(cat "$T/enrolled.json")"
"$LANZATOOL" list-enrolled-keys >"$T/enrolled.txt" || fail "list-enrolled-keys"
grep -qx "  SHA256 $rom_hash" "$T/enrolled.txt" && grep -q "(Microsoft Corporation UEFI CA 2011)" "$T/enrolled.txt" &&
	grep -qx "dbx: empty" "$T/enrolled.txt" || fail "list-enrolled-keys: $(cat "$T/enrolled.txt")"
efivar "dbx-$IMAGE_DB" 27 <(head -c 20 "$T/ms-db.esl")
expect_fail "list-enrolled-keys, a malformed dbx" "dbx-$IMAGE_DB: not a signature list" "$LANZATOOL" list-enrolled-keys
rm "$EV/dbx-$IMAGE_DB"

# ---- private keys readable by others -------------------------------------------------------------------
chmod 0640 "$T/pki/keys/db/db.key"
lzbt --dry-run --no-variables install "$T/profiles/system-1-link" >/dev/null 2>"$T/err" || fail "install, db.key 0640"
grep -qF "$T/pki/keys/db/db.key: private key with mode 0640, accessible by its group" "$T/err" ||
	fail "no warning for a group-readable key: $(cat "$T/err")"
chmod 0604 "$T/pki/keys/db/db.key"
lzbt --dry-run --no-variables install "$T/profiles/system-1-link" >/dev/null 2>"$T/err" || fail "install, db.key 0604"
grep -qF "db.key: private key with mode 0604, accessible by everyone" "$T/err" || fail "world-readable: $(cat "$T/err")"
chmod 0400 "$T/pki/keys/db/db.key"
lzbt --dry-run --no-variables install "$T/profiles/system-1-link" >/dev/null 2>"$T/err" || fail "install, db.key 0400"
grep -q 'mode' "$T/err" && fail "a warning for a 0400 key: $(cat "$T/err")"

# remove takes the auto-enrollment payloads with the loader.conf that names them.
lzbt -q remove
[[ ! -e $T/esp/loader/keys/auto && ! -e $T/esp/loader/loader.conf ]] || fail "remove left the auto-enroll files"
echo ok
