#!/usr/bin/env bash
# Embedded mode with .ucode and .dtb, as sd-stub ≥ 256: the .ucode cpio is the first archive of the initrd
# the kernel sees (the kernel only looks for early microcode there), .dtb becomes the devicetree table,
# and PCR 11 holds both in systemd's canonical order (.linux .osrel .cmdline .initrd .ucode .dtb .sbat),
# predicted with Debian's systemd-measure for the first four sections and openssl for the rest (Debian's
# 252 knows no .ucode). Companions as sd-stub ≥ 256: *.confext.raw go to /.extra/confext and PCR 12
# (StubPcrInitRDConfExts=12), the other *.raw to /.extra/sysext and PCR 13; the archives are predicted
# with sd-cpio.py, written from the format description.
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
cat >"$w/extra/lzbt-script" <<'SCRIPT'
#!/bin/sh
echo "LZBT ORDER=$(cat /lzbt-order)"
echo "LZBT UCODE=$(cat /lzbt-ucode)"
v=/sys/firmware/efi/efivars/StubPcrInitRDConfExts-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
[ -e $v ] && echo "LZBT CONFEXTVAR=$(od -An -v -tx1 $v | tr -d ' \n' | cut -c9-)"
SCRIPT
chmod +x "$w/extra/lzbt-script"
vm_initrd_extend "$w/initrd" "$w/extra"

# A devicetree blob: an FDT header (magic, totalsize 64) and zeros; x86 kernels do not read it.
{ printf '\xd0\x0d\xfe\xed\x00\x00\x00\x40'; head -c 56 /dev/zero; } >"$w/dtb"

printf 'ID=nixos\nPRETTY_NAME=NixOS ucode test\nVERSION_ID=test\n' >"$w/osrel"
printf 'console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=ucode lzbt.script=1' >"$w/cmdline"
vm_mkuki "$LZB_STUB" "$w/uki.efi" .osrel="$w/osrel" .cmdline="$w/cmdline" .linux="$VM_KERNEL" \
	.initrd="$w/initrd" .ucode="$w/ucode.cpio" .dtb="$w/dtb"
vm_esp_systemd_boot "$w/esp" 'timeout 0'
vm_sign "$w/uki.efi" "$w/esp/EFI/Linux/uki.efi"
mkdir -p "$w/esp/EFI/Linux/uki.efi.extra.d" "$w/companions"
head -c 1000 /dev/urandom >"$w/companions/conf.confext.raw"
head -c 1500 /dev/urandom >"$w/companions/sys.raw"
cp "$w/companions/"* "$w/esp/EFI/Linux/uki.efi.extra.d/"
vm_make_disk "$w/esp" "$w/disk.img"
sdcpio=$(dirname "${BASH_SOURCE[0]}")/sd-cpio.py
python3 "$sdcpio" .extra/confext 0555 0444 "$w/companions/conf.confext.raw" >"$w/confext.cpio"
python3 "$sdcpio" .extra/sysext 0555 0444 "$w/companions/sys.raw" >"$w/sysext.cpio"
# PCR 12: systemd-boot 252 measures the options it passes (the UKI's .cmdline, UTF-16 with NUL), then the
# stub the confext archive. PCR 13: the sysext archive.
{ printf '%s' "$(<"$w/cmdline")" | iconv -f UTF-8 -t UTF-16LE; printf '\0\0'; } >"$w/cmdline16"
zero=0000000000000000000000000000000000000000000000000000000000000000
pcr12=$(pcr_extend "$(pcr_extend $zero "$w/cmdline16")" "$w/confext.cpio")
pcr13=$(pcr_extend $zero "$w/sysext.cpio")

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
vm_assert_has "$n" "^LZBT EXTRA /.extra/confext/conf.confext.raw $(sha256sum <"$w/companions/conf.confext.raw" | cut -c1-64)"
vm_assert_has "$n" "^LZBT EXTRA /.extra/sysext/sys.raw $(sha256sum <"$w/companions/sys.raw" | cut -c1-64)"
vm_assert_lacks "$n" '^LZBT EXTRA /.extra/sysext/conf.confext.raw'
vm_assert_value "$n" CONFEXTVAR "$(utf16_hex 12)"
vm_assert_value "$n" PCR13 "$pcr13"
vm_assert_value "$n" PCR12 "$pcr12"
echo "ucode first in the initrd, PCR 11 $pcr as predicted with .ucode and .dtb; confext in PCR 12 $pcr12," \
	"sysext in PCR 13 $pcr13"
