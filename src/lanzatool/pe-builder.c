/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "pe-builder.h"
#include "pe.h"
#include "uki.h"
#include "util.h"

/* [PE]: FileAlignment is a power of two from 512 to 64 K, and SectionAlignment is at least FileAlignment. */
#define PE_FILE_ALIGNMENT_MIN 512u
#define PE_FILE_ALIGNMENT_MAX 65536u

/* [PE] COFF symbol table: 18-byte records, then a string table whose first u32 is its own total size. */
#define COFF_SYMBOL_SIZE      18u
#define COFF_STRING_TABLE_MIN 4u

/* [PE] IMAGE_DEBUG_DIRECTORY: 28 bytes; SizeOfData @16, AddressOfRawData @20, PointerToRawData @24. */
struct pe_debug_directory {
        uint32_t Characteristics;
        uint32_t TimeDateStamp;
        uint16_t MajorVersion;
        uint16_t MinorVersion;
        uint32_t Type;
        uint32_t SizeOfData;
        uint32_t AddressOfRawData;
        uint32_t PointerToRawData;
} __attribute__((packed));
_Static_assert(sizeof(struct pe_debug_directory) == 28, "debug directory entry size");

static const char *pe_parse_problem(int r)
{
        switch (-r) {
        case ENOEXEC:
                return "not a PE image";
        case EOPNOTSUPP:
                return "not a PE32+ image for x86-64 or AArch64";
        default:
                return "malformed PE headers or section table";
        }
}

static bool is_power_of_two(uint32_t x)
{
        return x != 0 && (x & (x - 1)) == 0;
}

/* Rounds x up to a multiple of the power of two a; false when the result does not fit in 32 bits. */
static bool align_up32(uint64_t x, uint32_t a, uint32_t *ret)
{
        uint64_t r;

        if (x > UINT32_MAX)
                return false;
        r = (x + a - 1) & ~(uint64_t)(a - 1);
        if (r > UINT32_MAX)
                return false;
        *ret = (uint32_t)r;
        return true;
}

static size_t offset_in(const struct pe_image *img, const void *p)
{
        return (size_t)((const uint8_t *)p - img->base);
}

static bool section_name_valid(const char *name)
{
        size_t n = strnlen(name, IMAGE_SIZEOF_SHORT_NAME + 1);

        return n >= 1 && n <= IMAGE_SIZEOF_SHORT_NAME;
}

static int check_unsigned(const struct pe_image *img, char **reterr_message)
{
        const struct pe_data_directory *security = pe_data_directory(img, IMAGE_DIRECTORY_ENTRY_SECURITY);

        if (security && (security->VirtualAddress != 0 || security->Size != 0))
                return set_error_message(
                        reterr_message, -EBADMSG,
                        "image is signed, refusing to add sections (the signature would no longer apply)");
        return 0;
}

/* The arithmetic below rounds with masks, which needs powers of two; [PE] demands them anyway. */
static int check_alignment(const struct pe_image *img, char **reterr_message)
{
        uint32_t fa = img->optional_header->FileAlignment, sa = img->optional_header->SectionAlignment;

        if (!is_power_of_two(fa) || fa < PE_FILE_ALIGNMENT_MIN || fa > PE_FILE_ALIGNMENT_MAX ||
            !is_power_of_two(sa) || sa < fa)
                return set_error_message(reterr_message, -EBADMSG,
                                         "invalid FileAlignment 0x%x or SectionAlignment 0x%x", fa, sa);
        return 0;
}

/* End of the last section's raw data in the file, or of the headers when no section has any. */
static size_t raw_data_end(const struct pe_image *img)
{
        size_t end = img->optional_header->SizeOfHeaders;

        for (size_t i = 0; i < img->n_sections; i++) {
                const struct pe_section_header *s = &img->sections[i];

                /* pe_parse() checked that this sum lies within the file. */
                if (s->SizeOfRawData != 0 && (size_t)s->PointerToRawData + s->SizeOfRawData > end)
                        end = (size_t)s->PointerToRawData + s->SizeOfRawData;
        }
        return end;
}

/* True when [start, size) holds exactly the COFF symbol table and its string table. */
static bool trailing_data_is_symbol_table(const struct pe_image *img, size_t start)
{
        const struct pe_file_header *fh = img->file_header;
        uint64_t strings =
                (uint64_t)fh->PointerToSymbolTable + (uint64_t)fh->NumberOfSymbols * COFF_SYMBOL_SIZE;
        uint32_t strings_size;

        if (fh->PointerToSymbolTable != start || strings > img->size - COFF_STRING_TABLE_MIN)
                return false;

        memcpy(&strings_size, img->base + strings, sizeof(strings_size));
        return strings_size >= COFF_STRING_TABLE_MIN && strings_size == img->size - strings;
}

/* The file offset of the debug directory's entries, which sit at an RVA inside some section. */
static int debug_directory_offset(const struct pe_image *img, const struct pe_data_directory *debug,
                                  size_t *ret_offset)
{
        for (size_t i = 0; i < img->n_sections; i++) {
                const struct pe_section_header *s = &img->sections[i];
                uint64_t rva = debug->VirtualAddress, end = rva + debug->Size;

                if (rva >= s->VirtualAddress && end <= (uint64_t)s->VirtualAddress + s->SizeOfRawData &&
                    end <= (uint64_t)s->VirtualAddress + s->VirtualSize) {
                        *ret_offset = s->PointerToRawData + (size_t)(rva - s->VirtualAddress);
                        return 0;
                }
        }
        return -EBADMSG;
}

/* Debug data (a CodeView record, say) may live in the file outside any section. When it lives past the
 * sections it would be cut off with the trailing data, or overwritten by the new sections. */
static int check_debug_data(const struct pe_image *img, size_t raw_end, char **reterr_message)
{
        const struct pe_data_directory *debug = pe_data_directory(img, IMAGE_DIRECTORY_ENTRY_DEBUG);
        size_t offset;

        if (!debug || debug->Size == 0)
                return 0;
        if (debug->Size % sizeof(struct pe_debug_directory) != 0 ||
            debug_directory_offset(img, debug, &offset) < 0)
                return set_error_message(reterr_message, -EBADMSG,
                                         "debug directory lies outside the sections");

        for (size_t i = 0; i < debug->Size / sizeof(struct pe_debug_directory); i++) {
                struct pe_debug_directory d;

                memcpy(&d, img->base + offset + i * sizeof(d), sizeof(d));
                if (d.SizeOfData != 0 && (uint64_t)d.PointerToRawData + d.SizeOfData > raw_end)
                        return set_error_message(
                                reterr_message, -EBADMSG,
                                "debug data lies after the last section, refusing to drop it");
        }
        return 0;
}

/* How many bytes of the stub to keep: everything up to the end of the sections. formats.md §2.4: data after
 * it would sit between the old and the new sections, a gap the Authenticode hash does not cover. Only a COFF
 * symbol table is known to be safe to drop. */
static int bytes_to_keep(const struct pe_image *img, size_t *ret_keep, char **reterr_message)
{
        size_t raw_end = raw_data_end(img);
        int r;

        r = check_debug_data(img, raw_end, reterr_message);
        if (r < 0)
                return r;

        if (img->size > raw_end && !trailing_data_is_symbol_table(img, raw_end))
                return set_error_message(
                        reterr_message, -EBADMSG,
                        "%zu bytes of unknown data after the last section, refusing to drop them",
                        img->size - raw_end);
        if (img->size == raw_end && img->file_header->PointerToSymbolTable >= raw_end)
                return set_error_message(reterr_message, -EBADMSG,
                                         "COFF symbol table pointer lies past the end");

        *ret_keep = raw_end;
        return 0;
}

static int check_names(const struct pe_image *img, const struct pe_builder_section *sections, size_t n,
                       char **reterr_message)
{
        for (size_t i = 0; i < n; i++) {
                if (!sections[i].name || !section_name_valid(sections[i].name))
                        return set_error_message(
                                reterr_message, -EINVAL,
                                "invalid section name \"%.16s\": it must have 1 to 8 characters",
                                sections[i].name ? sections[i].name : "");
                if (!sections[i].data && sections[i].size != 0)
                        return set_error_message(reterr_message, -EINVAL, "section %s has no data",
                                                 sections[i].name);
                if (uki_section_refused(sections[i].name))
                        return set_error_message(reterr_message, -EOPNOTSUPP, "section %s %s",
                                                 sections[i].name,
                                                 uki_layout_problem_string(UKI_LAYOUT_REFUSED));
                /* Never a duplicate (uki.h): the stub refuses them. */
                if (pe_find_section(img, sections[i].name))
                        return set_error_message(reterr_message, -EEXIST, "section %s already exists",
                                                 sections[i].name);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(sections[i].name, sections[j].name) == 0)
                                return set_error_message(reterr_message, -EEXIST,
                                                         "section %s requested twice", sections[i].name);
        }
        return 0;
}

/* formats.md §2.1: the new headers go right after the section table and must fit before SizeOfHeaders.
 * Moving the sections to make room would mean fixing every file offset in the image; refusing is simpler. */
static int check_header_room(const struct pe_image *img, size_t n_new, char **reterr_message)
{
        size_t table_end = offset_in(img, img->sections + img->n_sections), need;

        /* pe_parse() made sure n_sections <= PE_MAX_SECTIONS. */
        if (n_new > PE_MAX_SECTIONS - img->n_sections)
                return set_error_message(reterr_message, -ENOSPC,
                                         "too many sections: %zu more, at most %d in all", n_new,
                                         PE_MAX_SECTIONS);
        need = n_new * sizeof(struct pe_section_header);
        if (need > img->optional_header->SizeOfHeaders - table_end)
                return set_error_message(
                        reterr_message, -ENOSPC,
                        "header space too small: %zu more section headers need %zu bytes, %zu are free",
                        n_new, need, img->optional_header->SizeOfHeaders - table_end);

        /* Something else (a bound import table, say) may live there. */
        for (size_t i = 0; i < need; i++)
                if (img->base[table_end + i] != 0)
                        return set_error_message(reterr_message, -ENOSPC,
                                                 "the header space after the section table is in use");
        return 0;
}

/* formats.md §2.2: the first SectionAlignment multiple after every existing section. */
static int first_virtual_address(const struct pe_image *img, uint32_t *ret)
{
        uint64_t end = img->optional_header->SizeOfHeaders;

        for (size_t i = 0; i < img->n_sections; i++) {
                const struct pe_section_header *s = &img->sections[i];
                uint32_t size = s->VirtualSize > s->SizeOfRawData ? s->VirtualSize : s->SizeOfRawData;

                if ((uint64_t)s->VirtualAddress + size > end)
                        end = (uint64_t)s->VirtualAddress + size;
        }
        return align_up32(end, img->optional_header->SectionAlignment, ret) ? 0 : -EOVERFLOW;
}

/* Everything new in the output: n section headers and the resulting sizes. */
struct plan {
        struct pe_section_header *headers;
        size_t n;
        uint32_t size_of_image;
        uint32_t size_of_initialized_data;
        uint32_t file_size;
};

static int plan_section(const struct pe_image *img, const struct pe_builder_section *in, uint32_t va,
                        uint32_t file_offset, struct pe_section_header *ret)
{
        uint32_t fa = img->optional_header->FileAlignment, raw_size;

        if (in->size > UINT32_MAX || !align_up32(in->size, fa, &raw_size) ||
            (uint64_t)va + in->size > UINT32_MAX || (uint64_t)file_offset + raw_size > UINT32_MAX)
                return -EOVERFLOW;

        *ret = (struct pe_section_header){
                .VirtualSize = (uint32_t)in->size,
                .VirtualAddress = va,
                .SizeOfRawData = raw_size,
                /* [PE]: a section without raw data has PointerToRawData 0. */
                .PointerToRawData = raw_size != 0 ? file_offset : 0,
                .Characteristics = PE_BUILDER_SECTION_CHARACTERISTICS,
        };
        memcpy(ret->Name, in->name, strnlen(in->name, IMAGE_SIZEOF_SHORT_NAME));
        return 0;
}

static int plan_sections(const struct pe_image *img, size_t keep, const struct pe_builder_section *sections,
                         size_t n, struct plan *p, char **reterr_message)
{
        const struct pe_optional_header *oh = img->optional_header;
        uint32_t va, file_offset, end = 0, image_end = oh->SizeOfImage;
        uint64_t initialized = oh->SizeOfInitializedData;

        if (first_virtual_address(img, &va) < 0 || !align_up32(keep, oh->FileAlignment, &file_offset))
                return set_error_message(reterr_message, -EOVERFLOW, "image too large");

        for (size_t i = 0; i < n; i++) {
                struct pe_section_header *h = &p->headers[i];

                if (plan_section(img, &sections[i], va, file_offset, h) < 0)
                        return set_error_message(reterr_message, -EOVERFLOW,
                                                 "section %s too large for a PE image", sections[i].name);
                file_offset += h->SizeOfRawData;
                end = h->VirtualAddress + h->VirtualSize;
                initialized += h->VirtualSize;
                /* At least one byte, so that an empty section still gets an address of its own. */
                if (!align_up32((uint64_t)end + (h->VirtualSize == 0), oh->SectionAlignment, &va))
                        return set_error_message(reterr_message, -EOVERFLOW,
                                                 "section %s too large for a PE image", sections[i].name);
        }

        /* formats.md §2.3: SizeOfImage ends at the last section, rounded up. It never shrinks. */
        if (n > 0 && (!align_up32(end, oh->SectionAlignment, &end) || initialized > UINT32_MAX))
                return set_error_message(reterr_message, -EOVERFLOW, "image too large");
        if (end > image_end)
                image_end = end;

        p->size_of_image = image_end;
        p->size_of_initialized_data = (uint32_t)initialized;
        p->file_size = file_offset;
        return 0;
}

static void write_image(const struct pe_image *img, size_t keep, const struct pe_builder_section *sections,
                        const struct plan *p, uint8_t *out)
{
        struct pe_file_header *fh = (struct pe_file_header *)(out + offset_in(img, img->file_header));
        struct pe_optional_header *oh =
                (struct pe_optional_header *)(out + offset_in(img, img->optional_header));
        size_t table_end = offset_in(img, img->sections + img->n_sections);

        /* out is zero-filled: the alignment padding and the tail of every section's raw data stay zero. */
        memcpy(out, img->base, keep);
        memcpy(out + table_end, p->headers, p->n * sizeof(struct pe_section_header));
        for (size_t i = 0; i < p->n; i++)
                if (sections[i].size != 0)
                        memcpy(out + p->headers[i].PointerToRawData, sections[i].data, sections[i].size);

        if (keep < img->size) {
                /* The symbol table was dropped. */
                fh->PointerToSymbolTable = 0;
                fh->NumberOfSymbols = 0;
        }
        fh->NumberOfSections = (uint16_t)(img->n_sections + p->n);
        oh->SizeOfImage = p->size_of_image;
        oh->SizeOfInitializedData = p->size_of_initialized_data;
        oh->CheckSum =
                pe_builder_checksum(out, p->file_size, offset_in(img, &img->optional_header->CheckSum));
}

/* A template the stub itself would refuse (a multi-profile UKI's .profile, a duplicate section: uki.h) is
 * refused here with the stub's words, rather than installed as an entry that cannot boot. */
static int check_layout(const struct pe_image *img, char **reterr_message)
{
        const char *name = NULL;
        enum uki_layout_problem problem = uki_check_layout(img, &name);

        if (problem != UKI_LAYOUT_OK)
                return set_error_message(reterr_message, -EOPNOTSUPP, "its %s section %s", name,
                                         uki_layout_problem_string(problem));
        return 0;
}

static int check_stub(const struct pe_image *img, const struct pe_builder_section *sections,
                      size_t n_sections, size_t *ret_keep, char **reterr_message)
{
        int r;

        r = check_unsigned(img, reterr_message);
        if (r < 0)
                return r;
        r = check_layout(img, reterr_message);
        if (r < 0)
                return r;
        r = check_alignment(img, reterr_message);
        if (r < 0)
                return r;
        r = check_names(img, sections, n_sections, reterr_message);
        if (r < 0)
                return r;
        r = check_header_room(img, n_sections, reterr_message);
        if (r < 0)
                return r;
        return bytes_to_keep(img, ret_keep, reterr_message);
}

int pe_builder_add_sections(const uint8_t *stub, size_t stub_size, const struct pe_builder_section *sections,
                            size_t n_sections, uint8_t **ret_image, size_t *ret_size, char **reterr_message)
{
        _cleanup_free_ struct pe_section_header *headers = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        struct pe_image img;
        struct plan plan;
        size_t keep = 0;
        int r;

        if (!stub || (!sections && n_sections > 0) || !ret_image || !ret_size)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");

        r = pe_parse(stub, stub_size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", pe_parse_problem(r));
        r = check_stub(&img, sections, n_sections, &keep, reterr_message);
        if (r < 0)
                return r;

        headers = calloc(n_sections ? n_sections : 1, sizeof(*headers));
        if (!headers)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        plan = (struct plan){.headers = headers, .n = n_sections};
        r = plan_sections(&img, keep, sections, n_sections, &plan, reterr_message);
        if (r < 0)
                return r;

        out = calloc(plan.file_size, 1);
        if (!out)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        write_image(&img, keep, sections, &plan, out);

        *ret_image = TAKE_PTR(out);
        *ret_size = plan.file_size;
        return 0;
}

uint32_t pe_builder_checksum(const uint8_t *image, size_t size, size_t checksum_offset)
{
        uint32_t sum = 0;

        for (size_t i = 0; i < size; i += 2) {
                uint32_t word = image[i] | (i + 1 < size ? (uint32_t)image[i + 1] << 8 : 0);

                /* The CheckSum field counts as zero; it starts at an even offset (e_lfanew is 8-aligned). */
                if (i >= checksum_offset && i < checksum_offset + sizeof(uint32_t))
                        word = 0;
                sum += word;
                sum = (sum & 0xFFFF) + (sum >> 16);
        }
        /* [PE]: the file size is added as a 32-bit quantity; images never reach 4 GiB. */
        return sum + (uint32_t)size;
}

int pe_builder_update_checksum(uint8_t *image, size_t size)
{
        struct pe_image img;
        struct pe_optional_header *oh;
        int r;

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return r;

        oh = (struct pe_optional_header *)(image + offset_in(&img, img.optional_header));
        oh->CheckSum = pe_builder_checksum(image, size, offset_in(&img, &img.optional_header->CheckSum));
        return 0;
}

/* The one section named name, or NULL; -EBADMSG when there are several: which would the stub use? */
static int find_unique_section(const struct pe_image *img, const char *name,
                               const struct pe_section_header **ret)
{
        const struct pe_section_header *found = NULL;
        uint8_t field[IMAGE_SIZEOF_SHORT_NAME] = {};

        if (!section_name_valid(name)) {
                *ret = NULL;
                return 0;
        }
        /* All 8 bytes compared, NUL padding included: ".linux" never matches ".linuxh". */
        memcpy(field, name, strlen(name));

        for (size_t i = 0; i < img->n_sections; i++) {
                if (memcmp(img->sections[i].Name, field, sizeof(field)) != 0)
                        continue;
                if (found)
                        return -EBADMSG;
                found = &img->sections[i];
        }
        *ret = found;
        return 0;
}

static int copy_section(const struct pe_image *img, const char *name, struct pe_section_copy *ret,
                        char **reterr_message)
{
        const struct pe_section_header *s;
        const uint8_t *data;
        size_t size;
        uint8_t *copy;

        if (!name)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");
        if (find_unique_section(img, name, &s) < 0)
                return set_error_message(reterr_message, -EBADMSG, "section %s appears more than once",
                                         name);
        if (!s) {
                *ret = (struct pe_section_copy){.name = name};
                return 0;
        }
        if (s->VirtualSize > s->SizeOfRawData || pe_section_data(img, s, &data, &size) < 0)
                return set_error_message(reterr_message, -EBADMSG,
                                         "section %s is larger than its data in the file", name);

        copy = malloc(size + 1);
        if (!copy)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        memcpy(copy, data, size);
        copy[size] = '\0';
        *ret = (struct pe_section_copy){.name = name, .data = copy, .size = size};
        return 0;
}

int pe_get_sections(const uint8_t *image, size_t size, struct pe_section_copy *sections, size_t n_sections,
                    char **reterr_message)
{
        _cleanup_free_ struct pe_section_copy *copies = NULL;
        struct pe_image img;
        int r;

        if (!image || (!sections && n_sections > 0))
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", pe_parse_problem(r));

        copies = calloc(n_sections ? n_sections : 1, sizeof(*copies));
        if (!copies)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n_sections; i++) {
                r = copy_section(&img, sections[i].name, &copies[i], reterr_message);
                if (r < 0) {
                        pe_section_copies_free(copies, i);
                        return r;
                }
        }

        memcpy(sections, copies, n_sections * sizeof(*copies));
        return 0;
}

int pe_read_sections(const char *path, struct pe_section_copy *sections, size_t n_sections,
                     char **reterr_message)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        /* A PE image cannot reach 4 GiB: its sizes are 32-bit. */
        r = read_file(path, UINT32_MAX, &data, &size);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", strerror(-r));
        return pe_get_sections(data, size, sections, n_sections, reterr_message);
}

void pe_section_copies_free(struct pe_section_copy *sections, size_t n_sections)
{
        for (size_t i = 0; i < n_sections; i++) {
                free(sections[i].data);
                sections[i].data = NULL;
        }
}
