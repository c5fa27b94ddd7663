/* SPDX-License-Identifier: MIT */
/* pe_parse() in both layouts, then every accessor on every section and data directory. */
#include <string.h>

#include "fuzz.h"
#include "pe.h"

static void check(const uint8_t *data, size_t size, enum pe_layout layout)
{
        struct pe_image img;
        volatile uint8_t sink = 0;

        if (pe_parse(data, size, layout, &img) < 0)
                return;
        fuzz_assert(img.n_sections <= PE_MAX_SECTIONS);
        for (size_t i = 0; i < img.n_sections; i++) {
                const struct pe_section_header *s = &img.sections[i];
                const uint8_t *p;
                size_t n;
                char name[IMAGE_SIZEOF_SHORT_NAME + 1] = {};

                if (pe_section_data(&img, s, &p, &n) >= 0 && n > 0) {
                        fuzz_assert(p >= data && n <= size && (size_t)(p - data) <= size - n);
                        sink ^= p[0] ^ p[n - 1];
                }
                memcpy(name, s->Name, IMAGE_SIZEOF_SHORT_NAME);
                if (name[0])
                        fuzz_assert(pe_find_section(&img, name) != NULL);
        }
        for (size_t i = 0; i <= IMAGE_NUMBEROF_DIRECTORY_ENTRIES; i++) {
                const struct pe_data_directory *d = pe_data_directory(&img, i);
                if (d)
                        sink ^= (uint8_t)d->Size;
        }
        (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check(data, size, PE_LAYOUT_FILE);
        check(data, size, PE_LAYOUT_MEMORY);
        return 0;
}
