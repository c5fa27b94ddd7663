/* SPDX-License-Identifier: MIT */
#pragma once

/* The PCR 4 value of the next boot: the current event log replayed with the Authenticode digests of the
 * images the next boot will load (formats.md §4.5, systemd-stub-spec.md §3.1).
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence naming the problem (NULL when even that allocation failed). */

#include <stddef.h>
#include <stdint.h>

#include "eventlog.h"
#include "pcr.h"

/* The ESP directory of Type #2 entries, lanzaboote's stubs among them, as the firmware logs paths. */
#define PCR4_ENTRY_DIR "\\EFI\\Linux\\"

/* The Authenticode image hash of a PE32+ file in every bank, as EDK2 measures an image it loads (Tcg2Dxe's
 * MeasurePeImageAndExtend, once per active bank): headers without CheckSum and the certificate directory
 * entry, sections with raw data in file order, then the rest of the file but the certificate table's size.
 * -EBADMSG (with a message) when the image is malformed. */
int pcr4_authenticode_digests(const uint8_t *image, size_t size, struct pcr_digests *ret,
                              char **reterr_message);

/* Predicts PCR 4 for booting a stub whose digests are stub through the same boot loader as the boot the log
 * (read from log_path) records, in every bank of the log (PCR_BANK bits in *ret_banks). The log must end, in
 * PCR 4, with the boot loader's and then the booted stub's EV_EFI_BOOT_SERVICES_APPLICATION events (pcr4.c
 * says why); the loader's digests are replaced by those of the file at the same path under the ESP (esp_fd,
 * mounted at esp_path), as install may have updated it. The message starts with the path at fault. */
int pcr4_predict(const struct tcg_log *log, const char *log_path, const struct pcr_digests *stub, int esp_fd,
                 const char *esp_path, struct pcr_digests *ret, unsigned *ret_banks, char **reterr_message);
