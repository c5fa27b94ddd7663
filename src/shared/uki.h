/* SPDX-License-Identifier: MIT */
#pragma once

/* The PE sections of a unified kernel image that sd-stub measures into PCR 11, in the order it measures
 * them (systemd v256 and later, without the multi-profile sections of v257). Every section in this table is
 * measured when present with a non-zero VirtualSize; no other section ever is. */

/* DO NOT REORDER: the order is an ABI (PCR 11). Tools like systemd-measure predict the PCR value by
 * hashing the sections in exactly this order. */
enum unified_section {
        UNIFIED_SECTION_LINUX,
        UNIFIED_SECTION_OSREL,
        UNIFIED_SECTION_CMDLINE,
        UNIFIED_SECTION_INITRD,
        UNIFIED_SECTION_UCODE,
        UNIFIED_SECTION_SPLASH,
        UNIFIED_SECTION_DTB,
        UNIFIED_SECTION_UNAME,
        UNIFIED_SECTION_SBAT,
        UNIFIED_SECTION_PCRPKEY,
        _UNIFIED_SECTION_MAX,
};

/* Section names indexed by enum unified_section; the entry at _UNIFIED_SECTION_MAX is NULL. */
extern const char *const unified_sections[_UNIFIED_SECTION_MAX + 1];

/* Never measured. .pcrsig holds signatures over the expected PCR 11 values, so it cannot be part of them. */
#define UKI_SECTION_PCRSIG ".pcrsig"

/* Lanzaboote's external mode: the raw SHA-256 of the kernel and initrd files that .linux and .initrd name.
 * Never measured themselves; PCR 4 covers them through the stub's Authenticode digest. */
#define LANZABOOTE_SECTION_LINUX_HASH  ".linuxh"
#define LANZABOOTE_SECTION_INITRD_HASH ".initrdh"
