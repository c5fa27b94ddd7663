#!/usr/bin/env bash
# Refused entries leave PCR 11 untouched, and a good entry still boots in the same power-on. Two boots,
# Secure Boot on, TPM:
# A. One disk, lanzatool's ESP: generation 2's kernel file was changed after install (hash mismatch). The
#    firmware starts systemd-boot (Boot0100) with the one-shot entry generation 2, which the stub refuses;
#    systemd-boot returns the failure, the firmware starts the same disk's \EFI\BOOT\BOOTX64.EFI (Boot0101),
#    and that systemd-boot boots its default, generation 1 (vm_boot_refused_then_default). The guest's
#    LoaderEntrySelected is generation 1, its PCR 11 equals `lanzatool measure` and systemd-measure of
#    generation 1, and PCR 11 of the firmware's event log (tpm2_eventlog) holds exactly generation 1's
#    events, digest by digest, replayed with openssl from objcopy's sections.
# B. Five disks, each its own ESP, which the firmware tries in order as each systemd-boot returns the
#    failure of its default entry (systemd-boot exits on a failed entry, the firmware moves on):
#   1. a Type #1 entry "linux <signed initrd-less stub> + initrd /evil.cpio": a foreign initrd;
#   2. a signed UKI with a .profile section (systemd 257+ multi-profile), refused by name;
#   3. a UKI with an initrd and a devicetree whose "kernel" calls Exit() on the stub's handle, as a failing
#      Linux EFI stub does (test/efi/exit-kernel.c);
#   4. test/efi/probe.c as the disk's loader: it reports what the Exit() left behind (LoadFile2 handles,
#      whether BootServices->Exit is the firmware's again, a devicetree table) and returns an error;
#   5. the disk of boot A, whose default is generation 1.
#   The probe finds no LoadFile2 handle and the firmware's Exit(), and PCR 11 holds exactly the exited
#   entry's and generation 1's measurements.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir stub-refusals)
export LANZATOOL_RELAX_ESP_CHECKS=1

generation() { # N KERNEL
	local kdir=$w/store/k$1-linux-6.1.0
	mkdir -p "$kdir" && ln -sf "$2" "$kdir/bzImage"
	GEN_ROOT=$w KERNEL=$kdir/bzImage INITRD=$VM_INITRD \
		PARAMS="\"console=ttyS0\", \"panic=-1\", \"quiet\", \"no_timer_check\", \"lzbt.test=gen$1\", \"lzbt.eventlog=1\"" \
		mk_generation "$1" "k$1"
}

# The disk of boot A: generations 1 (the default) and 2; generation 2 boots its own copy of the kernel (512
# bytes longer: its own file on the ESP), which is then changed on the ESP.
cp "$VM_KERNEL" "$w/kernel2" && truncate -s +512 "$w/kernel2"
generation 1 "$VM_KERNEL"
generation 2 "$w/kernel2"
lzbt_install "$w" --default='nixos-generation-1-*' 1 2
good=$(lzbt_entry "$w" 1)
gen2=$(lzbt_entry "$w" 2)
k2=$w/esp/EFI/nixos/$(cd "$w/esp/EFI/nixos" && sha256sum kernel-* | awk -v h="$(sha256sum <"$w/kernel2" | cut -c1-64)" '$1 == h {print $2}')
[[ -f $k2 ]] || vm_fail stub-refusals "generation 2's kernel is not on the ESP"
printf 'X' | dd of="$k2" bs=1 seek=4096 conv=notrunc status=none
stub_inputs "$w" "$good"
pcr_sd=$(stub_predict_pcr11 "$w")
pcr_tool=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 measure --phase= "$good")
[[ $pcr_tool == "11:sha256=$pcr_sd" ]] || vm_fail stub-refusals "lanzatool measure $pcr_tool != systemd-measure $pcr_sd"
mv "$w/esp" "$w/esp-main"
good=$w/esp-main/${good#"$w/esp/"}

# The SHA-256 digests of the PCR 11 events the stub logs for STUB (an external-mode lanzatool entry booting
# KERNEL), one a line: every section present in the canonical order, its name with NUL, then its contents.
digests() { # STUB KERNEL
	local s f
	for s in linux osrel cmdline initrd ucode splash dtb uname sbat pcrpkey; do
		objdump -h -w "$1" | grep " \.$s " >/dev/null || continue # not -q: no SIGPIPE under pipefail
		case $s in
		linux) f=$2 ;;
		initrd) f=$VM_INITRD ;;
		*) objcopy -O binary --only-section=".$s" "$1" "$w/section" && f=$w/section ;;
		esac
		printf '.%s\0' "$s" | sha256sum | cut -c1-64
		sha256sum <"$f" | cut -c1-64
	done
}
pcr_fold() { # PCR: PCR extended with each digest read from stdin
	local pcr=$1 d
	while read -r d; do pcr=$({ xxd -r -p <<<"$pcr$d"; } | openssl dgst -sha256 -r | cut -c1-64); done
	echo "$pcr"
}
zero=0000000000000000000000000000000000000000000000000000000000000000
[[ $(digests "$good" "$VM_KERNEL" | pcr_fold $zero) == "$pcr_sd" ]] || vm_fail stub-refusals "the replay disagrees with systemd-measure"

eventlog_pcr11() { # NAME: the sha256 digests of PCR 11's events in the event log the guest printed
	tr -d '\r' <"$(vm_log "$1")" | sed -n '/^LZBT EVENTLOG BEGIN$/,/^LZBT EVENTLOG END$/p' | sed '1d;$d' |
		base64 -d >"$w/$1.eventlog" || vm_fail "$1" "no event log in the serial log"
	# (tpm2_eventlog warns about every PCR 11 event: it knows no UKI measurements.)
	tpm2_eventlog "$w/$1.eventlog" 2>/dev/null | awk '
		/^ *PCRIndex:/ { pcr = $2 }
		/AlgorithmId:/ { alg = $NF }
		/^ *Digest:/ && pcr == 11 && alg == "sha256" { gsub(/"/, "", $2); print $2 }'
}

# ---- A: refused, then systemd-boot again on the same disk, which boots generation 1 -------------------------
vm_make_disk "$w/esp-main" "$w/disk-main.img"
n=stub-refusals-same-disk
vm_boot_refused_then_default "$n" "$w/disk-main.img" "$(basename "$gen2")" "$(basename "$good")"
vm_assert_has "$n" 'kernel .*kernel-.*\.efi does not match this boot entry'
vm_assert_lacks "$n" 'lzbt.test=gen2'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
vm_assert_value "$n" PCR11 "$pcr_sd"
vm_assert_value "$n" 'VAR StubPcrKernelImage' "$(utf16_hex 11)"
[[ $(eventlog_pcr11 "$n") == "$(digests "$good" "$VM_KERNEL")" ]] ||
	vm_fail "$n" "PCR 11's events in the event log are not exactly generation 1's"
echo "A: generation 2 refused, then systemd-boot on the same disk booted generation 1; PCR 11 $pcr_sd" \
	"= lanzatool measure = systemd-measure; $(eventlog_pcr11 "$n" | wc -l) PCR 11 events, generation 1's"

# ---- B: foreign initrd, .profile, a kernel's Exit(), the probe, then the disk of A ---------------------------
# 1. Our stub with an embedded kernel and no .initrd, signed, started by a Type #1 entry with an initrd.
mkdir -p "$w/evil"
printf 'ID=evil\nPRETTY_NAME=Evil\n' >"$w/evil/osrel"
printf 'console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=evil' >"$w/evil/cmdline"
vm_mkuki "$LZB_STUB" "$w/evil/stub.efi" .osrel="$w/evil/osrel" .cmdline="$w/evil/cmdline" .linux="$VM_KERNEL"
vm_esp_systemd_boot "$w/esp-foreign" 'timeout 0' 'default evil.conf'
mkdir -p "$w/esp-foreign/EFI/evil" "$w/esp-foreign/loader/entries"
vm_sign "$w/evil/stub.efi" "$w/esp-foreign/EFI/evil/stub.efi"
echo evil >"$w/evil/evil"
(cd "$w/evil" && echo evil | cpio -o -H newc --quiet) >"$w/esp-foreign/EFI/evil/evil.cpio"
printf 'title Evil\nlinux /EFI/evil/stub.efi\ninitrd /EFI/evil/evil.cpio\n' >"$w/esp-foreign/loader/entries/evil.conf"

# 2. A UKI with a .profile section.
printf 'ID=main\nTITLE=Main profile\n' >"$w/evil/profile"
vm_mkuki "$LZB_STUB" "$w/evil/profile.efi" .osrel="$w/evil/osrel" .cmdline="$w/evil/cmdline" \
	.linux="$VM_KERNEL" .initrd="$VM_INITRD" .profile="$w/evil/profile"
vm_esp_systemd_boot "$w/esp-profile" 'timeout 0'
mkdir -p "$w/esp-profile/EFI/Linux"
vm_sign "$w/evil/profile.efi" "$w/esp-profile/EFI/Linux/profile.efi"

# 3. A kernel that calls Exit() (test/efi/exit-kernel.c), embedded in a signed UKI with an initrd and a
# devicetree: the stub registers the one and installs the other before starting the kernel.
exit_kernel=$LZB_BUILD/test/efi/exit-kernel.efi
{ printf '\xd0\x0d\xfe\xed\x00\x00\x00\x40'; head -c 56 /dev/zero; } >"$w/evil/dtb"
printf 'console=ttyS0 panic=-1 quiet lzbt.test=exit' >"$w/evil/exit-cmdline"
vm_mkuki "$LZB_STUB" "$w/evil/exit.efi" .osrel="$w/evil/osrel" .cmdline="$w/evil/exit-cmdline" \
	.linux="$exit_kernel" .initrd="$VM_INITRD" .dtb="$w/evil/dtb"
vm_esp_systemd_boot "$w/esp-exit" 'timeout 0'
vm_sign "$w/evil/exit.efi" "$w/esp-exit/EFI/Linux/exit.efi"
objcopy -O binary --only-section=.sbat "$LZB_STUB" "$w/sbat"
# Its PCR 11 events, in the canonical order: .linux .osrel .cmdline .initrd .dtb .sbat.
exit_digests=$(for p in linux="$exit_kernel" osrel="$w/evil/osrel" cmdline="$w/evil/exit-cmdline" \
	initrd="$VM_INITRD" dtb="$w/evil/dtb" sbat="$w/sbat"; do
	printf '.%s\0' "${p%%=*}" | sha256sum | cut -c1-64
	sha256sum <"${p#*=}" | cut -c1-64
done)

# 4. The probe.
mkdir -p "$w/esp-probe/EFI/BOOT"
vm_sign "$LZB_BUILD/test/efi/probe.efi" "$w/esp-probe/EFI/BOOT/BOOTX64.EFI"

for d in foreign profile exit probe; do vm_make_disk "$w/esp-$d" "$w/disk-$d.img" 64; done
n=stub-refusals
VM_QEMU_EXTRA=()
for d in profile exit probe main; do VM_QEMU_EXTRA+=(-drive "file=$w/disk-$d.img,format=raw,if=virtio"); done
# systemd-boot's "Failed to execute" is no longer the end here: the firmware goes on to the next disk.
VM_TERMINAL_RE='LZBT DONE|BdsDxe: No bootable option|UEFI Interactive Shell|Kernel panic'
vm_boot "$n" "$w/disk-foreign.img" --sb --tpm --timeout 900

vm_assert_has "$n" 'An initrd this boot entry does not pin is already offered to the kernel'
vm_assert_has "$n" "This boot entry's \.profile section is a systemd 257\+ section"
vm_assert_has "$n" 'lzbt exit-kernel: calling Exit\(\)'
vm_assert_lacks "$n" 'lzbt.test=(gen2|exit|evil)'
vm_assert_lacks "$n" 'The kernel returned'
# What the Exit() left behind, seen by the probe after it: no LoadFile2 handle (the stub's initrd handle
# was uninstalled), BootServices->Exit inside the firmware image that holds the other boot services (the
# hook is gone), no devicetree table (the UKI's was uninstalled).
[[ $(vm_log_line "$n" 'lzbt probe: ') -gt $(vm_log_line "$n" 'lzbt exit-kernel: calling Exit') ]] ||
	vm_fail "$n" "the probe did not run after the exited entry"
vm_assert_has "$n" 'lzbt probe: LoadFile2 handles 0'
vm_assert_has "$n" 'lzbt probe: Exit is the firmware'"'"'s'
vm_assert_has "$n" 'lzbt probe: devicetree table absent'
# Refused twice and exited once, yet generation 1 found no initrd but its own.
[[ $(grep -ac 'An initrd this boot entry does not pin' "$(vm_log "$n")") == 1 ]] ||
	vm_fail "$n" "an initrd was left registered for a later entry"
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
expected=$(cat <(echo "$exit_digests") <(digests "$good" "$VM_KERNEL"))
vm_assert_value "$n" PCR11 "$(pcr_fold $zero <<<"$expected")"
[[ $(eventlog_pcr11 "$n") == "$expected" ]] ||
	vm_fail "$n" "PCR 11's events in the event log are not exactly the exited entry's and generation 1's"
echo "B: refused a foreign initrd and .profile; a kernel's Exit() undone (probe: $(tr -d '\r' <"$(vm_log "$n")" |
	grep -ao 'lzbt probe: .*' | sed 's/lzbt probe: //' | paste -sd ';'));" \
	"then generation 1 booted; PCR 11 = the exited entry's and generation 1's $(wc -l <<<"$expected") events only"
