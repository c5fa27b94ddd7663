#!/usr/bin/env bash
# rotate-keys --kek against the real firmware, from inside the guest (rotate.sh): the entry's initrd
# carries lanzatool, the enrolled test PKI and the generation, mounts the ESP and rotates.
#   1. A first run is made to fail in its install step (a generation that does not exist): by then
#      the new certificates are appended and the bundle switched. db and KEK must hold old and new.
#   2. A second run finishes: db and KEK hold only the new certificates, byte for byte what
#      cert-to-efi-sig-list makes of them, and every image on the ESP verifies with the new db key.
#   3. The rotated ESP boots under Secure Boot with the rotated variables.
#   4. The ESP as it was before, signed with the old key, no longer does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/rotate.sh"

n=rotate-keys
vm_prepare
w=$(vm_workdir "$n")
rotate_prepare "$w" "$LZB_TOOL" '
lzbt --kek rotate-keys /lzbt/gen/profiles/no-such-generation
echo "LZBT ROTATE1 rc=$?"
save_vars mid
lzbt --kek rotate-keys /lzbt/gen/profiles/system-1-link
echo "LZBT ROTATE2 rc=$?"
save_vars end
finish'

vm_boot "$n" "$w/disk.img" --sb --timeout 600
# "LZBT ROTATE1/ROTATE2 rc=" are rotate-keys' exit statuses in the guest; the variables and certificates
# it left are fetched from the ESP (rotate_fetch) and compared with cert-to-efi-sig-list's output.
vm_assert_has "$n" '^LZBT SCRIPT'
vm_assert_value "$n" ROTATE1 rc=1
vm_assert_value "$n" ROTATE2 rc=0
vm_assert_lacks "$n" '^LZBT ROTATE leftover'
# The keys rotate-keys made are 0400 like those of create-keys (the guest's `stat -c %a` of each key).
# (--kek makes a new KEK and db; PK is the test PKI's own.)
vm_assert_has "$n" '^LZBT KEYMODE 400 keys/KEK/KEK\.key$'
vm_assert_has "$n" '^LZBT KEYMODE 400 keys/db/db\.key$'
rotate_fetch "$w"

guid=$(<"$VM_PKI/GUID")
cert-to-efi-sig-list -g "$guid" "$w/out/lzbt-test/db.pem" "$w/new-db.esl"
cert-to-efi-sig-list -g "$guid" "$w/out/lzbt-test/KEK.pem" "$w/new-KEK.esl"
expect_var() { # NAME FILE...: the variable's recorded bytes are attributes 0x27 and the files, in order
	{ printf '\x27\x00\x00\x00'; cat "${@:2}"; } | cmp -s - "$w/out/lzbt-test/$1.var" ||
		vm_fail "$n" "$1: $(od -An -tx1 "$w/out/lzbt-test/$1.var" | head -2)"
}
cmp -s "$w/out/lzbt-test/db.pem" "$VM_PKI/keys/db/db.pem" && vm_fail "$n" "the db certificate did not change"
cmp -s "$w/out/lzbt-test/KEK.pem" "$VM_PKI/keys/KEK/KEK.pem" && vm_fail "$n" "the KEK certificate did not change"
expect_var db-mid "$VM_PKI/db.esl" "$w/new-db.esl"
expect_var KEK-mid "$VM_PKI/KEK.esl" "$w/new-KEK.esl"
expect_var db-end "$w/new-db.esl"
expect_var KEK-end "$w/new-KEK.esl"

# The kernel and initrd stayed as they were: rotating keys re-signs, it copies nothing else.
diff <(ls "$w/esp-old/EFI/nixos") <(ls "$w/out/EFI/nixos") >/dev/null || vm_fail "$n" "EFI/nixos changed"
vm_assert_lacks "$n" 'writing (kernel|initrd)-'
# Every image on the ESP verifies with the new db key, none with the old one.
rotate_assert_resigned "$n" "$w" "$w"/out/EFI/Linux/*.efi "$w/out/EFI/BOOT/BOOTX64.EFI" "$w/out/EFI/systemd/systemd-bootx64.efi"

# The rotated ESP boots with the rotated variables; the old one is refused.
cp "$VM_LOGDIR/$n.vars.fd" "$w/vars-rotated.fd"
vm_boot "$n-after" "$w/disk.img" --vars "$w/vars-rotated.fd"
# "LZBT ROTATE done-before": the guest harness found the finished rotation; "LZBT CMDLINE ... gen1" under
# "LZBT SecureBoot=1": the re-signed entry booted with the rotated variables.
vm_assert_has "$n-after" '^LZBT ROTATE done-before'
vm_assert_has "$n-after" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
vm_assert_value "$n-after" SecureBoot 1

vm_make_disk "$w/esp-old" "$w/disk-old.img"
cp "$VM_LOGDIR/$n.vars.fd" "$w/vars-rotated.fd"
vm_boot "$n-old-esp" "$w/disk-old.img" --vars "$w/vars-rotated.fd"
# The old ESP's systemd-boot is signed by the old db key only: the firmware itself refuses the removable-media
# loader (its own "BdsDxe: failed to load Boot0002 ..." line), and no kernel ran (no "LZBT MARKER").
vm_assert_lacks "$n-old-esp" '^LZBT MARKER'
vm_assert_has "$n-old-esp" 'BdsDxe: failed to load Boot0002 .*(Access Denied|Security Violation)'
