#!/usr/bin/env bash
# Without a TPM the stub still boots, and claims no measurement.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-no-tpm
vm_prepare
w=$(vm_workdir "$n")
stub_external "$w" 'console=ttyS0 panic=-1 quiet lzbt.test=notpm'
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/stub.efi" "$w/esp/EFI/Linux/nixos-generation-1.efi"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --no-tpm

vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT VAR StubPcrKernelImage absent'
vm_assert_has "$n" '^LZBT VAR StubInfo='
