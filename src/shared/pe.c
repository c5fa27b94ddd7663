/* SPDX-License-Identifier: MIT */
#include <stdbool.h>

#include "pe.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "PE fields are read in host byte order");

/* True when [offset, offset + length) lies within [0, limit). */
static bool range_ok(size_t offset, size_t length, size_t limit)
{
        size_t end;

        return !__builtin_add_overflow(offset, length, &end) && end <= limit;
}

static int parse_dos_header(const uint8_t *buf, size_t size, size_t *ret_offset)
{
        const struct pe_dos_header *dos = (const struct pe_dos_header *)buf;

        if (size < sizeof(*dos) || dos->e_magic != IMAGE_DOS_SIGNATURE)
                return -PE_ENOEXEC;
        /* No alignment is required: the structures are packed, and older x86 bzImages (Linux 5.10 among
         * them) put the PE signature at 0x82. */
        if (dos->e_lfanew < sizeof(*dos))
                return -PE_EBADMSG;

        *ret_offset = dos->e_lfanew;
        return 0;
}

static int parse_file_header(struct pe_image *img, size_t offset, size_t *ret_optional_offset)
{
        const size_t signature_size = sizeof(IMAGE_NT_SIGNATURE) - 1;
        const struct pe_file_header *fh;

        if (!range_ok(offset, signature_size + sizeof(*fh), img->size))
                return -PE_EBADMSG;
        if (__builtin_memcmp(img->base + offset, IMAGE_NT_SIGNATURE, signature_size) != 0)
                return -PE_ENOEXEC;

        fh = (const struct pe_file_header *)(img->base + offset + signature_size);
        if (fh->Machine != IMAGE_FILE_MACHINE_AMD64 && fh->Machine != IMAGE_FILE_MACHINE_ARM64)
                return -PE_EOPNOTSUPP;
        if (fh->NumberOfSections > PE_MAX_SECTIONS)
                return -PE_EBADMSG;

        img->file_header = fh;
        *ret_optional_offset = offset + signature_size + sizeof(*fh);
        return 0;
}

static int parse_optional_header(struct pe_image *img, size_t offset)
{
        size_t size = img->file_header->SizeOfOptionalHeader;
        const struct pe_optional_header *oh = (const struct pe_optional_header *)(img->base + offset);

        if (size < sizeof(*oh) || !range_ok(offset, size, img->size))
                return -PE_EBADMSG;
        if (oh->Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC)
                return -PE_EOPNOTSUPP;
        /* As EDK2: the header holds exactly the directories it announces, so the section table follows
         * them directly. */
        if (oh->NumberOfRvaAndSizes > IMAGE_NUMBEROF_DIRECTORY_ENTRIES ||
            size != sizeof(*oh) + oh->NumberOfRvaAndSizes * sizeof(struct pe_data_directory))
                return -PE_EBADMSG;

        img->optional_header = oh;
        return 0;
}

static int parse_section_table(struct pe_image *img, size_t offset)
{
        const struct pe_optional_header *oh = img->optional_header;
        size_t n = img->file_header->NumberOfSections, table_size;

        if (__builtin_mul_overflow(n, sizeof(struct pe_section_header), &table_size) ||
            !range_ok(offset, table_size, oh->SizeOfHeaders) || oh->SizeOfHeaders > oh->SizeOfImage ||
            oh->SizeOfHeaders > img->size)
                return -PE_EBADMSG;
        /* A loaded image spans SizeOfImage bytes; this bounds every section in memory layout. */
        if (img->layout == PE_LAYOUT_MEMORY && oh->SizeOfImage > img->size)
                return -PE_EBADMSG;

        img->sections = (const struct pe_section_header *)(img->base + offset);
        img->n_sections = n;
        return 0;
}

/* Where a section's data lies in the buffer, checked against everything that bounds it. */
static int section_span(const struct pe_image *img, const struct pe_section_header *s, size_t *ret_offset,
                        size_t *ret_size)
{
        if (!range_ok(s->VirtualAddress, s->VirtualSize, img->optional_header->SizeOfImage))
                return -PE_EBADMSG;

        switch (img->layout) {
        case PE_LAYOUT_FILE:
                if (!range_ok(s->PointerToRawData, s->SizeOfRawData, img->size))
                        return -PE_EBADMSG;
                *ret_offset = s->PointerToRawData;
                *ret_size = s->VirtualSize < s->SizeOfRawData ? s->VirtualSize : s->SizeOfRawData;
                return 0;
        case PE_LAYOUT_MEMORY:
                *ret_offset = s->VirtualAddress;
                *ret_size = s->VirtualSize;
                return 0;
        default:
                return -PE_EINVAL;
        }
}

static int check_sections(const struct pe_image *img)
{
        for (size_t i = 0; i < img->n_sections; i++) {
                size_t offset, size;
                int r = section_span(img, &img->sections[i], &offset, &size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pe_parse(const uint8_t *buf, size_t size, enum pe_layout layout, struct pe_image *ret)
{
        struct pe_image img = {.base = buf, .size = size, .layout = layout};
        size_t offset;
        int r;

        if (!buf || layout >= _PE_LAYOUT_MAX)
                return -PE_EINVAL;

        r = parse_dos_header(buf, size, &offset);
        if (r < 0)
                return r;
        r = parse_file_header(&img, offset, &offset);
        if (r < 0)
                return r;
        r = parse_optional_header(&img, offset);
        if (r < 0)
                return r;
        r = parse_section_table(&img, offset + img.file_header->SizeOfOptionalHeader);
        if (r < 0)
                return r;
        r = check_sections(&img);
        if (r < 0)
                return r;

        *ret = img;
        return 0;
}

bool pe_section_name_equal(const uint8_t field[static IMAGE_SIZEOF_SHORT_NAME], const char *name)
{
        size_t i;

        for (i = 0; i < IMAGE_SIZEOF_SHORT_NAME; i++) {
                if (field[i] != (uint8_t)name[i])
                        return false;
                if (name[i] == '\0')
                        return true;
        }
        /* All 8 bytes matched without a NUL: name must end here too. */
        return name[i] == '\0';
}

const struct pe_section_header *pe_find_section(const struct pe_image *img, const char *name)
{
        for (size_t i = 0; i < img->n_sections; i++)
                if (pe_section_name_equal(img->sections[i].Name, name))
                        return &img->sections[i];
        return NULL;
}

int pe_section_data(const struct pe_image *img, const struct pe_section_header *section,
                    const uint8_t **ret_data, size_t *ret_size)
{
        /* Compared as integers: relational operators on pointers into different objects are undefined. */
        uintptr_t first = (uintptr_t)img->sections, p = (uintptr_t)section;
        size_t offset, size;
        int r;

        if (p < first || (p - first) % sizeof(*section) != 0 ||
            (p - first) / sizeof(*section) >= img->n_sections)
                return -PE_EINVAL;

        r = section_span(img, section, &offset, &size);
        if (r < 0)
                return r;

        *ret_data = img->base + offset;
        *ret_size = size;
        return 0;
}

const struct pe_data_directory *pe_data_directory(const struct pe_image *img, size_t index)
{
        if (index >= img->optional_header->NumberOfRvaAndSizes)
                return NULL;
        return &img->optional_header->DataDirectory[index];
}
