/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "pe-synth.h"

static size_t align_up(size_t x)
{
        return (x + SYNTH_ALIGNMENT - 1) / SYNTH_ALIGNMENT * SYNTH_ALIGNMENT;
}

uint8_t *synth_pe(const struct synth_section *sections, size_t n, size_t *ret_size)
{
        size_t headers_size = align_up(SYNTH_SECTION_TABLE_OFFSET + n * sizeof(struct pe_section_header));
        size_t total = headers_size;
        uint8_t *buf;

        for (size_t i = 0; i < n; i++)
                total += align_up(sections[i].size);
        buf = calloc(1, total);
        if (!buf)
                abort();

        struct pe_dos_header dos = {.e_magic = IMAGE_DOS_SIGNATURE, .e_lfanew = SYNTH_LFANEW};
        struct pe_file_header fh = {
                .Machine = IMAGE_FILE_MACHINE_AMD64,
                .NumberOfSections = n,
                .SizeOfOptionalHeader = SYNTH_OPTIONAL_HEADER_SIZE,
        };
        struct pe_optional_header oh = {
                .Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC,
                .SectionAlignment = SYNTH_ALIGNMENT,
                .FileAlignment = SYNTH_ALIGNMENT,
                .SizeOfImage = total,
                .SizeOfHeaders = headers_size,
                .Subsystem = IMAGE_SUBSYSTEM_EFI_APPLICATION,
                .NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES,
        };
        memcpy(buf, &dos, sizeof(dos));
        memcpy(buf + SYNTH_LFANEW, IMAGE_NT_SIGNATURE, 4);
        memcpy(buf + SYNTH_FILE_HEADER_OFFSET, &fh, sizeof(fh));
        memcpy(buf + SYNTH_OPTIONAL_HEADER_OFFSET, &oh, sizeof(oh));

        for (size_t i = 0, offset = headers_size; i < n; i++) {
                struct pe_section_header sh = {
                        .VirtualSize = sections[i].size,
                        .VirtualAddress = offset,
                        .SizeOfRawData = align_up(sections[i].size),
                        .PointerToRawData = offset,
                        .Characteristics = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ,
                };
                memcpy(sh.Name, sections[i].name, strnlen(sections[i].name, sizeof(sh.Name)));
                memcpy(buf + SYNTH_SECTION_TABLE_OFFSET + i * sizeof(sh), &sh, sizeof(sh));
                memset(buf + offset, (int)i + 1, sections[i].size);
                offset += sh.SizeOfRawData;
        }

        *ret_size = total;
        return buf;
}
