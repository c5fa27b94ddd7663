/* SPDX-License-Identifier: MIT */
/* Authenticated variable updates (.auth files, EFI_VARIABLE_AUTHENTICATION_2 + data): authvar_parse(),
 * then the signature lists that follow the descriptor. */
#include <stdlib.h>

#include "authvar.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct efi_time t;
        struct esl_entry *entries = NULL;
        char *message = NULL;
        size_t offset = 0, n;
        int r;

        r = authvar_parse(data, size, &t, &offset, &message);
        fuzz_assert(r >= 0 || message);
        free(message);
        if (r < 0)
                return 0;
        fuzz_assert(offset <= size);
        if (esl_parse(data + offset, size - offset, &entries, &n, NULL) >= 0)
                free(entries);
        return 0;
}
