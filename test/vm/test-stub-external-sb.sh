#!/usr/bin/env bash
# External mode through systemd-boot under Secure Boot with a TPM, installed by lanzatool: the stub
# reads the kernel and initrd from the ESP, verifies their hashes, boots, and PCR 11 is what
# systemd-measure predicts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-external-sb
vm_prepare
w=$(vm_workdir "$n")
lzbt_generation "$w" 1
lzbt_install "$w" 1
stub_inputs "$w" "$(lzbt_entry "$w" 1)"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm

# "LZBT MARKER initrd-reached": the kernel and initrd read from the ESP ran; "LZBT CMDLINE" with
# lzbt.test=gen1: it was generation 1's stub; "LZBT SecureBoot=1": under Secure Boot; "LZBT PCR11=": the
# TPM's, compared with systemd-measure's prediction from objcopy's sections and the pinned files.
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1'
vm_assert_value "$n" SecureBoot 1
vm_assert_value "$n" PCR11 "$(stub_predict_pcr11 "$w")"
