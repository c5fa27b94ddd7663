#!/usr/bin/env bash
# The stub started by the firmware as the removable-media loader (no systemd-boot) boots and
# exports the Boot Loader Interface variables with systemd's encodings.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-direct
vm_prepare
w=$(vm_workdir "$n")
lzbt_generation "$w" 1
lzbt_install "$w" 1
cp "$(lzbt_entry "$w" 1)" "$w/esp/EFI/BOOT/BOOTX64.EFI"
stub_inputs "$w" "$(lzbt_entry "$w" 1)"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --sb --tpm

# "LZBT MARKER initrd-reached" (our initrd's /init) proves our stub, started by the firmware itself, booted
# the pinned kernel and initrd; each "LZBT VAR X=hex" is the variable X as efivarfs shows it in the guest,
# compared with systemd's encoding made here; "LZBT PCR11=" is the TPM's, compared with systemd-measure's
# prediction from the sections objcopy extracts (stub_predict_pcr11).
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
version=$(sed -n "s/^ *version : '\(.*\)',/\1/p" "$(dirname "${BASH_SOURCE[0]}")/../../meson.build")
vm_assert_value "$n" 'VAR StubInfo' "$(utf16_hex "lanzaboote $version")"
# REPORT_BOOT_PARTITION | PICK_UP_CREDENTIALS | PICK_UP_SYSEXTS | THREE_PCRS, u64 little-endian
vm_assert_value "$n" 'VAR StubFeatures' 0f01000000000000
vm_assert_value "$n" 'VAR StubPcrKernelImage' "$(utf16_hex 11)"
vm_assert_value "$n" 'VAR LoaderDevicePartUUID' "$(utf16_hex "${VM_ESP_PARTUUID,,}")"
vm_assert_value "$n" 'VAR LoaderImageIdentifier' "$(utf16_hex '\EFI\BOOT\BOOTX64.EFI')"
vm_assert_value "$n" PCR11 "$(stub_predict_pcr11 "$w")"
