#!/usr/bin/env bash
# Embedded mode: a UKI built from our stub with the kernel and initrd inside boots under Secure
# Boot, and PCR 11 is the prediction for those sections.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-embedded
vm_prepare
w=$(vm_workdir "$n")
stub_embedded "$w" 'console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=embedded'
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/stub.efi" "$w/esp/EFI/Linux/uki.efi"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm

# "LZBT MARKER initrd-reached": the embedded kernel and initrd ran; "LZBT CMDLINE" (the guest's
# /proc/cmdline) carries lzbt.test=embedded, so it was this UKI's .cmdline; "LZBT PCR11=" is the TPM's,
# compared with systemd-measure's prediction for the sections objcopy put in.
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=embedded'
vm_assert_value "$n" PCR11 "$(stub_predict_pcr11 "$w")"
