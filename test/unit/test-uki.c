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

/* uki_check_layout() on an image with these sections: the problem and the name it reports. */
static void expect_layout(const struct synth_section *sections, size_t n, enum uki_layout_problem want,
                          const char *want_name, const char *what)
{
        struct pe_image img;
        const char *name = NULL;
        size_t size;
        uint8_t *buf = synth_pe(sections, n, &size);
        enum uki_layout_problem got;

        check(pe_parse(buf, size, PE_LAYOUT_FILE, &img) == 0, "%s: parse", what);
        got = uki_check_layout(&img, &name);
        check(got == want && (!want_name || (name && strcmp(name, want_name) == 0)), "%s: %d %s", what, got,
              name ? name : "(none)");
        free(buf);
}

static void test_layout(void)
{
        static const char *const refused[] = {".profile", ".dtbauto", ".hwids", ".efifw"};
        static const char *const read_by_stub[] = {".linux",  ".initrd",  ".pcrsig",
                                                   ".linuxh", ".initrdh", ".sbat"};
        const struct synth_section good[] = {{".linux", 16}, {".osrel", 8}, {".cmdline", 8}, {".text", 16}};

        expect_layout(good, 4, UKI_LAYOUT_OK, NULL, "plain UKI");
        /* Unknown names may repeat: the stub reads none of them. */
        expect_layout((const struct synth_section[]){{".linux", 16}, {".data", 8}, {".data", 8}}, 3,
                      UKI_LAYOUT_OK, NULL, "unknown section twice");
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                const struct synth_section s[] = {{".linux", 16}, {refused[i], 8}};
                expect_layout(s, 2, UKI_LAYOUT_REFUSED, refused[i], refused[i]);
                check(uki_section_refused(refused[i]), "%s refused by name", refused[i]);
        }
        for (size_t i = 0; i < sizeof(read_by_stub) / sizeof(read_by_stub[0]); i++) {
                const struct synth_section s[] = {
                        {".linux", 16}, {read_by_stub[i], 8}, {read_by_stub[i], 8}};
                if (strcmp(read_by_stub[i], ".linux") == 0)
                        expect_layout(s + 1, 2, UKI_LAYOUT_DUPLICATE, ".linux", "duplicate .linux");
                else
                        expect_layout(s, 3, UKI_LAYOUT_DUPLICATE, read_by_stub[i], read_by_stub[i]);
        }
        check(!uki_section_refused(".linux") && !uki_section_refused(".profil"), "only exact names refused");
        check(strstr(uki_layout_problem_string(UKI_LAYOUT_REFUSED), "257") != NULL,
              "message names systemd 257");
}

static void test_esp_paths(void)
{
        static const struct {
                const char *path;
                bool valid;
        } cases[] = {
                {"\\EFI\\nixos\\kernel-6.1-abc.efi", true},
                {"\\a", true},
                {"", false},
                {"\\", false},
                {"EFI\\nixos\\k.efi", false},
                {"\\EFI\\\\k.efi", false},
                {"\\EFI\\..\\k.efi", false},
                {"\\EFI\\.\\k.efi", false},
                {"\\EFI/nixos\\k.efi", false},
                {"\\EFI\\k.efi\\", false},
                {"\\EFI\\k\x01.efi", false},
        };
        char nul[] = "\\EFI\0x";
        char *huge = malloc(UKI_ESP_PATH_MAX + 2);

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check(uki_esp_path_valid(cases[i].path, strlen(cases[i].path)) == cases[i].valid, "\"%s\"",
                      cases[i].path);
        check(!uki_esp_path_valid(nul, sizeof(nul) - 1), "a NUL inside");
        check(!uki_esp_path_valid(NULL, 4), "NULL");
        if (huge) {
                huge[0] = '\\';
                memset(huge + 1, 'a', UKI_ESP_PATH_MAX + 1);
                check(uki_esp_path_valid(huge, UKI_ESP_PATH_MAX), "%d bytes", UKI_ESP_PATH_MAX);
                check(!uki_esp_path_valid(huge, UKI_ESP_PATH_MAX + 1), "%d bytes", UKI_ESP_PATH_MAX + 1);
                free(huge);
        }
}

int main(void)
{
        test_order();
        test_names();
        test_exact_match();
        test_layout();
        test_esp_paths();
        return tests_finish();
}
