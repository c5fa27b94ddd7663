/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "efivars.h"
#include "esp.h"
#include "test-util.h"
#include "tests.h"

#define GLOBAL "-" EFI_GLOBAL_GUID_STR
#define LOADER "-" EFI_LOADER_GUID_STR

/* A UTF-16LE code unit of an ASCII character. */
#define U(c) (c), 0

/* The Boot#### data (attributes NV|BS|RT first, as efivarfs shows it) that efi_boot_entry_ensure() must
 * write for the ESP below, derived by hand from [UEFI] 3.1.3 and 10.3.5. */
static const uint8_t expected_boot_option[] = {
        0x07,
        0x00,
        0x00,
        0x00, /* variable attributes: NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS */
        0x01,
        0x00,
        0x00,
        0x00, /* EFI_LOAD_OPTION.Attributes: LOAD_OPTION_ACTIVE */
        0x74,
        0x00, /* FilePathListLength: 42 + 70 + 4 = 116 */
        /* Description: "Linux Boot Manager", NUL */
        U('L'),
        U('i'),
        U('n'),
        U('u'),
        U('x'),
        U(' '),
        U('B'),
        U('o'),
        U('o'),
        U('t'),
        U(' '),
        U('M'),
        U('a'),
        U('n'),
        U('a'),
        U('g'),
        U('e'),
        U('r'),
        0x00,
        0x00,
        /* HARDDRIVE_DEVICE_PATH: type MEDIA (4), subtype 1, length 42 */
        0x04,
        0x01,
        0x2a,
        0x00,
        0x01,
        0x00,
        0x00,
        0x00, /* PartitionNumber 1 */
        0x00,
        0x08,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00, /* PartitionStart 2048 */
        0x00,
        0x20,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00, /* PartitionSize 8192 */
        /* Signature: 0fc0e1a2-3b4c-4d5e-8f60-718293a4b5c6, Data1..3 little-endian */
        0xa2,
        0xe1,
        0xc0,
        0x0f,
        0x4c,
        0x3b,
        0x5e,
        0x4d,
        0x8f,
        0x60,
        0x71,
        0x82,
        0x93,
        0xa4,
        0xb5,
        0xc6,
        0x02, /* MBRType: GPT */
        0x02, /* SignatureType: GUID */
        /* FILEPATH_DEVICE_PATH: type MEDIA (4), subtype 4, length 4 + 33 * 2 = 70 */
        0x04,
        0x04,
        0x46,
        0x00,
        U('\\'),
        U('E'),
        U('F'),
        U('I'),
        U('\\'),
        U('s'),
        U('y'),
        U('s'),
        U('t'),
        U('e'),
        U('m'),
        U('d'),
        U('\\'),
        U('s'),
        U('y'),
        U('s'),
        U('t'),
        U('e'),
        U('m'),
        U('d'),
        U('-'),
        U('b'),
        U('o'),
        U('o'),
        U('t'),
        U('x'),
        U('6'),
        U('4'),
        U('.'),
        U('e'),
        U('f'),
        U('i'),
        0x00,
        0x00,
        /* End of the entire device path */
        0x7f,
        0xff,
        0x04,
        0x00,
};

/* Another boot option: an empty device path. */
static const uint8_t other_boot_option[] = {
        0x07, 0x00,   0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
        0x00, U('X'), 0x00, 0x00, 0x7f, 0xff, 0x04, 0x00,
};

#define LOADER_PATH "\\EFI\\systemd\\systemd-bootx64.efi"
#define TITLE       "Linux Boot Manager"

static const struct esp test_esp = {
        .path = "/efi",
        .fd = -1,
        .part_uuid = "0fc0e1a2-3b4c-4d5e-8f60-718293a4b5c6",
        .part_number = 1,
        .part_start = 2048,
        .part_size = 8192,
};

/* An mtime no write made: files keeping it were not written. */
static const struct timespec untouched_time = {.tv_sec = 1000000000};

static char tmpdir[] = "/tmp/test-efivars-XXXXXX";
/* What the code under test logged between capture_begin() and capture_end(). */
static const char *captured = "";

static char *var_path(const char *file)
{
        char *p;

        if (asprintf(&p, "%s/%s", tmpdir, file) < 0)
                abort();
        return p;
}

static void put_file(const char *file, const void *data, size_t size)
{
        char *p = var_path(file);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, data, size) != (ssize_t)size)
                abort();
        close(fd);
        free(p);
}

/* Whether the file holds exactly these bytes. */
static bool file_is(const char *file, const void *data, size_t size)
{
        char *p = var_path(file);
        uint8_t buf[4096];
        ssize_t n = -1;
        int fd = open(p, O_RDONLY | O_CLOEXEC);

        if (fd >= 0) {
                n = read(fd, buf, sizeof(buf));
                close(fd);
        }
        free(p);
        return n == (ssize_t)size && memcmp(buf, data, size) == 0;
}

static bool file_exists(const char *file)
{
        char *p = var_path(file);
        bool exists = access(p, F_OK) == 0;

        free(p);
        return exists;
}

static void set_untouched(const char *file)
{
        char *p = var_path(file);
        struct timespec times[2] = {untouched_time, untouched_time};

        if (utimensat(AT_FDCWD, p, times, 0) < 0)
                abort();
        free(p);
}

static bool is_untouched(const char *file)
{
        char *p = var_path(file);
        struct stat st;
        bool untouched = stat(p, &st) == 0 && st.st_mtim.tv_sec == untouched_time.tv_sec &&
                         st.st_mtim.tv_nsec == untouched_time.tv_nsec;

        free(p);
        return untouched;
}

static void clear_dir(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *de;

        if (!d)
                abort();
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        char *p = var_path(de->d_name);

                        unlink(p);
                        free(p);
                }
        closedir(d);
}

static void test_round_trip(void)
{
        static const uint8_t file[] = {0x07, 0x00, 0x00, 0x00, 'a', 'b', 'c'};
        static const uint8_t shorter[] = {0x06, 0x00, 0x00, 0x00, 'x'};
        void *data = NULL;
        size_t size = 0;
        int r;

        check(strcmp(efivarfs_path(), tmpdir) == 0, "efivarfs_path() %s", efivarfs_path());

        r = efivar_write("Test", EFI_LOADER_GUID_STR, 7, "abc", 3);
        check(r == 0 && file_is("Test" LOADER, file, sizeof(file)), "write: %d", r);
        r = efivar_read("Test", EFI_LOADER_GUID_STR, &data, &size);
        check(r == 0 && size == 3 && memcmp(data, "abc", 3) == 0, "read back: %d, %zu bytes", r, size);
        free(data);

        /* A plain directory has no SetVariable() semantics, so the rest of the longer value must go. */
        r = efivar_write("Test", EFI_LOADER_GUID_STR, 6, "x", 1);
        check(r == 0 && file_is("Test" LOADER, shorter, sizeof(shorter)), "shorter rewrite: %d", r);

        r = efivar_write("Empty", EFI_LOADER_GUID_STR, 7, NULL, 0);
        check(r == 0, "empty write: %d", r);
        r = efivar_read("Empty", EFI_LOADER_GUID_STR, &data, &size);
        check(r == 0 && size == 0 && data, "empty read: %d, %zu bytes", r, size);
        free(data);
}

static void test_read_errors(void)
{
        static const uint8_t short_file[] = {0x07, 0x00};
        char *big = var_path("Big" LOADER);
        void *data = NULL;
        size_t size = 0;
        int fd, r;

        capture_begin();
        r = efivar_read("Missing", EFI_LOADER_GUID_STR, &data, &size);
        captured = capture_end();
        check(r == -ENOENT && captured[0] == '\0', "missing: %d: %s", r, captured);

        put_file("Short" LOADER, short_file, sizeof(short_file));
        capture_begin();
        r = efivar_read("Short", EFI_LOADER_GUID_STR, &data, &size);
        captured = capture_end();
        check(r == -EBADMSG && strstr(captured, "Short" LOADER ": 2 bytes, too short"), "short: %d: %s", r,
              captured);

        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 4 + (1 << 20) + 1) < 0)
                abort();
        close(fd);
        capture_begin();
        r = efivar_read("Big", EFI_LOADER_GUID_STR, &data, &size);
        captured = capture_end();
        check(r == -EFBIG && strstr(captured, big), "too big: %d: %s", r, captured);
        free(big);

        /* Exactly at the bound is fine. */
        big = var_path("Bound" LOADER);
        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 4 + (1 << 20)) < 0)
                abort();
        close(fd);
        r = efivar_read("Bound", EFI_LOADER_GUID_STR, &data, &size);
        check(r == 0 && size == 1 << 20, "at the bound: %d, %zu bytes", r, size);
        free(data);
        free(big);

        capture_begin();
        r = efivar_write("Huge", EFI_LOADER_GUID_STR, 7, short_file, (1 << 20) + 1);
        captured = capture_end();
        check(r == -EFBIG && !file_exists("Huge" LOADER), "write too big: %d: %s", r, captured);

        capture_begin();
        r = efivar_read("../Test", EFI_LOADER_GUID_STR, &data, &size);
        captured = capture_end();
        check(r == -EINVAL, "path in a name: %d", r);
        capture_begin();
        r = efivar_read("Test", "not-a-guid", &data, &size);
        captured = capture_end();
        check(r == -EINVAL, "invalid guid: %d", r);
}

/* "Hé€😀": ASCII, two-byte, three-byte and four-byte (a surrogate pair) UTF-8. */
#define SAMPLE_UTF16 0x07, 0, 0, 0, U('H'), 0xe9, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde
#define SAMPLE_UTF8  "H\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"

static bool read_string_is(const char *name, const char *want)
{
        char *s = NULL;
        bool ok = efivar_read_string(name, EFI_LOADER_GUID_STR, &s) == 0 && strcmp(s, want) == 0;

        free(s);
        return ok;
}

static void test_strings(void)
{
        static const uint8_t with_nul[] = {SAMPLE_UTF16, 0x00, 0x00};
        static const uint8_t without_nul[] = {SAMPLE_UTF16};
        static const uint8_t odd[] = {0x07, 0, 0, 0, U('a'), 'b'};
        static const uint8_t after_nul[] = {0x07, 0, 0, 0, U('a'), U('b'), 0, 0, U('c')};
        static const uint8_t lone_high[] = {0x07, 0, 0, 0, U('a'), 0x3d, 0xd8};
        static const uint8_t lone_low[] = {0x07, 0, 0, 0, 0x00, 0xde, U('a')};
        static const uint8_t empty[] = {0x07, 0, 0, 0};
        char *s = NULL;
        int r;

        put_file("WithNul" LOADER, with_nul, sizeof(with_nul));
        check(read_string_is("WithNul", SAMPLE_UTF8), "with NUL");
        put_file("WithoutNul" LOADER, without_nul, sizeof(without_nul));
        check(read_string_is("WithoutNul", SAMPLE_UTF8), "without NUL");
        put_file("AfterNul" LOADER, after_nul, sizeof(after_nul));
        check(read_string_is("AfterNul", "ab"), "stops at the NUL");
        put_file("EmptyString" LOADER, empty, sizeof(empty));
        check(read_string_is("EmptyString", ""), "empty");

        put_file("Odd" LOADER, odd, sizeof(odd));
        capture_begin();
        r = efivar_read_string("Odd", EFI_LOADER_GUID_STR, &s);
        captured = capture_end();
        check(r == -EBADMSG && strstr(captured, "Odd" LOADER ": 3 bytes, an odd size"), "odd: %d: %s", r,
              captured);

        put_file("LoneHigh" LOADER, lone_high, sizeof(lone_high));
        capture_begin();
        r = efivar_read_string("LoneHigh", EFI_LOADER_GUID_STR, &s);
        captured = capture_end();
        check(r < 0 && strstr(captured, "LoneHigh" LOADER ": not a valid UTF-16 string"),
              "lone high: %d: %s", r, captured);
        put_file("LoneLow" LOADER, lone_low, sizeof(lone_low));
        capture_begin();
        r = efivar_read_string("LoneLow", EFI_LOADER_GUID_STR, &s);
        captured = capture_end();
        check(r < 0, "lone low: %d", r);
}

static void test_secure_boot(void)
{
        static const uint8_t on[] = {0x06, 0, 0, 0, 0x01};
        static const uint8_t off[] = {0x06, 0, 0, 0, 0x00};
        static const uint8_t wrong[] = {0x06, 0, 0, 0, 0x01, 0x00};
        int r;

        capture_begin();
        r = efi_secure_boot();
        captured = capture_end();
        check(r == -ENOENT, "no SecureBoot: %d", r);

        put_file("SecureBoot" GLOBAL, on, sizeof(on));
        put_file("SetupMode" GLOBAL, off, sizeof(off));
        check(efi_secure_boot() == 1, "SecureBoot on");
        check(efi_setup_mode() == 0, "SetupMode off");
        put_file("SecureBoot" GLOBAL, off, sizeof(off));
        put_file("SetupMode" GLOBAL, on, sizeof(on));
        check(efi_secure_boot() == 0, "SecureBoot off");
        check(efi_setup_mode() == 1, "SetupMode on");

        put_file("SecureBoot" GLOBAL, wrong, sizeof(wrong));
        capture_begin();
        r = efi_secure_boot();
        captured = capture_end();
        check(r == -EBADMSG, "two-byte SecureBoot: %d", r);
}

static void test_boot_entry_create(void)
{
        static const uint8_t order[] = {0x07, 0, 0, 0, 0x00, 0x00};
        int r;

        clear_dir();
        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == 0, "create: %d: %s", r, captured);
        check(file_is("Boot0000" GLOBAL, expected_boot_option, sizeof(expected_boot_option)),
              "Boot0000 bytes differ from the hand-derived load option");
        check(file_is("BootOrder" GLOBAL, order, sizeof(order)), "BootOrder");
        check(strcmp(captured, "lanzatool: Created EFI boot entry Boot0000 \"" TITLE "\"\n") == 0,
              "message: %s", captured);

        /* Idempotence: nothing is written a second time. */
        set_untouched("Boot0000" GLOBAL);
        set_untouched("BootOrder" GLOBAL);
        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == 0 && captured[0] == '\0', "second call: %d: %s", r, captured);
        check(is_untouched("Boot0000" GLOBAL) && is_untouched("BootOrder" GLOBAL), "second call wrote");

        /* Forward slashes mean the same path. */
        r = efi_boot_entry_ensure(&test_esp, "/EFI/systemd/systemd-bootx64.efi", TITLE, false);
        check(r == 0 && is_untouched("Boot0000" GLOBAL) && is_untouched("BootOrder" GLOBAL),
              "slashes: %d, or it wrote", r);
}

static void test_boot_order(void)
{
        static const uint8_t old_order[] = {0x07, 0, 0, 0, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
        static const uint8_t new_order[] = {0x07, 0, 0, 0, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00};
        static const uint8_t appended[] = {0x07, 0, 0, 0, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00};
        static const uint8_t odd_order[] = {0x07, 0, 0, 0, 0x00, 0x00, 0x03};
        int r;

        put_file("Boot0001" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("Boot0003" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("BootOrder" GLOBAL, old_order, sizeof(old_order));
        set_untouched("Boot0000" GLOBAL);
        /* A routine install never reorders BootOrder (bootctl update): the entry stays where it is,
         * and is appended when BootOrder lacks it. */
        set_untouched("BootOrder" GLOBAL);
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        check(r == 0 && is_untouched("BootOrder" GLOBAL), "BootOrder reordered on a routine install: %d", r);
        put_file("BootOrder" GLOBAL, (const uint8_t[]){0x07, 0, 0, 0, 0x03, 0x00, 0x01, 0x00}, 8);
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        check(r == 0 && file_is("BootOrder" GLOBAL, appended, sizeof(appended)), "BootOrder append: %d", r);
        /* Asked to (bootctl install): first. */
        put_file("BootOrder" GLOBAL, old_order, sizeof(old_order));
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, true);
        check(r == 0 && file_is("BootOrder" GLOBAL, new_order, sizeof(new_order)), "BootOrder first: %d", r);
        check(is_untouched("Boot0000" GLOBAL), "Boot0000 rewritten with BootOrder");

        put_file("BootOrder" GLOBAL, odd_order, sizeof(odd_order));
        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == -EBADMSG && strstr(captured, "BootOrder" GLOBAL ": 3 bytes"), "odd BootOrder: %d: %s", r,
              captured);
}

static void test_boot_entry_reuse(void)
{
        static const uint8_t order[] = {0x07, 0, 0, 0, 0x01, 0x00, 0x05, 0x00};
        uint8_t renamed[sizeof(expected_boot_option)];
        int r;

        /* The same device path under another number and title: reused as it is, and added to the end
         * of BootOrder. */
        clear_dir();
        memcpy(renamed, expected_boot_option, sizeof(renamed));
        renamed[10] = 'X';
        put_file("Boot0000" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("Boot0001" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("Boot0005" GLOBAL, renamed, sizeof(renamed));
        put_file("BootOrder" GLOBAL, (const uint8_t[]){0x07, 0, 0, 0, 0x01, 0x00}, 6);
        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == 0 && captured[0] == '\0', "reuse: %d: %s", r, captured);
        check(file_is("Boot0005" GLOBAL, renamed, sizeof(renamed)), "Boot0005 rewritten");
        check(!file_exists("Boot0002" GLOBAL), "a new entry was made");
        check(file_is("BootOrder" GLOBAL, order, sizeof(order)), "BootOrder with 5 appended");

        /* The same option, byte for byte: only BootOrder may change. */
        set_untouched("Boot0005" GLOBAL);
        put_file("BootOrder" GLOBAL, (const uint8_t[]){0x07, 0, 0, 0, 0x01, 0x00}, 6);
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, true);
        check(r == 0 && is_untouched("Boot0005" GLOBAL), "identical Boot0005 rewritten: %d", r);
        check(file_is("BootOrder" GLOBAL, (const uint8_t[]){0x07, 0, 0, 0, 0x05, 0x00, 0x01, 0x00}, 8),
              "BootOrder with 5 first");
}

static void test_boot_entry_lowest_free(void)
{
        static const uint8_t truncated[] = {0x07, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x74, 0x00, U('L')};
        int r;

        /* Boot0002 of another vendor GUID, and lowercase hex digits, are no boot options; a malformed
         * option matches nothing. */
        clear_dir();
        put_file("Boot0000" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("Boot0001" GLOBAL, truncated, sizeof(truncated));
        put_file("Boot0003" GLOBAL, other_boot_option, sizeof(other_boot_option));
        put_file("Boot0002" LOADER, other_boot_option, sizeof(other_boot_option));
        put_file("Boot000a" GLOBAL, expected_boot_option, sizeof(expected_boot_option));
        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == 0 && strcmp(captured, "lanzatool: Created EFI boot entry Boot0002 \"" TITLE "\"\n") == 0,
              "lowest free: %d: %s", r, captured);
        check(file_is("Boot0002" GLOBAL, expected_boot_option, sizeof(expected_boot_option)),
              "Boot0002 bytes");
        check(file_is("BootOrder" GLOBAL, (const uint8_t[]){0x07, 0, 0, 0, 0x02, 0x00}, 6), "BootOrder");
        check(!file_exists("Boot0004" GLOBAL), "Boot0004 made");
}

static void test_boot_entry_unsupported(void)
{
        struct esp relaxed = {.path = "/tmp/esp", .fd = -1, .relaxed = true};
        struct esp bad_uuid = test_esp;
        int r;

        clear_dir();
        capture_begin();
        r = efi_boot_entry_ensure(&relaxed, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == -EOPNOTSUPP && captured[0] == '\0', "relaxed ESP: %d: %s", r, captured);
        check(!file_exists("Boot0000" GLOBAL) && !file_exists("BootOrder" GLOBAL), "relaxed ESP wrote");

        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, "EFI\\relative.efi", TITLE, false);
        captured = capture_end();
        check(r == -EINVAL && strstr(captured, "EFI\\relative.efi: not an absolute"),
              "relative path: %d: %s", r, captured);

        capture_begin();
        r = efi_boot_entry_ensure(&test_esp, LOADER_PATH, "bad \xc0\x80 title", false);
        captured = capture_end();
        check(r == -EINVAL, "overlong UTF-8 title: %d", r);

        memcpy(bad_uuid.part_uuid, "0fc0e1a2-3b4c-4d5e-8f60-718293a4b5cg", sizeof(bad_uuid.part_uuid));
        capture_begin();
        r = efi_boot_entry_ensure(&bad_uuid, LOADER_PATH, TITLE, false);
        captured = capture_end();
        check(r == -EINVAL, "invalid uuid: %d", r);
        check(!file_exists("Boot0000" GLOBAL), "written despite errors");
}

/* efivarfs marks most variables immutable; efivar_write() clears the flag for its write and sets it
 * again. Needs a file system with flags and CAP_LINUX_IMMUTABLE: without them the whole test reports a
 * skip (exit 77) with the reason, so that the runner lists it. */
static const char *immutable_skipped;

static void test_immutable(void)
{
        static const uint8_t file[] = {0x07, 0x00, 0x00, 0x00, 'n', 'e', 'w'};
        char *p = var_path("Locked" LOADER);
        int fd, flags = 0, r;

        put_file("Locked" LOADER, "\x07\0\0\0old", 7);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                abort();
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 ||
            ioctl(fd, FS_IOC_SETFLAGS, &(int){flags | FS_IMMUTABLE_FL}) < 0) {
                immutable_skipped = strerror(errno);
                printf("SKIP: immutable flag unavailable (%s): the immutable-file checks did not run\n",
                       immutable_skipped);
                goto out;
        }
        r = efivar_write("Locked", EFI_LOADER_GUID_STR, 7, "new", 3);
        check(r == 0 && file_is("Locked" LOADER, file, sizeof(file)), "write to an immutable file: %d", r);
        check(ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL), "flag not set again");
        ioctl(fd, FS_IOC_SETFLAGS, &(int){flags & ~FS_IMMUTABLE_FL});
out:
        close(fd);
        free(p);
}

int main(void)
{
        if (!mkdtemp(tmpdir))
                abort();
        setenv("LANZATOOL_EFIVARFS", tmpdir, 1);

        test_round_trip();
        test_read_errors();
        test_strings();
        test_secure_boot();
        test_immutable();
        test_boot_entry_create();
        test_boot_order();
        test_boot_entry_reuse();
        test_boot_entry_lowest_free();
        test_boot_entry_unsupported();

        clear_dir();
        rmdir(tmpdir);
        if (tests_finish())
                return EXIT_FAILURE;
        return immutable_skipped ? 77 : EXIT_SUCCESS;
}
