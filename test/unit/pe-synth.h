/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pe.h"

#define SYNTH_ALIGNMENT          0x200
#define SYNTH_LFANEW             0x40
#define SYNTH_FILE_HEADER_OFFSET (SYNTH_LFANEW + 4)
#define SYNTH_OPTIONAL_HEADER_SIZE                                                                          \
        (sizeof(struct pe_optional_header) + 16 * sizeof(struct pe_data_directory))
#define SYNTH_OPTIONAL_HEADER_OFFSET (SYNTH_FILE_HEADER_OFFSET + sizeof(struct pe_file_header))
#define SYNTH_SECTION_TABLE_OFFSET   (SYNTH_OPTIONAL_HEADER_OFFSET + SYNTH_OPTIONAL_HEADER_SIZE)

struct synth_section {
        const char *name; /* up to 8 characters */
        uint32_t size;    /* VirtualSize; SizeOfRawData is this rounded up to SYNTH_ALIGNMENT */
};

/* A PE32+ x86-64 image whose file layout equals its memory layout (PointerToRawData == VirtualAddress), so
 * the same bytes parse in both modes. Every byte of section i is i + 1. Returns a malloc'd buffer. */
uint8_t *synth_pe(const struct synth_section *sections, size_t n, size_t *ret_size);
