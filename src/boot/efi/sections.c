/* SPDX-License-Identifier: MIT */
#include "sections.h"
#include "log.h"
#include "pe.h"

static Section section_get(const struct pe_image *img, const char *name)
{
        const struct pe_section_header *h = pe_find_section(img, name);
        Section s = {};

        if (h && pe_section_data(img, h, &s.data, &s.size) < 0)
                s = (Section){};
        return s;
}

EFI_STATUS sections_find(const void *image_base, uint64_t image_size, StubSections *ret)
{
        struct pe_image img;
        StubSections s = {};
        enum uki_layout_problem problem;
        const char *name = NULL;
        int r;

        if (!image_base || image_size > SIZE_MAX)
                return log_error_status(EFI_LOAD_ERROR, "Our loaded image is not described.");
        r = pe_parse(image_base, (size_t)image_size, PE_LAYOUT_MEMORY, &img);
        if (r < 0)
                return log_error_status(EFI_LOAD_ERROR, "Our own PE image is malformed (error %d).", r);
        problem = uki_check_layout(&img, &name);
        if (problem != UKI_LAYOUT_OK)
                return log_error_status(EFI_UNSUPPORTED, "This boot entry's %s section %s.", name,
                                        uki_layout_problem_string(problem));

        for (enum unified_section i = 0; i < _UNIFIED_SECTION_MAX; i++)
                s.unified[i] = section_get(&img, unified_sections[i]);
        s.linux_hash = section_get(&img, LANZABOOTE_SECTION_LINUX_HASH);
        s.initrd_hash = section_get(&img, LANZABOOTE_SECTION_INITRD_HASH);
        s.pcrsig = section_get(&img, UKI_SECTION_PCRSIG);
        s.external = s.linux_hash.size > 0;

        if (s.unified[UNIFIED_SECTION_LINUX].size == 0)
                return log_error_status(EFI_NOT_FOUND, "This boot entry has no .linux section.");
        /* A path without a hash would be an unpinned file: refuse rather than boot it. */
        if (s.external && s.unified[UNIFIED_SECTION_INITRD].size > 0 && s.initrd_hash.size == 0)
                return log_error_status(EFI_SECURITY_VIOLATION,
                                        "This boot entry names an initrd without its hash.");
        *ret = s;
        return EFI_SUCCESS;
}
