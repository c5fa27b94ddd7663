#!/usr/bin/env bash
# lanzatool install with two --esp-path: each ESP, on its own disk, boots on its own (the other disk
# absent) under Secure Boot with a TPM: the newest entry (LoaderEntrySelected, its command line) with
# PCR 11 as pcr-oracle.py and `lanzatool measure` predict. Two boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
export LANZATOOL_RELAX_ESP_CHECKS=1 # directories stand for the partitions on the host
w=$(vm_workdir esps)
lzbt_generation "$w" 1
lzbt_generation "$w" 2
mkdir -p "$w/esp2"
lzbt_install "$w" --esp-path="$w/esp2" 1 2
for esp in esp esp2; do
	n=esps-$esp
	entry=$(ls "$w/$esp"/EFI/Linux/nixos-generation-2-[a-z2-7]*.efi)
	want=$(/usr/bin/python3 "$VM_DIR/pcr-oracle.py" pcr11 "$w/$esp" "$entry")
	out=$("$LZB_TOOL" -q --esp-path="$w/$esp" --bank=sha256 --phase= measure "$entry")
	[[ $out == "11:sha256=$want" ]] || vm_fail "$n" "lanzatool measure says $out, pcr-oracle.py $want"
	vm_make_disk "$w/$esp" "$w/$esp.img"
	vm_boot "$n" "$w/$esp.img" --sb --tpm
	vm_assert_has "$n" "^LZBT CMDLINE .*lzbt.test=gen2( |\$)"
	vm_assert_value "$n" 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$entry")")"
	vm_assert_value "$n" PCR11 "$want"
done
echo "PASS: esps (each of two ESPs boots its newest entry on its own)"
