/* SPDX-License-Identifier: MIT */
#pragma once

/* Finding out from the TPM event log which option ROMs (drivers on PCI cards: the GPU's GOP, a RAID or
 * network controller's driver) the firmware ran during this boot, and whether a db would still let them
 * run. The firmware verifies them against db like any other image, so enrolling a db that cannot verify
 * them can leave the machine without a display or disk at the next boot (lanzaboote-upstream-study.md
 * §7.3). They show up as EV_EFI_BOOT_SERVICES_DRIVER events (formats.md §4.3-4.4), whose SHA-256 digest is
 * the image's Authenticode hash: what an EFI_CERT_SHA256 entry in db must hold to allow that very image. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* [TCG] PC Client Platform Firmware Profile, event types: a driver loaded from outside the firmware's own
 * volumes. */
#define EV_EFI_BOOT_SERVICES_DRIVER 0x80000004

struct option_roms {
        size_t n;
        /* Their SHA-256 digests, in log order; NULL when the log has no SHA-256 bank. */
        uint8_t (*sha256)[SHA256_DIGEST_SIZE];
};

/* The EV_EFI_BOOT_SERVICES_DRIVER events of a whole crypto-agile log in memory (eventlog.h); -EBADMSG for a
 * malformed one, with a sentence in *reterr_message. */
int option_roms_parse(const uint8_t *log, size_t size, struct option_roms *ret, char **reterr_message);

/* The same for the log at path: -ENOENT, not logged, when there is no such file (no TPM, or securityfs
 * not mounted); other failures are logged with the path. */
int option_roms_load(const char *path, struct option_roms *ret);
void option_roms_done(struct option_roms *roms);

/* The name of one of Microsoft's UEFI CAs (those that sign option ROMs, and the UEFI CA 2023, which signs
 * boot loaders only), given the SHA-256 of its DER certificate; NULL for any other certificate. */
const char *option_roms_ca_name(const uint8_t fingerprint[static SHA256_DIGEST_SIZE]);

/* How a db would verify the logged option ROMs: by a CA it holds that signs option ROMs (Microsoft
 * Corporation UEFI CA 2011 or Microsoft Option ROM UEFI CA 2023; *ret_ca_name says which), or by an
 * EFI_CERT_SHA256 entry for every logged digest. Any other certificate proves nothing: option ROMs are
 * signed by those CAs, and nothing tells which others. Microsoft UEFI CA 2023 does not count: it signs boot
 * loaders, not option ROMs. db must be well-formed (esl_parse()). */
enum option_roms_cover {
        OPTION_ROMS_UNCOVERED,
        OPTION_ROMS_BY_CA,
        OPTION_ROMS_BY_DIGEST,
};

int option_roms_cover(const struct option_roms *roms, const uint8_t *db, size_t size,
                      const char **ret_ca_name);

/* When db holds one CA that signs option ROMs but not the other: the name of the missing one (the log holds
 * only digests, so which of the two signed a logged ROM is unknown); NULL otherwise. */
const char *option_roms_ca_missing(const uint8_t *db, size_t size);
