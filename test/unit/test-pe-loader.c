/* SPDX-License-Identifier: MIT */
/* The kernel PE loader: a synthetic image with relocations of every shape we accept, the distribution
 * kernel (from $LANZABOOTE_TEST_KERNEL or the VM harness's cache), and corrupted copies of both. Headers
 * are read here with plain offsets and checked against objdump, never with the code under test. */
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pe-loader.h"
#include "test-util.h"
#include "tests.h"

#define EXIT_SKIP 77

#define ANY_ERROR           INT_MIN
#define SENTINEL            ((size_t)0x5e5e5e5e5e5e5e5e)
#define CANARY              0xa5
#define CANARY_SIZE         4096
#define SEED                UINT64_C(0x6c6f616465722121)
#define N_FUZZ_SYNTH        20000
#define N_FUZZ_REAL         150
#define FUZZ_MAX_IMAGE_SIZE (64u << 20)

/* Two load addresses per image, below and above its ImageBase, multiples of any accepted alignment. */
static const uint64_t load_addresses[] = {UINT64_C(0x200000), UINT64_C(0x7ff00000000)};

/* The synthetic kernel. File: headers 0x000-0x400, .text 0x400-0x800, .data 0x800-0xa00, .reloc
 * 0xa00-0xc00, then bytes standing in for a signature. Memory: .text 0x1000 (0x800, half zero fill), .data
 * 0x2000 (0x1000, mostly zero fill), .reloc 0x3000, .bss 0x4000 (0x1000, no file data). */
#define SYN_IMAGE_BASE              UINT64_C(0x140000000)
#define SYN_LFANEW                  0x40
#define SYN_HEADERS_SIZE            0x400
#define SYN_ALIGNMENT               0x1000
#define SYN_FILE_ALIGNMENT          0x200
#define SYN_IMAGE_SIZE              0x5000
#define SYN_ENTRY                   0x1010
#define SYN_TRAILER_SIZE            0x40
#define SYN_FILE_SIZE               (0xc00 + SYN_TRAILER_SIZE)
#define SYN_N_SECTIONS              4
#define SYN_TEXT                    0
#define SYN_DATA                    1
#define SYN_RELOC                   2
#define SYN_BSS                     3
#define SYN_RELOC_DIR_SIZE          38
#define SYN_RELOC_BLOCK1            0  /* .data page: four DIR64 */
#define SYN_RELOC_BLOCK2            16 /* .bss page: one DIR64, one ABSOLUTE */
#define SYN_RELOC_BLOCK3            28 /* 10 bytes, one ABSOLUTE, as old x86 kernels carried */
#define IMAGE_REL_BASED_HIGHLOW     3
#define IMAGE_FILE_EXECUTABLE_IMAGE 0x0002

static const struct {
        const char *name;
        uint32_t va, vsize, raw_ptr, raw_size, characteristics;
} syn_sections[SYN_N_SECTIONS] = {
        [SYN_TEXT] = {".text", 0x1000, 0x800, 0x400, 0x400,
                      IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ},
        [SYN_DATA] = {".data", 0x2000, 0x1000, 0x800, 0x200,
                      IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE},
        [SYN_RELOC] = {".reloc", 0x3000, SYN_RELOC_DIR_SIZE, 0xa00, 0x200,
                       IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_DISCARDABLE | IMAGE_SCN_MEM_READ},
        [SYN_BSS] = {".bss", 0x4000, 0x1000, 0, 0,
                     IMAGE_SCN_CNT_UNINITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE},
};

/* The RVAs the synthetic relocations patch, the unaligned one and those in zero fill included. */
static const uint32_t syn_reloc_targets[] = {0x2010, 0x2023, 0x21f8, 0x2ff8, 0x4008};

static void *xmalloc(size_t n)
{
        void *p = malloc(n > 0 ? n : 1);

        if (!p)
                abort();
        return p;
}

/* A copy in a buffer of exactly n bytes, so that ASan reports any read past it. */
static uint8_t *dup_exact(const uint8_t *buf, size_t n)
{
        uint8_t *p = xmalloc(n);

        memcpy(p, buf, n);
        return p;
}

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
        return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t)v);
        put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t)v);
        put32(p + 4, (uint32_t)(v >> 32));
}

/* Field offsets from the PE/COFF specification, independent of the structures in pe.h. */
#define COFF(buf)                   (get32((buf) + 0x3c) + 4)
#define COFF_MACHINE                0
#define COFF_NUMBER_OF_SECTIONS     2
#define COFF_SIZE_OF_OPTIONAL       16
#define COFF_CHARACTERISTICS        18
#define OPT(buf)                    (COFF(buf) + 20)
#define OPT_ENTRY                   16
#define OPT_IMAGE_BASE              24
#define OPT_SECTION_ALIGNMENT       32
#define OPT_FILE_ALIGNMENT          36
#define OPT_MAJOR_IMAGE_VERSION     44
#define OPT_SIZE_OF_IMAGE           56
#define OPT_SIZE_OF_HEADERS         60
#define OPT_SUBSYSTEM               68
#define OPT_DLL_CHARACTERISTICS     70
#define OPT_NUMBER_OF_RVA_AND_SIZES 108
#define OPT_DATA_DIRECTORY          112
#define SECTION(buf, i)             (OPT(buf) + get16((buf) + COFF(buf) + COFF_SIZE_OF_OPTIONAL) + (i)*40)
#define SEC_VSIZE                   8
#define SEC_VA                      12
#define SEC_RAW_SIZE                16
#define SEC_RAW_PTR                 20
#define SEC_CHARACTERISTICS         36

static size_t n_sections(const uint8_t *buf)
{
        return get16(buf + COFF(buf) + COFF_NUMBER_OF_SECTIONS);
}

static uint32_t section_field(const uint8_t *buf, size_t i, size_t field)
{
        return get32(buf + SECTION(buf, i) + field);
}

static uint32_t reloc_dir_field(const uint8_t *buf, size_t field)
{
        if (get32(buf + OPT(buf) + OPT_NUMBER_OF_RVA_AND_SIZES) <= IMAGE_DIRECTORY_ENTRY_BASERELOC)
                return 0;
        return get32(buf + OPT(buf) + OPT_DATA_DIRECTORY + IMAGE_DIRECTORY_ENTRY_BASERELOC * 8 + field);
}

static uint8_t *build_synthetic(void)
{
        uint8_t *buf = calloc(1, SYN_FILE_SIZE);
        size_t opt = SYN_LFANEW + 4 + 20, reloc;

        if (!buf)
                abort();
        put16(buf, IMAGE_DOS_SIGNATURE);
        put32(buf + 0x3c, SYN_LFANEW);
        memcpy(buf + SYN_LFANEW, "PE\0\0", 4);
        put16(buf + SYN_LFANEW + 4 + COFF_MACHINE, IMAGE_FILE_MACHINE_AMD64);
        put16(buf + SYN_LFANEW + 4 + COFF_NUMBER_OF_SECTIONS, SYN_N_SECTIONS);
        put16(buf + SYN_LFANEW + 4 + COFF_SIZE_OF_OPTIONAL, OPT_DATA_DIRECTORY + 16 * 8);
        put16(buf + SYN_LFANEW + 4 + COFF_CHARACTERISTICS, IMAGE_FILE_EXECUTABLE_IMAGE);

        put16(buf + opt, IMAGE_NT_OPTIONAL_HDR64_MAGIC);
        put32(buf + opt + OPT_ENTRY, SYN_ENTRY);
        put64(buf + opt + OPT_IMAGE_BASE, SYN_IMAGE_BASE);
        put32(buf + opt + OPT_SECTION_ALIGNMENT, SYN_ALIGNMENT);
        put32(buf + opt + OPT_FILE_ALIGNMENT, SYN_FILE_ALIGNMENT);
        put16(buf + opt + OPT_MAJOR_IMAGE_VERSION, 1);
        put32(buf + opt + OPT_SIZE_OF_IMAGE, SYN_IMAGE_SIZE);
        put32(buf + opt + OPT_SIZE_OF_HEADERS, SYN_HEADERS_SIZE);
        put16(buf + opt + OPT_SUBSYSTEM, IMAGE_SUBSYSTEM_EFI_APPLICATION);
        put16(buf + opt + OPT_DLL_CHARACTERISTICS,
              IMAGE_DLLCHARACTERISTICS_NX_COMPAT | IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE);
        put32(buf + opt + OPT_NUMBER_OF_RVA_AND_SIZES, 16);
        put32(buf + opt + OPT_DATA_DIRECTORY + IMAGE_DIRECTORY_ENTRY_BASERELOC * 8,
              syn_sections[SYN_RELOC].va);
        put32(buf + opt + OPT_DATA_DIRECTORY + IMAGE_DIRECTORY_ENTRY_BASERELOC * 8 + 4, SYN_RELOC_DIR_SIZE);

        for (size_t i = 0; i < SYN_N_SECTIONS; i++) {
                uint8_t *sh = buf + opt + OPT_DATA_DIRECTORY + 16 * 8 + i * 40;

                memcpy(sh, syn_sections[i].name, strlen(syn_sections[i].name));
                put32(sh + SEC_VSIZE, syn_sections[i].vsize);
                put32(sh + SEC_VA, syn_sections[i].va);
                put32(sh + SEC_RAW_SIZE, syn_sections[i].raw_size);
                put32(sh + SEC_RAW_PTR, syn_sections[i].raw_ptr);
                put32(sh + SEC_CHARACTERISTICS, syn_sections[i].characteristics);
        }

        for (size_t i = 0; i < syn_sections[SYN_TEXT].raw_size; i++)
                buf[syn_sections[SYN_TEXT].raw_ptr + i] = (uint8_t)(0x90 + i % 7);
        for (size_t i = 0; i < syn_sections[SYN_DATA].raw_size; i++)
                buf[syn_sections[SYN_DATA].raw_ptr + i] = (uint8_t)(i * 13 + 1);
        /* Pointers as a linker leaves them: absolute, for the image at ImageBase. */
        put64(buf + syn_sections[SYN_DATA].raw_ptr + 0x10, SYN_IMAGE_BASE + SYN_ENTRY);
        put64(buf + syn_sections[SYN_DATA].raw_ptr + 0x1f8, SYN_IMAGE_BASE + 0x2000);

        reloc = syn_sections[SYN_RELOC].raw_ptr;
        put32(buf + reloc + SYN_RELOC_BLOCK1, 0x2000);
        put32(buf + reloc + SYN_RELOC_BLOCK1 + 4, 16);
        put16(buf + reloc + SYN_RELOC_BLOCK1 + 8, IMAGE_REL_BASED_DIR64 << 12 | 0x010);
        put16(buf + reloc + SYN_RELOC_BLOCK1 + 10, IMAGE_REL_BASED_DIR64 << 12 | 0x023);
        put16(buf + reloc + SYN_RELOC_BLOCK1 + 12, IMAGE_REL_BASED_DIR64 << 12 | 0x1f8);
        put16(buf + reloc + SYN_RELOC_BLOCK1 + 14, IMAGE_REL_BASED_DIR64 << 12 | 0xff8);
        put32(buf + reloc + SYN_RELOC_BLOCK2, 0x4000);
        put32(buf + reloc + SYN_RELOC_BLOCK2 + 4, 12);
        put16(buf + reloc + SYN_RELOC_BLOCK2 + 8, IMAGE_REL_BASED_DIR64 << 12 | 0x008);
        put16(buf + reloc + SYN_RELOC_BLOCK2 + 10, IMAGE_REL_BASED_ABSOLUTE << 12);
        put32(buf + reloc + SYN_RELOC_BLOCK3, 0);
        put32(buf + reloc + SYN_RELOC_BLOCK3 + 4, 10);
        put16(buf + reloc + SYN_RELOC_BLOCK3 + 8, IMAGE_REL_BASED_ABSOLUTE << 12);

        memset(buf + SYN_FILE_SIZE - SYN_TRAILER_SIZE, 0xee, SYN_TRAILER_SIZE);
        return buf;
}

/* ---- helpers on the code under test ---- */

static bool all_equal(const uint8_t *p, size_t n, uint8_t value)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != value)
                        return false;
        return true;
}

/* Loads into an exactly sized buffer followed by a canary, prefilled with garbage so that missing zero
 * fill shows. Returns the buffer (image_size + CANARY_SIZE bytes) or NULL on error. */
static uint8_t *load_at(const uint8_t *file, size_t file_size, uint64_t address, struct pe_loaded *ret,
                        int *ret_r)
{
        size_t image_size, alignment;
        uint8_t *dest;
        int r;

        r = pe_loader_inspect(file, file_size, &image_size, &alignment);
        if (r < 0) {
                *ret_r = r;
                return NULL;
        }
        dest = xmalloc(image_size + CANARY_SIZE);
        memset(dest, 0x5a, image_size);
        memset(dest + image_size, CANARY, CANARY_SIZE);
        r = pe_loader_load(file, file_size, dest, image_size, address, ret);
        *ret_r = r;
        if (r < 0) {
                free(dest);
                return NULL;
        }
        return dest;
}

/* Both entry points on a copy in an exactly sized buffer, with outputs that must stay untouched. dest_size
 * is what the intact image needs, so that only the damage can make the load fail. */
static void expect_error(const uint8_t *buf, size_t size, size_t dest_size, int expected, const char *what)
{
        uint8_t *copy = dup_exact(buf, size);
        size_t image_size = SENTINEL, alignment = SENTINEL;
        struct pe_loaded loaded, untouched;
        uint8_t *dest;
        int r;

        r = pe_loader_inspect(copy, size, &image_size, &alignment);
        check(expected == ANY_ERROR ? r < 0 : r == expected, "%s: inspect gave %d, expected %d", what, r,
              expected);
        check(image_size == SENTINEL && alignment == SENTINEL, "%s: inspect wrote its outputs on error",
              what);

        dest = xmalloc(dest_size);
        memset(dest, 0x33, dest_size);
        memset(&loaded, 0x77, sizeof(loaded));
        untouched = loaded;
        r = pe_loader_load(copy, size, dest, dest_size, load_addresses[1], &loaded);
        check(expected == ANY_ERROR ? r < 0 : r == expected, "%s: load gave %d, expected %d", what, r,
              expected);
        check(memcmp(&loaded, &untouched, sizeof(loaded)) == 0, "%s: load wrote its output on error", what);
        check(all_equal(dest, dest_size, 0x33), "%s: load wrote to dest on error", what);

        free(dest);
        free(copy);
}

/* The image as a loader must lay it out, built here byte by byte from the raw header fields: headers,
 * each section's file bytes, zeros everywhere else. */
static void check_layout(const uint8_t *file, const uint8_t *dest, size_t image_size, const char *what)
{
        uint8_t *expected = calloc(1, image_size);
        size_t headers = get32(file + OPT(file) + OPT_SIZE_OF_HEADERS);

        if (!expected)
                abort();
        memcpy(expected, file, headers);
        for (size_t i = 0; i < n_sections(file); i++) {
                uint32_t va = section_field(file, i, SEC_VA), vsize = section_field(file, i, SEC_VSIZE);
                uint32_t raw = section_field(file, i, SEC_RAW_SIZE),
                         ptr = section_field(file, i, SEC_RAW_PTR);

                memcpy(expected + va, file + ptr, vsize < raw ? vsize : raw);
        }
        check(memcmp(expected, dest, image_size) == 0, "%s: image differs from the file's layout", what);
        check(all_equal(dest + image_size, CANARY_SIZE, CANARY), "%s: written past the image", what);
        free(expected);
}

static void check_description(const uint8_t *file, const struct pe_loaded *l, const char *what)
{
        uint32_t size_of_image = get32(file + OPT(file) + OPT_SIZE_OF_IMAGE);
        uint32_t alignment = get32(file + OPT(file) + OPT_SECTION_ALIGNMENT);

        check(l->image_size == (size_of_image + alignment - 1) / alignment * alignment, "%s: image size %zu",
              what, l->image_size);
        check(l->entry_point == get32(file + OPT(file) + OPT_ENTRY), "%s: entry %" PRIx32, what,
              l->entry_point);
        check(l->nx_compat == ((get16(file + OPT(file) + OPT_DLL_CHARACTERISTICS) &
                                IMAGE_DLLCHARACTERISTICS_NX_COMPAT) != 0),
              "%s: nx_compat", what);
        check(l->n_sections == n_sections(file), "%s: %zu sections", what, l->n_sections);
        for (size_t i = 0; i < l->n_sections && i < n_sections(file); i++) {
                check(l->sections[i].rva == section_field(file, i, SEC_VA), "%s: section %zu rva", what, i);
                check(l->sections[i].size == section_field(file, i, SEC_VSIZE), "%s: section %zu size", what,
                      i);
                check(l->sections[i].characteristics == section_field(file, i, SEC_CHARACTERISTICS),
                      "%s: section %zu characteristics", what, i);
        }
}

/* ---- the synthetic image ---- */

static void test_synthetic_load(void)
{
        uint8_t *file = build_synthetic();
        uint8_t *images[2];
        struct pe_loaded loaded[2];
        size_t image_size = 0, alignment = 0;
        int r;

        r = pe_loader_inspect(file, SYN_FILE_SIZE, &image_size, &alignment);
        check(r == 0, "inspect: %d", r);
        check(image_size == SYN_IMAGE_SIZE && alignment == SYN_ALIGNMENT, "%zu %zu", image_size, alignment);

        for (size_t a = 0; a < 2; a++) {
                uint64_t delta = load_addresses[a] - SYN_IMAGE_BASE;
                uint8_t *unrelocated;

                images[a] = load_at(file, SYN_FILE_SIZE, load_addresses[a], &loaded[a], &r);
                check(images[a], "synthetic at %" PRIx64 ": %d", load_addresses[a], r);
                if (!images[a])
                        continue;
                check_description(file, &loaded[a], "synthetic");
                check(loaded[a].nx_compat, "synthetic sets NX_COMPAT");

                /* Undo exactly the expected relocations: what remains must be the plain layout. */
                unrelocated = dup_exact(images[a], SYN_IMAGE_SIZE + CANARY_SIZE);
                for (size_t i = 0; i < sizeof(syn_reloc_targets) / sizeof(syn_reloc_targets[0]); i++)
                        put64(unrelocated + syn_reloc_targets[i],
                              get64(unrelocated + syn_reloc_targets[i]) - delta);
                check_layout(file, unrelocated, SYN_IMAGE_SIZE, "synthetic");
                free(unrelocated);

                check(get64(images[a] + 0x2010) == load_addresses[a] + SYN_ENTRY,
                      "pointer to the entry point");
                check(get64(images[a] + 0x21f8) == load_addresses[a] + 0x2000,
                      "pointer at the end of the file data");
                check(get64(images[a] + 0x2ff8) == delta, "slot in zero fill");
                check(get64(images[a] + 0x4008) == delta, "slot in .bss");
        }

        /* Between the two loads only the eight bytes of each relocated slot differ. */
        if (images[0] && images[1])
                for (size_t off = 0; off < SYN_IMAGE_SIZE; off++) {
                        bool in_slot = false;

                        for (size_t i = 0; i < sizeof(syn_reloc_targets) / sizeof(syn_reloc_targets[0]); i++)
                                in_slot |= off >= syn_reloc_targets[i] && off < syn_reloc_targets[i] + 8;
                        if (!in_slot && images[0][off] != images[1][off]) {
                                check(false, "byte %zx differs between load addresses", off);
                                break;
                        }
                }

        free(images[0]);
        free(images[1]);
        free(file);
}

/* binutils reads the synthetic image's relocations as we meant them: an independent view of the table. */
static void test_synthetic_objdump(void)
{
        char path[] = "/tmp/test-pe-loader-XXXXXX", cmd[128], line[256];
        uint8_t *file = build_synthetic();
        size_t n_found = 0, n_dir64 = 0;
        FILE *f, *p;
        int fd;

        fd = mkstemp(path);
        f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f || fwrite(file, 1, SYN_FILE_SIZE, f) != SYN_FILE_SIZE) {
                check(false, "cannot write %s", path);
                free(file);
                return;
        }
        fclose(f);

        snprintf(cmd, sizeof(cmd), "objdump -p '%s' 2>/dev/null", path);
        p = popen(cmd, "r");
        while (p && fgets(line, sizeof(line), p)) {
                unsigned offset, rva;
                char type[16];

                /* "\treloc    0 offset   10 [2010] DIR64" */
                if (sscanf(line, " reloc %*u offset %x [%x] %15s", &offset, &rva, type) != 3)
                        continue;
                n_found++;
                if (strcmp(type, "DIR64") != 0)
                        continue;
                for (size_t i = 0; i < sizeof(syn_reloc_targets) / sizeof(syn_reloc_targets[0]); i++)
                        n_dir64 += rva == syn_reloc_targets[i];
        }
        if (!p || pclose(p) != 0 || n_found == 0)
                check(false,
                      "objdump (binutils) not usable: it is the oracle of the relocation cross-check");
        else
                check(n_dir64 == sizeof(syn_reloc_targets) / sizeof(syn_reloc_targets[0]),
                      "objdump lists %zu of our DIR64 targets (%zu entries)", n_dir64, n_found);
        unlink(path);
        free(file);
}

static uint8_t *syn_with(void (*mutate)(uint8_t *buf))
{
        uint8_t *buf = build_synthetic();

        mutate(buf);
        return buf;
}

#define SYN_MUTATION(name, body)                                                                            \
        static void mutate_##name(uint8_t *buf)                                                             \
        {                                                                                                   \
                body;                                                                                       \
        }

#define RELOC(buf)     ((buf) + syn_sections[SYN_RELOC].raw_ptr)
#define RELOC_DIR(buf) ((buf) + OPT(buf) + OPT_DATA_DIRECTORY + IMAGE_DIRECTORY_ENTRY_BASERELOC * 8)

SYN_MUTATION(block_size_zero, put32(RELOC(buf) + SYN_RELOC_BLOCK2 + 4, 0))
SYN_MUTATION(block_size_small, put32(RELOC(buf) + SYN_RELOC_BLOCK2 + 4, 7))
SYN_MUTATION(block_size_odd, put32(RELOC(buf) + SYN_RELOC_BLOCK2 + 4, 13))
/* The last block, 11 bytes in an 11-byte remainder: half an entry. */
SYN_MUTATION(block_size_odd_last, put32(RELOC(buf) + SYN_RELOC_BLOCK3 + 4, 11);
             put32(buf + SECTION(buf, SYN_RELOC) + SEC_VSIZE, SYN_RELOC_DIR_SIZE + 1);
             put32(RELOC_DIR(buf) + 4, SYN_RELOC_DIR_SIZE + 1))
SYN_MUTATION(block_size_past_dir, put32(RELOC(buf) + SYN_RELOC_BLOCK3 + 4, 12))
SYN_MUTATION(block_size_huge, put32(RELOC(buf) + SYN_RELOC_BLOCK1 + 4, UINT32_MAX))
SYN_MUTATION(dir_trailing_bytes, put32(RELOC_DIR(buf) + 4, SYN_RELOC_DIR_SIZE + 4))
SYN_MUTATION(dir_size_huge, put32(RELOC_DIR(buf) + 4, UINT32_MAX))
SYN_MUTATION(dir_outside_sections, put32(RELOC_DIR(buf), SYN_IMAGE_SIZE + 0x1000))
SYN_MUTATION(dir_va_huge, put32(RELOC_DIR(buf), UINT32_MAX - 4))
SYN_MUTATION(dir_in_headers, put32(RELOC_DIR(buf), 0x100))
/* In .data, but past its file data: the table must come from the file. */
SYN_MUTATION(dir_in_zero_fill, put32(RELOC_DIR(buf), 0x2400))
SYN_MUTATION(dir_straddles_file_data, put32(RELOC_DIR(buf), 0x2200 - 16))
SYN_MUTATION(reloc_highlow, put16(RELOC(buf) + SYN_RELOC_BLOCK1 + 8, IMAGE_REL_BASED_HIGHLOW << 12 | 0x10))
SYN_MUTATION(reloc_type_15, put16(RELOC(buf) + SYN_RELOC_BLOCK2 + 10, 15 << 12))
SYN_MUTATION(reloc_target_straddles_end,
             put16(RELOC(buf) + SYN_RELOC_BLOCK2 + 8, IMAGE_REL_BASED_DIR64 << 12 | 0xffc))
SYN_MUTATION(reloc_page_past_image, put32(RELOC(buf) + SYN_RELOC_BLOCK1, SYN_IMAGE_SIZE))
SYN_MUTATION(reloc_page_huge, put32(RELOC(buf) + SYN_RELOC_BLOCK1, UINT32_MAX & ~0xfffu))
SYN_MUTATION(relocs_stripped, put16(buf + COFF(buf) + COFF_CHARACTERISTICS,
                                    IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_RELOCS_STRIPPED))
SYN_MUTATION(entry_in_data, put32(buf + OPT(buf) + OPT_ENTRY, 0x2010))
SYN_MUTATION(entry_in_zero_fill_of_code, put32(buf + OPT(buf) + OPT_ENTRY, 0x17ff))
SYN_MUTATION(entry_past_code, put32(buf + OPT(buf) + OPT_ENTRY, 0x1800))
SYN_MUTATION(entry_zero, put32(buf + OPT(buf) + OPT_ENTRY, 0))
SYN_MUTATION(entry_huge, put32(buf + OPT(buf) + OPT_ENTRY, UINT32_MAX))
/* .bss moved onto .text: listed last, overlapping the first. */
SYN_MUTATION(sections_unordered, put32(buf + SECTION(buf, SYN_BSS) + SEC_VA, 0x1000))
SYN_MUTATION(sections_overlap, put32(buf + SECTION(buf, SYN_TEXT) + SEC_VSIZE, 0x1001))
SYN_MUTATION(section_unaligned, put32(buf + SECTION(buf, SYN_DATA) + SEC_VA, 0x2200);
             put32(buf + SECTION(buf, SYN_DATA) + SEC_VSIZE, 0xe00))
SYN_MUTATION(section_over_headers, put32(buf + SECTION(buf, SYN_TEXT) + SEC_VA, 0))
SYN_MUTATION(section_past_image, put32(buf + SECTION(buf, SYN_BSS) + SEC_VSIZE, 0x1001))
SYN_MUTATION(section_va_overflow, put32(buf + SECTION(buf, SYN_BSS) + SEC_VA, UINT32_MAX & ~0xfffu);
             put32(buf + SECTION(buf, SYN_BSS) + SEC_VSIZE, 0x2000))
SYN_MUTATION(section_raw_overflow, put32(buf + SECTION(buf, SYN_DATA) + SEC_RAW_PTR, UINT32_MAX - 0x100))
SYN_MUTATION(section_raw_size_huge, put32(buf + SECTION(buf, SYN_DATA) + SEC_RAW_SIZE, UINT32_MAX))
SYN_MUTATION(alignment_zero, put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0))
SYN_MUTATION(alignment_not_power_of_2, put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0x1800))
SYN_MUTATION(alignment_small, put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0x200))
SYN_MUTATION(alignment_huge, put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0x80000000u))
SYN_MUTATION(image_size_zero, put32(buf + OPT(buf) + OPT_SIZE_OF_IMAGE, 0))
SYN_MUTATION(image_size_huge, put32(buf + OPT(buf) + OPT_SIZE_OF_IMAGE, 0xfffff000u))
SYN_MUTATION(headers_size_huge, put32(buf + OPT(buf) + OPT_SIZE_OF_HEADERS, UINT32_MAX))
SYN_MUTATION(machine_i386, put16(buf + COFF(buf) + COFF_MACHINE, 0x014c))
SYN_MUTATION(machine_arm64, put16(buf + COFF(buf) + COFF_MACHINE, IMAGE_FILE_MACHINE_ARM64))
SYN_MUTATION(pe32, put16(buf + OPT(buf), 0x10b))
SYN_MUTATION(subsystem, put16(buf + OPT(buf) + OPT_SUBSYSTEM, 3))
SYN_MUTATION(image_version_0, put16(buf + OPT(buf) + OPT_MAJOR_IMAGE_VERSION, 0))
SYN_MUTATION(no_mz, buf[0] = 'X')
SYN_MUTATION(no_pe, buf[SYN_LFANEW] = 'X')
SYN_MUTATION(lfanew_huge, put32(buf + 0x3c, UINT32_MAX & ~7u))
SYN_MUTATION(sections_many, put16(buf + COFF(buf) + COFF_NUMBER_OF_SECTIONS, UINT16_MAX))
SYN_MUTATION(optional_header_short, put16(buf + COFF(buf) + COFF_SIZE_OF_OPTIONAL, 100))
SYN_MUTATION(rva_count_huge, put32(buf + OPT(buf) + OPT_NUMBER_OF_RVA_AND_SIZES, UINT32_MAX))

static const struct {
        const char *name;
        void (*mutate)(uint8_t *buf);
        int expected;
} syn_errors[] = {
        {"block size 0", mutate_block_size_zero, -PE_EBADMSG},
        {"block size 7", mutate_block_size_small, -PE_EBADMSG},
        {"block size odd", mutate_block_size_odd, -PE_EBADMSG},
        {"last block size odd", mutate_block_size_odd_last, -PE_EBADMSG},
        {"block past the directory", mutate_block_size_past_dir, -PE_EBADMSG},
        {"block size 2^32-1", mutate_block_size_huge, -PE_EBADMSG},
        {"directory with trailing bytes", mutate_dir_trailing_bytes, -PE_EBADMSG},
        {"directory size 2^32-1", mutate_dir_size_huge, -PE_EBADMSG},
        {"directory outside sections", mutate_dir_outside_sections, -PE_EBADMSG},
        {"directory at 2^32-5", mutate_dir_va_huge, -PE_EBADMSG},
        {"directory in the headers", mutate_dir_in_headers, -PE_EBADMSG},
        {"directory in zero fill", mutate_dir_in_zero_fill, -PE_EBADMSG},
        {"directory straddling file data", mutate_dir_straddles_file_data, -PE_EBADMSG},
        {"HIGHLOW relocation", mutate_reloc_highlow, -PE_EOPNOTSUPP},
        {"relocation type 15", mutate_reloc_type_15, -PE_EOPNOTSUPP},
        {"relocation across the image end", mutate_reloc_target_straddles_end, -PE_EBADMSG},
        {"relocation page past the image", mutate_reloc_page_past_image, -PE_EBADMSG},
        {"relocation page near 2^32", mutate_reloc_page_huge, -PE_EBADMSG},
        {"entry in data", mutate_entry_in_data, -PE_EBADMSG},
        {"entry past code", mutate_entry_past_code, -PE_EBADMSG},
        {"entry 0", mutate_entry_zero, -PE_EBADMSG},
        {"entry 2^32-1", mutate_entry_huge, -PE_EBADMSG},
        {"a later section over an earlier one", mutate_sections_unordered, -PE_EBADMSG},
        {"sections overlapping", mutate_sections_overlap, -PE_EBADMSG},
        {"section not aligned", mutate_section_unaligned, -PE_EBADMSG},
        {"section over the headers", mutate_section_over_headers, -PE_EBADMSG},
        {"section past SizeOfImage", mutate_section_past_image, -PE_EBADMSG},
        {"section VirtualAddress overflow", mutate_section_va_overflow, -PE_EBADMSG},
        {"section raw data overflow", mutate_section_raw_overflow, -PE_EBADMSG},
        {"section SizeOfRawData 2^32-1", mutate_section_raw_size_huge, -PE_EBADMSG},
        {"SectionAlignment 0", mutate_alignment_zero, -PE_EBADMSG},
        {"SectionAlignment 0x1800", mutate_alignment_not_power_of_2, -PE_EBADMSG},
        {"SectionAlignment 0x200", mutate_alignment_small, -PE_EOPNOTSUPP},
        {"SectionAlignment 2^31", mutate_alignment_huge, -PE_EOPNOTSUPP},
        {"SizeOfImage 0", mutate_image_size_zero, ANY_ERROR},
        {"SizeOfImage 4 GiB - 4 KiB", mutate_image_size_huge, -PE_EBADMSG},
        {"SizeOfHeaders 2^32-1", mutate_headers_size_huge, ANY_ERROR},
        {"machine i386", mutate_machine_i386, -PE_EOPNOTSUPP},
        {"machine arm64", mutate_machine_arm64, -PE_EOPNOTSUPP},
        {"PE32", mutate_pe32, -PE_EOPNOTSUPP},
        {"subsystem console", mutate_subsystem, -PE_EOPNOTSUPP},
        {"MajorImageVersion 0", mutate_image_version_0, -PE_EOPNOTSUPP},
        {"no MZ", mutate_no_mz, -PE_ENOEXEC},
        {"no PE", mutate_no_pe, -PE_ENOEXEC},
        {"e_lfanew near 2^32", mutate_lfanew_huge, ANY_ERROR},
        {"65535 sections", mutate_sections_many, ANY_ERROR},
        {"short optional header", mutate_optional_header_short, ANY_ERROR},
        {"NumberOfRvaAndSizes 2^32-1", mutate_rva_count_huge, ANY_ERROR},
};

/* A table too short for a block header, ending where the file ends: reading a header there would
 * overrun the buffer. */
SYN_MUTATION(dir_stub_at_eof, put32(buf + SECTION(buf, SYN_RELOC) + SEC_VSIZE, 0x200);
             put32(RELOC_DIR(buf), syn_sections[SYN_RELOC].va + 0x200 - 4); put32(RELOC_DIR(buf) + 4, 4))

static void test_synthetic_errors(void)
{
        uint8_t *buf;

        for (size_t i = 0; i < sizeof(syn_errors) / sizeof(syn_errors[0]); i++) {
                buf = syn_with(syn_errors[i].mutate);
                expect_error(buf, SYN_FILE_SIZE, SYN_IMAGE_SIZE, syn_errors[i].expected, syn_errors[i].name);
                free(buf);
        }

        buf = syn_with(mutate_dir_stub_at_eof);
        expect_error(buf, SYN_FILE_SIZE - SYN_TRAILER_SIZE, SYN_IMAGE_SIZE, -PE_EBADMSG,
                     "4-byte table at EOF");
        free(buf);
}

/* Edge cases that must load: an empty relocation directory, an entry on the last byte of file data, and
 * the image at its own ImageBase even with relocations stripped. */
SYN_MUTATION(no_relocations, put32(RELOC_DIR(buf) + 4, 0))
SYN_MUTATION(entry_last_code_byte, put32(buf + OPT(buf) + OPT_ENTRY, 0x17ff - 0x400))
SYN_MUTATION(no_nx_compat,
             put16(buf + OPT(buf) + OPT_DLL_CHARACTERISTICS, IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE))
SYN_MUTATION(stripped_no_dir, mutate_relocs_stripped(buf); mutate_no_relocations(buf))

/* What Linux 5.10/5.15 look like: no NX_COMPAT, sub-page SectionAlignment, the section table out of
 * address order (.reloc and .compat before .text). */
SYN_MUTATION(old_kernel_alignment, mutate_no_nx_compat(buf); mutate_no_relocations(buf);
             put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0x20))
SYN_MUTATION(sections_reversed, {
        uint8_t tmp[40];
        mutate_no_relocations(buf);
        memcpy(tmp, buf + SECTION(buf, SYN_DATA), 40);
        memcpy(buf + SECTION(buf, SYN_DATA), buf + SECTION(buf, SYN_BSS), 40);
        memcpy(buf + SECTION(buf, SYN_BSS), tmp, 40);
})
SYN_MUTATION(nx_small_alignment, put32(buf + OPT(buf) + OPT_SECTION_ALIGNMENT, 0x20))

/* pe_loader_check()'s sentence names the requirement (what the stub and lanzatool print). */
static void expect_reason(void (*mutate)(uint8_t *buf), const char *needle, const char *what)
{
        uint8_t *buf = syn_with(mutate);
        const char *reason = NULL;
        int r = pe_loader_check(buf, SYN_FILE_SIZE, &reason);

        check(r < 0 && reason && strstr(reason, needle), "%s: %d, reason \"%s\"", what, r,
              reason ? reason : "");
        free(buf);
}

static void test_synthetic_old_kernels(void)
{
        struct pe_loaded loaded;
        uint8_t *buf, *image;
        const char *reason = "untouched";
        int r;

        buf = syn_with(mutate_old_kernel_alignment);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(image && !loaded.nx_compat, "SectionAlignment 0x20 without NX_COMPAT: %d", r);
        if (image)
                check_layout(buf, image, SYN_IMAGE_SIZE, "SectionAlignment 0x20");
        check(pe_loader_check(buf, SYN_FILE_SIZE, &reason) == 0 && strcmp(reason, "untouched") == 0,
              "check accepts it and leaves the reason alone");
        free(image);
        free(buf);

        buf = syn_with(mutate_sections_reversed);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[1], &loaded, &r);
        check(image, "section table not in address order: %d", r);
        if (image)
                check_layout(buf, image, SYN_IMAGE_SIZE, "section table not in address order");
        free(image);
        free(buf);

        expect_reason(mutate_nx_small_alignment, "NX_COMPAT", "NX_COMPAT with SectionAlignment 0x20");
        expect_reason(mutate_sections_overlap, "overlap", "overlapping sections");
        expect_reason(mutate_alignment_zero, "SectionAlignment", "SectionAlignment 0");
        expect_reason(mutate_image_size_huge, "SizeOfImage", "SizeOfImage 4 GiB - 4 KiB");
        expect_reason(mutate_image_version_0, "5.8", "MajorImageVersion 0");
        expect_reason(mutate_machine_arm64, "x86-64", "machine arm64");
        expect_reason(mutate_entry_in_data, "entry point", "entry in data");
        expect_reason(mutate_reloc_highlow, "DIR64", "HIGHLOW relocation");
        check(pe_loader_check(NULL, 0, NULL) == -PE_EINVAL, "NULL image, NULL reason");
}

static void test_synthetic_edges(void)
{
        uint8_t *buf, *image;
        struct pe_loaded loaded;
        int r;

        buf = syn_with(mutate_no_relocations);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(image, "no relocation directory: %d", r);
        if (image) {
                check_layout(buf, image, SYN_IMAGE_SIZE, "no relocation directory");
                check(get64(image + 0x2010) == SYN_IMAGE_BASE + SYN_ENTRY, "untouched without a directory");
        }
        free(image);
        free(buf);

        buf = syn_with(mutate_no_nx_compat);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(image && !loaded.nx_compat, "without NX_COMPAT: %d", r);
        free(image);
        free(buf);

        buf = syn_with(mutate_entry_last_code_byte);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(image && loaded.entry_point == 0x13ff, "entry on the last file byte of code: %d", r);
        free(image);
        free(buf);

        /* The entry may also lie in the zero fill of a code section: still inside it. */
        buf = syn_with(mutate_entry_in_zero_fill_of_code);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(image && loaded.entry_point == 0x17ff, "entry in code zero fill: %d", r);
        free(image);
        free(buf);

        buf = syn_with(mutate_stripped_no_dir);
        image = load_at(buf, SYN_FILE_SIZE, SYN_IMAGE_BASE, &loaded, &r);
        check(image, "stripped image at its ImageBase: %d", r);
        free(image);
        image = load_at(buf, SYN_FILE_SIZE, load_addresses[0], &loaded, &r);
        check(!image && r == -PE_EOPNOTSUPP, "stripped image elsewhere: %d", r);
        free(image);
        free(buf);

        buf = build_synthetic();
        {
                uint8_t dest[SYN_IMAGE_SIZE];
                size_t size = SENTINEL, alignment = SENTINEL;

                check(pe_loader_load(buf, SYN_FILE_SIZE, dest, SYN_IMAGE_SIZE - 1, load_addresses[0],
                                     &loaded) == -PE_EINVAL,
                      "destination one byte short");
                check(pe_loader_load(buf, SYN_FILE_SIZE, dest, SYN_IMAGE_SIZE, load_addresses[0] + 0x800,
                                     &loaded) == -PE_EINVAL,
                      "unaligned load address");
                check(pe_loader_load(NULL, SYN_FILE_SIZE, dest, SYN_IMAGE_SIZE, 0, &loaded) == -PE_EINVAL,
                      "no file");
                check(pe_loader_load(buf, SYN_FILE_SIZE, NULL, SYN_IMAGE_SIZE, 0, &loaded) == -PE_EINVAL,
                      "no dest");
                check(pe_loader_load(buf, SYN_FILE_SIZE, dest, SYN_IMAGE_SIZE, 0, NULL) == -PE_EINVAL,
                      "no ret");
                check(pe_loader_inspect(buf, SYN_FILE_SIZE, NULL, &alignment) == -PE_EINVAL,
                      "no ret_image_size");
                check(pe_loader_inspect(buf, SYN_FILE_SIZE, &size, NULL) == -PE_EINVAL, "no ret_alignment");
        }
        free(buf);
}

static void test_synthetic_truncated(void)
{
        uint8_t *file = build_synthetic();
        size_t needed = SYN_FILE_SIZE - SYN_TRAILER_SIZE;

        for (size_t n = 0; n <= SYN_FILE_SIZE; n++) {
                uint8_t *copy = dup_exact(file, n);
                size_t image_size, alignment;
                int r = pe_loader_inspect(copy, n, &image_size, &alignment);

                check(n < needed ? r < 0 : r == 0, "truncated to %zu: %d", n, r);
                if (n < needed)
                        expect_error(file, n, SYN_IMAGE_SIZE, ANY_ERROR, "truncated synthetic");
                free(copy);
        }
        free(file);
}

/* Random damage: whatever the loader says, it says it cleanly, and an image it accepts is consistent. */
static void fuzz_one(const uint8_t *file, size_t size, size_t span, size_t max_flips, uint64_t address)
{
        uint8_t *copy = dup_exact(file, size);
        size_t n_flips = 1 + rng_next() % max_flips, image_size, alignment;
        struct pe_loaded loaded;
        uint8_t *image;
        int r;

        for (size_t i = 0; i < n_flips; i++)
                copy[rng_next() % span] ^= (uint8_t)(1u << (rng_next() % 8));

        /* A flipped high bit of SizeOfImage is valid, just too big to fill every time. */
        if (pe_loader_inspect(copy, size, &image_size, &alignment) == 0 &&
            image_size > FUZZ_MAX_IMAGE_SIZE) {
                free(copy);
                return;
        }
        image = load_at(copy, size, address, &loaded, &r);
        if (image) {
                bool entry_ok = false;

                for (size_t i = 0; i < loaded.n_sections; i++) {
                        const struct pe_loaded_section *s = &loaded.sections[i];

                        check((uint64_t)s->rva + s->size <= loaded.image_size,
                              "fuzz: section past the image");
                        if (loaded.entry_point >= s->rva && loaded.entry_point - s->rva < s->size)
                                entry_ok = pe_loader_is_code(s->characteristics);
                }
                check(entry_ok, "fuzz: entry %" PRIx32 " not in code", loaded.entry_point);
                check(all_equal(image + loaded.image_size, CANARY_SIZE, CANARY),
                      "fuzz: written past the image");
        } else {
                check(r == -PE_ENOEXEC || r == -PE_EBADMSG || r == -PE_EOPNOTSUPP || r == -PE_EINVAL,
                      "fuzz: odd error %d", r);
        }
        free(image);
        free(copy);
}

static void test_synthetic_fuzz(void)
{
        uint8_t *file = build_synthetic();

        for (size_t i = 0; i < N_FUZZ_SYNTH; i++)
                fuzz_one(file, SYN_FILE_SIZE, SYN_FILE_SIZE, 4, load_addresses[i % 2]);
        free(file);
}

/* ---- the distribution kernel ---- */

static char *find_kernel(void)
{
        const char *env = getenv("LANZABOOTE_TEST_KERNEL"), *home = getenv("HOME");
        char pattern[PATH_MAX];
        char *found = NULL;
        glob_t g;

        if (env && *env)
                return strdup(env);
        if (!home)
                return NULL;
        snprintf(pattern, sizeof(pattern), "%s/.cache/lanzaboote-test/kernel/vmlinuz", home);
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0)
                found = strdup(g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
        return found;
}

/* The kernels of other Debian releases that test/vm/kernels.sh fetched into the VM cache; NULL when absent.
 */
static char *other_kernel(const char *suite)
{
        const char *cache = getenv("LANZABOOTE_TEST_CACHE"), *home = getenv("HOME");
        char path[PATH_MAX];

        if (cache && *cache)
                snprintf(path, sizeof(path), "%s/kernels/%s/vmlinuz", cache, suite);
        else if (home)
                snprintf(path, sizeof(path), "%s/.cache/lanzaboote-test/kernels/%s/vmlinuz", home, suite);
        else
                return NULL;
        return access(path, R_OK) == 0 ? strdup(path) : NULL;
}

/* objdump -p's view of the kernel headers; false when objdump is unusable. */
struct objdump_view {
        unsigned long long size_of_image, section_alignment, entry, image_base, dll_characteristics;
        unsigned long long major_image_version, reloc_dir_size;
};

static bool objdump_headers(const char *path, struct objdump_view *ret)
{
        static const struct {
                const char *key;
                size_t offset;
                int base;
        } keys[] = {
                {"SizeOfImage", offsetof(struct objdump_view, size_of_image), 16},
                {"SectionAlignment", offsetof(struct objdump_view, section_alignment), 16},
                {"AddressOfEntryPoint", offsetof(struct objdump_view, entry), 16},
                {"ImageBase", offsetof(struct objdump_view, image_base), 16},
                {"DllCharacteristics", offsetof(struct objdump_view, dll_characteristics), 16},
                {"MajorImageVersion", offsetof(struct objdump_view, major_image_version), 10},
        };
        struct objdump_view v = {};
        size_t n_found = 0;
        char cmd[PATH_MAX + 64], line[512];
        FILE *p;

        snprintf(cmd, sizeof(cmd), "objdump -p '%s' 2>/dev/null", path);
        p = popen(cmd, "r");
        if (!p)
                return false;
        while (fgets(line, sizeof(line), p)) {
                char key[64], value[64];
                unsigned long long va, size;

                /* "Entry 5 0000000000000000 00000000 Base Relocation Directory [.reloc]" */
                if (sscanf(line, "Entry 5 %llx %llx", &va, &size) == 2) {
                        v.reloc_dir_size = size;
                        continue;
                }
                if (sscanf(line, "%63s %63s", key, value) != 2)
                        continue;
                for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                        if (strcmp(key, keys[i].key) == 0) {
                                *(unsigned long long *)((char *)&v + keys[i].offset) =
                                        strtoull(value, NULL, keys[i].base);
                                n_found++;
                        }
        }
        if (pclose(p) != 0 || n_found != sizeof(keys) / sizeof(keys[0]))
                return false;
        *ret = v;
        return true;
}

static void test_kernel_objdump(const char *path, const uint8_t *file)
{
        struct objdump_view v;

        if (!objdump_headers(path, &v)) {
                check(false,
                      "objdump (binutils) not usable: it is the oracle of the kernel header cross-check");
                return;
        }
        check(v.size_of_image == get32(file + OPT(file) + OPT_SIZE_OF_IMAGE), "objdump SizeOfImage");
        check(v.section_alignment == get32(file + OPT(file) + OPT_SECTION_ALIGNMENT),
              "objdump SectionAlignment");
        check(v.entry == get32(file + OPT(file) + OPT_ENTRY), "objdump AddressOfEntryPoint");
        check(v.image_base == get64(file + OPT(file) + OPT_IMAGE_BASE), "objdump ImageBase");
        check(v.dll_characteristics == get16(file + OPT(file) + OPT_DLL_CHARACTERISTICS),
              "objdump DllCharacteristics");
        check(v.major_image_version == get16(file + OPT(file) + OPT_MAJOR_IMAGE_VERSION),
              "objdump MajorImageVersion");
        check(v.reloc_dir_size == reloc_dir_field(file, 4), "objdump relocation directory size");
        printf("kernel: SizeOfImage %#llx, SectionAlignment %#llx, entry %#llx, relocation directory %llu "
               "bytes\n",
               v.size_of_image, v.section_alignment, v.entry, v.reloc_dir_size);
}

/* The 8-byte slots the kernel's DIR64 relocations patch, from a plain walk of its table. */
static size_t kernel_reloc_targets(const uint8_t *file, uint32_t **ret)
{
        uint32_t dir_va = reloc_dir_field(file, 0), dir_size = reloc_dir_field(file, 4);
        uint32_t *targets = NULL;
        size_t n = 0;

        for (size_t i = 0; i < n_sections(file) && dir_size > 0; i++) {
                uint32_t va = section_field(file, i, SEC_VA);

                if (dir_va < va || dir_va - va >= section_field(file, i, SEC_RAW_SIZE))
                        continue;
                const uint8_t *t = file + section_field(file, i, SEC_RAW_PTR) + (dir_va - va);
                for (size_t off = 0; off + 8 <= dir_size;) {
                        uint32_t page = get32(t + off), block = get32(t + off + 4);

                        if (block < 8 || block > dir_size - off)
                                break;

                        for (size_t e = 8; e + 2 <= block; e += 2) {
                                uint16_t entry = get16(t + off + e);

                                if (entry >> 12 != IMAGE_REL_BASED_DIR64)
                                        continue;
                                targets = realloc(targets, (n + 1) * sizeof(*targets));
                                if (!targets)
                                        abort();
                                targets[n++] = page + (entry & 0xfff);
                        }
                        off += block;
                }
                break;
        }
        *ret = targets;
        return n;
}

static void test_kernel_load(const uint8_t *file, size_t size)
{
        uint8_t *images[2] = {};
        struct pe_loaded loaded[2];
        uint32_t *targets;
        size_t n_targets = kernel_reloc_targets(file, &targets);
        uint64_t image_base = get64(file + OPT(file) + OPT_IMAGE_BASE);
        int r;

        for (size_t a = 0; a < 2; a++) {
                images[a] = load_at(file, size, load_addresses[a], &loaded[a], &r);
                check(images[a], "kernel at %" PRIx64 ": %d", load_addresses[a], r);
                if (!images[a])
                        continue;
                check_description(file, &loaded[a], "kernel");
                if (n_targets == 0)
                        check_layout(file, images[a], loaded[a].image_size, "kernel");
                for (size_t i = 0; i < n_targets; i++) {
                        uint8_t *slot = images[a] + targets[i];

                        put64(slot, get64(slot) - (load_addresses[a] - image_base));
                }
                if (n_targets > 0)
                        check_layout(file, images[a], loaded[a].image_size, "kernel, relocations undone");
        }
        if (images[0] && images[1]) {
                check(loaded[0].image_size == loaded[1].image_size, "same size at both addresses");
                /* With the relocations undone (or none), both loads are the same bytes. */
                check(memcmp(images[0], images[1], loaded[0].image_size) == 0, "kernel loads differ");
        }
        printf("kernel: %zu DIR64 relocations\n", n_targets);
        free(targets);
        free(images[0]);
        free(images[1]);
}

/* The length below which the kernel cannot load: the end of the headers or of any section's file data. */
static size_t kernel_needed_size(const uint8_t *file)
{
        size_t needed = get32(file + OPT(file) + OPT_SIZE_OF_HEADERS);

        for (size_t i = 0; i < n_sections(file); i++) {
                size_t end =
                        (size_t)section_field(file, i, SEC_RAW_PTR) + section_field(file, i, SEC_RAW_SIZE);

                if (section_field(file, i, SEC_RAW_SIZE) > 0 && end > needed)
                        needed = end;
        }
        return needed;
}

static void test_kernel_truncated(const uint8_t *file, size_t size, size_t image_size)
{
        size_t needed = kernel_needed_size(file);
        size_t lengths[64], n = 0;

        lengths[n++] = 0;
        lengths[n++] = 1;
        lengths[n++] = 0x3f;
        lengths[n++] = 0x40;
        lengths[n++] = COFF(file) + 2;
        lengths[n++] = OPT(file) + 4;
        lengths[n++] = OPT(file) + OPT_DATA_DIRECTORY - 1;
        lengths[n++] = SECTION(file, n_sections(file)) - 1;
        lengths[n++] = get32(file + OPT(file) + OPT_SIZE_OF_HEADERS) - 1;
        for (size_t i = 0; i < n_sections(file) && n + 2 < sizeof(lengths) / sizeof(lengths[0]); i++)
                if (section_field(file, i, SEC_RAW_SIZE) > 0) {
                        lengths[n++] = section_field(file, i, SEC_RAW_PTR) + 1;
                        lengths[n++] = section_field(file, i, SEC_RAW_PTR) +
                                       section_field(file, i, SEC_RAW_SIZE) - 1;
                }
        lengths[n++] = needed - 1;
        for (size_t i = 0; i < n; i++)
                expect_error(file, lengths[i], image_size, ANY_ERROR, "truncated kernel");

        /* And a sweep over the whole file, with inspection only: loading 100 times is slow under ASan. */
        for (size_t len = 7; len < size; len += 65521) {
                uint8_t *copy = dup_exact(file, len);
                size_t isize, alignment;
                int r = pe_loader_inspect(copy, len, &isize, &alignment);

                check(len < needed ? r < 0 : r == 0, "kernel truncated to %zu: %d", len, r);
                free(copy);
        }
        /* Whatever follows the last section (the signature) is not needed. */
        if (needed < size) {
                struct pe_loaded loaded;
                uint8_t *image;
                int r;

                image = load_at(file, needed, load_addresses[0], &loaded, &r);
                check(image, "kernel without its trailer: %d", r);
                free(image);
        }
}

static void kernel_expect(const uint8_t *file, size_t size, size_t image_size,
                          void (*mutate)(uint8_t *buf, size_t size), int expected, const char *what)
{
        uint8_t *copy = dup_exact(file, size);

        mutate(copy, size);
        expect_error(copy, size, image_size, expected, what);
        free(copy);
}

static size_t kernel_code_section(const uint8_t *buf)
{
        for (size_t i = 0; i < n_sections(buf); i++)
                if (pe_loader_is_code(section_field(buf, i, SEC_CHARACTERISTICS)))
                        return i;
        return 0;
}

static size_t kernel_last_section(const uint8_t *buf)
{
        return n_sections(buf) - 1;
}

/* A relocation directory pointed at the start of the code section's file data, whose first bytes then
 * read as a block with the given size. */
static void kernel_bogus_block(uint8_t *buf, uint32_t block_size, uint32_t dir_size)
{
        size_t code = kernel_code_section(buf);
        uint8_t *t = buf + section_field(buf, code, SEC_RAW_PTR);

        put32(RELOC_DIR(buf), section_field(buf, code, SEC_VA));
        put32(RELOC_DIR(buf) + 4, dir_size);
        put32(t, section_field(buf, code, SEC_VA));
        put32(t + 4, block_size);
}

#define KERNEL_MUTATION(name, body)                                                                         \
        static void kmut_##name(uint8_t *buf, size_t size)                                                  \
        {                                                                                                   \
                (void)size;                                                                                 \
                body;                                                                                       \
        }

#define KERNEL_CODE(buf) SECTION(buf, kernel_code_section(buf))
#define KERNEL_LAST(buf) SECTION(buf, kernel_last_section(buf))

KERNEL_MUTATION(raw_ptr_past_eof, put32(buf + KERNEL_CODE(buf) + SEC_RAW_PTR, (uint32_t)size - 0x100))
KERNEL_MUTATION(raw_ptr_far, put32(buf + KERNEL_CODE(buf) + SEC_RAW_PTR, UINT32_MAX - 0x1ff))
KERNEL_MUTATION(image_size_short, put32(buf + OPT(buf) + OPT_SIZE_OF_IMAGE,
                                        get32(buf + KERNEL_LAST(buf) + SEC_VA) +
                                                get32(buf + KERNEL_LAST(buf) + SEC_VSIZE) - 1))
KERNEL_MUTATION(entry_outside,
                put32(buf + OPT(buf) + OPT_ENTRY, get32(buf + OPT(buf) + OPT_SIZE_OF_IMAGE) + 0x10))
KERNEL_MUTATION(entry_in_headers, put32(buf + OPT(buf) + OPT_ENTRY, 0x40))
KERNEL_MUTATION(machine, put16(buf + COFF(buf) + COFF_MACHINE, IMAGE_FILE_MACHINE_ARM64))
KERNEL_MUTATION(version, put16(buf + OPT(buf) + OPT_MAJOR_IMAGE_VERSION, 0))
KERNEL_MUTATION(vsize_overflow, put32(buf + KERNEL_LAST(buf) + SEC_VSIZE, UINT32_MAX))
KERNEL_MUTATION(raw_size_overflow, put32(buf + KERNEL_CODE(buf) + SEC_RAW_SIZE, UINT32_MAX))
KERNEL_MUTATION(block_zero, kernel_bogus_block(buf, 0, 64))
KERNEL_MUTATION(block_past_dir, kernel_bogus_block(buf, 72, 64))
KERNEL_MUTATION(block_huge, kernel_bogus_block(buf, UINT32_MAX - 1, 64))
KERNEL_MUTATION(dir_past_section,
                kernel_bogus_block(buf, 8, get32(buf + KERNEL_CODE(buf) + SEC_RAW_SIZE) + 8))

static void test_kernel_errors(const uint8_t *file, size_t size, size_t image_size)
{
        static const struct {
                const char *name;
                void (*mutate)(uint8_t *buf, size_t size);
                int expected;
        } cases[] = {
                {"kernel: code PointerToRawData near EOF", kmut_raw_ptr_past_eof, -PE_EBADMSG},
                {"kernel: code PointerToRawData near 2^32", kmut_raw_ptr_far, -PE_EBADMSG},
                {"kernel: SizeOfImage short of the last section", kmut_image_size_short, -PE_EBADMSG},
                {"kernel: entry past the image", kmut_entry_outside, -PE_EBADMSG},
                {"kernel: entry in the headers", kmut_entry_in_headers, -PE_EBADMSG},
                {"kernel: machine arm64", kmut_machine, -PE_EOPNOTSUPP},
                {"kernel: MajorImageVersion 0", kmut_version, -PE_EOPNOTSUPP},
                {"kernel: VirtualSize 2^32-1", kmut_vsize_overflow, -PE_EBADMSG},
                {"kernel: SizeOfRawData 2^32-1", kmut_raw_size_overflow, -PE_EBADMSG},
                {"kernel: relocation block size 0", kmut_block_zero, -PE_EBADMSG},
                {"kernel: relocation block past its directory", kmut_block_past_dir, -PE_EBADMSG},
                {"kernel: relocation block size 2^32-2", kmut_block_huge, -PE_EBADMSG},
                {"kernel: relocation directory past its section", kmut_dir_past_section, -PE_EBADMSG},
        };

        if (get32(file + OPT(file) + OPT_NUMBER_OF_RVA_AND_SIZES) <= IMAGE_DIRECTORY_ENTRY_BASERELOC) {
                printf("kernel has no relocation directory entry, relocation corruption tests skipped\n");
                return;
        }
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                kernel_expect(file, size, image_size, cases[i].mutate, cases[i].expected, cases[i].name);
}

static void test_kernel_fuzz(const uint8_t *file, size_t size)
{
        size_t headers = get32(file + OPT(file) + OPT_SIZE_OF_HEADERS);

        for (size_t i = 0; i < N_FUZZ_REAL; i++)
                fuzz_one(file, size, headers < size ? headers : size, 3, load_addresses[i % 2]);
}

/* Every kernel users run must pass the stub's check and load, headers as objdump reads them: Debian
 * bullseye (5.10: SectionAlignment 0x20, no NX_COMPAT), bookworm, trixie, sid. Absent ones are reported,
 * not failed: the VM harness fetches them (test/vm/kernels.sh), tools/test.sh before the unit tests. */
static void test_other_kernels(void)
{
        static const char *const suites[] = {"bullseye", "bookworm", "trixie", "sid"};

        for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
                char *path = other_kernel(suites[i]);
                const char *reason = NULL;
                uint8_t *kernel;
                size_t size;
                int r;

                kernel = path ? test_read_file(path, &size) : NULL;
                if (!kernel) {
                        printf("%s kernel: not fetched (run test/vm/run.sh stub-kernels), skipped\n",
                               suites[i]);
                        free(path);
                        continue;
                }
                r = pe_loader_check(kernel, size, &reason);
                check(r == 0, "%s kernel %s refused: %s", suites[i], path, reason ? reason : "?");
                if (r == 0) {
                        printf("%s kernel: %s, SectionAlignment 0x%x, NX_COMPAT %s\n", suites[i], path,
                               get32(kernel + OPT(kernel) + OPT_SECTION_ALIGNMENT),
                               get16(kernel + OPT(kernel) + OPT_DLL_CHARACTERISTICS) &
                                               IMAGE_DLLCHARACTERISTICS_NX_COMPAT
                                       ? "yes"
                                       : "no");
                        test_kernel_objdump(path, kernel);
                        test_kernel_load(kernel, size);
                }
                free(kernel);
                free(path);
        }
}

int main(void)
{
        size_t size = 0, image_size, alignment;
        uint8_t *kernel;
        char *path;
        int r;

        rng_seed(SEED);
        test_synthetic_load();
        test_synthetic_objdump();
        test_synthetic_errors();
        test_synthetic_edges();
        test_synthetic_old_kernels();
        test_synthetic_truncated();
        test_synthetic_fuzz();

        test_other_kernels();

        path = find_kernel();
        kernel = path ? test_read_file(path, &size) : NULL;
        if (!kernel) {
                printf("SKIP: no kernel (set LANZABOOTE_TEST_KERNEL or run the VM harness): kernel tests "
                       "skipped\n");
                free(path);
                return tests_finish() ? EXIT_FAILURE : EXIT_SKIP;
        }
        printf("kernel: %s, %zu bytes\n", path, size);

        r = pe_loader_inspect(kernel, size, &image_size, &alignment);
        check(r == 0, "%s does not load: %d", path, r);
        if (r == 0) {
                test_kernel_objdump(path, kernel);
                test_kernel_load(kernel, size);
                test_kernel_truncated(kernel, size, image_size);
                test_kernel_errors(kernel, size, image_size);
                test_kernel_fuzz(kernel, size);
        }

        free(kernel);
        free(path);
        return tests_finish();
}
