#!/usr/bin/env bash
# Debian systemd-boot + a signed UKI on Debian's stub boot under Secure Boot with
# a TPM, and PCR 11 equals systemd-measure's prediction (the oracle later tests use).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=debian-uki-sb
vm_prepare
w=$(vm_workdir "$n")
vm_debian_uki "$w" 'console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=debian-uki'
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/uki.efi" "$w/esp/EFI/Linux/debian.efi"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm

# Which line proves what: "LZBT MARKER initrd-reached" is printed by our initrd's /init, so the kernel and
# initrd of the signed UKI ran; "LZBT SecureBoot=1"/"SetupMode=0" are the firmware's variables, read in the
# guest; "LZBT PCR11=" is the TPM's PCR 11, compared with systemd-measure's prediction.
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_value "$n" SecureBoot 1
vm_assert_value "$n" SetupMode 0
pcr11=$(vm_log_value "$n" PCR11) || vm_fail "$n" "no PCR11 line"
[[ ! $pcr11 =~ ^0+$ ]] || vm_fail "$n" "PCR11 is zero"
expected=$(vm_predict_pcr11 --linux="$VM_KERNEL" --osrel="$w/osrel" --cmdline="$w/cmdline" --initrd="$VM_INITRD") ||
	vm_fail "$n" "systemd-measure failed"
[[ $pcr11 == "$expected" ]] || vm_fail "$n" "PCR11 is $pcr11, systemd-measure predicts $expected"
