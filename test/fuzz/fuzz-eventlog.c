/* SPDX-License-Identifier: MIT */
/* A TPM event log as the kernel exposes it (binary_bios_measurements): tcg_log_parse(), the image path of
 * every application event, the replay of every PCR in every bank, and the option ROMs that status and
 * enroll-keys take from the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "fuzz.h"
#include "option-roms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tcg_log log = {};
        char *message = NULL;
        struct option_roms roms = {};
        int r;

        r = tcg_log_parse(data, size, &log, &message);
        fuzz_assert(r >= 0 || message);
        free(message);
        message = NULL;
        if (r >= 0) {
                for (size_t i = 0; i < log.n_events; i++) {
                        char *path = NULL;

                        if (log.events[i].type != EV_EFI_BOOT_SERVICES_APPLICATION)
                                continue;
                        if (tcg_event_image_path(&log.events[i], &path) >= 0) {
                                fuzz_assert(path);
                                free(path);
                        }
                }
                for (uint32_t pcr = 0; pcr < 24; pcr++)
                        for (enum pcr_bank bank = 0; bank < _PCR_BANK_MAX; bank++) {
                                uint8_t value[PCR_DIGEST_MAX];
                                (void)tcg_log_replay(&log, pcr, bank, value);
                        }
                tcg_log_done(&log);
        }
        r = option_roms_parse(data, size, &roms, &message);
        fuzz_assert(r >= 0 || message);
        if (r >= 0) {
                const char *ca = NULL;
                (void)option_roms_cover(&roms, NULL, 0, &ca); /* an empty db */
                option_roms_done(&roms);
        }
        free(message);
        return 0;
}
