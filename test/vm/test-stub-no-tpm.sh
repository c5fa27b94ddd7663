#!/usr/bin/env bash
# Without a TPM the stub still boots, and claims no measurement.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-no-tpm
vm_prepare
w=$(vm_workdir "$n")
lzbt_generation "$w" 1
lzbt_install "$w" 1
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --no-tpm

# "LZBT MARKER initrd-reached": it booted without a TPM; "LZBT VAR StubPcrKernelImage absent": the
# stub claims no measurement; "LZBT VAR StubInfo=": yet it is our stub that ran (it sets StubInfo).
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_has "$n" '^LZBT VAR StubPcrKernelImage absent'
vm_assert_has "$n" '^LZBT VAR StubInfo='
