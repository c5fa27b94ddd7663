#!/usr/bin/env bash
# Refused entries leave PCR 11 untouched, and the next entry still boots in the same boot. Four disks, each
# an ESP with its own signed systemd-boot, which the firmware tries in order as each systemd-boot returns
# the failure of its default entry (systemd-boot exits on a failed entry, the firmware moves on):
#   1. a lanzatool entry whose kernel file was changed after install (hash mismatch);
#   2. a Type #1 entry "linux <signed initrd-less stub> + initrd /evil.cpio": a foreign initrd;
#   3. a signed UKI with a .profile section (systemd 257+ multi-profile), refused by name;
#   4. a lanzatool entry whose "kernel" calls Exit() on the stub's handle, as a failing Linux EFI stub
#      does: the stub must not leave its initrd registered behind (the next entry would refuse it);
#   5. a good lanzatool entry.
# One boot: the three refusals are on the console, the good entry reaches the initrd, and the guest's PCR
# 11 holds exactly the measurements of the two entries that passed the stub's checks (4, whose kernel then
# exited, and 5) and nothing of the refused ones: the value is replayed with openssl from objcopy's
# sections (the replay of entry 5 alone must equal lanzatool measure and systemd-measure), and PCR 11 of
# the firmware's event log (tpm2_eventlog) has exactly their events.
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

# 1. Generation 2 boots its own copy of the kernel (512 bytes longer: its own file on the ESP), which is
# then changed on the ESP.
cp "$VM_KERNEL" "$w/kernel2" && truncate -s +512 "$w/kernel2"
generation 2 "$w/kernel2"
lzbt_install "$w" 2
k2=$w/esp/EFI/nixos/$(cd "$w/esp/EFI/nixos" && sha256sum kernel-* | awk -v h="$(sha256sum <"$w/kernel2" | cut -c1-64)" '$1 == h {print $2}')
[[ -f $k2 ]] || vm_fail stub-refusals "generation 2's kernel is not on the ESP"
printf 'X' | dd of="$k2" bs=1 seek=4096 conv=notrunc status=none
mv "$w/esp" "$w/esp-tampered"

# 2. Our stub with an embedded kernel and no .initrd, signed, started by a Type #1 entry with an initrd.
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

# 3. A UKI with a .profile section.
printf 'ID=main\nTITLE=Main profile\n' >"$w/evil/profile"
vm_mkuki "$LZB_STUB" "$w/evil/profile.efi" .osrel="$w/evil/osrel" .cmdline="$w/evil/cmdline" \
	.linux="$VM_KERNEL" .initrd="$VM_INITRD" .profile="$w/evil/profile"
vm_esp_systemd_boot "$w/esp-profile" 'timeout 0'
mkdir -p "$w/esp-profile/EFI/Linux"
vm_sign "$w/evil/profile.efi" "$w/esp-profile/EFI/Linux/profile.efi"

# 4. A kernel that calls Exit() (test/efi/exit-kernel.c).
generation 3 "$LZB_BUILD/test/efi/exit-kernel.efi"
lzbt_install "$w" 3
exit_entry=$(lzbt_entry "$w" 3)
mv "$w/esp" "$w/esp-exit"
exit_entry=$w/esp-exit/${exit_entry#"$w/esp/"}

# 5. The good entry.
generation 1 "$VM_KERNEL"
lzbt_install "$w" 1
good=$(lzbt_entry "$w" 1)
stub_inputs "$w" "$good"
pcr_sd=$(stub_predict_pcr11 "$w")
pcr_tool=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 measure --phase= "$good")
[[ $pcr_tool == "11:sha256=$pcr_sd" ]] || vm_fail stub-refusals "lanzatool measure $pcr_tool != systemd-measure $pcr_sd"

replay() { # PCR STUB KERNEL: PCR extended as the stub measures STUB (an external-mode lanzatool entry)
	local pcr=$1 s f
	for s in linux osrel cmdline initrd ucode splash dtb uname sbat pcrpkey; do
		objdump -h -w "$2" | grep -q " \.$s " || continue
		case $s in
		linux) f=$3 ;;
		initrd) f=$VM_INITRD ;;
		*) objcopy -O binary --only-section=".$s" "$2" "$w/section" && f=$w/section ;;
		esac
		printf '.%s\0' "$s" >"$w/name"
		pcr=$(pcr_extend "$(pcr_extend "$pcr" "$w/name")" "$f")
	done
	echo "$pcr"
}
zero=0000000000000000000000000000000000000000000000000000000000000000
[[ $(replay $zero "$good" "$VM_KERNEL") == "$pcr_sd" ]] || vm_fail stub-refusals "the replay disagrees with systemd-measure"
pcr_expected=$(replay "$(replay $zero "$exit_entry" "$LZB_BUILD/test/efi/exit-kernel.efi")" "$good" "$VM_KERNEL")

for d in tampered foreign profile exit; do vm_make_disk "$w/esp-$d" "$w/disk-$d.img" 64; done
vm_make_disk "$w/esp" "$w/disk-good.img"
n=stub-refusals
VM_QEMU_EXTRA=()
for d in foreign profile exit good; do VM_QEMU_EXTRA+=(-drive "file=$w/disk-$d.img,format=raw,if=virtio"); done
# systemd-boot's "Failed to execute" is no longer the end here: the firmware goes on to the next disk.
VM_TERMINAL_RE='LZBT DONE|BdsDxe: No bootable option|UEFI Interactive Shell|Kernel panic'
vm_boot "$n" "$w/disk-tampered.img" --sb --tpm --timeout 900

vm_assert_has "$n" 'kernel .*kernel-.*\.efi does not match this boot entry'
vm_assert_has "$n" 'An initrd this boot entry does not pin is already offered to the kernel'
vm_assert_has "$n" "This boot entry's \.profile section is a systemd 257\+ section"
vm_assert_has "$n" 'lzbt exit-kernel: calling Exit\(\)'
vm_assert_lacks "$n" 'lzbt.test=(gen2|gen3|evil)'
vm_assert_lacks "$n" 'The kernel returned'
# Refused three times and exited once, yet the good entry found no initrd but its own.
[[ $(grep -ac 'An initrd this boot entry does not pin' "$(vm_log "$n")") == 1 ]] ||
	vm_fail "$n" "an initrd was left registered for a later entry"
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
vm_assert_value "$n" PCR11 "$pcr_expected"
vm_assert_value "$n" 'VAR StubPcrKernelImage' "$(utf16_hex 11)"

# The event log: PCR 11 holds the good entry's name and data events and nothing else.
tr -d '\r' <"$(vm_log "$n")" | sed -n '/^LZBT EVENTLOG BEGIN$/,/^LZBT EVENTLOG END$/p' | sed '1d;$d' |
	base64 -d >"$w/eventlog" || vm_fail "$n" "no event log in the serial log"
expected=$(cat <(objdump -h -w "$good") <(objdump -h -w "$exit_entry") |
	grep -cE ' \.(linux|osrel|cmdline|initrd|ucode|splash|dtb|uname|sbat|pcrpkey) ')
events=$(tpm2_eventlog "$w/eventlog" | grep -cE '^ *PCRIndex: 11$' || true)
[[ $events -eq $((2 * expected)) ]] || vm_fail "$n" "PCR 11 has $events events in the event log, expected $((2 * expected))"
echo "refused: tampered kernel, foreign initrd, .profile; a kernel's Exit() undone; then generation 1 booted;" \
	"PCR 11 $pcr_expected ($events events) = the exited entry's and generation 1's measurements only"
