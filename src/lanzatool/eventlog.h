/* SPDX-License-Identifier: MIT */
#pragma once

/* The TCG crypto-agile event log (TCG PC Client Platform Firmware Profile; formats.md §4), as Linux exposes
 * it in /sys/kernel/security/tpm0/binary_bios_measurements: parsing, the image path of an application load
 * event, and the replay of a PCR.
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence naming the problem (NULL when even that allocation failed). */

#include <stddef.h>
#include <stdint.h>

#include "pcr.h"

#define TCG_EVENT_LOG_PATH "/sys/kernel/security/tpm0/binary_bios_measurements"

/* Event types (formats.md §4.3). */
#define EV_NO_ACTION                     0x00000003
#define EV_SEPARATOR                     0x00000004
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_ACTION                    0x80000007

/* The first event's TCG_EfiSpecIDEventStruct signature for crypto-agile logs. */
#define TCG_SPEC_ID_SIGNATURE "Spec ID Event03"

struct tcg_event {
        uint32_t pcr;
        uint32_t type;
        /* Points at the logged digest of each bank, NULL when the log lacks that bank. A caller predicting
         * another boot may point one at a digest of its own. */
        const uint8_t *digests[_PCR_BANK_MAX];
        const uint8_t *data;
        uint32_t data_size;
};

/* Points into the buffer it was parsed from, which must outlive it. */
struct tcg_log {
        unsigned banks;           /* PCR_BANK bits of the banks every event carries */
        struct tcg_event *events; /* after the Spec ID event */
        size_t n_events;
};

/* Parses a crypto-agile log: the TCG_PCR_EVENT carrying the Spec ID event, then TCG_PCR_EVENT2 entries up to
 * the end of the buffer. Digests of algorithms we do not know are skipped by the sizes the Spec ID event
 * gives; an algorithm it does not list, an event running past the end, or a log in the SHA-1-only format are
 * refused with -EBADMSG. */
int tcg_log_parse(const uint8_t *buf, size_t size, struct tcg_log *ret, char **reterr_message);
void tcg_log_done(struct tcg_log *log);

/* The file path (UTF-8, backslash-separated as logged, e.g. "\EFI\Linux\x.efi") in the device path of the
 * UEFI_IMAGE_LOAD_EVENT of an EV_EFI_BOOT_SERVICES_APPLICATION event: its media file path nodes joined.
 * -ENOENT when the device path has none, -EBADMSG when the event data is malformed. */
int tcg_event_image_path(const struct tcg_event *e, char **ret);

/* The value of a PCR in a bank after replaying the log: from zeros, extended with the digest of each of its
 * events but EV_NO_ACTION, in log order. -EOPNOTSUPP when the log lacks the bank. (PCR 0 may start from
 * another value, set by a StartupLocality event; that is not modelled: it matters for PCR 0 only.) */
int tcg_log_replay(const struct tcg_log *log, uint32_t pcr, enum pcr_bank bank, uint8_t ret[PCR_DIGEST_MAX]);
