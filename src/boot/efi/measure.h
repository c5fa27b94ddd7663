/* SPDX-License-Identifier: MIT */
/* Measurements into the TPM (TCG2) and, where present, the confidential-computing measurement
 * registers, logged exactly as systemd-stub logs them so that systemd's tools predict the PCRs. */
#pragma once

#include "efi.h"

/* PCR usage, named as systemd's TPM2_PCR_MEASUREMENTS.md names it. */
enum {
        TPM2_PCR_BOOT_LOADER_CODE = 4, /* the firmware: every PE image started (systemd-boot, this stub) */
        TPM2_PCR_KERNEL_BOOT = 11,     /* UKI sections, name and contents */
        TPM2_PCR_KERNEL_CONFIG = 12,   /* loader-supplied command line, credentials */
        TPM2_PCR_SYSEXTS = 13,         /* system extension images */
};

/* A TCG2 protocol is installed and reports a TPM as present. */
bool tpm_present(void);

/* Hashes size bytes at buffer into pcr as one EV_IPL event whose event data is the description in
 * UTF-16 with its NUL. Measures into the CC registers too when that protocol exists (as systemd
 * v256+). With neither, nothing is measured and that is not an error. On EFI_SUCCESS,
 * *ret_measured (may be NULL) says whether anything was measured; on failure it is not written. */
EFI_STATUS tpm_log_ipl_event16(uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer, size_t size,
                               const CHAR16 *description, bool *ret_measured);
EFI_STATUS tpm_log_ipl_event(uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer, size_t size, const char *description,
                             bool *ret_measured);

/* The command line passed to the kernel when it came from the loader: PCR 12, the UTF-16 string with
 * its NUL as both the hashed data and the description. */
EFI_STATUS tpm_log_load_options(const CHAR16 *cmdline, bool *ret_measured);

/* Tri-state flag of one measurement group: -1 nothing submitted yet, 0 something was not measured,
 * 1 everything submitted was measured. */
void combine_measured_flag(int *flag, bool measured);
