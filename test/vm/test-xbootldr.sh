#!/usr/bin/env bash
# lanzatool --boot-path: stubs, kernels and initrds on an Extended Boot Loader partition (FAT, type
# bc13c2ff-59e6-4262-a352-b275fd6f7172), systemd-boot and loader.conf on the ESP of the same disk. Under
# Secure Boot with a TPM, systemd-boot finds the entries there and boots the newest (LoaderEntrySelected
# names its file; its command line reached the kernel), and the stub, reading the payloads from its own
# volume, measures PCR 11 as pcr-oracle.py (pefile, hashlib) and `lanzatool measure` predict. One boot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
export LANZATOOL_RELAX_ESP_CHECKS=1 # directories stand for the partitions on the host
w=$(vm_workdir xbootldr)
n=xbootldr
lzbt_generation "$w" 1
lzbt_generation "$w" 2 docked
mkdir -p "$w/xbootldr"
lzbt_install "$w" --boot-path="$w/xbootldr" 1 2
# The split, checked on the host before the boot: nothing of the entries on the ESP.
[[ ! -e $w/esp/EFI/Linux && ! -e $w/esp/EFI/nixos && -f $w/esp/loader/loader.conf ]] ||
	vm_fail "$n" "ESP holds more than systemd-boot and loader.conf: $(cd "$w/esp" && find . -type f)"
entry=$(ls "$w"/xbootldr/EFI/Linux/nixos-generation-2-[a-z2-7]*.efi | grep -v specialisation)
want=$(/usr/bin/python3 "$VM_DIR/pcr-oracle.py" pcr11 "$w/xbootldr" "$entry")
out=$("$LZB_TOOL" -q --esp-path="$w/xbootldr" --bank=sha256 --phase= measure "$entry")
[[ $out == "11:sha256=$want" ]] || vm_fail "$n" "lanzatool measure says $out, pcr-oracle.py $want"

vm_make_disk_xbootldr "$w/esp" "$w/xbootldr" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm
vm_assert_has "$n" "^LZBT CMDLINE .*lzbt.test=gen2( |\$)"
vm_assert_value "$n" 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$entry")")"
vm_assert_value "$n" PCR11 "$want"
echo "PASS: $n (entry on XBOOTLDR booted, PCR 11 $want)"
