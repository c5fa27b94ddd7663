/* SPDX-License-Identifier: MIT */
/* The UKI section table as the stub reads it from its own loaded image: every section sd-stub measures,
 * and Lanzaboote's own, found by exact name and read within the image. */
#include "fuzz.h"
#include "pe.h"
#include "uki.h"

static void read_section(const struct pe_image *img, const char *name, const uint8_t *data, size_t size)
{
        const struct pe_section_header *s = pe_find_section(img, name);
        const uint8_t *p;
        size_t n;
        volatile uint8_t sink;

        if (!s || pe_section_data(img, s, &p, &n) < 0 || n == 0)
                return;
        fuzz_assert(p >= data && n <= size && (size_t)(p - data) <= size - n);
        sink = p[n - 1];
        (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        for (enum pe_layout layout = PE_LAYOUT_FILE; layout < _PE_LAYOUT_MAX; layout++) {
                struct pe_image img;

                if (pe_parse(data, size, layout, &img) < 0)
                        continue;
                for (size_t i = 0; i < _UNIFIED_SECTION_MAX; i++)
                        read_section(&img, unified_sections[i], data, size);
                fuzz_assert(unified_sections[_UNIFIED_SECTION_MAX] == NULL);
                read_section(&img, UKI_SECTION_PCRSIG, data, size);
                read_section(&img, LANZABOOTE_SECTION_LINUX_HASH, data, size);
                read_section(&img, LANZABOOTE_SECTION_INITRD_HASH, data, size);
        }
        return 0;
}
