/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"
#include "util.h"

/* A .dtb section is the devicetree the kernel gets instead of the firmware's (embedded UKIs for boards
 * whose firmware has none or a wrong one, as sd-stub does). */
typedef struct {
        Pages pages;
        void *previous; /* the firmware's table, NULL when there was none */
        bool installed;
} Devicetree;

/* Checks the flattened devicetree header (size bytes at dtb; size 0: no .dtb section, nothing to do), so
 * that a broken one is refused before anything is measured. */
EFI_STATUS devicetree_check(const void *dtb, size_t size);

/* Copies the checked devicetree into memory the kernel may keep and installs it as the EFI_DTB_TABLE
 * configuration table; size 0 does nothing. devicetree_restore() puts the firmware's table back. */
EFI_STATUS devicetree_install(const void *dtb, size_t size, Devicetree *ret);
void devicetree_restore(Devicetree *dt);
