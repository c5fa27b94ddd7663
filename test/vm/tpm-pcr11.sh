#!/bin/sh
# shellcheck shell=sh
# /lzbt-script for kernel tests (cmdline lzbt.script=1): PCR 11 (sha256 bank) read from the TPM itself with a
# raw TPM2_PCR_Read, so kernels without /sys/class/tpm/tpm0/pcr-sha256 (Linux < 5.12) report it too; and the
# kernel that runs. Response: 10-byte header, pcrUpdateCounter, the selection (4+2+1+3), the digest count
# and size (4+2): the digest starts at byte 30.
# Kernels with the TPM driver as a module (Linux 5.10 in Debian) get it from /modules, in dependency order.
for m in rng-core tpm tpm_tis_core tpm_tis efivarfs; do
	[ ! -e "/modules/$m.ko" ] || insmod "/modules/$m.ko" 2>/dev/null
done
[ -e /dev/tpm0 ] || sleep 1
exec 3<>/dev/tpm0
printf '\200\001\000\000\000\024\000\000\001\176\000\000\000\001\000\013\003\000\010\000' >&3
hex=$(dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
exec 3>&-
echo "LZBT TPMRC=$(echo "$hex" | cut -c13-20)"
echo "LZBT TPMPCR11=$(echo "$hex" | cut -c61-124)"
echo "LZBT UNAME=$(uname -r)"
