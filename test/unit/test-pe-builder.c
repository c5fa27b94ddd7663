/* SPDX-License-Identifier: MIT */
/* The stub builder, checked against oracles we did not write: objdump and python3-pefile must accept every
 * stub we build and see each added section with its exact size, place and bytes, and pefile must agree with
 * our CheckSum. Hostile inputs must fail cleanly, with a message. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pe-builder.h"
#include "pe-synth.h"
#include "pe.h"
#include "sha256.h"
#include "test-util.h"
#include "tests.h"

#define SEED   UINT64_C(0x70652d6275696c64)
#define N_FUZZ 3000

/* /usr/bin/python3: a python3 earlier on PATH (pyenv) may lack pefile. */
#define PYTHON3 "/usr/bin/python3"

static const char *const debian_files[] = {
        "/usr/lib/systemd/boot/efi/linuxx64.efi.stub",
        "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
};

/* Prints what pefile sees: the CheckSum verdict, the symbol table, the number of warnings, and every
 * section with the SHA-256 of its VirtualSize bytes. */
static const char pefile_script[] =
        "import hashlib, sys, pefile\n"
        "pe = pefile.PE(sys.argv[1])\n"
        "print('checksum', pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum())\n"
        "print('symbols', pe.FILE_HEADER.PointerToSymbolTable, pe.FILE_HEADER.NumberOfSymbols)\n"
        "print('alignment', pe.OPTIONAL_HEADER.SectionAlignment, pe.OPTIONAL_HEADER.FileAlignment)\n"
        "print('image', pe.OPTIONAL_HEADER.SizeOfImage)\n"
        "for s in pe.sections:\n"
        "    data = pe.__data__[s.PointerToRawData:s.PointerToRawData + s.Misc_VirtualSize]\n"
        "    print('section', s.Name.rstrip(b'\\0').decode(), s.Misc_VirtualSize, s.VirtualAddress,\n"
        "          s.SizeOfRawData, s.PointerToRawData, s.Characteristics, "
        "hashlib.sha256(data).hexdigest())\n"
        "print('warnings', len(pe.get_warnings()))\n";

static char tmpdir[] = "/tmp/test-pe-builder-XXXXXX";
/* The sections lanzatool adds, plus one large section whose size is not a FileAlignment multiple. */
struct payload {
        struct pe_builder_section sections[7];
        size_t n;
        uint8_t linuxh[32], initrdh[32];
        uint8_t *large;
};

static void payload_init(struct payload *p, size_t large_size)
{
        static const char osrel[] =
                "ID=nixos\nPRETTY_NAME=\"NixOS (Generation 42, 2024-01-01)\"\nVERSION_ID=42\n";
        static const char cmdline[] = "init=/nix/store/aaaa-nixos-system/init loglevel=4 lsm=landlock,yama";
        static const char linux_path[] = "\\EFI\\nixos\\kernel-6.1.0-abcdefghijklmnopqrstuvwxyz234567.efi";
        static const char initrd_path[] = "\\EFI\\nixos\\initrd-6.1.0-abcdefghijklmnopqrstuvwxyz234567.efi";

        for (size_t i = 0; i < 32; i++) {
                p->linuxh[i] = (uint8_t)(0xA0 + i);
                p->initrdh[i] = (uint8_t)(0x10 + i);
        }
        p->large = malloc(large_size ? large_size : 1);
        if (!p->large)
                abort();
        for (size_t i = 0; i < large_size; i++)
                p->large[i] = (uint8_t)rng_next();

        /* Without their NULs, as lanzatool writes them. */
        p->sections[0] = (struct pe_builder_section){".osrel", osrel, sizeof(osrel) - 1};
        p->sections[1] = (struct pe_builder_section){".cmdline", cmdline, sizeof(cmdline) - 1};
        p->sections[2] = (struct pe_builder_section){".linux", linux_path, sizeof(linux_path) - 1};
        p->sections[3] = (struct pe_builder_section){".initrd", initrd_path, sizeof(initrd_path) - 1};
        p->sections[4] = (struct pe_builder_section){".linuxh", p->linuxh, 32};
        p->sections[5] = (struct pe_builder_section){".initrdh", p->initrdh, 32};
        p->sections[6] = (struct pe_builder_section){".extra", p->large, large_size};
        p->n = 7;
}

/* The value after "key " on the line starting with key, or NULL. */
static const char *field(const char *output, const char *key)
{
        size_t n = strlen(key);

        for (const char *line = output; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, n) == 0 && line[n] == ' ')
                        return line + n + 1;
        return NULL;
}

static void check_with_pefile(const char *path, const char *input_path, const struct payload *p)
{
        char *out = NULL, *in = NULL, script[256], line[64];
        unsigned long section_alignment = 0, file_alignment = 0;

        snprintf(script, sizeof(script), "%s/pefile-dump.py", tmpdir);
        if (!test_write_file(script, pefile_script, strlen(pefile_script)))
                abort();

        check(run_command(&out, PYTHON3 " %s %s", script, path) == 0, "%s: pefile: %s", path, out);
        check(run_command(&in, PYTHON3 " %s %s", script, input_path) == 0, "%s: pefile: %s", input_path, in);
        check(field(out, "checksum") && strncmp(field(out, "checksum"), "True", 4) == 0,
              "%s: pefile CheckSum", path);
        check(field(out, "symbols") && strncmp(field(out, "symbols"), "0 0\n", 4) == 0,
              "%s: symbol table dropped", path);
        check(field(out, "warnings") && field(in, "warnings") &&
                      atoi(field(out, "warnings")) == atoi(field(in, "warnings")),
              "%s: pefile warns more than for the input:\n%s", path, out);
        if (field(out, "alignment"))
                sscanf(field(out, "alignment"), "%lu %lu", &section_alignment, &file_alignment);

        for (size_t i = 0; i < p->n; i++) {
                unsigned long vsize, va, raw, ptr, characteristics;
                uint8_t digest[SHA256_DIGEST_SIZE];
                char hex[2 * SHA256_DIGEST_SIZE + 1], seen[65] = "";
                const char *s;

                snprintf(line, sizeof(line), "section %s", p->sections[i].name);
                s = field(out, line);
                if (!s || sscanf(s, "%lu %lu %lu %lu %lu %64s", &vsize, &va, &raw, &ptr, &characteristics,
                                 seen) != 6) {
                        check(false, "%s: pefile does not list %s", path, p->sections[i].name);
                        continue;
                }
                sha256_digest(p->sections[i].data, p->sections[i].size, digest);
                to_hex(digest, hex);
                check(vsize == p->sections[i].size, "%s: %s VirtualSize %lu", path, p->sections[i].name,
                      vsize);
                check(strcmp(seen, hex) == 0, "%s: %s data as pefile sees it", path, p->sections[i].name);
                check(characteristics == PE_BUILDER_SECTION_CHARACTERISTICS, "%s: %s characteristics 0x%lx",
                      path, p->sections[i].name, characteristics);
                check(section_alignment && va % section_alignment == 0 && file_alignment &&
                              raw % file_alignment == 0 && ptr % file_alignment == 0 && raw >= vsize,
                      "%s: %s alignment", path, p->sections[i].name);
        }
        free(out);
        free(in);
}

static void check_with_objdump(const char *path, const struct payload *p)
{
        char *out = NULL, *headers = NULL;

        check(run_command(&out, "objdump -p %s", path) == 0 && !strstr(out, "warning") &&
                      !strstr(out, "rror"),
              "%s: objdump -p:\n%s", path, out);
        check(run_command(&headers, "objdump -h %s", path) == 0, "%s: objdump -h:\n%s", path, headers);

        for (size_t i = 0; i < p->n; i++) {
                char name[16];
                unsigned long size = 0;
                bool found = false;

                for (const char *line = headers; line;
                     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                        if (sscanf(line, "%*d %15s %lx", name, &size) == 2 &&
                            strcmp(name, p->sections[i].name) == 0) {
                                found = true;
                                break;
                        }
                check(found && size == p->sections[i].size, "%s: objdump sees %s with size %lu, want %zu",
                      path, p->sections[i].name, size, p->sections[i].size);
        }
        free(out);
        free(headers);
}

/* What we read back must be what we put in. */
static void check_read_back(const char *path, const struct payload *p)
{
        struct pe_section_copy copies[8];
        char *error = NULL;
        int r;

        for (size_t i = 0; i < p->n; i++)
                copies[i] = (struct pe_section_copy){.name = p->sections[i].name};
        copies[p->n] = (struct pe_section_copy){.name = ".pcrsig"};

        r = pe_read_sections(path, copies, p->n + 1, &error);
        check(r == 0, "%s: pe_read_sections: %d %s", path, r, error);
        if (r < 0)
                return;
        for (size_t i = 0; i < p->n; i++)
                check(copies[i].data && copies[i].size == p->sections[i].size &&
                              memcmp(copies[i].data, p->sections[i].data, copies[i].size) == 0 &&
                              copies[i].data[copies[i].size] == '\0',
                      "%s: read back %s", path, p->sections[i].name);
        check(copies[p->n].data == NULL && copies[p->n].size == 0, "%s: absent .pcrsig", path);
        pe_section_copies_free(copies, p->n + 1);
}

/* n: how many of the payload's sections fit in the stub's header room. */
static void test_stub(const char *stub_path, const char *label, size_t n)
{
        uint8_t *stub, *a = NULL, *b = NULL;
        size_t stub_size = 0, a_size = 0, b_size = 0;
        char path[256], *error = NULL;
        struct payload p;
        struct pe_image img;
        int r;

        stub = test_read_file(stub_path, &stub_size);
        check(stub != NULL, "%s: cannot read", stub_path);
        if (!stub)
                return;

        payload_init(&p, 100003);
        p.n = n;
        r = pe_builder_add_sections(stub, stub_size, p.sections, p.n, &a, &a_size, &error);
        check(r == 0, "%s: build: %d %s", stub_path, r, error);
        if (r < 0)
                return;
        r = pe_builder_add_sections(stub, stub_size, p.sections, p.n, &b, &b_size, &error);
        check(r == 0 && a_size == b_size && memcmp(a, b, a_size) == 0,
              "%s: byte-identical on a second build", stub_path);
        check(pe_parse(a, a_size, PE_LAYOUT_FILE, &img) == 0 && img.n_sections >= p.n,
              "%s: output parses with pe_parse", stub_path);

        snprintf(path, sizeof(path), "%s/%s.efi", tmpdir, label);
        check(test_write_file(path, a, a_size), "%s: write", path);
        check_with_objdump(path, &p);
        check_with_pefile(path, stub_path, &p);
        check_read_back(path, &p);
        printf("built %s from %s: %zu bytes, %zu sections added\n", label, stub_path, a_size, p.n);

        free(a);
        free(b);
        free(p.large);
        free(stub);
}

/* The stored CheckSum of Debian's binaries was computed by their linker: an independent oracle. */
static void test_checksum_of_debian_files(void)
{
        for (size_t i = 0; i < sizeof(debian_files) / sizeof(debian_files[0]); i++) {
                size_t size = 0;
                uint8_t *buf = test_read_file(debian_files[i], &size);
                struct pe_image img;

                if (!buf || pe_parse(buf, size, PE_LAYOUT_FILE, &img) < 0) {
                        check(false, "%s: cannot read or parse", debian_files[i]);
                        free(buf);
                        continue;
                }
                uint32_t sum = pe_builder_checksum(buf, size,
                                                   (const uint8_t *)&img.optional_header->CheckSum - buf);
                check(sum == img.optional_header->CheckSum, "%s: CheckSum 0x%08x, stored 0x%08x",
                      debian_files[i], sum, img.optional_header->CheckSum);
                printf("%s: CheckSum 0x%08x, stored 0x%08x\n", debian_files[i], sum,
                       img.optional_header->CheckSum);
                free(buf);
        }
}

/* Debian's systemd-boot carries an .osrel of its own: adding one is refused. */
static void test_systemd_boot(void)
{
        const struct pe_builder_section osrel = {".osrel", "ID=x\n", 5};
        uint8_t *buf, *out = NULL;
        size_t size = 0, out_size;
        char *error = NULL;
        int r;

        buf = test_read_file(debian_files[1], &size);
        check(buf != NULL, "%s: cannot read", debian_files[1]);
        if (!buf)
                return;
        r = pe_builder_add_sections(buf, size, &osrel, 1, &out, &out_size, &error);
        check(r == -EEXIST && error, "%s: .osrel again: %d %s", debian_files[1], r, error);
        printf("%s: refused, as it should: %s\n", debian_files[1], error);
        free(error);
        free(buf);
}

/* Builds with one section named name and data "x", expecting error; the message must exist. */
static void expect_failure(const uint8_t *stub, size_t size, const struct pe_builder_section *sections,
                           size_t n, int error, const char *what)
{
        uint8_t *out = (uint8_t *)"untouched";
        size_t out_size = 12345;
        char *message = NULL;
        int r;

        r = pe_builder_add_sections(stub, size, sections, n, &out, &out_size, &message);
        check(r == error && message && *message, "%s: got %d (%s), want %d", what, r, message ? message : "",
              error);
        check(out_size == 12345 && strcmp((char *)out, "untouched") == 0, "%s: outputs untouched on failure",
              what);
        if (message)
                printf("refused, as it should: %s: %s\n", what, message);
        free(message);
}

static struct pe_optional_header *optional_header(uint8_t *buf)
{
        return (struct pe_optional_header *)(buf + SYNTH_OPTIONAL_HEADER_OFFSET);
}

static struct pe_section_header *section_header(uint8_t *buf, size_t i)
{
        return (struct pe_section_header *)(buf + SYNTH_SECTION_TABLE_OFFSET +
                                            i * sizeof(struct pe_section_header));
}

static void test_malformed(void)
{
        static const struct synth_section two[] = {{".text", 0x300}, {".sbat", 0x80}};
        static const struct synth_section four[] = {{".a", 1}, {".b", 2}, {".c", 3}, {".d", 4}};
        static const struct synth_section profile[] = {{".text", 0x300}, {".profile", 0x10}};
        const struct pe_builder_section one = {".osrel", "ID=nixos\n", 9};
        const struct pe_builder_section twice[] = {{".osrel", "a", 1}, {".osrel", "b", 1}};
        const struct pe_builder_section three[] = {{".x", "a", 1}, {".y", "b", 1}, {".z", "c", 1}};
        const struct pe_builder_section sbat = {".sbat", "x", 1};
        const struct pe_builder_section long_name = {".toolong9", "x", 1};
        const struct pe_builder_section empty_name = {"", "x", 1};
        size_t size, size4;
        uint8_t *base = synth_pe(two, 2, &size), *buf, *full = synth_pe(four, 4, &size4);
        size_t size_profiled;
        uint8_t *profiled = synth_pe(profile, 2, &size_profiled);
        struct pe_builder_section huge = {".huge", "x", (size_t)UINT32_MAX + 1};
        struct pe_builder_section almost = {".almost", "x", 0xFFFFF900u};

        /* Truncated anywhere: never a success, never a read past the end (ASan). */
        for (size_t n = 0; n < size; n += (n < 0x200 ? 1 : 0x40)) {
                uint8_t *cut = malloc(n ? n : 1);
                uint8_t *out = NULL;
                size_t out_size;
                char *message = NULL;
                int r;

                memcpy(cut, base, n);
                r = pe_builder_add_sections(cut, n, &one, 1, &out, &out_size, &message);
                check(r < 0 && message, "truncated to %zu bytes: %d", n, r);
                free(message);
                free(cut);
        }

        expect_failure(base, size, &sbat, 1, -EEXIST, "section name already in the stub");
        expect_failure(profiled, size_profiled, &one, 1, -EOPNOTSUPP,
                       "a template the stub would refuse (.profile)");
        expect_failure(base, size, twice, 2, -EEXIST, "section name requested twice");
        expect_failure(base, size, &long_name, 1, -EINVAL, "9-character name");
        expect_failure(base, size, &empty_name, 1, -EINVAL, "empty name");
        expect_failure(full, size4, &one, 1, -ENOSPC, "no header room for one more section");
        expect_failure(base, size, three, 3, -ENOSPC, "header room for 2 sections, 3 asked");
        expect_failure(base, size, &huge, 1, -EOVERFLOW, "section of 4 GiB");
        expect_failure(base, size, &almost, 1, -EOVERFLOW, "VirtualAddress + size past 4 GiB");

        buf = malloc(size);
        memcpy(buf, base, size);
        optional_header(buf)->DataDirectory[IMAGE_DIRECTORY_ENTRY_SECURITY] =
                (struct pe_data_directory){.VirtualAddress = (uint32_t)size - 8, .Size = 8};
        expect_failure(buf, size, &one, 1, -EBADMSG, "signed stub");

        memcpy(buf, base, size);
        buf[SYNTH_SECTION_TABLE_OFFSET + 2 * sizeof(struct pe_section_header) + 5] = 0x01;
        expect_failure(buf, size, &one, 1, -ENOSPC, "header slack in use");

        memcpy(buf, base, size);
        optional_header(buf)->FileAlignment = 0x300;
        expect_failure(buf, size, &one, 1, -EBADMSG, "FileAlignment not a power of two");

        /* A section ending just below 4 GiB: the next address does not fit. */
        memcpy(buf, base, size);
        optional_header(buf)->SizeOfImage = 0xFFFFFFFF;
        section_header(buf, 1)->VirtualAddress = 0xFFFFFE00;
        expect_failure(buf, size, &one, 1, -EOVERFLOW, "no VirtualAddress left");
        free(buf);

        /* Unknown data after the last section, and a symbol table that does not describe it. */
        buf = calloc(size + 100, 1);
        memcpy(buf, base, size);
        memset(buf + size, 0xEE, 100);
        expect_failure(buf, size + 100, &one, 1, -EBADMSG, "unknown trailing data");
        ((struct pe_file_header *)(buf + SYNTH_FILE_HEADER_OFFSET))->PointerToSymbolTable = (uint32_t)size;
        ((struct pe_file_header *)(buf + SYNTH_FILE_HEADER_OFFSET))->NumberOfSymbols = 5;
        expect_failure(buf, size + 100, &one, 1, -EBADMSG, "trailing data not a symbol table");
        free(buf);

        free(base);
        free(full);
        free(profiled);
}

/* ".linux" and ".linuxh" are different names: neither blocks the other. */
static void test_exact_names(void)
{
        static const struct synth_section with_hash[] = {{".linuxh", 32}};
        const struct pe_builder_section add[] = {{".linux", "\\EFI\\k", 6}, {".cmdline", "quiet", 5}};
        struct pe_section_copy copies[] = {{.name = ".linux"}, {.name = ".linuxh"}, {.name = ".linu"}};
        size_t size, out_size;
        uint8_t *base = synth_pe(with_hash, 1, &size), *out = NULL;
        char *error = NULL;
        int r;

        r = pe_builder_add_sections(base, size, add, 2, &out, &out_size, &error);
        check(r == 0, ".linux next to .linuxh: %d %s", r, error);
        if (r == 0) {
                r = pe_get_sections(out, out_size, copies, 3, &error);
                check(r == 0 && copies[0].size == 6 && memcmp(copies[0].data, "\\EFI\\k", 6) == 0 &&
                              copies[1].size == 32 && copies[2].data == NULL,
                      "exact names read back: %d %s", r, error);
                if (r == 0)
                        pe_section_copies_free(copies, 3);
        }
        free(out);
        free(base);
}

static void test_reader_errors(void)
{
        static const struct synth_section dup[] = {{".linuxh", 32}, {".linuxh", 32}};
        struct pe_section_copy copies[] = {{.name = ".linuxh"}};
        char path[256], *error = NULL;
        size_t size;
        uint8_t *buf = synth_pe(dup, 2, &size);
        int r;

        r = pe_get_sections(buf, size, copies, 1, &error);
        check(r == -EBADMSG && error && copies[0].data == NULL, "duplicate .linuxh refused: %d %s", r,
              error);
        free(error);
        error = NULL;

        section_header(buf, 1)->VirtualSize = section_header(buf, 1)->SizeOfRawData + 1;
        optional_header(buf)->SizeOfImage += SYNTH_ALIGNMENT;
        section_header(buf, 1)->Name[1] = 'x';
        r = pe_get_sections(buf, size, copies, 1, &error);
        check(r == 0 && copies[0].size == 32, "one .linuxh left: %d %s", r, error);
        if (r == 0)
                pe_section_copies_free(copies, 1);
        copies[0].name = ".xinuxh";
        r = pe_get_sections(buf, size, copies, 1, &error);
        check(r == -EBADMSG && error, "VirtualSize beyond the raw data refused: %d %s", r, error);
        free(error);
        error = NULL;

        snprintf(path, sizeof(path), "%s/does-not-exist.efi", tmpdir);
        r = pe_read_sections(path, copies, 1, &error);
        check(r == -ENOENT && error && strstr(error, "No such file"), "missing file: %d %s", r, error);
        printf("missing file: %s\n", error);
        free(error);
        error = NULL;

        r = pe_read_sections(tmpdir, copies, 1, &error);
        check(r < 0 && error, "a directory: %d %s", r, error);
        free(error);
        free(buf);
}

/* Building on top of a built stub: its new sections count as existing ones. */
static void test_build_twice(void)
{
        static const struct synth_section one[] = {{".text", 0x1234}};
        const struct pe_builder_section first = {".osrel", "ID=a\n", 5};
        const struct pe_builder_section second[] = {{".cmdline", "", 0}, {".linux", "k", 1}};
        const struct pe_builder_section again = {".osrel", "x", 1};
        uint8_t *base, *a = NULL, *b = NULL;
        size_t size, a_size = 0, b_size = 0;
        struct pe_image img;
        char *error = NULL;
        int r;

        base = synth_pe(one, 1, &size);
        r = pe_builder_add_sections(base, size, &first, 1, &a, &a_size, &error);
        check(r == 0, "first build: %d %s", r, error);
        r = pe_builder_add_sections(a, a_size, second, 2, &b, &b_size, &error);
        check(r == 0, "build on a built stub, an empty section among them: %d %s", r, error);
        if (r == 0 && pe_parse(b, b_size, PE_LAYOUT_FILE, &img) == 0) {
                const struct pe_section_header *cmd = pe_find_section(&img, ".cmdline");
                const struct pe_section_header *lin = pe_find_section(&img, ".linux");

                check(img.n_sections == 4 && cmd && lin && cmd->VirtualSize == 0 &&
                              cmd->SizeOfRawData == 0 && lin->VirtualAddress > cmd->VirtualAddress,
                      "empty section keeps an address of its own");
                check(img.optional_header->SizeOfImage >= lin->VirtualAddress + lin->VirtualSize &&
                              img.optional_header->SizeOfImage % img.optional_header->SectionAlignment == 0,
                      "SizeOfImage covers the last section");
                check(b_size == (size_t)lin->PointerToRawData + lin->SizeOfRawData, "no trailing bytes");
        } else
                check(false, "second build parses");
        expect_failure(b, b_size, &again, 1, -EEXIST, "re-adding a built section");
        free(a);
        free(b);
        free(base);
}

/* Random damage to the headers of a built stub: a clean error or a stub that parses, never a crash. */
static void test_fuzz(void)
{
        static const struct synth_section two[] = {{".text", 0x280}, {".sbat", 0x40}};
        const struct pe_builder_section add[] = {{".osrel", "ID=x\n", 5},
                                                 {".linuxh", "0123456789abcdef0123456789abcdef", 32}};
        size_t size, ok = 0, refused = 0;
        uint8_t *base = synth_pe(two, 2, &size);

        for (unsigned i = 0; i < N_FUZZ; i++) {
                size_t n = size + (rng_next() % 3 == 0 ? rng_next() % 64 : 0);
                uint8_t *buf = calloc(n, 1), *out = NULL;
                size_t out_size;
                char *message = NULL;
                struct pe_image img;
                int r;

                memcpy(buf, base, size);
                for (unsigned k = 1 + rng_next() % 4; k > 0; k--)
                        buf[rng_next() % 0x200] = (uint8_t)rng_next();

                r = pe_builder_add_sections(buf, n, add, 2, &out, &out_size, &message);
                if (r == 0) {
                        ok++;
                        check(pe_parse(out, out_size, PE_LAYOUT_FILE, &img) == 0, "fuzz %u: output parses",
                              i);
                } else {
                        refused++;
                        check(message != NULL, "fuzz %u: error %d without a message", i, r);
                }
                free(message);
                free(out);
                free(buf);
        }
        printf("fuzz: %zu built, %zu refused\n", ok, refused);
        free(base);
}

int main(void)
{
        const char *lanzaboote_stub = getenv("LANZABOOTE_STUB");

        rng_seed(SEED);
        if (!mkdtemp(tmpdir))
                abort();

        test_checksum_of_debian_files();
        test_stub(debian_files[0], "debian-linuxx64-stub", 7);
        test_systemd_boot();
        if (lanzaboote_stub)
                test_stub(lanzaboote_stub, "lanzaboote-stub", 7);
        else
                printf("LANZABOOTE_STUB not set (built with -Defi=false): Debian's binaries only\n");
        test_malformed();
        test_exact_names();
        test_reader_errors();
        test_build_twice();
        test_fuzz();

        rm_rf(tmpdir);
        return tests_finish();
}
