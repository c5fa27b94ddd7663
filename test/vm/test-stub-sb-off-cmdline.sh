#!/usr/bin/env bash
# Secure Boot off: a command line from the boot loader (a Type #1 entry's options) replaces the
# embedded one, and is measured into PCR 12 as UTF-16 with its NUL. systemd-boot 252 measures the
# options it passes once, the stub once more, so PCR 12 is two extends of the same digest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

n=stub-sb-off-cmdline
vm_prepare
w=$(vm_workdir "$n")
lzbt_generation "$w" 1
lzbt_install "$w" --default=custom.conf 1
mkdir -p "$w/esp/loader/entries"
line='console=ttyS0 panic=-1 quiet no_timer_check lzbt.test=loader-line'
printf 'title custom\nefi /EFI/Linux/%s\noptions %s\n' "$(basename "$(lzbt_entry "$w" 1)")" "$line" \
	>"$w/esp/loader/entries/custom.conf"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot "$n" "$w/disk.img" --no-sb --tpm

# "LZBT SecureBoot=0": the firmware's variable in the guest; "LZBT CMDLINE" with lzbt.test=loader-line:
# the kernel got the loader entry's options; "LZBT PCR12=": the TPM's, compared with two extends of the
# UTF-16 line computed here with openssl.
vm_assert_has "$n" '^LZBT MARKER initrd-reached'
vm_assert_value "$n" SecureBoot 0
vm_assert_has "$n" '^LZBT CMDLINE .*lzbt.test=loader-line'
{ printf '%s' "$line" | iconv -f UTF-8 -t UTF-16LE; printf '\0\0'; } >"$w/line16"
pcr=$(pcr_extend 0000000000000000000000000000000000000000000000000000000000000000 "$w/line16")
vm_assert_value "$n" PCR12 "$(pcr_extend "$pcr" "$w/line16")"
vm_assert_value "$n" 'VAR StubPcrKernelParameters' "$(utf16_hex 12)"
