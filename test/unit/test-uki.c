/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "pe-synth.h"
#include "pe.h"
#include "tests.h"
#include "uki.h"

/* systemd's src/fundamental/uki.h order (v256+, single profile), which systemd-measure follows. */
static const char *const canonical[] = {
        ".linux",  ".osrel", ".cmdline", ".initrd", ".ucode",
        ".splash", ".dtb",   ".uname",   ".sbat",   ".pcrpkey",
};

static const char *const never_measured[] = {
        UKI_SECTION_PCRSIG,
        LANZABOOTE_SECTION_LINUX_HASH,
        LANZABOOTE_SECTION_INITRD_HASH,
};

static void test_order(void)
{
        check(_UNIFIED_SECTION_MAX == sizeof(canonical) / sizeof(canonical[0]), "%d sections",
              _UNIFIED_SECTION_MAX);
        for (size_t i = 0; i < _UNIFIED_SECTION_MAX; i++)
                check(unified_sections[i] && strcmp(unified_sections[i], canonical[i]) == 0, "entry %zu: %s",
                      i, unified_sections[i]);
        check(unified_sections[_UNIFIED_SECTION_MAX] == NULL, "sentinel");
        check(strcmp(unified_sections[UNIFIED_SECTION_LINUX], ".linux") == 0, "LINUX");
        check(strcmp(unified_sections[UNIFIED_SECTION_PCRPKEY], ".pcrpkey") == 0, "PCRPKEY");
}

static void test_names(void)
{
        check(strcmp(UKI_SECTION_PCRSIG, ".pcrsig") == 0, UKI_SECTION_PCRSIG);
        check(strcmp(LANZABOOTE_SECTION_LINUX_HASH, ".linuxh") == 0, LANZABOOTE_SECTION_LINUX_HASH);
        check(strcmp(LANZABOOTE_SECTION_INITRD_HASH, ".initrdh") == 0, LANZABOOTE_SECTION_INITRD_HASH);
        for (size_t i = 0; i < _UNIFIED_SECTION_MAX; i++) {
                check(unified_sections[i][0] == '.' &&
                              strlen(unified_sections[i]) <= IMAGE_SIZEOF_SHORT_NAME,
                      "%s fits a section header", unified_sections[i]);
                for (size_t j = 0; j < sizeof(never_measured) / sizeof(never_measured[0]); j++)
                        check(strcmp(unified_sections[i], never_measured[j]) != 0, "%s is in the table",
                              never_measured[j]);
        }
}

/* An image holding only section a answers a lookup of b exactly when a and b are the same name: the extra
 * names .linuxh and .initrdh begin with .linux and .initrd, which a prefix match would confuse. */
static void test_exact_match(void)
{
        const char *names[_UNIFIED_SECTION_MAX + 3];
        size_t n = 0;

        for (size_t i = 0; i < _UNIFIED_SECTION_MAX; i++)
                names[n++] = unified_sections[i];
        for (size_t i = 0; i < sizeof(never_measured) / sizeof(never_measured[0]); i++)
                names[n++] = never_measured[i];

        for (size_t a = 0; a < n; a++) {
                struct synth_section s = {names[a], 16};
                struct pe_image img;
                size_t size;
                uint8_t *buf = synth_pe(&s, 1, &size);

                check(pe_parse(buf, size, PE_LAYOUT_FILE, &img) == 0, "image with %s", names[a]);
                for (size_t b = 0; b < n; b++)
                        check((pe_find_section(&img, names[b]) != NULL) == (a == b),
                              "image with %s, looking for %s", names[a], names[b]);
                free(buf);
        }
}

int main(void)
{
        test_order();
        test_names();
        test_exact_match();
        return tests_finish();
}
