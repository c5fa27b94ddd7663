#!/usr/bin/env bash
# UKIs that trixie's ukify (systemd 257) builds on our stub (--stub=lanzabootx64.efi.stub), signed with the
# test db, as two Type #2 entries on one ESP. One power-on, Secure Boot on, TPM (vm_boot_refused_then_default:
# systemd-boot's one-shot entry fails, the firmware starts the same disk's systemd-boot again, which boots its
# default):
#   1. multi.efi, the one-shot entry: a multi-profile UKI (--profile + --join-profile: two .profile sections);
#      our stub implements no profile selection, so it must refuse the image naming .profile, before measuring
#      anything;
#   2. plain.efi, the default: the same kernel, initrd, os-release, uname and base command line, built by the
#      same ukify without profiles: it boots.
# The guest's PCR 11 must equal ukify's own prediction for UKI 2 (ukify --measure, which runs
# bookworm-backports' systemd-measure 254 on the sections it wrote; its first value is for the boot phase
# "enter-initrd", so the guest's PCR 11 is extended with that word by openssl before comparing), and
# systemd-measure 254 over the sections objcopy extracts from UKI 2 without any phase. Equal values mean
# that the refused UKI left PCR 11 untouched; the firmware's event log must hold UKI 2's events only.
# On the host, `lanzatool measure` (and `lanzatool install` given UKI 1 as its stub template) refuses UKI 1
# naming .profile as the stub does, and `lanzatool measure` predicts UKI 2 as systemd-measure does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ukify.sh"

n=stub-ukify-profile
vm_prepare
ukify_prepare
w=$(vm_workdir "$n")

# no_timer_check in the command lines: under TCG on a loaded machine Linux's IO-APIC timer check can panic.
base=(--linux="$VM_KERNEL" --initrd="$VM_INITRD" --os-release=@/etc/os-release --uname="$VM_KVER" --stub="$LZB_STUB")
# 1. The multi-profile UKI: a profile PE made on systemd's addon stub (ukify wants .profile as its first
# section), joined to a base profile.
ukify build --profile=$'TITLE=Rescue\nID=rescue' --cmdline='console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=profile1' \
	--stub="$UKIFY_ADDON" --output="$w/profile1.efi" >"$w/ukify-profile1.log" 2>&1 ||
	vm_fail "$n" "ukify (profile PE) failed: $(tail -n 3 "$w/ukify-profile1.log")"
ukify build "${base[@]}" --cmdline='console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=profile0 lzbt.eventlog=1' \
	--profile=$'TITLE=Main\nID=main' --join-profile="$w/profile1.efi" --output="$w/multi.efi" \
	>"$w/ukify-multi.log" 2>&1 || vm_fail "$n" "ukify (multi-profile UKI) failed: $(tail -n 3 "$w/ukify-multi.log")"
[[ $(objdump -h -w "$w/multi.efi" | grep -c ' \.profile ') == 2 ]] ||
	vm_fail "$n" "ukify's multi-profile UKI does not hold two .profile sections"

# 2. The same UKI without profiles, with ukify's own PCR 11 prediction.
ukify build "${base[@]}" --cmdline='console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=ukify lzbt.eventlog=1' \
	--measure --pcr-banks=sha256 --output="$w/plain.efi" >"$w/ukify-plain.out" 2>"$w/ukify-plain.log" ||
	vm_fail "$n" "ukify (plain UKI) failed: $(tail -n 3 "$w/ukify-plain.log")"
[[ $(grep -m1 '^# PCR\[11\] Phase' "$w/ukify-plain.log") == '# PCR[11] Phase <enter-initrd>' ]] ||
	vm_fail "$n" "ukify's first prediction is not for the phase enter-initrd"
ukify_enter_initrd=$(sed -n '1s/^11:sha256=\([0-9a-f]\{64\}\)$/\1/p' "$w/ukify-plain.out")
[[ -n $ukify_enter_initrd ]] || vm_fail "$n" "ukify --measure printed no PCR 11: $(head -n 2 "$w/ukify-plain.out")"

ukify_predict_pe "$w/plain.efi" "$w/sections" >"$w/pcr"
pcr=$(<"$w/pcr") sections=$UKIFY_SECTIONS
printf 'enter-initrd' >"$w/phase"
[[ $(pcr_extend "$pcr" "$w/phase") == "$ukify_enter_initrd" ]] ||
	vm_fail "$n" "systemd-measure over objcopy's sections ($pcr, then enter-initrd) disagrees with ukify's $ukify_enter_initrd"

# On the host: lanzatool measure says what the stub does.
if out=$("$LZB_TOOL" -q --bank=sha256 measure --phase= "$w/multi.efi" 2>&1); then
	vm_fail "$n" "lanzatool measure predicted a PCR 11 for the multi-profile UKI: $out"
fi
grep -q '\.profile section is a systemd 257+ section' <<<"$out" ||
	vm_fail "$n" "lanzatool measure refused the multi-profile UKI without naming .profile: $out"
[[ $("$LZB_TOOL" -q --bank=sha256 measure --phase= "$w/plain.efi") == "11:sha256=$pcr" ]] ||
	vm_fail "$n" "lanzatool measure of the plain UKI differs from systemd-measure's $pcr"
# lanzatool install with the multi-profile UKI as the stub template: refused in the same words, no entry.
lzbt_generation "$w" 1
if out=$(lzbt_install "$w" --stub="$w/multi.efi" 1 2>&1); then
	vm_fail "$n" "lanzatool install accepted the multi-profile UKI as its stub"
fi
grep -q 'multi\.efi: its \.profile section is a systemd 257+ section' <<<"$out" ||
	vm_fail "$n" "lanzatool install refused the multi-profile UKI without naming .profile: $out"
! compgen -G "$w/esp/EFI/Linux/nixos-*" >/dev/null || vm_fail "$n" "lanzatool install left an entry behind"

# One ESP: systemd-boot where lanzatool installs it and as the removable-media loader, both UKIs in EFI/Linux.
rm -rf "$w/esp-boot"
vm_esp_systemd_boot "$w/esp-boot" 'timeout 0' 'default plain.efi'
mkdir -p "$w/esp-boot/EFI/systemd"
vm_sign "$VM_SDBOOT" "$w/esp-boot/EFI/systemd/systemd-bootx64.efi"
for d in multi plain; do vm_sign "$w/$d.efi" "$w/esp-boot/EFI/Linux/$d.efi"; done
vm_make_disk "$w/esp-boot" "$w/disk.img"
vm_boot_refused_then_default "$n" "$w/disk.img" multi.efi plain.efi

vm_assert_has "$n" "\\.profile section is a systemd 257\\+ section"
vm_assert_lacks "$n" 'lzbt\.test=profile[01]'
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=ukify( |$)'
vm_assert_value "$n" 'VAR StubPcrKernelImage' "$(utf16_hex 11)"
vm_assert_value "$n" PCR11 "$pcr"

vm_eventlog "$n" "$w/eventlog"
events=$(vm_eventlog_events "$w/eventlog" 11)
[[ $events -eq $((2 * sections)) ]] ||
	vm_fail "$n" "PCR 11 has $events events in the event log, expected $((2 * sections)) (UKI 2's sections only)"
echo "multi-profile UKI refused by name; ukify's plain UKI booted with PCR 11 $pcr = systemd-measure 254" \
	"= lanzatool measure, enter-initrd $ukify_enter_initrd = ukify --measure; $events PCR 11 events"
