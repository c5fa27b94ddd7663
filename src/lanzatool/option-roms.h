/* SPDX-License-Identifier: MIT */
#pragma once

/* Finding out from the TPM event log whether the firmware ran option ROMs (drivers on PCI cards: the GPU's
 * GOP, a RAID or network controller's driver) during this boot. The firmware verifies them against db like
 * any other image, so enrolling a db that cannot verify them can leave the machine without a display or
 * disk at the next boot (lanzaboote-upstream-study.md §7.3). They show up as EV_EFI_BOOT_SERVICES_DRIVER
 * events (formats.md §4.3-4.4). */

#include <stddef.h>
#include <stdint.h>

/* [TCG] PC Client Platform Firmware Profile, event types: a driver loaded from outside the firmware's own
 * volumes. */
#define EV_EFI_BOOT_SERVICES_DRIVER 0x80000004

/* The number of EV_EFI_BOOT_SERVICES_DRIVER events in a whole crypto-agile log in memory (eventlog.h);
 * -EBADMSG for a malformed one, with a sentence in *reterr_message. */
int option_roms_count_in(const uint8_t *log, size_t size, size_t *ret_count, char **reterr_message);

/* The same for the log at path: -ENOENT, not logged, when there is no such file (no TPM, or securityfs
 * not mounted); other failures are logged with the path. */
int option_roms_count(const char *path, size_t *ret_count);
