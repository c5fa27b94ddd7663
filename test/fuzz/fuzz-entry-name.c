/* SPDX-License-Identifier: MIT */
/* File names found on the ESP (EFI/Linux, EFI/nixos) and systemd-boot's entry ids from its variables:
 * the entry and payload grammars, the boot counter, and the id-to-file match. The input is split at the
 * first NUL into two names. */
#include <stdlib.h>
#include <string.h>

#include "entry-name.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *a = fuzz_strndup(data, size), *b;
        struct entry_name n = {};
        size_t base;
        int left, done;

        if (!a)
                return 0;
        b = a + strlen(a) < a + size ? a + strlen(a) + 1 : a + size;
        if (entry_name_parse(a, &n) >= 0) {
                fuzz_assert(entry_name_is_ours(a));
                entry_name_done(&n);
        }
        (void)payload_name_is_ours(a);
        free(payload_name_version(a));
        if (boot_counter_parse(a, ".efi", &base, &left, &done))
                fuzz_assert(base <= strlen(a));
        (void)entry_id_matches_file(a, b);
        (void)entry_id_matches_file(b, a);
        free(a);
        return 0;
}
