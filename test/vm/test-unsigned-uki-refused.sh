#!/usr/bin/env bash
# Under Secure Boot, signed systemd-boot must refuse an unsigned UKI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=unsigned-uki-refused
vm_prepare
w=$(vm_workdir "$n")
vm_debian_uki "$w" 'console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=unsigned-uki'
vm_esp_systemd_boot "$w/esp" 'timeout 0'
cp "$w/uki.efi" "$w/esp/EFI/Linux/debian.efi"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --no-tpm

# The firmware started systemd-boot (it would print "failed to load Boot0002 ...: Access Denied" had it
# refused BOOTX64.EFI) ...
vm_assert_has "$n" 'BdsDxe: starting Boot0002 '
vm_assert_lacks "$n" 'BdsDxe: failed to load Boot0002 '
# ... and systemd-boot's LoadImage of that very UKI was denied (systemd-boot's own message, with its path).
vm_assert_has "$n" 'Error loading \\EFI\\Linux\\debian\.efi: Access Denied'
# The kernel never ran: the initrd's marker is absent.
vm_assert_lacks "$n" 'LZBT MARKER'
