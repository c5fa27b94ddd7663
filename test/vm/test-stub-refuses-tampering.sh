#!/usr/bin/env bash
# One byte changed in the kernel or the initrd, the kernel deleted, the initrd truncated: the stub
# refuses each with a message naming the file, and hands control back to systemd-boot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir stub-tamper)
lzbt_generation "$w" 1
lzbt_install "$w" 1


# case NAME EXPECTED_MESSAGE MUTATION: mutate a copy of the ESP (a command run in its EFI/nixos),
# boot, check the refusal
case_() {
	local n=stub-tamper-$1 msg=$2
	vm_boot_tampered "$n" "$w" "$3"
	# No "LZBT MARKER": the initrd's /init never ran; MSG is the stub's own refusal naming the file;
	# "Failed to execute" is systemd-boot's, printed when the stub returned control with an error.
	vm_assert_lacks "$n" '^LZBT MARKER'
	vm_assert_has "$n" "$msg"
	vm_assert_has "$n" 'Failed to execute'
}

case_ kernel-byte 'kernel .*kernel-.*\.efi does not match' 'vm_flip_byte kernel-*.efi 4096'
vm_assert_has stub-tamper-kernel-byte "expected SHA-256 $(sha256sum "$VM_KERNEL" | cut -d' ' -f1)"
case_ initrd-byte 'initrd .*initrd-.*\.efi does not match' 'vm_flip_byte initrd-*.efi 100'
case_ kernel-deleted 'Cannot open the kernel .*kernel-.*\.efi' 'rm kernel-*.efi'
case_ initrd-truncated 'initrd .*initrd-.*\.efi does not match' 'truncate -s -1 initrd-*.efi'
