/* SPDX-License-Identifier: MIT */
#pragma once

/* The layout of a unified kernel image, decided here once for the stub, `lanzatool measure` and the PE
 * builder: which sections exist, their canonical order, which are measured, how duplicates are treated,
 * which newer sections are refused, and how an external-mode .linux/.initrd names its ESP file. */

#include <stdbool.h>
#include <stddef.h>

#include "pe.h"

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

/* Sections of systemd ≥ 257 that change what is booted and measured: .profile (multi-profile UKIs: profile
 * selection by "@N", PCR 11 of the chosen profile, StubProfile), .dtbauto and .hwids (devicetree chosen by
 * hardware IDs), .efifw (firmware images). This stub implements none of them, so a UKI carrying one is
 * refused by name rather than booted with a PCR 11 that systemd's tools would predict differently.
 * NULL-terminated. */
extern const char *const uki_refused_sections[];

enum uki_layout_problem {
        UKI_LAYOUT_OK,
        UKI_LAYOUT_DUPLICATE, /* a section the stub reads appears more than once */
        UKI_LAYOUT_REFUSED,   /* a section of uki_refused_sections is present */
        _UKI_LAYOUT_PROBLEM_MAX,
};

/* Duplicates are refused, for every section the stub reads: systemd ≤ 256 used the last of several
 * same-named sections and systemd ≥ 257 the first, so no answer would match every predictor. Checks an
 * image's section table; on a problem, *ret_name is the offending section's name. */
enum uki_layout_problem uki_check_layout(const struct pe_image *img, const char **ret_name);

/* "appears more than once", "is a systemd 257+ section this stub does not implement", ... */
const char *uki_layout_problem_string(enum uki_layout_problem p);

/* Whether name is one of uki_refused_sections. */
bool uki_section_refused(const char *name);

/* The ESP path rule for an external-mode .linux/.initrd section: UTF-8 bytes without NUL, an absolute
 * path with backslashes ("\EFI\nixos\kernel-....efi"), no empty, "." or ".." component, no '/', at most
 * UKI_ESP_PATH_MAX bytes. The stub reads only such a path and lanzatool writes and measures only such. */
#define UKI_ESP_PATH_MAX 512
bool uki_esp_path_valid(const char *path, size_t size);
