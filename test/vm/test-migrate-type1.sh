#!/usr/bin/env bash
# Migration from plain NixOS systemd-boot, booted under Secure Boot + TPM: test/install/mk-esp.py writes a
# Type #1 ESP as nixpkgs' systemd-boot-builder.py does (the test kernel and initrd copied to
# EFI/nixos/<store name>-<file>.efi, loader/entries/nixos-generation-{1,2}.conf, loader.conf defaulting to
# nixos-generation-2.conf, systemd-boot unsigned). Under Secure Boot that ESP does not boot (nothing on it
# is signed), so lanzatool migrates it on the host, keeping the Type #1 entries (nothing of ours has booted
# yet), and the migrated ESP boots: systemd-boot chose our generation 2 (LoaderEntrySelected, its command
# line), and the TPM's PCR 11 equals `lanzatool measure` of that stub, which equals systemd-measure's value
# extended with .sbat by openssl. One boot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir migrate-type1)
export LANZATOOL_RELAX_ESP_CHECKS=1
lzbt_generation "$w" 1
lzbt_generation "$w" 2
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../install/mk-esp.py" type1 "$w/esp" \
	/usr/lib/systemd/boot/efi/systemd-bootx64.efi 2 "$w"/profiles/system-{1,2}-link
[[ $(ls "$w/esp/EFI/Linux" 2>/dev/null | wc -l) == 0 ]] || vm_fail migrate-type1 "mk-esp.py made Type #2 entries"
lzbt_install "$w" 1 2
for f in loader/entries/nixos-generation-1.conf loader/entries/nixos-generation-2.conf; do
	[[ -f $w/esp/$f ]] || vm_fail migrate-type1 "$f was removed although none of our entries has booted"
done
entry=$(lzbt_entry "$w" 2)

out=$("$LZB_TOOL" -q --esp-path="$w/esp" --bank=sha256 --phase= measure "$entry")
[[ $out =~ ^11:sha256=([0-9a-f]{64})$ ]] || vm_fail migrate-type1 "lanzatool measure printed: $out"
pcr11=${BASH_REMATCH[1]}
mkdir -p "$w/inputs" && stub_inputs "$w/inputs" "$entry"
oracle=$(stub_predict_pcr11 "$w/inputs")
[[ $pcr11 == "$oracle" ]] || vm_fail migrate-type1 "lanzatool measure says $pcr11, systemd-measure + openssl $oracle"

vm_make_disk "$w/esp" "$w/disk.img"
vm_boot migrate-type1 "$w/disk.img" --sb --tpm
vm_assert_has migrate-type1 "^LZBT CMDLINE .*lzbt.test=gen2( |\$)"
vm_assert_value migrate-type1 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$entry")")"
vm_assert_value migrate-type1 PCR11 "$pcr11"
