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

/* Records why an image is refused: the sentence names the requirement, so that the stub's screen and
 * lanzatool's messages tell the user what kind of kernel is needed rather than that something failed. */
static int refuse(const char **ret_reason, int error, const char *reason)
{
        *ret_reason = reason;
        return error;
}

static bool is_power_of_two(uint32_t v)
{
        return v != 0 && (v & (v - 1)) == 0;
}

/* The only place that decides which machine, image type and EFI stub generation we start. */
static int check_kernel_type(const struct pe_image *pe, const char **ret_reason)
{
        const struct pe_optional_header *oh = pe->optional_header;

        if (pe->file_header->Machine != PE_LOADER_MACHINE)
                return refuse(ret_reason, -PE_EOPNOTSUPP,
                              "the kernel is built for another architecture than " PE_LOADER_MACHINE_NAME);
        if (oh->Subsystem != IMAGE_SUBSYSTEM_EFI_APPLICATION)
                return refuse(ret_reason, -PE_EOPNOTSUPP,
                              "the kernel image is not an EFI application (no EFI stub)");
        if (oh->MajorImageVersion < PE_LOADER_MIN_MAJOR_IMAGE_VERSION)
                return refuse(ret_reason, -PE_EOPNOTSUPP,
                              "the kernel's EFI stub predates Linux 5.8 (MajorImageVersion 0): it cannot "
                              "load its initrd "
                              "through LINUX_INITRD_MEDIA");
        return 0;
}

static int check_optional_header(const struct pe_image *pe, size_t file_size, struct kernel_image *k,
                                 const char **ret_reason)
{
        const struct pe_optional_header *oh = pe->optional_header;
        uint32_t alignment = oh->SectionAlignment;
        bool nx_compat = (oh->DllCharacteristics & IMAGE_DLLCHARACTERISTICS_NX_COMPAT) != 0;
        uint64_t image_size;
        int r;

        r = check_kernel_type(pe, ret_reason);
        if (r < 0)
                return r;
        if (!is_power_of_two(alignment))
                return refuse(ret_reason, -PE_EBADMSG,
                              "the kernel's SectionAlignment is not a power of two");
        if (alignment > PE_LOADER_MAX_SECTION_ALIGNMENT)
                return refuse(ret_reason, -PE_EOPNOTSUPP, "the kernel's SectionAlignment is above 2 MiB");
        /* W^X is applied per page: a kernel that asks for it must keep code and data on separate pages. */
        if (nx_compat && alignment < PE_LOADER_NX_MIN_SECTION_ALIGNMENT)
                return refuse(
                        ret_reason, -PE_EOPNOTSUPP,
                        "the kernel sets NX_COMPAT but its SectionAlignment is below 4 KiB, so its code "
                        "and data cannot be mapped with separate permissions");
        if (oh->SizeOfHeaders > oh->SizeOfImage || oh->SizeOfHeaders > file_size)
                return refuse(ret_reason, -PE_EBADMSG,
                              "the kernel's SizeOfHeaders exceeds its image or file");
        if (oh->SizeOfImage == 0 || oh->SizeOfImage > PE_LOADER_MAX_IMAGE_SIZE)
                return refuse(ret_reason, -PE_EBADMSG, "the kernel's SizeOfImage is zero or above 1 GiB");

        /* At most 1 GiB + 2 MiB: no overflow, even in a 32-bit size_t. */
        image_size = ((uint64_t)oh->SizeOfImage + alignment - 1) & ~((uint64_t)alignment - 1);
        k->alignment = alignment;
        k->image_size = (size_t)image_size;
        return 0;
}

/* Every section at a multiple of the section alignment, past the headers, inside SizeOfImage and (its file
 * data) inside the file, and no two sharing a byte of memory: then copying one never overwrites another, and
 * with NX_COMPAT (page alignment) every page belongs to at most one section. The order of the table does not
 * matter; Linux 5.10 lists .reloc and .compat before .text, as firmware loaders accept. pe_parse() checked
 * some of these bounds; they are checked again here where they are relied on. */
static int check_sections(const struct pe_image *pe, size_t file_size, const char **ret_reason)
{
        const struct pe_optional_header *oh = pe->optional_header;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                if (s->VirtualAddress % oh->SectionAlignment != 0)
                        return refuse(ret_reason, -PE_EBADMSG,
                                      "a kernel section is not aligned to the SectionAlignment");
                if (s->VirtualSize > 0 && s->VirtualAddress < oh->SizeOfHeaders)
                        return refuse(ret_reason, -PE_EBADMSG, "a kernel section overlaps the PE headers");
                if (!range_ok(s->VirtualAddress, s->VirtualSize, oh->SizeOfImage))
                        return refuse(ret_reason, -PE_EBADMSG, "a kernel section ends past SizeOfImage");
                if (!range_ok(s->PointerToRawData, section_file_size(s), file_size))
                        return refuse(ret_reason, -PE_EBADMSG, "a kernel section's data ends past the file");
                for (size_t j = 0; j < i; j++) {
                        const struct pe_section_header *t = &pe->sections[j];

                        if (s->VirtualSize > 0 && t->VirtualSize > 0 &&
                            s->VirtualAddress < (uint64_t)t->VirtualAddress + t->VirtualSize &&
                            t->VirtualAddress < (uint64_t)s->VirtualAddress + s->VirtualSize)
                                return refuse(ret_reason, -PE_EBADMSG,
                                              "two kernel sections overlap in memory");
                }
        }
        return 0;
}

static int check_entry_point(const struct pe_image *pe, const char **ret_reason)
{
        uint32_t entry = pe->optional_header->AddressOfEntryPoint;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const struct pe_section_header *s = &pe->sections[i];

                if (entry >= s->VirtualAddress && entry - s->VirtualAddress < s->VirtualSize &&
                    pe_loader_is_code(s->Characteristics))
                        return 0;
        }
        return refuse(ret_reason, -PE_EBADMSG, "the kernel's entry point is not inside a code section");
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

/* What pe_parse() refuses, in words. */
static int parse_refused(int r, const char **ret_reason)
{
        switch (r) {
        case -PE_ENOEXEC:
                return refuse(ret_reason, r,
                              "the kernel is not a PE image (no MZ and PE signatures): no EFI stub");
        case -PE_EOPNOTSUPP:
                return refuse(ret_reason, r, "the kernel is not a PE32+ image for " PE_LOADER_MACHINE_NAME);
        default:
                return refuse(ret_reason, r, "the kernel's PE headers or section table are malformed");
        }
}

static int validate(const uint8_t *file, size_t file_size, struct kernel_image *ret, const char **ret_reason)
{
        struct kernel_image k = {};
        int r;

        if (!file)
                return refuse(ret_reason, -PE_EINVAL, "no kernel image");

        r = pe_parse(file, file_size, PE_LAYOUT_FILE, &k.pe);
        if (r < 0)
                return parse_refused(r, ret_reason);
        r = check_optional_header(&k.pe, file_size, &k, ret_reason);
        if (r < 0)
                return r;
        r = check_sections(&k.pe, file_size, ret_reason);
        if (r < 0)
                return r;
        r = check_entry_point(&k.pe, ret_reason);
        if (r < 0)
                return r;
        r = find_relocations(&k.pe, &k);
        if (r < 0)
                return refuse(ret_reason, r,
                              "the kernel's base relocation table does not lie in one section's file data");
        r = walk_relocations(&k, NULL, 0);
        if (r == -PE_EOPNOTSUPP)
                return refuse(ret_reason, r, "the kernel has base relocations of a type other than DIR64");
        if (r < 0)
                return refuse(ret_reason, r,
                              "the kernel's base relocations are malformed or point outside it");

        *ret = k;
        return 0;
}

int pe_loader_check(const uint8_t *file, size_t file_size, const char **ret_reason)
{
        struct kernel_image k;
        const char *reason = NULL;
        int r;

        r = validate(file, file_size, &k, &reason);
        if (r < 0 && ret_reason)
                *ret_reason = reason;
        return r;
}

int pe_loader_inspect(const uint8_t *file, size_t file_size, size_t *ret_image_size, size_t *ret_alignment)
{
        struct kernel_image k;
        int r;

        if (!ret_image_size || !ret_alignment)
                return -PE_EINVAL;

        r = validate(file, file_size, &k, &(const char *){NULL});
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

        r = validate(file, file_size, &k, &(const char *){NULL});
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
