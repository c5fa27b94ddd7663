#!/usr/bin/env bash
# The aa64 stub in embedded mode (kernel and initrd inside, as sd-stub) with a .dtb section: QEMU virt's own
# devicetree, dumped by QEMU for this very machine. AAVMF hands the kernel ACPI and no devicetree, so the kernel can only see a
# "compatible" root property if the stub installed ours. PCR 11 covers .dtb, as systemd-measure predicts. One boot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/aarch64.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=aarch64-embedded-dtb
LZB_STUB=$LZB_BUILD/src/boot/efi/lanzabootaa64.efi.stub
[[ -f $LZB_STUB ]] || { echo "FAIL: $LZB_STUB is not built (meson option efi-arches)" >&2; exit 1; }
vm_prepare
aa64_prepare
w=$(vm_workdir "$n")

# The devicetree of exactly the machine the test boots (every device and flash changes it): QEMU dumps it
# and exits instead of booting.
mkdir -p "$w/esp/EFI/BOOT" "$w/esp/EFI/Linux" "$w/esp/loader"
vm_make_disk "$w/esp" "$w/disk.img"
VM_AA64_MACHINE_EXTRA=",dumpdtb=$w/virt.dtb" aa64_boot "$n-dumpdtb" "$w/disk.img" --sb --tpm
[[ -s $w/virt.dtb ]] || vm_fail "$n-dumpdtb" "QEMU dumped no devicetree"
# The guest reports the root node's compatible string (lzbt.script=1 hook of initrd-init).
mkdir -p "$w/extra"
printf '#!/bin/sh\necho "LZBT DT compatible=$(tr "\\\\0" " " </sys/firmware/devicetree/base/compatible 2>/dev/null || echo none)"\n' \
	>"$w/extra/lzbt-script"
chmod 0755 "$w/extra/lzbt-script"
VM_INITRD=$AA64_INITRD vm_initrd_extend "$w/initrd" "$w/extra"

printf 'ID=nixos\nPRETTY_NAME=NixOS aarch64 embedded (Generation 1, 2026-12-05)\nVERSION_ID=test\n' >"$w/osrel"
printf 'console=ttyAMA0 panic=-1 quiet lzbt.test=aa64-dtb lzbt.script=1' >"$w/cmdline"
aa64_mkuki "$LZB_STUB" "$w/uki.efi" .osrel="$w/osrel" .cmdline="$w/cmdline" .dtb="$w/virt.dtb" \
	.linux="$AA64_KERNEL" .initrd="$w/initrd"
vm_sign "$AA64_SDBOOT" "$w/esp/EFI/BOOT/BOOTAA64.EFI"
vm_sign "$w/uki.efi" "$w/esp/EFI/Linux/uki.efi"
printf 'timeout 0\n' >"$w/esp/loader/loader.conf"
vm_make_disk "$w/esp" "$w/disk.img"

aa64_section "$LZB_STUB" .sbat "$w/sbat"
printf '.sbat\0' >"$w/sbat-name"
expected=$(vm_predict_pcr11 --linux="$AA64_KERNEL" --osrel="$w/osrel" --cmdline="$w/cmdline" --initrd="$w/initrd" \
	--dtb="$w/virt.dtb")
expected=$(pcr_extend "$(pcr_extend "$expected" "$w/sbat-name")" "$w/sbat")

aa64_boot "$n" "$w/disk.img" --sb --tpm
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=aa64-dtb'
vm_assert_value "$n" SecureBoot 1
vm_assert_has "$n" '^LZBT DT compatible=linux,dummy-virt'
vm_assert_value "$n" "TPM PCR11" "$expected"
