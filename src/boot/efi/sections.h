/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"
#include "uki.h"

typedef struct {
        const uint8_t *data;
        size_t size;
} Section;

/* Our own sections, found in the image the firmware loaded (never re-read from the file, so what
 * we check is what was verified and measured by the firmware). */
typedef struct {
        Section unified[_UNIFIED_SECTION_MAX];
        Section linux_hash;
        Section initrd_hash;
        Section pcrsig; /* never measured */
        bool external;  /* .linuxh present: .linux and .initrd are ESP paths */
} StubSections;

EFI_STATUS sections_find(const void *image_base, uint64_t image_size, StubSections *ret);
