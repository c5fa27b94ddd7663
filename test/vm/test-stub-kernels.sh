#!/usr/bin/env bash
# The distribution kernels of Debian bullseye (5.10: SectionAlignment 0x20, no NX_COMPAT, .compat),
# bookworm, trixie and sid, each booted by our stub under Secure Boot with the TPM, through Debian
# bookworm's systemd-boot 252 and sid's newest systemd-boot: 8 boots, one per pair. Every time the
# guest's PCR 11 (read from the TPM) must equal `lanzatool measure` and Debian's `systemd-measure
# calculate` on sections objcopy extracted from the installed stub. Kernels and systemd-boot come from a
# private apt configuration into the VM cache (kernels.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/kernels.sh"

vm_prepare
kernels_prepare
w=$(vm_workdir stub-kernels)
export LANZATOOL_RELAX_ESP_CHECKS=1

# Each kernel's initrd: the test initrd plus the PCR-reading script and, for kernels that have the TPM driver
# as a module, those modules (the test initrd's efivarfs.ko only loads on bookworm's kernel).
initrd_for() { # SUITE: $w/initrd-SUITE
	rm -rf "$w/extra-$1" && mkdir -p "$w/extra-$1/modules"
	install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/tpm-pcr11.sh" "$w/extra-$1/lzbt-script"
	cp "$KERNELS_DIR/$1/modules/"*.ko "$w/extra-$1/modules/" 2>/dev/null || true
	vm_initrd_extend "$w/initrd-$1" "$w/extra-$1"
}

# Generation N boots suite N's kernel.
declare -A gen
n=0
for suite in "${KERNEL_SUITES[@]}"; do
	n=$((n + 1)) gen[$suite]=$n
	initrd_for "$suite"
	kdir=$w/store/k$n-linux-$suite
	mkdir -p "$kdir" && ln -sf "$KERNELS_DIR/$suite/vmlinuz" "$kdir/bzImage"
	GEN_ROOT=$w KERNEL=$kdir/bzImage INITRD=$w/initrd-$suite \
		PARAMS="\"console=ttyS0\", \"panic=-1\", \"quiet\", \"no_timer_check\", \"lzbt.test=gen$n\", \"lzbt.script=1\"" \
		mk_generation "$n" "k$n"
done

predict_lanzatool() { # STUB: lanzatool measure's sha256 PCR 11 without phases
	local out
	out=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 measure --phase= "$1") || return 1
	[[ $out =~ ^11:sha256=([0-9a-f]{64})$ ]] || { echo "measure printed: $out" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

predict_systemd() { # STUB KERNEL INITRD: systemd-measure on objcopy's sections, then .sbat (unknown to 252)
	local d=$w/predict
	rm -rf "$d" && mkdir -p "$d"
	ln -s "$2" "$d/kernel"
	ln -s "$3" "$d/initrd"
	objcopy -O binary --only-section=.osrel "$1" "$d/osrel"
	objcopy -O binary --only-section=.cmdline "$1" "$d/cmdline"
	stub_predict_pcr11 "$d"
}

sdboots=(bookworm:"$VM_SDBOOT" sid:"$KERNELS_SDBOOT_SID")
for sd in "${sdboots[@]}"; do
	for suite in "${KERNEL_SUITES[@]}"; do
		n=${gen[$suite]} name=stub-kernel-$suite-sdboot-${sd%%:*}
		rm -rf "$w/esp"
		lzbt_install "$w" --systemd-boot="${sd#*:}" --default="nixos-generation-$n-*" 1 2 3 4
		entry=$(lzbt_entry "$w" "$n")
		pcr_tool=$(predict_lanzatool "$entry")
		pcr_sd=$(predict_systemd "$entry" "$KERNELS_DIR/$suite/vmlinuz" "$w/initrd-$suite")
		[[ $pcr_tool == "$pcr_sd" ]] || vm_fail "$name" "lanzatool measure $pcr_tool != systemd-measure $pcr_sd"
		vm_make_disk "$w/esp" "$w/disk.img"
		vm_boot "$name" "$w/disk.img" --sb --tpm --timeout 600
		vm_assert_has "$name" "^LZBT CMDLINE .*lzbt.test=gen$n( |\$)"
		vm_assert_value "$name" TPMRC 00000000
		vm_assert_value "$name" TPMPCR11 "$pcr_sd"
		echo "$suite kernel $(vm_log_value "$name" UNAME) ($(<"$KERNELS_DIR/$suite/version")) via" \
			"systemd-boot ${sd%%:*} $([[ ${sd%%:*} == sid ]] && cat "$KERNELS_SDBOOT_SID.version" || echo 252):" \
			"PCR 11 $pcr_sd = lanzatool measure = systemd-measure"
	done
done
