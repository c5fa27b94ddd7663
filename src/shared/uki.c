/* SPDX-License-Identifier: MIT */
#include "uki.h"

const char *const unified_sections[_UNIFIED_SECTION_MAX + 1] = {
        [UNIFIED_SECTION_LINUX] = ".linux",     [UNIFIED_SECTION_OSREL] = ".osrel",
        [UNIFIED_SECTION_CMDLINE] = ".cmdline", [UNIFIED_SECTION_INITRD] = ".initrd",
        [UNIFIED_SECTION_UCODE] = ".ucode",     [UNIFIED_SECTION_SPLASH] = ".splash",
        [UNIFIED_SECTION_DTB] = ".dtb",         [UNIFIED_SECTION_UNAME] = ".uname",
        [UNIFIED_SECTION_SBAT] = ".sbat",       [UNIFIED_SECTION_PCRPKEY] = ".pcrpkey",
        [_UNIFIED_SECTION_MAX] = NULL,
};

const char *const uki_refused_sections[] = {".profile", ".dtbauto", ".hwids", ".efifw", NULL};

/* Every other section the stub reads, besides the unified ones. */
static const char *const stub_read_sections[] = {
        UKI_SECTION_PCRSIG,
        LANZABOOTE_SECTION_LINUX_HASH,
        LANZABOOTE_SECTION_INITRD_HASH,
        NULL,
};

static const char *const layout_problems[_UKI_LAYOUT_PROBLEM_MAX] = {
        [UKI_LAYOUT_OK] = "is fine",
        [UKI_LAYOUT_DUPLICATE] = "appears more than once (systemd versions disagree on which one counts)",
        [UKI_LAYOUT_REFUSED] = ("is a systemd 257+ section (multi-profile UKIs, devicetree or firmware "
                                "selection) this stub does not implement"),
};

static size_t count_named(const struct pe_image *img, const char *name)
{
        size_t n = 0;

        for (size_t i = 0; i < img->n_sections; i++)
                n += pe_section_name_equal(img->sections[i].Name, name);
        return n;
}

static bool any_duplicate(const struct pe_image *img, const char *const *names, const char **ret_name)
{
        for (size_t i = 0; names[i]; i++)
                if (count_named(img, names[i]) > 1) {
                        *ret_name = names[i];
                        return true;
                }
        return false;
}

static bool streq(const char *a, const char *b)
{
        for (; *a && *a == *b; a++, b++)
                ;
        return *a == *b;
}

bool uki_section_refused(const char *name)
{
        for (size_t i = 0; uki_refused_sections[i]; i++)
                if (streq(name, uki_refused_sections[i]))
                        return true;
        return false;
}

enum uki_layout_problem uki_check_layout(const struct pe_image *img, const char **ret_name)
{
        const char *name = NULL;

        for (size_t i = 0; uki_refused_sections[i]; i++)
                if (count_named(img, uki_refused_sections[i]) > 0) {
                        *ret_name = uki_refused_sections[i];
                        return UKI_LAYOUT_REFUSED;
                }
        if (any_duplicate(img, unified_sections, &name) || any_duplicate(img, stub_read_sections, &name)) {
                *ret_name = name;
                return UKI_LAYOUT_DUPLICATE;
        }
        return UKI_LAYOUT_OK;
}

const char *uki_layout_problem_string(enum uki_layout_problem p)
{
        return p < _UKI_LAYOUT_PROBLEM_MAX ? layout_problems[p] : "is invalid";
}

/* One component between backslashes: not empty, not "." or "..", no '/' (a second separator that firmware
 * file systems may or may not honour) and no control character. */
static bool component_valid(const char *c, size_t n)
{
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (c[i] == '/' || (unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                        return false;
        return true;
}

bool uki_esp_path_valid(const char *path, size_t size)
{
        size_t start = 1;

        if (!path || size < 2 || size > UKI_ESP_PATH_MAX || path[0] != '\\')
                return false;
        for (size_t i = 1; i <= size; i++) {
                if (i < size && path[i] != '\\')
                        continue;
                if (!component_valid(path + start, i - start))
                        return false;
                start = i + 1;
        }
        return true;
}
