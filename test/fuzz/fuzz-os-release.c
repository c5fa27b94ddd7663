/* SPDX-License-Identifier: MIT */
/* os_release_get() for the keys lanzatool reads (systemd-boot's .osrel, our stubs' .osrel) and one that
 * the input names itself: its first line. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "os-release.h"

static const char *const keys[] = {"ID", "VERSION", "VERSION_ID", "PRETTY_NAME", "NAME", "IMAGE_ID"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nl = memchr(data, '\n', size);
        char *key, *v;

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                v = os_release_get((const char *)data, size, keys[i]);
                free(v);
        }
        if (nl) {
                key = fuzz_strndup(data, (size_t)(nl - data));
                if (key) {
                        free(os_release_get((const char *)nl + 1, size - (size_t)(nl - data) - 1, key));
                        free(key);
                }
        }
        return 0;
}
