#!/usr/bin/env bash
# External mode through systemd-boot under Secure Boot with a TPM: the stub reads the kernel and
# initrd from the ESP, verifies their hashes, boots, and PCR 11 is what systemd-measure predicts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-external-sb
vm_prepare
w=$(vm_workdir "$n")
stub_external "$w" 'console=ttyS0 panic=-1 quiet lzbt.test=external'
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/stub.efi" "$w/esp/EFI/Linux/nixos-generation-1.efi"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm

vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=external'
vm_assert_value "$n" SecureBoot 1
expected=$(stub_predict_pcr11 "$w") || vm_fail "$n" "no PCR 11 prediction"
vm_assert_value "$n" PCR11 "$expected"
