#!/usr/bin/env bash
# rotate-keys against the real firmware, from inside the guest (rotate.sh), with what a careful user has:
#   - the db key in a PKCS#11 token (SoftHSM2, in the guest): its successor, made in the same token
#     beforehand, signs; the bundle ends with keys/db/db.uri and no key file; PK.key is offline;
#   - two ESPs, the second on a separate disk (--esp-path twice): both are re-signed before db forgets the
#     old key, and both boot afterwards, each as the only disk;
#   - an image a vendor signed too (EFI/tools/dual.efi: systemd-boot signed by a stand-in vendor key, then
#     by our db key): afterwards it carries the vendor's signature and the new key's, not the old one's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/rotate.sh"

n=rotate-keys-token-esps
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
PKCS11_ENGINE=$(find /usr/lib -path '*engines-3/pkcs11.so' -print -quit)
command -v softhsm2-util pkcs11-tool >/dev/null && [[ -f $SOFTHSM_MODULE && -n $PKCS11_ENGINE ]] ||
	vm_fail "$n" "softhsm2, opensc or libengine-pkcs11-openssl is not installed"
vm_prepare
w=$(vm_workdir "$n")
rm -rf "$w/tokens" "$w/esp2"

# The token, as the guest will see it: the enrolled db key ("db") and its successor ("db2"), made in the
# token by the token's own tool.
export SOFTHSM2_CONF=$w/softhsm2.conf
mkdir -p "$w/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$w" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label lzbt-vm --pin 4321 --so-pin 8765 >/dev/null
softhsm2-util --import "$VM_PKI/keys/db/db.key" --token lzbt-vm --label db --id 01 --pin 4321 >/dev/null
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label lzbt-vm --login --pin 4321 --keypairgen --key-type rsa:2048 \
	--label db2 --id 02 >/dev/null 2>&1 || vm_fail "$n" "pkcs11-tool --keypairgen"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label lzbt-vm --read-object --type pubkey --label db2 \
	-o "$w/db2.pub.der" >/dev/null 2>&1 || vm_fail "$n" "pkcs11-tool --read-object"
guest_uri() { printf 'pkcs11:token=lzbt-vm;object=%s;type=private?pin-source=file:/lzbt/pin&module-path=%s' "$1" \
	"$SOFTHSM_MODULE"; }

# A vendor's key, and the dual-signed image.
openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=Stand-in Vendor/" \
	-keyout "$w/vendor.key" -out "$w/vendor.pem" 2>/dev/null
sbsign --key "$w/vendor.key" --cert "$w/vendor.pem" --output "$w/vendor.efi" "$VM_SDBOOT" 2>/dev/null
sbsign --key "$VM_PKI/keys/db/db.key" --cert "$VM_PKI/keys/db/db.pem" --output "$w/dual.efi" "$w/vendor.efi" 2>/dev/null

token_guest() { # GUEST_ROOT: the token, SoftHSM2 and the pkcs11 engine; the bundle's db key by URI, and
	# no PK.key: rotating db needs KEK's key only
	local root=$1
	rm "$root/lzbt/pki/keys/PK/PK.key"
	cp -r "$w/tokens" "$root/lzbt/tokens"
	printf 'directories.tokendir = /lzbt/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' >"$root/lzbt/softhsm2.conf"
	install -m 0400 /dev/null "$root/lzbt/pin" && printf 4321 >"$root/lzbt/pin"
	vm_add_program "$root" "$SOFTHSM_MODULE" "${SOFTHSM_MODULE#/}"
	vm_add_program "$root" "$PKCS11_ENGINE" "${PKCS11_ENGINE#/}"
	rm "$root/lzbt/pki/keys/db/db.key"
	guest_uri db >"$root/lzbt/pki/keys/db/db.uri"
}
dual_esp() { # ESP_DIR
	install -D -m 0644 "$w/dual.efi" "$1/EFI/tools/dual.efi"
}

ROTATE_GUEST_HOOK=token_guest ROTATE_ESP_HOOK=dual_esp rotate_prepare "$w" "$LZB_TOOL" "
export SOFTHSM2_CONF=/lzbt/softhsm2.conf
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vdb1 ] && break; sleep 1; done
mkdir -p /mnt/esp2
mount -t vfat /dev/vdb1 /mnt/esp2 || echo 'LZBT ROTATE no-esp2'
lzbt --esp-path=/mnt/esp2 --new-db-key='$(guest_uri db2)' rotate-keys /lzbt/gen/profiles/system-1-link
echo \"LZBT ROTATE rc=\$?\"
echo LZBT BUNDLE-DB \$(ls /lzbt/pki/keys/db)
umount /mnt/esp2
save_vars end
finish"

# The second ESP: generation 1 as the host installs it with the old key, and lzbt-test/done, so that
# booting it alone later only reports.
mkdir -p "$w/esp2"
LANZATOOL_RELAX_ESP_CHECKS=1 "$LZB_TOOL" -q --esp-path="$w/esp2" --pki-bundle="$w/pki" --stub="$LZB_STUB" \
	--no-variables --timeout=0 install "$w/profiles/system-1-link"
mkdir -p "$w/esp2/lzbt-test" && touch "$w/esp2/lzbt-test/done"
vm_make_disk "$w/esp2" "$w/disk2.img"

VM_EXTRA_DISK=$w/disk2.img vm_boot "$n" "$w/disk.img" --sb --timeout 600
vm_assert_has "$n" '^LZBT SCRIPT'
vm_assert_lacks "$n" '^LZBT ROTATE no-esp2'
vm_assert_value "$n" ROTATE rc=0
vm_assert_value "$n" BUNDLE-DB 'db.pem db.uri'
vm_assert_lacks "$n" '^LZBT ROTATE leftover'
rotate_fetch "$w"
rm -rf "$w/out2" && mkdir -p "$w/out2"
MTOOLS_SKIP_CHECK=1 mcopy -s -n -i "$w/disk2.img@@1M" ::/EFI "$w/out2/"

# The new db certificate is the token key's, and db holds it alone.
new_db=$w/out/lzbt-test/db.pem
[[ $(openssl pkey -pubin -inform DER -in "$w/db2.pub.der") == $(openssl x509 -in "$new_db" -noout -pubkey) ]] ||
	vm_fail "$n" "the new db certificate is not the token's db2 key"
cert-to-efi-sig-list -g "$(<"$VM_PKI/GUID")" "$new_db" "$w/new-db.esl"
{ printf '\x27\x00\x00\x00'; cat "$w/new-db.esl"; } | cmp -s - "$w/out/lzbt-test/db-end.var" ||
	vm_fail "$n" "db after the rotation: $(od -An -tx1 "$w/out/lzbt-test/db-end.var" | head -2)"

# Both ESPs: every image verifies with the new key, none with the old one.
for f in "$w"/out/EFI/Linux/*.efi "$w"/out/EFI/BOOT/BOOTX64.EFI "$w"/out/EFI/systemd/systemd-bootx64.efi \
	"$w"/out2/EFI/Linux/*.efi "$w"/out2/EFI/BOOT/BOOTX64.EFI "$w"/out2/EFI/systemd/systemd-bootx64.efi; do
	sbverify --cert "$new_db" "$f" >/dev/null 2>&1 || vm_fail "$n" "$f: not signed by the new key"
	sbverify --cert "$VM_PKI/keys/db/db.pem" "$f" >/dev/null 2>&1 && vm_fail "$n" "$f: still signed by the old key"
done
# The dual-signed image: the vendor's signature kept, ours replaced.
dual=$w/out/EFI/tools/dual.efi
sbverify --cert "$w/vendor.pem" "$dual" >/dev/null 2>&1 || vm_fail "$n" "dual.efi lost the vendor's signature"
sbverify --cert "$new_db" "$dual" >/dev/null 2>&1 || vm_fail "$n" "dual.efi: not signed by the new key"
sbverify --cert "$VM_PKI/keys/db/db.pem" "$dual" >/dev/null 2>&1 && vm_fail "$n" "dual.efi: still signed by the old key"
[[ $(sbverify --list "$dual" 2>/dev/null | grep -c '^signature ') == 2 ]] || vm_fail "$n" "dual.efi: not two signatures"

# Each ESP boots under Secure Boot with the rotated variables, as the only disk.
for d in disk disk2; do
	cp "$VM_LOGDIR/$n.vars.fd" "$w/vars-rotated.fd"
	vm_boot "$n-$d" "$w/$d.img" --vars "$w/vars-rotated.fd"
	vm_assert_has "$n-$d" '^LZBT ROTATE done-before'
	vm_assert_has "$n-$d" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
	vm_assert_value "$n-$d" SecureBoot 1
done
