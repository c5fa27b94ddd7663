/* SPDX-License-Identifier: MIT */
#pragma once

/* Builds a lanzaboote stub: the stub binary plus named data sections (.osrel, .cmdline, .linux, .initrd,
 * .linuxh, .initrdh), in memory and reproducibly, following formats.md §2. And reads those sections back.
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence naming the problem (never the file: the caller knows it), to be printed
 * as "lanzatool: FILE: MESSAGE". It stays NULL when even that allocation failed. */

#include <stddef.h>
#include <stdint.h>

#include "pe.h"

/* 0x40000040, what ukify and objcopy --add-section give data (formats.md §2.2). */
#define PE_BUILDER_SECTION_CHARACTERISTICS (IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ)

struct pe_builder_section {
        const char *name; /* 1 to 8 characters */
        const void *data; /* may be NULL when size is 0 */
        size_t size;
};

/* Returns a copy of the stub in *ret_image with the sections appended after its last one, in the order
 * given. Each gets VirtualSize = size exactly, SizeOfRawData rounded up to FileAlignment (zero fill), the
 * next SectionAlignment multiple as VirtualAddress and characteristics PE_BUILDER_SECTION_CHARACTERISTICS;
 * SizeOfImage, SizeOfInitializedData and CheckSum are updated. Nothing else changes, so the same inputs
 * always give the same bytes.
 *
 * A COFF symbol table at the end of the stub (as in Debian's systemd EFI binaries) is dropped, because
 * data between sections would escape the Authenticode hash. Refused: a signed stub (its signature would no
 * longer apply) and any other data after the last section (-EBADMSG), a name that the stub or an earlier
 * entry already uses (-EEXIST), a name of 0 or more than 8 characters (-EINVAL), too little free space after
 * the section table for the new headers (-ENOSPC), sizes or addresses that overflow the 32-bit fields
 * (-EOVERFLOW), and anything pe_parse() rejects (its error). */
int pe_builder_add_sections(const uint8_t *stub, size_t stub_size, const struct pe_builder_section *sections,
                            size_t n_sections, uint8_t **ret_image, size_t *ret_size, char **reterr_message);

/* The PE CheckSum (formats.md §1.4, ImageHlp's CheckSumMappedFile) of the size bytes at image, whose
 * CheckSum field lies at checksum_offset and counts as zero. */
uint32_t pe_builder_checksum(const uint8_t *image, size_t size, size_t checksum_offset);

/* Parses the image and writes its CheckSum field. Returns -EBADMSG (or another pe_parse() error) when it is
 * not a PE32+ image. */
int pe_builder_update_checksum(uint8_t *image, size_t size);

/* One section asked of pe_get_sections() or pe_read_sections(). The caller sets name; on success data is a
 * malloc'd copy of the section's VirtualSize bytes with a NUL appended (not counted in size, so text
 * sections can be used as strings), or NULL when the image has no such section. */
struct pe_section_copy {
        const char *name;
        uint8_t *data;
        size_t size;
};

/* Fills sections[] from the PE image in memory. Refused with -EBADMSG: an image pe_parse() rejects, a
 * requested name present twice (which copy would the stub use?), a section whose VirtualSize exceeds its
 * raw data (its tail would be zero fill, not file content). On failure sections[] is left untouched. */
int pe_get_sections(const uint8_t *image, size_t size, struct pe_section_copy *sections, size_t n_sections,
                    char **reterr_message);

/* Reads the file at path, then as pe_get_sections(). */
int pe_read_sections(const char *path, struct pe_section_copy *sections, size_t n_sections,
                     char **reterr_message);

/* Frees the data of each entry and sets it to NULL. */
void pe_section_copies_free(struct pe_section_copy *sections, size_t n_sections);
