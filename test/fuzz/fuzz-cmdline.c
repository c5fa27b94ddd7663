/* SPDX-License-Identifier: MIT */
/* The command line rules: the loader's LoadOptions (UTF-16LE, any alignment) and the embedded .cmdline
 * (UTF-8), each converted and mangled into a buffer of exactly the size the *_units() helpers give. */
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "fuzz.h"

static void check_result(const uint16_t *buf, size_t units, size_t len)
{
        fuzz_assert(len < units);
        fuzz_assert(buf[len] == 0);
        for (size_t i = 0; i < len; i++)
                fuzz_assert(buf[i] != 0);
        if (len > 0) {
                fuzz_assert(buf[0] > 0x20 && buf[0] != 0x7F);
                fuzz_assert(buf[len - 1] > 0x20 && buf[len - 1] != 0x7F);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t flags;
        size_t units, len;
        uint16_t *buf;

        if (size < 1)
                return 0;
        flags = data[0];
        data++, size--;

        (void)cmdline_use_load_options(flags & 1, flags & 2, flags & 4, data, size);

        /* Odd offsets: LoadOptions need not be aligned. */
        units = cmdline_load_options_units(size);
        fuzz_assert(units > 0);
        buf = malloc(units * sizeof(uint16_t));
        if (!buf)
                return 0;
        if (cmdline_from_load_options(data, size, buf, units, &len) == CMDLINE_OK)
                check_result(buf, units, len);
        else
                fuzz_assert(0);
        free(buf);

        units = cmdline_utf8_units(size);
        fuzz_assert(units > 0);
        buf = malloc(units * sizeof(uint16_t));
        if (!buf)
                return 0;
        if (cmdline_from_utf8((const char *)data, size, buf, units, &len) == CMDLINE_OK)
                check_result(buf, units, len);
        else
                fuzz_assert(0);
        free(buf);
        return 0;
}
