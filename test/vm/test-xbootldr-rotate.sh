#!/usr/bin/env bash
# rotate-keys (db) re-signs the XBOOTLDR partition before the old key is retired: the disk has an ESP
# (systemd-boot, loader.conf) and an XBOOTLDR partition (the entry, kernel, initrd), both FAT. In the
# guest (rotate.sh with ROTATE_XBOOTLDR=1) lanzatool finds both by their partition types through libfdisk
# (--boot-path=/mnt/boot, no relaxed checks) and rotates against the real firmware. Afterwards every
# image on both partitions verifies with the new db key and none with the old one (sbverify), and the
# disk boots its entry from XBOOTLDR under Secure Boot with the rotated variables. Two boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/rotate.sh"

n=xbootldr-rotate
vm_prepare
w=$(vm_workdir "$n")
export ROTATE_XBOOTLDR=1
rotate_prepare "$w" "$LZB_TOOL" '
lzbt rotate-keys /lzbt/gen/profiles/system-1-link
echo "LZBT XROTATE rc=$?"
finish'
[[ ! -e $w/esp/EFI/Linux && -n $(ls "$w/xbootldr/EFI/Linux") ]] || vm_fail "$n" "the entry is not on XBOOTLDR"

vm_boot "$n" "$w/disk.img" --sb --timeout 600
# "LZBT XROTATE rc=": rotate-keys' exit status in the guest.
vm_assert_has "$n" '^LZBT SCRIPT'
vm_assert_lacks "$n" '^LZBT ROTATE no-xbootldr'
vm_assert_value "$n" XROTATE rc=0
rotate_fetch "$w"
[[ -n $(ls "$w/out/boot/EFI/Linux") && ! -e $w/out/EFI/Linux ]] || vm_fail "$n" "fetched: $(cd "$w/out" && find . -type f)"
rotate_assert_resigned "$n" "$w" "$w"/out/boot/EFI/Linux/*.efi "$w/out/EFI/BOOT/BOOTX64.EFI" "$w/out/EFI/systemd/systemd-bootx64.efi"

cp "$VM_LOGDIR/$n.vars.fd" "$w/vars-rotated.fd"
vm_boot "$n-after" "$w/disk.img" --vars "$w/vars-rotated.fd"
# "LZBT ROTATE done-before": the guest found the finished rotation; the entry on XBOOTLDR booted
# (LoaderEntrySelected, its command line) under Secure Boot with the rotated variables.
vm_assert_has "$n-after" '^LZBT ROTATE done-before'
vm_assert_has "$n-after" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
# The booted entry of the rotating boot stays beside its rewrite (a new name: the key is among its
# inputs), re-signed too; systemd-boot boots one of the two, from XBOOTLDR.
entry=$(vm_utf16_hex_to_text "$(vm_log_value "$n-after" 'VAR LoaderEntrySelected')")
[[ $entry == nixos-generation-1-* && -f $w/out/boot/EFI/Linux/$entry ]] ||
	vm_fail "$n-after" "LoaderEntrySelected is '$entry', not an entry on XBOOTLDR: $(ls "$w/out/boot/EFI/Linux")"
vm_assert_value "$n-after" SecureBoot 1
echo "PASS: $n (XBOOTLDR re-signed, boots with the new db only)"
