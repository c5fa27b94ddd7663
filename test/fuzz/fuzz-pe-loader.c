/* SPDX-License-Identifier: MIT */
/* The kernel-loadability check and the loader the stub runs: pe_loader_inspect(), then pe_loader_load()
 * into a buffer of exactly the size it asked for, with guard bytes after it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pe-loader.h"

/* Larger images are legitimate, but the fuzzer gains nothing from zeroing them. */
#define MAX_IMAGE (64u << 20)
#define GUARD     64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pe_loaded loaded;
        size_t image_size, alignment;
        const char *reason = NULL;
        uint8_t *dest;

        /* The loadability check lanzatool and the stub share: a reason whenever it refuses. */
        if (pe_loader_check(data, size, &reason) < 0)
                fuzz_assert(reason != NULL);
        if (pe_loader_inspect(data, size, &image_size, &alignment) < 0)
                return 0;
        fuzz_assert(image_size > 0);
        fuzz_assert(alignment > 0 && alignment <= PE_LOADER_MAX_SECTION_ALIGNMENT);
        fuzz_assert((alignment & (alignment - 1)) == 0);
        if (image_size > MAX_IMAGE)
                return 0;
        dest = malloc(image_size + GUARD);
        if (!dest)
                return 0;
        memset(dest + image_size, 0xA5, GUARD);
        /* An address that is a multiple of every alignment, and not the usual ImageBase. */
        if (pe_loader_load(data, size, dest, image_size, UINT64_C(0x40000000), &loaded) >= 0) {
                fuzz_assert(loaded.image_size == image_size);
                fuzz_assert(loaded.n_sections <= PE_MAX_SECTIONS);
                if (loaded.nx_compat)
                        fuzz_assert(alignment >= PE_LOADER_NX_MIN_SECTION_ALIGNMENT);
                for (size_t i = 0; i < loaded.n_sections; i++) {
                        fuzz_assert(loaded.sections[i].rva % alignment == 0);
                        fuzz_assert((uint64_t)loaded.sections[i].rva + loaded.sections[i].size <=
                                    image_size);
                }
                fuzz_assert(loaded.entry_point < image_size);
        }
        for (size_t i = 0; i < GUARD; i++)
                fuzz_assert(dest[image_size + i] == 0xA5);
        free(dest);
        return 0;
}
