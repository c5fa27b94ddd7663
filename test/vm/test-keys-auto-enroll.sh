#!/usr/bin/env bash
# Keys from `lanzatool create-keys` (RSA-4096, the default), enrolled by systemd-boot: fresh OVMF variables
# in setup mode and an ESP from `lanzatool install --auto-enroll`. The first boot enrolls and ends in a
# reset; the second runs with Secure Boot enforcing, on nothing but these keys, and boots the newest
# generation. Two boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir keys-auto-enroll)
"$LZB_TOOL" -q --pki-bundle="$w/pki" create-keys || vm_fail keys-auto-enroll "create-keys failed"
lzbt_generation "$w" 1
lzbt_generation "$w" 2
# The host's event log says nothing about the VM's firmware: the guard is tested elsewhere.
lzbt_install "$w" --pki-bundle="$w/pki" --auto-enroll --yes-this-might-brick-my-machine 1 2 ||
	vm_fail keys-auto-enroll "install --auto-enroll failed"
grep -qx 'secure-boot-enroll force' "$w/esp/loader/loader.conf" ||
	vm_fail keys-auto-enroll "loader.conf lacks secure-boot-enroll force"
vm_make_disk "$w/esp" "$w/disk.img"
cp "$VM_OVMF_VARS" "$w/vars.fd"

vm_boot keys-auto-enroll "$w/disk.img" --vars "$w/vars.fd"
vm_assert_has keys-auto-enroll 'Enrolling secure boot keys'
# Enrolling ends in a cold reset, which -no-reboot turns into QEMU exiting: no entry was started.
vm_assert_lacks keys-auto-enroll "LZBT MARKER|$VM_TERMINAL_RE"

vm_boot keys-auto-sb "$w/disk.img" --vars "$w/vars.fd"
# Second boot: "LZBT SecureBoot=1"/"SetupMode=0" (the firmware's variables, read in the guest) prove the
# enrollment took; "LZBT MARKER" and "LZBT CMDLINE ... gen2": the newest entry, signed by the new keys, ran;
# "LZBT VAR LoaderEntrySelected": systemd-boot chose it.
vm_assert_has keys-auto-sb '^LZBT MARKER initrd-reached'
vm_assert_value keys-auto-sb SecureBoot 1
vm_assert_value keys-auto-sb SetupMode 0
vm_assert_has keys-auto-sb '^LZBT CMDLINE .*lzbt.test=gen2( |$)'
vm_assert_value keys-auto-sb 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$(lzbt_entry "$w" 2)")")"
