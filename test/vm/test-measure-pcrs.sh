#!/usr/bin/env bash
# Measured boot predictions against a real boot (OVMF + swtpm): lanzatool installs three entries with
# .pcrpkey/.pcrsig (generation 2 differs from 1 only in its command line, 3 has a new initrd), and before each
# boot test/vm/pcr-oracle.py (pefile, hashlib, pesign; not lanzatool) computes PCR 11 and PCR 4 on the host,
# `lanzatool measure` must agree, and the guest's PCRs ("LZBT PCR11=", "LZBT PCR4=", read from the TPM in the
# initrd) must equal them. PCR 4 is predicted from the event log of the first boot. The same entry with Secure Boot on and off gives the same
# PCR 4. Four boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir measure-pcrs)
export LANZATOOL_RELAX_ESP_CHECKS=1

generation() { # N INITRD [PARAM]: like lzbt_generation, with its own initrd and an extra parameter
	local kdir=$w/store/k-linux-6.1.0
	mkdir -p "$kdir" && ln -sf "$VM_KERNEL" "$kdir/bzImage"
	GEN_ROOT=$w KERNEL=$kdir/bzImage INITRD=$2 \
		PARAMS="\"console=ttyS0\", \"panic=-1\", \"quiet\", \"no_timer_check\", \"lzbt.test=gen$1\"${3:+, \"$3\"}" mk_generation "$1" k
}

# A new initrd: the test initrd, zero-padded to 4 bytes, then a second (uncompressed) cpio, as initrd
# secrets are appended.
mkdir -p "$w/extra"
echo gen3 >"$w/extra/lzbt-gen3"
cp "$VM_INITRD" "$w/initrd-gen3"
truncate -s $((($(stat -c %s "$w/initrd-gen3") + 3) / 4 * 4)) "$w/initrd-gen3"
(cd "$w/extra" && echo lzbt-gen3 | cpio -o -H newc --owner=0:0 --reproducible --quiet) >>"$w/initrd-gen3"

generation 1 "$VM_INITRD" lzbt.eventlog=1
generation 2 "$VM_INITRD"
generation 3 "$w/initrd-gen3"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$w/pcr.key" 2>/dev/null

install_default() { # N: install all three, generation N the default
	lzbt_install "$w" --pcr-private-key="$w/pcr.key" --default="nixos-generation-$1-*" 1 2 3
	vm_make_disk "$w/esp" "$w/disk.img"
}

predict() { # ARGS...: lanzatool measure's sha256 value
	local out
	out=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 measure "$@") || return 1
	[[ $out =~ ^(11|4):sha256=([0-9a-f]{64})$ ]] || { echo "measure printed: $out" >&2; return 1; }
	echo "${BASH_REMATCH[2]}"
}

# NAME N SB PCR11 PCR4: boot generation N and compare
boot_check() {
	vm_boot "$1" "$w/disk.img" "$3" --tpm
	vm_assert_has "$1" "^LZBT CMDLINE .*lzbt.test=gen$2( |\$)"
	vm_assert_value "$1" PCR11 "$4"
	[[ -z $5 ]] || vm_assert_value "$1" PCR4 "$5"
}

oracle() { /usr/bin/python3 "$VM_DIR/pcr-oracle.py" "$@"; } # not lanzatool: pefile, hashlib, pesign

install_default 1
declare -A pcr11 pcr4
for n in 1 2 3; do
	# The expected PCR 11 is the oracle's, from the stub's sections and the files it pins; lanzatool
	# measure must agree with it before the guest is compared with either.
	pcr11[$n]=$(oracle pcr11 "$w/esp" "$(lzbt_entry "$w" "$n")")
	lz=$(predict --phase= "$(lzbt_entry "$w" "$n")")
	[[ $lz == "${pcr11[$n]}" ]] || vm_fail measure-gen1 "generation $n: lanzatool measure says PCR 11 $lz, the oracle ${pcr11[$n]}"
done
[[ ${pcr11[1]} != "${pcr11[2]}" && ${pcr11[2]} != "${pcr11[3]}" ]] || vm_fail measure-gen1 "PCR 11 predictions coincide"

boot_check measure-gen1 1 --sb "${pcr11[1]}" ''
vm_eventlog measure-gen1 "$w/eventlog"
# The expected PCR 4 of each entry: the oracle replays the event log with pesign's Authenticode digests of
# systemd-boot (BOOTX64.EFI, the first application event) and of that entry's stub (the second).
for n in 1 2 3; do
	pcr4[$n]=$(oracle pcr4 "$w/eventlog" "$w/esp/EFI/BOOT/BOOTX64.EFI" "$(lzbt_entry "$w" "$n")")
	lz=$(predict --pcr=4 --tpm-eventlog-path="$w/eventlog" "$(lzbt_entry "$w" "$n")")
	[[ $lz == "${pcr4[$n]}" ]] || vm_fail measure-gen1 "generation $n: lanzatool measure says PCR 4 $lz, the oracle ${pcr4[$n]}"
done
# Replayed with the very files it booted, the log must give this boot's own PCR 4 (the TPM's, read in the
# guest): pesign's digests of systemd-boot and the stub are the firmware's, and the log is complete.
vm_assert_value measure-gen1 PCR4 "${pcr4[1]}"
[[ ${pcr4[1]} != "${pcr4[2]}" && ${pcr4[2]} != "${pcr4[3]}" ]] || vm_fail measure-gen1 "PCR 4 predictions coincide"

install_default 2
boot_check measure-gen2 2 --sb "${pcr11[2]}" "${pcr4[2]}"
install_default 3
boot_check measure-gen3-sb 3 --sb "${pcr11[3]}" "${pcr4[3]}"
boot_check measure-gen3-no-sb 3 --no-sb "${pcr11[3]}" "${pcr4[3]}"
vm_assert_value measure-gen3-no-sb SecureBoot 0
vm_assert_value measure-gen3-sb SecureBoot 1
# The signed policy and its key reach the OS where systemd-cryptsetup looks for them.
entry=$(lzbt_entry "$w" 3)
for s in pcrsig:tpm2-pcr-signature.json pcrpkey:tpm2-pcr-public-key.pem; do
	objcopy -O binary --only-section=".${s%%:*}" "$entry" "$w/section"
	vm_assert_has measure-gen3-sb "^LZBT EXTRA /.extra/${s#*:} $(sha256sum <"$w/section" | cut -c1-64)"
done
