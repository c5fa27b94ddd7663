/* SPDX-License-Identifier: MIT */
#include "pe-loader.h"

/* Base relocation entries: the type in the top 4 bits, the offset into the block's page in the rest. */
#define PE_RELOC_TYPE_SHIFT  12
#define PE_RELOC_OFFSET_MASK 0x0fff

/* Everything pe_loader_load() needs, gathered while validating. */
struct kernel_image {
        struct pe_image pe;
        uint32_t alignment;
        size_t image_size;
        const uint8_t *relocs; /* the base relocation table, inside the file; NULL when there is none */
        size_t relocs_size;
};

/* True when [offset, offset + length) lies within [0, limit). */
static bool range_ok(uint64_t offset, uint64_t length, uint64_t limit)
{
        uint64_t end;

        return !__builtin_add_overflow(offset, length, &end) && end <= limit;
}

/* The bytes of a section that come from the file; the rest of VirtualSize is zero fill. */
static uint32_t section_file_size(const struct pe_section_header *s)
{
        return s->VirtualSize < s->SizeOfRawData ? s->VirtualSize : s->SizeOfRawData;
}

static int check_optional_header(const struct pe_image *pe, size_t file_size, struct kernel_image *k)
{
        const struct pe_optional_header *oh = pe->optional_header;
        uint32_t alignment = oh->SectionAlignment;
        uint64_t image_size;

        if (pe->file_header->Machine != PE_LOADER_MACHINE ||
            oh->Subsystem != IMAGE_SUBSYSTEM_EFI_APPLICATION ||
            oh->MajorImageVersion < PE_LOADER_MIN_MAJOR_IMAGE_VERSION)
                return -PE_EOPNOTSUPP;
        if (alignment == 0 || (alignment & (alignment - 1)) != 0 || oh->SizeOfHeaders > oh->SizeOfImage ||
            oh->SizeOfHeaders > file_size)
                return -PE_EBADMSG;
        if (alignment < PE_LOADER_MIN_SECTION_ALIGNMENT || alignment > PE_LOADER_MAX_SECTION_ALIGNMENT)
                return -PE_EOPNOTSUPP;

        /* Below 2^32 + 2 MiB: no overflow in 64 bits, but size_t may be narrower. */
        image_size = ((uint64_t)oh->SizeOfImage + alignment - 1) & ~((uint64_t)alignment - 1);
        if (image_size == 0 || image_size > SIZE_MAX)
                return -PE_EBADMSG;

        k->alignment = alignment;
        k->image_size = (size_t)image_size;
        return 0;
}

/* Sections follow the headers in ascending order without overlapping, each at a multiple of the section
 * alignment: then every page of the image belongs to at most one section, and copying one never overwrites
 * another. pe_parse() checked the same bounds; they are checked again here where they are relied on. */
static int check_sections(const struct pe_image *pe, size_t file_size)
{
        const struct pe_optional_header *oh = pe->optional_header;
        uint64_t end = oh->SizeOfHeaders;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                if (s->VirtualAddress % oh->SectionAlignment != 0 || s->VirtualAddress < end ||
                    !range_ok(s->VirtualAddress, s->VirtualSize, oh->SizeOfImage) ||
                    !range_ok(s->PointerToRawData, section_file_size(s), file_size))
                        return -PE_EBADMSG;
                end = (uint64_t)s->VirtualAddress + s->VirtualSize;
        }
        return 0;
}

static int check_entry_point(const struct pe_image *pe)
{
        uint32_t entry = pe->optional_header->AddressOfEntryPoint;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                if (entry >= s->VirtualAddress && entry - s->VirtualAddress < s->VirtualSize)
                        return pe_loader_is_code(s->Characteristics) ? 0 : -PE_EBADMSG;
        }
        return -PE_EBADMSG;
}

/* The base relocation directory holds an RVA. It is read from the file, not from the loaded copy, so no
 * relocation can rewrite the table while it is being applied: the whole table must lie in file data of
 * one section. */
static int find_relocations(const struct pe_image *pe, struct kernel_image *k)
{
        const struct pe_data_directory *dir = pe_data_directory(pe, IMAGE_DIRECTORY_ENTRY_BASERELOC);

        k->relocs = NULL;
        k->relocs_size = 0;
        if (!dir || dir->Size == 0)
                return 0;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                if (dir->VirtualAddress < s->VirtualAddress ||
                    !range_ok(dir->VirtualAddress - s->VirtualAddress, dir->Size, section_file_size(s)))
                        continue;
                k->relocs = pe->base + s->PointerToRawData + (dir->VirtualAddress - s->VirtualAddress);
                k->relocs_size = dir->Size;
                return 0;
        }
        return -PE_EBADMSG;
}

/* One relocation entry; validates only when dest is NULL. */
static int relocate_one(uint32_t page_rva, uint16_t entry, uint32_t size_of_image, uint8_t *dest,
                        uint64_t delta)
{
        uint64_t rva = (uint64_t)page_rva + (entry & PE_RELOC_OFFSET_MASK);
        uint64_t value;

        switch (entry >> PE_RELOC_TYPE_SHIFT) {
        case IMAGE_REL_BASED_ABSOLUTE:
                /* Padding that keeps blocks 32-bit aligned. */
                return 0;
        case IMAGE_REL_BASED_DIR64:
                if (!range_ok(rva, sizeof(value), size_of_image))
                        return -PE_EBADMSG;
                if (dest) {
                        __builtin_memcpy(&value, dest + rva, sizeof(value));
                        value += delta;
                        __builtin_memcpy(dest + rva, &value, sizeof(value));
                }
                return 0;
        default:
                return -PE_EOPNOTSUPP;
        }
}

/* Walks the base relocation blocks, each a header and 16-bit entries, SizeOfBlock bytes in all. Validates
 * every block and entry when dest is NULL, applies them otherwise. */
static int walk_relocations(const struct kernel_image *k, uint8_t *dest, uint64_t delta)
{
        const uint32_t size_of_image = k->pe.optional_header->SizeOfImage;
        size_t offset = 0;

        while (offset < k->relocs_size) {
                struct pe_base_relocation_block block;
                size_t n_entries;

                if (k->relocs_size - offset < sizeof(block))
                        return -PE_EBADMSG;
                __builtin_memcpy(&block, k->relocs + offset, sizeof(block));
                if (block.SizeOfBlock < sizeof(block) || block.SizeOfBlock > k->relocs_size - offset ||
                    (block.SizeOfBlock - sizeof(block)) % sizeof(uint16_t) != 0)
                        return -PE_EBADMSG;

                n_entries = (block.SizeOfBlock - sizeof(block)) / sizeof(uint16_t);
                for (size_t i = 0; i < n_entries; i++) {
                        uint16_t entry;
                        int r;

                        __builtin_memcpy(&entry, k->relocs + offset + sizeof(block) + i * sizeof(entry),
                                         sizeof(entry));
                        r = relocate_one(block.VirtualAddress, entry, size_of_image, dest, delta);
                        if (r < 0)
                                return r;
                }
                offset += block.SizeOfBlock;
        }
        return 0;
}

static int validate(const uint8_t *file, size_t file_size, struct kernel_image *ret)
{
        struct kernel_image k = {};
        int r;

        if (!file)
                return -PE_EINVAL;

        r = pe_parse(file, file_size, PE_LAYOUT_FILE, &k.pe);
        if (r < 0)
                return r;
        r = check_optional_header(&k.pe, file_size, &k);
        if (r < 0)
                return r;
        r = check_sections(&k.pe, file_size);
        if (r < 0)
                return r;
        r = check_entry_point(&k.pe);
        if (r < 0)
                return r;
        r = find_relocations(&k.pe, &k);
        if (r < 0)
                return r;
        r = walk_relocations(&k, NULL, 0);
        if (r < 0)
                return r;

        *ret = k;
        return 0;
}

int pe_loader_inspect(const uint8_t *file, size_t file_size, size_t *ret_image_size, size_t *ret_alignment)
{
        struct kernel_image k;
        int r;

        if (!ret_image_size || !ret_alignment)
                return -PE_EINVAL;

        r = validate(file, file_size, &k);
        if (r < 0)
                return r;

        *ret_image_size = k.image_size;
        *ret_alignment = k.alignment;
        return 0;
}

static void copy_image(const struct kernel_image *k, uint8_t *dest)
{
        const struct pe_image *pe = &k->pe;

        __builtin_memset(dest, 0, k->image_size);
        __builtin_memcpy(dest, pe->base, pe->optional_header->SizeOfHeaders);
        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                __builtin_memcpy(dest + s->VirtualAddress, pe->base + s->PointerToRawData,
                                 section_file_size(s));
        }
}

static void describe_image(const struct kernel_image *k, struct pe_loaded *ret)
{
        const struct pe_image *pe = &k->pe;

        ret->image_size = k->image_size;
        ret->entry_point = pe->optional_header->AddressOfEntryPoint;
        ret->nx_compat = (pe->optional_header->DllCharacteristics & IMAGE_DLLCHARACTERISTICS_NX_COMPAT) != 0;
        ret->n_sections = pe->n_sections;
        for (size_t i = 0; i < pe->n_sections; i++)
                ret->sections[i] = (struct pe_loaded_section){
                        .rva = pe->sections[i].VirtualAddress,
                        .size = pe->sections[i].VirtualSize,
                        .characteristics = pe->sections[i].Characteristics,
                };
}

int pe_loader_load(const uint8_t *file, size_t file_size, uint8_t *dest, size_t dest_size,
                   uint64_t load_address, struct pe_loaded *ret)
{
        struct kernel_image k;
        uint64_t image_base;
        int r;

        if (!dest || !ret)
                return -PE_EINVAL;

        r = validate(file, file_size, &k);
        if (r < 0)
                return r;
        if (dest_size < k.image_size || load_address % k.alignment != 0)
                return -PE_EINVAL;

        /* Without relocations and marked as such, the image only runs at its preferred address. */
        image_base = k.pe.optional_header->ImageBase;
        if ((k.pe.file_header->Characteristics & IMAGE_FILE_RELOCS_STRIPPED) && load_address != image_base)
                return -PE_EOPNOTSUPP;

        copy_image(&k, dest);
        /* Already validated, so this cannot fail; the check keeps that assumption visible. */
        r = walk_relocations(&k, dest, load_address - image_base);
        if (r < 0)
                return r;

        describe_image(&k, ret);
        return 0;
}
