#!/usr/bin/env bash
# aarch64, first-class: on this x86-64 host, lanzatool installs an aarch64-linux generation (Debian's arm64
# kernel, systemd-bootaa64, the aa64 stub) onto an ESP; QEMU virt with AAVMF boots it under Secure Boot with
# our keys enrolled and a TPM; PCR 11 equals `lanzatool measure` and systemd-measure's prediction. Then one
# byte of the kernel changed: the aa64 stub refuses it, leaves PCR 11 alone, and systemd-boot gets control
# back. Two boots. The arm64 kernel has no driver for QEMU virt's TPM: PCRs are read from swtpm (aarch64.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/aarch64.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

LZB_STUB=$LZB_BUILD/src/boot/efi/lanzabootaa64.efi.stub
[[ -f $LZB_STUB ]] || { echo "FAIL: $LZB_STUB is not built (meson option efi-arches)" >&2; exit 1; }
vm_prepare
aa64_prepare
w=$(vm_workdir aarch64-sb)
export LANZATOOL_RELAX_ESP_CHECKS=1
# An empty efivarfs: on a Secure Boot host the db-trust guard would otherwise read the host's db.
export LANZATOOL_EFIVARFS=$w/no-efivars
mkdir -p "$LANZATOOL_EFIVARFS"

# The generation: Debian's arm64 kernel and the arm64 test initrd, as nixpkgs would name them.
kdir=$w/store/k-linux-$AA64_KVER
mkdir -p "$kdir" && ln -sf "$AA64_KERNEL" "$kdir/Image" && ln -sf "$AA64_INITRD" "$kdir/initrd"
GEN_ROOT=$w SYSTEM=aarch64-linux KERNEL=$kdir/Image INITRD=$kdir/initrd \
	PARAMS='"console=ttyAMA0", "panic=-1", "quiet", "lzbt.test=aa64"' mk_generation 1 k
mkdir -p "$w/esp"
"$LZB_TOOL" -q --esp-path="$w/esp" --pki-bundle="$VM_PKI" --stub="$LZB_STUB" --systemd-boot="$AA64_SDBOOT" \
	--no-variables --timeout=0 install "$w/profiles/system-1-link"

# The ESP is laid out for aarch64 only, signed by our db key (sbverify, not our code, says so).
for f in EFI/BOOT/BOOTAA64.EFI EFI/systemd/systemd-bootaa64.efi; do
	[[ -f $w/esp/$f ]] || vm_fail aarch64-sb "lanzatool did not install $f"
	sbverify --cert "$VM_PKI/keys/db/db.pem" "$w/esp/$f" >/dev/null 2>&1 || vm_fail aarch64-sb "$f: bad signature"
done
[[ ! -e $w/esp/EFI/BOOT/BOOTX64.EFI && ! -e $w/esp/EFI/systemd/systemd-bootx64.efi ]] ||
	vm_fail aarch64-sb "an x64 boot loader on an aarch64 ESP"
entry=$(lzbt_entry "$w" 1)
[[ $(aa64_machine "$entry") == 0xaa64 ]] || vm_fail aarch64-sb "$entry is not an AArch64 image"

# PCR 11, predicted twice: by systemd-measure from the files the stub pins and the stub's own sections
# (plus .sbat, which Debian's 252 does not know, extended with openssl as in stub.sh), and by lanzatool.
for s in osrel cmdline sbat; do aa64_section "$entry" ".$s" "$w/$s"; done
printf '.sbat\0' >"$w/sbat-name"
expected=$(vm_predict_pcr11 --linux="$AA64_KERNEL" --osrel="$w/osrel" --cmdline="$w/cmdline" --initrd="$AA64_INITRD")
expected=$(pcr_extend "$(pcr_extend "$expected" "$w/sbat-name")" "$w/sbat")
measured=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 --phase= measure "$entry")
[[ $measured == "11:sha256=$expected" ]] || vm_fail aarch64-sb "lanzatool measure says $measured, systemd-measure $expected"

vm_make_disk "$w/esp" "$w/disk.img"
aa64_boot aarch64-sb "$w/disk.img" --sb --tpm
vm_assert_has aarch64-sb '^LZBT MARKER initrd-reached'
vm_assert_has aarch64-sb '^LZBT CMDLINE .*lzbt.test=aa64'
vm_assert_value aarch64-sb SecureBoot 1
vm_assert_value aarch64-sb "TPM PCR11" "$expected"

# One byte of the kernel changed on the ESP: refused before anything is measured, back to systemd-boot.
cp -a "$w/esp" "$w/esp-tampered"
kernel=$(echo "$w"/esp-tampered/EFI/nixos/kernel-*.efi)
b=$(od -An -tu1 -j 4096 -N1 "$kernel" | tr -d ' ')
printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$kernel" bs=1 seek=4096 conv=notrunc status=none
vm_make_disk "$w/esp-tampered" "$w/disk.img"
aa64_boot aarch64-sb-tampered "$w/disk.img" --sb --tpm
vm_assert_lacks aarch64-sb-tampered '^LZBT MARKER'
vm_assert_has aarch64-sb-tampered "kernel .*kernel-.*\.efi does not match"
vm_assert_has aarch64-sb-tampered "expected SHA-256 $(sha256sum "$AA64_KERNEL" | cut -d' ' -f1)"
vm_assert_has aarch64-sb-tampered 'Failed to execute'
# Refused before anything was measured: PCR 11 as the firmware left it.
vm_assert_value aarch64-sb-tampered "TPM PCR11" 0000000000000000000000000000000000000000000000000000000000000000
