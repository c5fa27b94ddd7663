/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "test-util.h"
#include "tests.h"

/* magic, inode 0, mode 0, uid 0, gid 0, nlink 1, mtime/filesize/dev/rdev 0, namesize 0xB, check 0 */
#define TRAILER                                                                                             \
        "070701"                                                                                            \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000001"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "00000000"                                                                                          \
        "0000000B"                                                                                          \
        "00000000"                                                                                          \
        "TRAILER!!!\0\0\0\0"

/* Builds an archive into a malloc'd buffer of exactly the announced size, so ASan sees any overrun. */
static uint8_t *build(const char *dir, uint32_t dir_mode, uint32_t file_mode, const struct cpio_file *files,
                      size_t n, size_t *ret_size)
{
        size_t size = 0;
        uint8_t *buf;
        int r;

        r = cpio_size(dir, files, n, &size);
        check(r == CPIO_OK, "cpio_size(%s) = %d", dir, r);
        if (r != CPIO_OK)
                return NULL;
        buf = malloc(size);
        if (!buf)
                abort();
        r = cpio_write(dir, dir_mode, file_mode, files, n, buf, size);
        check(r == CPIO_OK, "cpio_write(%s) = %d", dir, r);
        if (r != CPIO_OK) {
                free(buf);
                return NULL;
        }
        *ret_size = size;
        return buf;
}

/* The archive sd-stub builds for \EFI\Linux\x.efi.extra.d\{a.cred,bb.cred}, derived by hand from the
 * format: offsets in the comments count from the start of the archive. */
static void test_exact_bytes(void)
{
        static const char expected[] =
                /* 0: ".extra", inode 1, S_IFDIR|0555 = 0x416d, namesize 7 */
                "070701"
                "00000001"
                "0000416d"
                "00000000"
                "00000000"
                "00000001"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000007"
                "00000000"
                ".extra\0" /* 110 + 7 = 117, padded to 120 */
                "\0\0\0"
                /* 120: ".extra/credentials", inode 2, S_IFDIR|0500 = 0x4140, namesize 19 */
                "070701"
                "00000002"
                "00004140"
                "00000000"
                "00000000"
                "00000001"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "00000013"
                "00000000"
                ".extra/credentials\0" /* 249, padded to 252 */
                "\0\0\0"
                /* 252: inode 3, S_IFREG|0400 = 0x8100, filesize 2, namesize 18 + 1 + 6 + 1 = 26 */
                "070701"
                "00000003"
                "00008100"
                "00000000"
                "00000000"
                "00000001"
                "00000000"
                "00000002"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "0000001a"
                "00000000"
                ".extra/credentials/a.cred\0" /* 388, already aligned */
                "hi"
                "\0\0" /* 390, padded to 392 */
                /* 392: inode 4, filesize 4, namesize 27 */
                "070701"
                "00000004"
                "00008100"
                "00000000"
                "00000000"
                "00000001"
                "00000000"
                "00000004"
                "00000000"
                "00000000"
                "00000000"
                "00000000"
                "0000001b"
                "00000000"
                ".extra/credentials/bb.cred\0" /* 529, padded to 532 */
                "\0\0\0"
                "xyz1"   /* 536 */
                TRAILER; /* 660 */
        const struct cpio_file files[] = {
                {.name = "a.cred", .data = "hi", .size = 2},
                {.name = "bb.cred", .data = "xyz1", .size = 4},
        };
        size_t size = 0;
        uint8_t *buf = build(".extra/credentials", 0500, 0400, files, 2, &size);

        check(sizeof(expected) - 1 == 660, "the hand-derived archive is %zu bytes", sizeof(expected) - 1);
        check(buf && size == sizeof(expected) - 1, "size %zu", size);
        check(buf && memcmp(buf, expected, sizeof(expected) - 1) == 0, "bytes differ");
        free(buf);
}

static void test_trailer_only(void)
{
        /* No files: the directory entries and the trailer, as sd-stub builds when every matching file
         * turned out unreadable. */
        size_t size = 0;
        uint8_t *buf = build(".extra/sysext", 0555, 0444, NULL, 0, &size);

        check(buf && size == 120 + 124 + 124, "size %zu", size); /* 110+7->120, 110+14->124, trailer */
        check(buf && memcmp(buf + size - CPIO_TRAILER_SIZE, TRAILER, CPIO_TRAILER_SIZE) == 0, "trailer");
        free(buf);
}

/* ---- a small independent reader, for structure checks ---------------------------------------- */

struct entry {
        char name[300];
        uint32_t ino, mode, nlink, mtime, filesize, namesize;
        size_t data_off;
};

static int hex_field(const uint8_t *p, uint32_t *ret, bool allow_upper)
{
        uint32_t v = 0;

        for (int i = 0; i < 8; i++) {
                uint8_t c = p[i];
                if (c >= '0' && c <= '9')
                        v = v << 4 | (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = v << 4 | (c - 'a' + 10);
                else if (allow_upper && c >= 'A' && c <= 'F')
                        v = v << 4 | (c - 'A' + 10);
                else
                        return -1;
        }
        *ret = v;
        return 0;
}

static bool zeros(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* Returns the number of entries before the trailer, or -1 with a message when the archive breaks
 * a rule: lowercase hex, zero padding to 4 from the archive start, nothing after the trailer. */
static int parse(const uint8_t *buf, size_t size, struct entry *out, size_t max)
{
        size_t pos = 0, n = 0;

        for (;;) {
                uint32_t f[13];
                size_t name_off, end;
                bool trailer;

                if (pos % 4 != 0 || size - pos < 110 || memcmp(buf + pos, "070701", 6) != 0)
                        return fprintf(stderr, "bad header at %zu\n", pos), -1;
                trailer = size - pos == CPIO_TRAILER_SIZE;
                for (int i = 0; i < 13; i++)
                        if (hex_field(buf + pos + 6 + 8 * i, f + i, trailer && i == 11) < 0)
                                return fprintf(stderr, "bad field %d at %zu\n", i, pos), -1;
                name_off = pos + 110;
                if (f[11] == 0 || f[11] > size - name_off || buf[name_off + f[11] - 1] != 0)
                        return fprintf(stderr, "bad name at %zu\n", pos), -1;
                if (trailer) {
                        if (strcmp((const char *)buf + name_off, "TRAILER!!!") != 0 ||
                            !zeros(buf + pos + 121, 3))
                                return fprintf(stderr, "bad trailer\n"), -1;
                        return (int)n;
                }
                end = (name_off + f[11] + 3) / 4 * 4;
                if (end > size || !zeros(buf + name_off + f[11], end - name_off - f[11]))
                        return fprintf(stderr, "bad name padding at %zu\n", pos), -1;
                if (n == max || f[11] > sizeof(out[n].name))
                        return fprintf(stderr, "too many entries\n"), -1;
                out[n] = (struct entry){.ino = f[0],
                                        .mode = f[1],
                                        .nlink = f[4],
                                        .mtime = f[5],
                                        .filesize = f[6],
                                        .namesize = f[11],
                                        .data_off = end};
                memcpy(out[n].name, buf + name_off, f[11]);
                if (f[2] || f[3] || f[7] || f[8] || f[9] || f[10] || f[12])
                        return fprintf(stderr, "nonzero owner/dev/check at %zu\n", pos), -1;
                pos = end + f[6];
                end = (pos + 3) / 4 * 4;
                if (end > size || !zeros(buf + pos, end - pos))
                        return fprintf(stderr, "bad data padding at %zu\n", pos), -1;
                pos = end;
                n++;
        }
}

static void test_prefixes(void)
{
        static const struct {
                const char *dir;
                const char *names[4];
                uint32_t modes[4];
        } cases[] = {
                {".extra/credentials", {".extra", ".extra/credentials"}, {040555, 040500}},
                {"a/b/c", {"a", "a/b", "a/b/c"}, {040555, 040555, 040500}},
                {"single", {"single"}, {040500}},
                /* Empty components make no entry of their own, exactly as in sd-stub. */
                {"a//b", {"a", "a//b"}, {040555, 040500}},
                {"/x", {"/x"}, {040500}},
        };
        const struct cpio_file file = {.name = "f.cred", .data = "data", .size = 4};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct entry e[8];
                size_t size = 0, n_dirs = 0;
                uint8_t *buf = build(cases[i].dir, 0500, 0400, &file, 1, &size);
                int n = buf ? parse(buf, size, e, 8) : -1;

                while (n_dirs < 4 && cases[i].names[n_dirs])
                        n_dirs++;
                check(n == (int)n_dirs + 1, "%s: %d entries", cases[i].dir, n);
                for (size_t j = 0; n > 0 && j < n_dirs; j++) {
                        check(strcmp(e[j].name, cases[i].names[j]) == 0, "%s: entry %zu is %s", cases[i].dir,
                              j, e[j].name);
                        check(e[j].mode == cases[i].modes[j], "%s: mode %o", e[j].name, e[j].mode);
                        check(e[j].ino == j + 1 && e[j].nlink == 1 && e[j].mtime == 0 && e[j].filesize == 0,
                              "%s: fields", e[j].name);
                }
                if (n == (int)n_dirs + 1) {
                        char want[300];
                        snprintf(want, sizeof(want), "%s/f.cred", cases[i].dir);
                        check(strcmp(e[n_dirs].name, want) == 0, "file name %s", e[n_dirs].name);
                        check(e[n_dirs].ino == n_dirs + 1 && e[n_dirs].mode == 0100400, "file inode/mode");
                }
                free(buf);
        }
}

/* Every name length and data length modulo 4, with several files, keeps every header, name and
 * data aligned and every pad byte zero. */
static void test_padding(void)
{
        static const char *const names[] = {"a",     "ab",     "abc",     "abcd",
                                            "abcde", "abcdef", "abcdefg", "abcdefgh"};
        static const uint8_t payload[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

        for (size_t shift = 0; shift < 8; shift++) {
                struct cpio_file files[8];
                struct entry e[16];
                size_t size = 0;
                uint8_t *buf;
                int n;

                for (size_t i = 0; i < 8; i++)
                        files[i] = (struct cpio_file){.name = names[(i + shift) % 8],
                                                      .data = (i + shift) % 9 ? payload : NULL,
                                                      .size = (i + shift) % 9};
                buf = build("d", 0555, 0444, files, 8, &size);
                n = buf ? parse(buf, size, e, 16) : -1;
                check(n == 9, "shift %zu: %d entries", shift, n);
                check(size % 4 == 0, "size %zu", size);
                for (int j = 1; j < n; j++) {
                        check(e[j].data_off % 4 == 0, "data offset %zu", e[j].data_off);
                        check(e[j].filesize == files[j - 1].size, "filesize");
                        check(files[j - 1].size == 0 ||
                                      memcmp(buf + e[j].data_off, payload, e[j].filesize) == 0,
                              "data");
                        check(e[j].ino == (uint32_t)j + 1, "inode %u", e[j].ino);
                }
                free(buf);
        }
}

/* ---- GNU cpio as an independent reader ---------------------------------------------------------- */

static bool file_equals(const char *path, const void *data, size_t size)
{
        uint8_t buf[4096];
        FILE *f = fopen(path, "rb");
        size_t n;

        if (!f)
                return false;
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        return n == size && (size == 0 || memcmp(buf, data, size) == 0);
}

static size_t count_entries(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return SIZE_MAX;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void check_mode(const char *path, mode_t want)
{
        struct stat st;

        check(stat(path, &st) == 0, "stat %s", path);
        check((st.st_mode & 07777) == want, "%s: mode %o, want %o", path, (unsigned)(st.st_mode & 07777),
              (unsigned)want);
}

static void test_gnu_cpio(void)
{
        static const uint8_t binary[] = {0, 1, 2, 0xff, 0xfe, '\n', 0};
        const struct cpio_file files[] = {
                {.name = "A.cred", .data = "secret\n", .size = 7},
                {.name = "b.cred", .data = binary, .size = sizeof(binary)},
                {.name = "empty.cred", .data = NULL, .size = 0},
                {.name = "with space.cred", .data = "x", .size = 1},
        };
        char tmp[] = "/tmp/test-cpio.XXXXXX", cmd[512], path[512], err[4096] = "";
        size_t size = 0;
        uint8_t *buf = build(".extra/credentials", 0500, 0400, files, 4, &size);
        FILE *f;
        int r;

        if (!buf || !mkdtemp(tmp)) {
                check(false, "setup");
                free(buf);
                return;
        }
        snprintf(path, sizeof(path), "%s/archive.cpio", tmp);
        check(test_write_file(path, buf, size), "write %s", path);
        r = snprintf(
                cmd, sizeof(cmd),
                "mkdir %s/out && cd %s/out && cpio -idm --no-absolute-filenames --quiet <../archive.cpio "
                "2>../stderr",
                tmp, tmp);
        check(r > 0 && (size_t)r < sizeof(cmd), "command");
        r = system(cmd);
        check(r == 0, "cpio exited with %d", r);

        snprintf(path, sizeof(path), "%s/stderr", tmp);
        f = fopen(path, "r");
        if (f) {
                size_t n = fread(err, 1, sizeof(err) - 1, f);
                err[n] = 0;
                fclose(f);
        }
        check(err[0] == 0, "cpio complained: %s", err);

        snprintf(path, sizeof(path), "%s/out/.extra", tmp);
        check_mode(path, 0555);
        check(count_entries(path) == 1, "one entry in .extra");
        snprintf(path, sizeof(path), "%s/out/.extra/credentials", tmp);
        check_mode(path, 0500);
        check(count_entries(path) == 4, "four files");
        for (size_t i = 0; i < 4; i++) {
                struct stat st;

                snprintf(path, sizeof(path), "%s/out/.extra/credentials/%s", tmp, files[i].name);
                check_mode(path, 0400);
                check(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime == 0,
                      "%s: regular, mtime 0", path);
                check(file_equals(path, files[i].data, files[i].size), "%s: contents", path);
        }

        check(rm_rf(tmp) == 0, "cleanup");
        free(buf);
}

/* ---- refusals ------------------------------------------------------------------------------------ */

static void test_invalid(void)
{
        const struct cpio_file good = {.name = "x", .data = "", .size = 0};
        static const char *const bad_names[] = {"", ".", "..", "a/b", "/a", "caf\xc3\xa9"};
        uint8_t buf[1024];
        size_t size;

        check(cpio_size(NULL, &good, 1, &size) == CPIO_ERR_INVALID, "NULL dir");
        check(cpio_size("", &good, 1, &size) == CPIO_ERR_INVALID, "empty dir");
        check(cpio_size("d\xff", &good, 1, &size) == CPIO_ERR_INVALID, "non-ASCII dir");
        check(cpio_size("d", NULL, 1, &size) == CPIO_ERR_INVALID, "NULL files");
        check(cpio_size("d", &good, 1, NULL) == CPIO_ERR_INVALID, "NULL ret");
        check(cpio_write("d", 010000, 0400, &good, 1, buf, sizeof(buf)) == CPIO_ERR_INVALID, "dir mode");
        check(cpio_write("d", 0500, 0100400, &good, 1, buf, sizeof(buf)) == CPIO_ERR_INVALID, "file mode");
        check(cpio_write("d", 0500, 0400, &good, 1, NULL, sizeof(buf)) == CPIO_ERR_INVALID, "NULL buf");
        for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
                const struct cpio_file f = {.name = bad_names[i], .data = "", .size = 0};
                check(cpio_size("d", &f, 1, &size) == CPIO_ERR_INVALID, "name \"%s\"", bad_names[i]);
        }
        {
                const struct cpio_file f = {.name = NULL, .data = "", .size = 0};
                check(cpio_size("d", &f, 1, &size) == CPIO_ERR_INVALID, "NULL name");
        }
        {
                const struct cpio_file f = {.name = "x", .data = NULL, .size = 1};
                check(cpio_size("d", &f, 1, &size) == CPIO_ERR_INVALID, "NULL data");
        }
}

static void test_too_big(void)
{
        /* The data is never read when the sizes are refused, so a short buffer can stand in. */
        static const uint8_t dummy[1];
        const struct cpio_file huge = {.name = "x", .data = dummy, .size = (size_t)UINT32_MAX + 1};
        const struct cpio_file max = {.name = "x", .data = dummy, .size = UINT32_MAX};
        uint8_t buf[512];
        size_t size = 0;

        check(cpio_size("d", &huge, 1, &size) == CPIO_ERR_TOO_BIG,
              "a file over 4 GiB does not fit filesize");
        check(cpio_size("d", &max, 1, &size) == CPIO_OK, "UINT32_MAX bytes fit");
        /* "d": 110 + 2 -> 112; "d/x": 110 + 4 -> 116; the data padded to 2^32; the trailer. */
        check(size == 112 + 116 + ((size_t)UINT32_MAX + 1) + CPIO_TRAILER_SIZE, "size %zu", size);
        check(cpio_size("d", &huge, SIZE_MAX, &size) == CPIO_ERR_TOO_BIG, "more entries than inodes");
        /* Inodes 1.. and never UINT32_MAX: one directory leaves room for UINT32_MAX - 2 files. */
        check(cpio_size("d", &huge, (size_t)UINT32_MAX - 1, &size) == CPIO_ERR_TOO_BIG, "inode limit");
        check(cpio_size("a/b", &huge, (size_t)UINT32_MAX - 2, &size) == CPIO_ERR_TOO_BIG,
              "inode limit, 2 dirs");

        /* A buffer one byte short is refused before a single byte is written. */
        {
                const struct cpio_file f = {.name = "x", .data = "abc", .size = 3};
                size_t need = 0;

                check(cpio_size("d", &f, 1, &need) == CPIO_OK && need < sizeof(buf), "size");
                memset(buf, 0xaa, sizeof(buf));
                check(cpio_write("d", 0555, 0444, &f, 1, buf, need - 1) == CPIO_ERR_BUFFER, "short buffer");
                check(buf[0] == 0xaa && buf[need - 1] == 0xaa, "nothing written");
                check(cpio_write("d", 0555, 0444, &f, 1, buf, need) == CPIO_OK, "exact buffer");
                check(buf[need] == 0xaa, "nothing past the archive");
        }
}

int main(void)
{
        test_exact_bytes();
        test_trailer_only();
        test_prefixes();
        test_padding();
        test_gnu_cpio();
        test_invalid();
        test_too_big();
        return tests_finish();
}
