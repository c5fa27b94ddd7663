#!/usr/bin/env bash
# Embedded mode with .ucode and .dtb, as sd-stub ≥ 256: the .ucode cpio is the first archive of the initrd
# the kernel sees (the kernel only looks for early microcode there), .dtb becomes the devicetree table,
# and PCR 11 holds both in systemd's canonical order (.linux .osrel .cmdline .initrd .ucode .dtb .sbat),
# predicted with Debian's systemd-measure for the first four sections and openssl for the rest (Debian's
# 252 knows no .ucode).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-ucode-dtb
vm_prepare
w=$(vm_workdir "$n")

# The microcode archive: a (never applicable) Intel microcode file, a marker, and /lzbt-order = ucode.
mkdir -p "$w/ucode/kernel/x86/microcode"
printf 'not microcode' >"$w/ucode/kernel/x86/microcode/GenuineIntel.bin"
echo ucode >"$w/ucode/lzbt-order"
echo present >"$w/ucode/lzbt-ucode"
(cd "$w/ucode" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --reproducible --quiet) \
	>"$w/ucode.cpio"

# The initrd: the test initrd, then /lzbt-order = initrd and a script that reports both files. Whichever
# archive comes last wins /lzbt-order.
mkdir -p "$w/extra"
echo initrd >"$w/extra/lzbt-order"
printf '#!/bin/sh\necho "LZBT ORDER=$(cat /lzbt-order)"\necho "LZBT UCODE=$(cat /lzbt-ucode)"\n' >"$w/extra/lzbt-script"
chmod +x "$w/extra/lzbt-script"
vm_initrd_extend "$w/initrd" "$w/extra"

# A devicetree blob (the FDT magic and a header's worth of bytes; x86 kernels do not read it).
{ printf '\xd0\x0d\xfe\xed'; head -c 60 /dev/zero; } >"$w/dtb"

printf 'ID=nixos\nPRETTY_NAME=NixOS ucode test\nVERSION_ID=test\n' >"$w/osrel"
printf 'console=ttyS0 panic=-1 quiet lzbt.test=ucode lzbt.script=1' >"$w/cmdline"
vm_mkuki "$LZB_STUB" "$w/uki.efi" .osrel="$w/osrel" .cmdline="$w/cmdline" .linux="$VM_KERNEL" \
	.initrd="$w/initrd" .ucode="$w/ucode.cpio" .dtb="$w/dtb"
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/uki.efi" "$w/esp/EFI/Linux/uki.efi"
vm_make_disk "$w/esp" "$w/disk.img"

pcr=$(vm_predict_pcr11 --linux="$VM_KERNEL" --osrel="$w/osrel" --cmdline="$w/cmdline" --initrd="$w/initrd")
for s in ucode:"$w/ucode.cpio" dtb:"$w/dtb" sbat:"$w/sbat"; do
	[[ ${s%%:*} != sbat ]] || objcopy -O binary --only-section=.sbat "$LZB_STUB" "$w/sbat"
	printf '.%s\0' "${s%%:*}" >"$w/name"
	pcr=$(pcr_extend "$pcr" "$w/name")
	pcr=$(pcr_extend "$pcr" "${s#*:}")
done

vm_boot "$n" "$w/disk.img" --sb --tpm
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=ucode'
vm_assert_value "$n" UCODE present
vm_assert_value "$n" ORDER initrd
vm_assert_value "$n" PCR11 "$pcr"
echo "ucode first in the initrd, PCR 11 $pcr as predicted with .ucode and .dtb"
