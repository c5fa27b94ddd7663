/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pe-synth.h"
#include "pe.h"
#include "test-util.h"
#include "tests.h"

#define SEED           UINT64_C(0x70652d7061727365)
#define N_FUZZ         20000
#define BASE_SIZE      0x800
#define BASE_TABLE_END (SYNTH_SECTION_TABLE_OFFSET + 2 * sizeof(struct pe_section_header))

static const char *const real_files[] = {
        "/usr/lib/systemd/boot/efi/linuxx64.efi.stub",
        "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
};

/* .linux at 0x200 (VirtualSize 0x300, raw 0x400), .initrd at 0x600 (VirtualSize 0x100, raw 0x200). */
static const struct synth_section base_sections[] = {
        {".linux", 0x300},
        {".initrd", 0x100},
};

/* A copy in a buffer of exactly n bytes, so that ASan reports any read past it. */
static uint8_t *dup_exact(const uint8_t *buf, size_t n)
{
        uint8_t *p = malloc(n > 0 ? n : 1);

        if (!p)
                abort();
        memcpy(p, buf, n);
        return p;
}

/* Reads every byte pe_section_data() hands out, for ASan to check. */
static unsigned touch_sections(const struct pe_image *img)
{
        unsigned sum = 0;

        for (size_t i = 0; i < img->n_sections; i++) {
                const uint8_t *data;
                size_t n;

                if (pe_section_data(img, &img->sections[i], &data, &n) == 0)
                        for (size_t j = 0; j < n; j++)
                                sum += data[j];
        }
        return sum;
}

/* Lays a file out the way a loader does: headers, then each section at its VirtualAddress, zero-filled. */
static uint8_t *load_image(const struct pe_image *file, size_t *ret_size)
{
        size_t size = file->optional_header->SizeOfImage;
        uint8_t *mem = calloc(1, size);

        if (!mem)
                abort();
        memcpy(mem, file->base, file->optional_header->SizeOfHeaders);
        for (size_t i = 0; i < file->n_sections; i++) {
                const uint8_t *data;
                size_t n;

                if (pe_section_data(file, &file->sections[i], &data, &n) == 0)
                        memcpy(mem + file->sections[i].VirtualAddress, data, n);
        }
        *ret_size = size;
        return mem;
}

static void section_name(const struct pe_section_header *s, char ret[IMAGE_SIZEOF_SHORT_NAME + 1])
{
        memcpy(ret, s->Name, IMAGE_SIZEOF_SHORT_NAME);
        ret[IMAGE_SIZEOF_SHORT_NAME] = '\0';
}

/* objdump is the independent oracle: its section size is min(VirtualSize, SizeOfRawData), as our file mode.
 */
static void check_against_objdump(const char *path, const struct pe_image *img)
{
        char cmd[512], line[512];
        size_t rows = 0;
        FILE *f;

        snprintf(cmd, sizeof(cmd), "objdump -h -w '%s' 2>/dev/null", path);
        f = popen(cmd, "r");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long size, vma, lma, offset;
                char name[64], ours[IMAGE_SIZEOF_SHORT_NAME + 1];
                const uint8_t *data;
                unsigned idx;
                size_t n;

                if (sscanf(line, " %u %63s %llx %llx %llx %llx", &idx, name, &size, &vma, &lma, &offset) !=
                    6)
                        continue;
                rows++;
                if (idx >= img->n_sections) {
                        check(false, "%s: objdump lists section %u of %zu", path, idx, img->n_sections);
                        continue;
                }
                const struct pe_section_header *s = &img->sections[idx];
                section_name(s, ours);
                check(strcmp(name, ours) == 0, "%s: section %u: objdump %s, we %s", path, idx, name, ours);
                check(pe_section_data(img, s, &data, &n) == 0 && n == size, "%s: %s size", path, name);
                check(vma == img->optional_header->ImageBase + s->VirtualAddress, "%s: %s VMA", path, name);
                check(offset == s->PointerToRawData, "%s: %s file offset", path, name);
        }
        pclose(f);
        if (rows == 0)
                printf("note: no objdump output, %s not cross-checked\n", path);
        else
                check(rows == img->n_sections, "%s: objdump lists %zu sections, we %zu", path, rows,
                      img->n_sections);
}

/* The file parsed in memory layout must give the same section bytes, followed by the loader's zero fill. */
static void check_memory_layout(const char *path, const struct pe_image *file)
{
        struct pe_image mem;
        size_t size;
        uint8_t *buf = load_image(file, &size);

        if (pe_parse(buf, size, PE_LAYOUT_MEMORY, &mem) != 0 || mem.n_sections != file->n_sections) {
                check(false, "%s: memory layout", path);
                free(buf);
                return;
        }
        for (size_t i = 0; i < mem.n_sections; i++) {
                const uint8_t *fdata, *mdata;
                size_t fn, mn;
                bool zero_tail = true;

                if (pe_section_data(file, &file->sections[i], &fdata, &fn) != 0 ||
                    pe_section_data(&mem, &mem.sections[i], &mdata, &mn) != 0) {
                        check(false, "%s: section %zu", path, i);
                        continue;
                }
                check(mn == mem.sections[i].VirtualSize && fn <= mn && memcmp(fdata, mdata, fn) == 0,
                      "%s: section %zu data", path, i);
                for (size_t j = fn; j < mn; j++)
                        zero_tail = zero_tail && mdata[j] == 0;
                check(zero_tail, "%s: section %zu zero fill", path, i);
        }
        free(buf);
}

static void check_truncations(const char *what, const uint8_t *buf, size_t from, size_t to,
                              enum pe_layout layout)
{
        for (size_t n = from; n < to; n++) {
                uint8_t *p = dup_exact(buf, n);
                struct pe_image img;
                int r = pe_parse(p, n, layout, &img);

                check(r < 0, "%s truncated to %zu bytes, layout %d: %d", what, n, layout, r);
                free(p);
        }
}

static size_t section_table_end(const struct pe_image *img)
{
        return (size_t)((const uint8_t *)(img->sections + img->n_sections) - img->base);
}

static void test_real_files(void)
{
        for (size_t i = 0; i < sizeof(real_files) / sizeof(real_files[0]); i++) {
                const char *path = real_files[i];
                struct pe_image img;
                size_t size;
                uint8_t *buf = test_read_file(path, &size);

                check(buf != NULL, "%s missing (systemd-boot-efi)", path);
                if (!buf)
                        continue;
                if (pe_parse(buf, size, PE_LAYOUT_FILE, &img) != 0) {
                        check(false, "%s does not parse", path);
                        free(buf);
                        continue;
                }
                check(img.file_header->Machine == IMAGE_FILE_MACHINE_AMD64, "%s: machine", path);
                check(img.optional_header->Subsystem == IMAGE_SUBSYSTEM_EFI_APPLICATION, "%s: subsystem",
                      path);
                check(pe_find_section(&img, ".sbat") != NULL, "%s: .sbat", path);
                check(pe_find_section(&img, ".sdmagic") != NULL, "%s: .sdmagic, 8 characters", path);
                check(pe_find_section(&img, ".sdmagi") == NULL, "%s: prefix of .sdmagic", path);
                check(pe_find_section(&img, ".sdmagicx") == NULL, "%s: longer than .sdmagic", path);
                check(pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_BASERELOC) != NULL, "%s: BASERELOC",
                      path);
                check(pe_data_directory(&img, IMAGE_NUMBEROF_DIRECTORY_ENTRIES) == NULL, "%s: directory 16",
                      path);

                check_against_objdump(path, &img);
                check_memory_layout(path, &img);
                check_truncations(path, buf, 0, section_table_end(&img) + 1, PE_LAYOUT_FILE);
                check_truncations(path, buf, 0, section_table_end(&img) + 1, PE_LAYOUT_MEMORY);
                free(buf);
        }
}

static void test_lookup(void)
{
        static const struct synth_section sections[] = {
                {".linuxh", 32},  {".linux", 1000}, {".initrd", 0x300},
                {".cmdline", 20}, {".linux", 5},    {".initrdh", 32},
        };
        size_t size;
        uint8_t *buf = synth_pe(sections, sizeof(sections) / sizeof(sections[0]), &size);

        for (enum pe_layout layout = 0; layout < _PE_LAYOUT_MAX; layout++) {
                struct pe_image img;

                if (pe_parse(buf, size, layout, &img) != 0) {
                        check(false, "synthetic image, layout %d", layout);
                        continue;
                }
                check(pe_find_section(&img, ".linux") == &img.sections[1], "first exact .linux");
                check(pe_find_section(&img, ".linuxh") == &img.sections[0], ".linuxh");
                check(pe_find_section(&img, ".initrd") == &img.sections[2], ".initrd");
                check(pe_find_section(&img, ".initrdh") == &img.sections[5], ".initrdh");
                check(pe_find_section(&img, ".cmdline") == &img.sections[3], ".cmdline, 8 characters");
                check(pe_find_section(&img, ".cmdlin") == NULL, "prefix of .cmdline");
                check(pe_find_section(&img, ".cmdlinex") == NULL, "longer than 8");
                check(pe_find_section(&img, ".linu") == NULL, "prefix of .linux");
                check(pe_find_section(&img, "") == NULL, "empty name");

                for (size_t i = 0; i < img.n_sections; i++) {
                        const uint8_t *data;
                        size_t n;
                        bool ok = true;

                        check(pe_section_data(&img, &img.sections[i], &data, &n) == 0 &&
                                      n == sections[i].size,
                              "section %zu size, layout %d", i, layout);
                        for (size_t j = 0; j < n; j++)
                                ok = ok && data[j] == i + 1;
                        check(ok, "section %zu data, layout %d", i, layout);
                }

                struct pe_section_header foreign = img.sections[0];
                const uint8_t *data = NULL;
                size_t n = 0;
                check(pe_section_data(&img, &foreign, &data, &n) == -PE_EINVAL && !data && n == 0,
                      "foreign");
                check(pe_section_data(&img, (const void *)((const uint8_t *)img.sections + 1), &data, &n) ==
                              -PE_EINVAL,
                      "misaligned");
                check(pe_section_data(&img, img.sections + img.n_sections, &data, &n) == -PE_EINVAL,
                      "one past");
                check(pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_SECURITY) != NULL, "SECURITY");
        }
        free(buf);
}

struct field_write {
        size_t offset, width;
        uint64_t value;
};

#define DOS(f) offsetof(struct pe_dos_header, f), sizeof(((struct pe_dos_header *)0)->f)
#define FH(f)                                                                                               \
        SYNTH_FILE_HEADER_OFFSET + offsetof(struct pe_file_header, f),                                      \
                sizeof(((struct pe_file_header *)0)->f)
#define OH(f)                                                                                               \
        SYNTH_OPTIONAL_HEADER_OFFSET + offsetof(struct pe_optional_header, f),                              \
                sizeof(((struct pe_optional_header *)0)->f)
#define SEC1(f)                                                                                             \
        SYNTH_SECTION_TABLE_OFFSET + sizeof(struct pe_section_header) +                                     \
                offsetof(struct pe_section_header, f),                                                      \
                sizeof(((struct pe_section_header *)0)->f)

static const struct {
        const char *what;
        struct field_write writes[2];
        int file_r, memory_r;
} mutations[] = {
        {"no MZ", {{DOS(e_magic), 0}}, -PE_ENOEXEC, -PE_ENOEXEC},
        {"e_lfanew 0", {{DOS(e_lfanew), 0}}, -PE_EBADMSG, -PE_EBADMSG},
        {"e_lfanew off by one", {{DOS(e_lfanew), SYNTH_LFANEW + 1}}, -PE_ENOEXEC, -PE_ENOEXEC},
        {"e_lfanew at the end", {{DOS(e_lfanew), BASE_SIZE}}, -PE_EBADMSG, -PE_EBADMSG},
        {"COFF header past the end", {{DOS(e_lfanew), BASE_SIZE - 16}}, -PE_EBADMSG, -PE_EBADMSG},
        {"e_lfanew near 2^32", {{DOS(e_lfanew), 0xfffffff8}}, -PE_EBADMSG, -PE_EBADMSG},
        {"no PE signature", {{SYNTH_LFANEW + 3, 1, 1}}, -PE_ENOEXEC, -PE_ENOEXEC},
        {"i386", {{FH(Machine), 0x14c}}, -PE_EOPNOTSUPP, -PE_EOPNOTSUPP},
        {"97 sections", {{FH(NumberOfSections), 97}}, -PE_EBADMSG, -PE_EBADMSG},
        {"65535 sections", {{FH(NumberOfSections), 0xffff}}, -PE_EBADMSG, -PE_EBADMSG},
        {"section table past SizeOfHeaders", {{FH(NumberOfSections), 96}}, -PE_EBADMSG, -PE_EBADMSG},
        {"no sections", {{FH(NumberOfSections), 0}}, 0, 0},
        {"no optional header", {{FH(SizeOfOptionalHeader), 0}}, -PE_EBADMSG, -PE_EBADMSG},
        {"short optional header", {{FH(SizeOfOptionalHeader), 111}}, -PE_EBADMSG, -PE_EBADMSG},
        {"huge optional header", {{FH(SizeOfOptionalHeader), 0xffff}}, -PE_EBADMSG, -PE_EBADMSG},
        {"optional header size mismatch", {{FH(SizeOfOptionalHeader), 232}}, -PE_EBADMSG, -PE_EBADMSG},
        {"PE32", {{OH(Magic), 0x10b}}, -PE_EOPNOTSUPP, -PE_EOPNOTSUPP},
        {"17 directories", {{OH(NumberOfRvaAndSizes), 17}}, -PE_EBADMSG, -PE_EBADMSG},
        {"2^32-1 directories", {{OH(NumberOfRvaAndSizes), 0xffffffff}}, -PE_EBADMSG, -PE_EBADMSG},
        {"directories whose size wraps 32 bits to 0",
         {{FH(SizeOfOptionalHeader), 112}, {OH(NumberOfRvaAndSizes), 0x20000000}},
         -PE_EBADMSG,
         -PE_EBADMSG},
        {"SizeOfHeaders 0", {{OH(SizeOfHeaders), 0}}, -PE_EBADMSG, -PE_EBADMSG},
        {"SizeOfHeaders 2^32-1", {{OH(SizeOfHeaders), 0xffffffff}}, -PE_EBADMSG, -PE_EBADMSG},
        {"SizeOfHeaders past the end",
         {{OH(SizeOfHeaders), BASE_SIZE + 0x100}, {OH(SizeOfImage), 0x10000}},
         -PE_EBADMSG,
         -PE_EBADMSG},
        {"SizeOfImage 0", {{OH(SizeOfImage), 0}}, -PE_EBADMSG, -PE_EBADMSG},
        {"SizeOfImage cuts the last section", {{OH(SizeOfImage), 0x6ff}}, -PE_EBADMSG, -PE_EBADMSG},
        {"raw data wraps 32 bits",
         {{SEC1(PointerToRawData), 0xffffffff}, {SEC1(SizeOfRawData), 0xffffffff}},
         -PE_EBADMSG,
         0},
        {"raw data one byte past the end", {{SEC1(SizeOfRawData), 0x201}}, -PE_EBADMSG, 0},
        {"raw data starts at the last byte", {{SEC1(PointerToRawData), BASE_SIZE - 1}}, -PE_EBADMSG, 0},
        {"virtual range wraps 32 bits",
         {{SEC1(VirtualAddress), 0xffffffff}, {SEC1(VirtualSize), 2}},
         -PE_EBADMSG,
         -PE_EBADMSG},
        {"virtual range ends at 2^32",
         {{SEC1(VirtualAddress), 0xffffff00}, {SEC1(VirtualSize), 0x100}},
         -PE_EBADMSG,
         -PE_EBADMSG},
        {"virtual range past SizeOfImage", {{SEC1(VirtualSize), 0x201}}, -PE_EBADMSG, -PE_EBADMSG},
        {"virtual range past the buffer only",
         {{SEC1(VirtualSize), 0x201}, {OH(SizeOfImage), 0x10000}},
         0,
         -PE_EBADMSG},
};

static void apply(uint8_t *buf, const struct field_write *w)
{
        for (size_t i = 0; i < w->width; i++)
                buf[w->offset + i] = (uint8_t)(w->value >> (8 * i));
}

static void test_malformed(void)
{
        size_t size;
        uint8_t *base = synth_pe(base_sections, sizeof(base_sections) / sizeof(base_sections[0]), &size);
        struct pe_image img;

        check(size == BASE_SIZE, "base image is %zu bytes", size);
        check(pe_parse(base, size, PE_LAYOUT_FILE, &img) == 0, "base, file");
        check(pe_parse(base, size, PE_LAYOUT_MEMORY, &img) == 0, "base, memory");
        check(pe_parse(NULL, size, PE_LAYOUT_FILE, &img) == -PE_EINVAL, "NULL");
        check(pe_parse(base, size, _PE_LAYOUT_MAX, &img) == -PE_EINVAL, "bad layout");

        for (size_t m = 0; m < sizeof(mutations) / sizeof(mutations[0]); m++) {
                uint8_t *p = dup_exact(base, size);
                int r;

                for (size_t w = 0; w < 2 && mutations[m].writes[w].width > 0; w++)
                        apply(p, &mutations[m].writes[w]);
                r = pe_parse(p, size, PE_LAYOUT_FILE, &img);
                check(r == mutations[m].file_r, "%s, file: %d", mutations[m].what, r);
                if (r == 0)
                        touch_sections(&img);
                r = pe_parse(p, size, PE_LAYOUT_MEMORY, &img);
                check(r == mutations[m].memory_r, "%s, memory: %d", mutations[m].what, r);
                if (r == 0)
                        touch_sections(&img);
                free(p);
        }

        /* The last section's raw data ends the file, so every shorter file is malformed. */
        check_truncations("synthetic", base, 0, size, PE_LAYOUT_FILE);
        check_truncations("synthetic", base, 0, size, PE_LAYOUT_MEMORY);
        free(base);
}

/* Older x86 bzImages (Linux 5.10) put the PE signature at 0x82: an odd place, but a valid image. */
static void test_unaligned_headers(void)
{
        const size_t lfanew = 0x82, shift = lfanew - SYNTH_LFANEW;
        size_t size;
        uint8_t *buf = synth_pe(base_sections, sizeof(base_sections) / sizeof(base_sections[0]), &size);
        struct field_write w = {DOS(e_lfanew), lfanew};

        memmove(buf + lfanew, buf + SYNTH_LFANEW, BASE_TABLE_END - SYNTH_LFANEW);
        memset(buf + SYNTH_LFANEW, 0, shift);
        apply(buf, &w);
        for (enum pe_layout layout = 0; layout < _PE_LAYOUT_MAX; layout++) {
                struct pe_image img;

                check(pe_parse(buf, size, layout, &img) == 0 && img.n_sections == 2 &&
                              pe_find_section(&img, ".initrd") == &img.sections[1] &&
                              touch_sections(&img) > 0,
                      "e_lfanew 0x82, layout %d", layout);
        }
        free(buf);
}

/* Random damage to the headers and the section table: every result must be a clean error or an image whose
 * data lies in bounds. */
static void test_fuzz(void)
{
        size_t size;
        uint8_t *base = synth_pe(base_sections, sizeof(base_sections) / sizeof(base_sections[0]), &size);
        unsigned ok = 0;

        for (unsigned i = 0; i < N_FUZZ; i++) {
                uint8_t *p = dup_exact(base, size);
                unsigned n = 1 + rng_next() % 4;

                for (unsigned k = 0; k < n; k++)
                        p[rng_next() % BASE_TABLE_END] = rng_next();
                for (enum pe_layout layout = 0; layout < _PE_LAYOUT_MAX; layout++) {
                        struct pe_image img;

                        if (pe_parse(p, size, layout, &img) == 0) {
                                touch_sections(&img);
                                ok++;
                        }
                }
                free(p);
        }
        printf("fuzz: %u of %u damaged images still parse\n", ok, 2 * N_FUZZ);
        free(base);
}

static void test_errno_values(void)
{
        check(PE_ENOEXEC == ENOEXEC && PE_EINVAL == EINVAL && PE_EBADMSG == EBADMSG &&
                      PE_EOPNOTSUPP == EOPNOTSUPP,
              "PE_E* differ from errno.h");
}

int main(void)
{
        rng_seed(SEED);
        printf("seed 0x%016llx\n", (unsigned long long)SEED);
        test_errno_values();
        test_real_files();
        test_lookup();
        test_malformed();
        test_unaligned_headers();
        test_fuzz();
        return tests_finish();
}
