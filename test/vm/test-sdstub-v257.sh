#!/usr/bin/env bash
# The sd-stub patch series (patches/systemd/v257) built from Debian's systemd 257 source by
# tools/build-systemd-stub.sh (cached; the unit tests are test-sdstub-v257-build.sh), and the same source
# unpatched. Six boots, Secure Boot on, TPM:
# - lanzatool installs three generations (one with a specialisation) with the patched stub and the patched
#   systemd-boot; the specialisation entry boots through both (StubInfo, LoaderInfo);
# - PCR 11 equals our stub's up to .sbat: lanzatool adds the same entry sections, byte for byte, to either
#   template, and PCR 11 of the patched stub equals `lanzatool measure` and systemd-measure's value over our
#   stub's entry sections with only .sbat swapped for sd-stub's; the same entry installed with our stub boots
#   with systemd-measure's value for its own .sbat (details below);
# - one changed kernel byte and a truncated initrd are refused with systemd-stub's log line, and systemd-boot
#   reports the failed entry (the stub returned to the menu); after the changed kernel, in the same power-on,
#   the firmware starts the same disk's systemd-boot again, which boots the default generation with PCR 11
#   as `lanzatool measure` predicts (vm_boot_refused_then_default);
# - a UKI made by ukify with the patched stub and one made with the unpatched stub of the same version give
#   the same PCR 11 (no regression for embedded UKIs), systemd-measure 254's value for the UKI's sections.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ukify.sh"

vm_prepare
ukify_prepare
w=$(vm_workdir sdstub-v257)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

built() { # WHAT OPTION...: the path of WHAT (systemd-boot, stub, ukify) from tools/build-systemd-stub.sh 257
	"$root/tools/build-systemd-stub.sh" 257 "${@:2}" | sed -n "s/^$1 //p"
}
sd_stub=$(built stub) sd_boot=$(built systemd-boot) sd_ukify=$(built ukify)
plain_stub=$(built stub --unpatched)
[[ -f $sd_stub && -f $sd_boot && -f $plain_stub && -f $sd_ukify ]] || vm_fail sdstub-build "build paths missing"
cmp -s "$sd_stub" "$plain_stub" && vm_fail sdstub-build "the patched and unpatched stubs are identical"

export LANZATOOL_RELAX_ESP_CHECKS=1
lzbt_generation "$w" 1
lzbt_generation "$w" 2 docked
lzbt_generation "$w" 3

measure() { # ENTRY: lanzatool measure's sha256 PCR 11 (no phases)
	local out
	out=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 measure --phase= "$1") || return 1
	[[ $out =~ ^11:sha256=([0-9a-f]{64})$ ]] || { echo "measure printed: $out" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

# ---- generations through the patched systemd-boot, with the patched stub and with ours ----------------------
# What "PCR 11 equal to our stub's up to .sbat" means, exactly (patches/systemd/README.md): lanzatool adds the
# same entry sections (.osrel .cmdline .linux .linuxh .initrd .initrdh) with the same bytes to either
# template, each stub measures the verified kernel and initrd files under .linux/.initrd plus those of the
# other measured sections it carries, and the one measured section the two entries differ in is .sbat: each
# template keeps its own (SBAT is the stub binary's revocation identity). So PCR 11 of the patched stub is
# systemd-measure's value over our stub's entry sections, the kernel and initrd files, and sd-stub's .sbat.
# The sections are extracted with objcopy and the values computed by bookworm-backports' systemd-measure 254,
# which knows .sbat (test/vm/ukify.sh).
spec_entry() { ls "$w"/esp/EFI/Linux/nixos-generation-2-specialisation-docked-*.efi; }
# NAME STUB: install generations 1-3 with STUB into $w/esp, the specialisation of 2 the default; the
# specialisation entry is copied to $w/NAME.efi.
entry_install() {
	rm -rf "$w/esp"
	lzbt_install "$w" --stub="$2" --systemd-boot="$sd_boot" --default='nixos-generation-2-specialisation-docked-*' 1 2 3
	cp "$(spec_entry)" "$w/$1.efi"
}
sections() { # PE: names of its sections, one a line
	objdump -h -w "$1" | awk '$1 ~ /^[0-9]+$/ {print $2}'
}
section() { # PE NAME OUT: the bytes of section NAME (VirtualSize of them)
	objcopy -O binary --only-section="$2" "$1" "$3"
}
# NAME: systemd-measure's PCR 11 for the kernel and initrd files, our stub's entry's other measured sections,
# and the .sbat of entry NAME.efi.
predict() {
	local args=(--linux="$VM_KERNEL" --initrd="$VM_INITRD") s
	for s in osrel cmdline splash dtb uname pcrpkey; do
		[[ -f $w/own.$s ]] && args+=("--$s=$w/own.$s")
	done
	section "$w/$1.efi" .sbat "$w/$1.sbat"
	ukify_measure "${args[@]}" --sbat="$w/$1.sbat"
}
# NAME: boot $w/esp and check PCR 11 against lanzatool measure and the prediction for NAME.efi.
entry_boot() {
	local pcr
	pcr=$(measure "$(spec_entry)")
	[[ $pcr == "$(predict "$1")" ]] ||
		vm_fail "$1" "lanzatool measure $pcr differs from systemd-measure's $(predict "$1") ($1's .sbat)"
	vm_make_disk "$w/esp" "$w/disk.img"
	vm_boot "$1" "$w/disk.img" --sb --tpm
	vm_assert_has "$1" '^LZBT CMDLINE .*lzbt.test=gen2( |$)'
	vm_assert_value "$1" 'VAR LoaderInfo' "$(utf16_hex 'systemd-boot 257.13')"
	vm_assert_value "$1" 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$(spec_entry)")")"
	vm_assert_value "$1" PCR11 "$pcr"
}

# The entry sections lanzatool added (those not in the template) are the same set, byte for byte, in both.
entry_install sdstub-gen "$sd_stub"
entry_install sdstub-own "$LZB_STUB"
added() { grep -vxF -f <(sections "$2") <(sections "$1") | sort; } # ENTRY TEMPLATE
[[ $(added "$w/sdstub-gen.efi" "$sd_stub") == "$(added "$w/sdstub-own.efi" "$LZB_STUB")" ]] ||
	vm_fail sdstub-gen "lanzatool added different sections to the two stubs: $(added "$w/sdstub-gen.efi" "$sd_stub" |
		tr '\n' ' ')/ $(added "$w/sdstub-own.efi" "$LZB_STUB" | tr '\n' ' ')"
for s in .osrel .cmdline .linux .linuxh .initrd .initrdh; do
	grep -qxF -- "$s" <(added "$w/sdstub-own.efi" "$LZB_STUB") || vm_fail sdstub-gen "lanzatool added no $s section"
done
while read -r s; do
	section "$w/sdstub-gen.efi" "$s" "$w/gen$s" && section "$w/sdstub-own.efi" "$s" "$w/own$s"
	cmp -s "$w/gen$s" "$w/own$s" || vm_fail sdstub-gen "the $s sections of the two installed stubs differ"
done < <(added "$w/sdstub-own.efi" "$LZB_STUB")
# The measured sections each template brings along: .sbat in both, nothing else.
for e in sdstub-gen:"$sd_stub" sdstub-own:"$LZB_STUB"; do
	[[ $(sections "${e#*:}" | grep -xE '\.(linux|osrel|cmdline|initrd|ucode|splash|dtb|uname|sbat|pcrpkey)') == .sbat ]] ||
		vm_fail "${e%%:*}" "the template ${e#*:} carries measured sections other than .sbat"
done
own_pcr=$(predict sdstub-own) sd_pcr=$(predict sdstub-gen)
! cmp -s "$w/sdstub-gen.sbat" "$w/sdstub-own.sbat" || vm_fail sdstub-gen "the two stubs' .sbat are equal"

entry_install sdstub-gen "$sd_stub"
entry_boot sdstub-gen
vm_assert_value sdstub-gen 'VAR StubInfo' "$(utf16_hex 'systemd-stub 257.13')"
vm_assert_value sdstub-gen PCR11 "$sd_pcr"
entry_install sdstub-own "$LZB_STUB"
entry_boot sdstub-own
vm_assert_value sdstub-own PCR11 "$own_pcr"
sd_measure=$(vm_log_value sdstub-gen PCR11) own_measure=$(vm_log_value sdstub-own PCR11)

# ---- refusals ------------------------------------------------------------------------------------------------
# Generation 4 boots its own copy of the kernel (512 bytes longer: its own file on the ESP); generation 1 is
# the default.
rm -rf "$w/esp"
cp "$VM_KERNEL" "$w/kernel4" && truncate -s +512 "$w/kernel4"
mkdir -p "$w/store/k4-linux-6.1.0" && ln -sf "$w/kernel4" "$w/store/k4-linux-6.1.0/bzImage"
GEN_ROOT=$w KERNEL=$w/store/k4-linux-6.1.0/bzImage INITRD=$VM_INITRD \
	PARAMS='"console=ttyS0", "panic=-1", "quiet", "no_timer_check", "lzbt.test=gen4"' mk_generation 4 k4
lzbt_install "$w" --stub="$sd_stub" --systemd-boot="$sd_boot" --default='nixos-generation-1-*' 1 4
sd_refused() { # NAME WHAT: sd-stub's log line refusing WHAT (kernel, initrd) pinned by the entry
	vm_assert_has "$1" "SHA-256 digest of $2 '.*\\\\EFI\\\\nixos\\\\$2-[^']*' does not match the image"
}
# One changed byte in generation 4's kernel: refused, then systemd-boot on the same disk boots generation 1,
# with PCR 11 as `lanzatool measure` predicts for it (vm_boot_refused_then_default).
n=sdstub-kernel-byte
rm -rf "$w/esp-$n" && cp -a "$w/esp" "$w/esp-$n"
k4=$(cd "$w/esp-$n/EFI/nixos" && sha256sum kernel-* | awk -v h="$(sha256sum <"$w/kernel4" | cut -c1-64)" '$1 == h {print $2}')
[[ -n $k4 ]] || vm_fail "$n" "generation 4's kernel is not on the ESP"
vm_flip_byte "$w/esp-$n/EFI/nixos/$k4" 4096
vm_make_disk "$w/esp-$n" "$w/disk.img"
gen1=$(lzbt_entry "$w" 1)
vm_boot_refused_then_default "$n" "$w/disk.img" "$(basename "$(lzbt_entry "$w" 4)")" "$(basename "$gen1")"
sd_refused "$n" kernel
vm_assert_has "$n" "expected $(sha256sum "$w/kernel4" | cut -c1-64), got "
vm_assert_lacks "$n" 'lzbt.test=gen4'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
vm_assert_value "$n" PCR11 "$(measure "$gen1")"
# A truncated initrd (the two generations share it): the default is refused and systemd-boot says so.
n=sdstub-initrd-truncated
vm_boot_tampered "$n" "$w" 'truncate -s -1 initrd-*.efi'
vm_assert_lacks "$n" '^LZBT MARKER'
sd_refused "$n" initrd
vm_assert_has "$n" 'Failed to execute'

# ---- ukify-built UKIs: patched and unpatched stub of the same version --------------------------------------
ukify_boot() { # NAME STUB: boot a UKI that ukify builds with STUB
	local d=$w/$1 pcr
	mkdir -p "$d"
	/usr/bin/python3 "$sd_ukify" build --linux="$VM_KERNEL" --initrd="$VM_INITRD" --os-release=@/etc/os-release \
		--cmdline="console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=ukify" --uname="$VM_KVER" --stub="$2" \
		--output="$d/uki.efi" >/dev/null || vm_fail "$1" "ukify failed"
	pcr=$(ukify_predict_pe "$d/uki.efi" "$d/sections")
	vm_esp_systemd_boot "$d/esp" 'timeout 0'
	vm_sign "$sd_boot" "$d/esp/EFI/BOOT/BOOTX64.EFI"
	vm_sign "$d/uki.efi" "$d/esp/EFI/Linux/uki.efi"
	vm_make_disk "$d/esp" "$w/disk.img"
	vm_boot "$1" "$w/disk.img" --sb --tpm
	vm_assert_has "$1" '^LZBT CMDLINE .*lzbt.test=ukify( |$)'
	vm_assert_value "$1" 'VAR StubPcrKernelImage' "$(utf16_hex 11)"
	vm_assert_value "$1" PCR11 "$pcr"
}
ukify_boot sdstub-ukify-patched "$sd_stub"
ukify_boot sdstub-ukify-unpatched "$plain_stub"
patched_pcr=$(vm_log_value sdstub-ukify-patched PCR11)
plain_pcr=$(vm_log_value sdstub-ukify-unpatched PCR11)
[[ $patched_pcr == "$plain_pcr" ]] ||
	vm_fail sdstub-ukify-patched "PCR 11 with the patched stub $patched_pcr, with the unpatched $plain_pcr"
echo "PCR 11: generation 2 (docked) $sd_measure with sd-stub, $own_measure with ours; ukify UKI $patched_pcr"
