/* SPDX-License-Identifier: MIT */
/* bootspec_parse() on boot.json text, then the command line built from what it accepted. */
#include <stdlib.h>
#include <string.h>

#include "bootspec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bootspec *b = NULL;
        char *cmdline;

        if (bootspec_parse((const char *)data, size, "boot.json", &b) < 0) {
                fuzz_assert(b == NULL);
                return 0;
        }
        fuzz_assert(b && b->init && b->kernel && b->label && b->toplevel && b->kernel_params);
        cmdline = bootspec_cmdline(b);
        if (cmdline) {
                fuzz_assert(strncmp(cmdline, "init=", 5) == 0);
                free(cmdline);
        }
        bootspec_free(b);
        return 0;
}
