#!/usr/bin/env bash
# An ESP signed through a PKCS#11 token boots under Secure Boot: the enrolled test db key, imported
# into SoftHSM2, signs the stubs and systemd-boot through keys/db/db.uri. The result is byte for byte
# what the same key signs from its file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=pkcs11
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
command -v softhsm2-util >/dev/null && [[ -f $SOFTHSM_MODULE ]] || vm_skip "softhsm2 is not installed"
vm_prepare
w=$(vm_workdir "$n")

# The token, holding the enrolled db key.
export SOFTHSM2_CONF=$w/softhsm2.conf
mkdir -p "$w/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$w" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label lzbt-vm --pin 4321 --so-pin 8765 >/dev/null
softhsm2-util --import "$VM_PKI/keys/db/db.key" --token lzbt-vm --label db --id 01 --pin 4321 >/dev/null
printf 4321 >"$w/pin"

# The bundle: the test PKI with its db key replaced by the token's.
mkdir -p "$w/pki/keys/db"
cp -r "$VM_PKI/keys/PK" "$VM_PKI/keys/KEK" "$w/pki/keys/"
cp "$VM_PKI/GUID" "$w/pki/"
cp "$VM_PKI/keys/db/db.pem" "$w/pki/keys/db/"
printf 'pkcs11:token=lzbt-vm;object=db;type=private?pin-source=file:%s&module-path=%s\n' "$w/pin" \
	"$SOFTHSM_MODULE" >"$w/pki/keys/db/db.uri"

lzbt_generation "$w" 1
# An empty efivarfs (as lzbt_install below): on a Secure Boot host the db-trust guard would read the host's db.
mkdir -p "$w/esp" "$w/no-efivars"
LANZATOOL_EFIVARFS=$w/no-efivars LANZATOOL_RELAX_ESP_CHECKS=1 "$LZB_TOOL" -q --esp-path="$w/esp" --pki-bundle="$w/pki" \
	--stub="$LZB_STUB" --no-variables --timeout=0 install "$w/profiles/system-1-link" </dev/null ||
	vm_fail "$n" "install with the db key in the token failed"
[[ ! -e $w/pki/keys/db/db.key ]] || vm_fail "$n" "the bundle has a key file"

# The same install from the key file gives the same bytes.
cp -r "$w/esp" "$w/esp-token"
rm -rf "$w/esp"
lzbt_install "$w" 1
diff -r "$w/esp" "$w/esp-token" >/dev/null || vm_fail "$n" "the token-signed ESP differs from the file-signed one"

vm_make_disk "$w/esp-token" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb
# "LZBT MARKER" and "LZBT CMDLINE ... gen1": the token-signed stub and its kernel ran under "LZBT
# SecureBoot=1" (the firmware's variable), so the firmware accepted the token's signatures of systemd-boot
# and the stub; "LZBT VAR LoaderEntrySelected": systemd-boot started that entry.
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
vm_assert_value "$n" SecureBoot 1
vm_assert_value "$n" 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$(lzbt_entry "$w" 1)")")"
