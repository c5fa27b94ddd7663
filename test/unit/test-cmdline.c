/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "tests.h"

static size_t len16(const uint16_t *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

static bool eq16(const uint16_t *a, size_t a_len, const uint16_t *b)
{
        return a_len == len16(b) && memcmp(a, b, (a_len + 1) * sizeof(uint16_t)) == 0;
}

/* LoadOptions as the firmware hands them over: UTF-16LE bytes, at an odd address so that nothing
 * may assume alignment, in a heap block of exactly size bytes so that ASan catches over-reads. */
static uint8_t *load_options(const uint16_t *units, size_t size, uint8_t **ret_block)
{
        uint8_t *block = malloc(size + 1);

        if (!block)
                abort();
        for (size_t i = 0; i < size; i++)
                block[1 + i] = (uint8_t)(i % 2 == 0 ? units[i / 2] : units[i / 2] >> 8);
        *ret_block = block;
        return block + 1;
}

/* Runs cmdline_from_load_options() into a buffer of exactly the announced size. */
static bool from_load_options(const uint16_t *units, size_t size, const uint16_t *want)
{
        uint8_t *block, *opts = load_options(units, size, &block);
        size_t n = cmdline_load_options_units(size), len = 0;
        uint16_t *buf = malloc(n * sizeof(uint16_t));
        bool ok;

        if (!buf)
                abort();
        ok = cmdline_from_load_options(opts, size, buf, n, &len) == CMDLINE_OK && eq16(buf, len, want);
        free(buf);
        free(block);
        return ok;
}

static bool from_utf8(const char *s, size_t n, const uint16_t *want)
{
        size_t units = cmdline_utf8_units(n), len = 0;
        uint16_t *buf = malloc(units * sizeof(uint16_t));
        char *copy = malloc(n ? n : 1);
        bool ok;

        if (!buf || !copy)
                abort();
        memcpy(copy, s, n);
        ok = cmdline_from_utf8(copy, n, buf, units, &len) == CMDLINE_OK && eq16(buf, len, want);
        free(copy);
        free(buf);
        return ok;
}

/* ---- which command line is used -------------------------------------------------------------- */

static void test_use_load_options(void)
{
        static const uint16_t quiet[] = u"quiet";
        static const uint16_t binary[] = {0x0001, 0x0203};
        static const uint16_t ctrl_1f[] = {0x001f, 'a'};
        static const uint16_t space[] = u" a";
        uint8_t *block, *p;

        /* Secure Boot decides only together with an embedded .cmdline (or a confidential VM). */
        p = load_options(quiet, sizeof(quiet), &block);
        check(cmdline_use_load_options(false, false, false, p, sizeof(quiet)), "SB off, no .cmdline");
        check(cmdline_use_load_options(false, true, false, p, sizeof(quiet)), "SB off, .cmdline");
        check(cmdline_use_load_options(true, false, false, p, sizeof(quiet)), "SB on, no .cmdline");
        check(!cmdline_use_load_options(true, true, false, p, sizeof(quiet)), "SB on, .cmdline");
        check(!cmdline_use_load_options(true, false, true, p, sizeof(quiet)), "SB on, confidential VM");
        check(cmdline_use_load_options(false, false, true, p, sizeof(quiet)), "SB off, confidential VM");

        /* Shorter than one unit. */
        check(!cmdline_use_load_options(false, false, false, NULL, 0), "no LoadOptions");
        check(!cmdline_use_load_options(false, false, false, p, 0), "size 0");
        check(!cmdline_use_load_options(false, false, false, p, 1), "size 1");
        check(cmdline_use_load_options(false, false, false, p, 2), "size 2");
        check(!cmdline_use_load_options(false, false, false, NULL, 2), "NULL with a size");
        free(block);

        /* The first unit must be printable: <= 0x1F is firmware junk. */
        p = load_options(binary, sizeof(binary), &block);
        check(!cmdline_use_load_options(false, false, false, p, sizeof(binary)), "binary");
        free(block);
        p = load_options(ctrl_1f, sizeof(ctrl_1f), &block);
        check(!cmdline_use_load_options(false, false, false, p, sizeof(ctrl_1f)), "first unit 0x1F");
        free(block);
        p = load_options(space, sizeof(space), &block);
        check(cmdline_use_load_options(false, false, false, p, sizeof(space)), "first unit 0x20");
        free(block);

        /* systemd ≥ 257 scans up to the NUL: a control character anywhere is firmware junk too, one
         * after the NUL is not looked at. */
        {
                static const uint16_t inner[] = {'a', ' ', 'b', '\n', 0};
                static const uint16_t after_nul[] = {'a', 0, 0x01};

                p = load_options(inner, sizeof(inner), &block);
                check(!cmdline_use_load_options(false, false, false, p, sizeof(inner)), "inner newline");
                free(block);
                p = load_options(after_nul, sizeof(after_nul), &block);
                check(cmdline_use_load_options(false, false, false, p, sizeof(after_nul)), "junk after NUL");
                free(block);
        }
}

/* ---- copying LoadOptions --------------------------------------------------------------------- */

static void test_load_options(void)
{
        static const uint16_t quiet[] = u"quiet splash";
        static const uint16_t abcdef[] = u"abcdef";
        static const uint16_t inner_nul[] = {'a', 'b', 0, 'c', 'd'};
        static const uint16_t ctrl[] = {'a', '\t', 'b', '\n', 'c', '\r', 'd', 0x01, 'e', 0x7f, 'f', 0};
        static const uint16_t trailing[] = u"root=/dev/sda \r\n";
        static const uint16_t leading[] = u"  \t quiet";
        static const uint16_t blank[] = u"  \t ";
        static const uint16_t inner_spaces[] = u"a  b";
        static const uint16_t unicode[] = {'c', 'a', 'f', 0xe9, ' ', 0x4e2d, 0xd83d, 0xde00, 0};

        check(from_load_options(quiet, sizeof(quiet), u"quiet splash"), "with its NUL");
        check(from_load_options(quiet, sizeof(quiet) - 2, u"quiet splash"), "without a NUL");
        check(from_load_options(abcdef, 6, u"abc"), "at most size/2 units");
        check(from_load_options(abcdef, 7, u"abc"), "an odd size rounds down");
        check(from_load_options(inner_nul, sizeof(inner_nul), u"ab"), "stops at the first NUL");
        check(from_load_options(ctrl, sizeof(ctrl), u"a b c d e f"), "control characters become spaces");
        check(from_load_options(trailing, sizeof(trailing), u"root=/dev/sda"), "trailing whitespace is cut");
        check(from_load_options(leading, sizeof(leading), u"quiet"), "leading whitespace is skipped (v255)");
        check(from_load_options(blank, sizeof(blank), u""), "only whitespace leaves nothing");
        check(from_load_options(inner_spaces, sizeof(inner_spaces), u"a  b"), "inner spaces are kept");
        check(from_load_options(unicode, sizeof(unicode), unicode), "non-ASCII units are kept as they are");
        check(from_load_options(NULL, 0, u""), "nothing");
}

static void test_load_options_buffers(void)
{
        static const uint16_t quiet[] = u"quiet ";
        /* The measured bytes: the mangled string in UTF-16LE with its NUL (strsize16). */
        static const uint8_t measured[] = {'q', 0, 'u', 0, 'i', 0, 'e', 0, 't', 0, 0, 0};
        uint8_t *block, *p = load_options(quiet, sizeof(quiet), &block);
        uint16_t buf[16];
        size_t len = 99;

        check(cmdline_load_options_units(sizeof(quiet)) == 8, "units %zu",
              cmdline_load_options_units(sizeof(quiet)));
        check(cmdline_from_load_options(p, sizeof(quiet), buf, 7, &len) == CMDLINE_ERR_BUFFER && len == 99,
              "a buffer one unit short is refused");
        check(cmdline_from_load_options(p, sizeof(quiet), buf, 8, &len) == CMDLINE_OK && len == 5, "len %zu",
              len);
        check(memcmp(buf, measured, sizeof(measured)) == 0, "measured bytes");
        check(cmdline_from_load_options(NULL, 2, buf, 8, &len) == CMDLINE_ERR_INVALID, "NULL with a size");
        check(cmdline_from_load_options(p, sizeof(quiet), NULL, 8, &len) == CMDLINE_ERR_INVALID, "NULL buf");
        check(cmdline_from_load_options(p, sizeof(quiet), buf, 8, NULL) == CMDLINE_ERR_INVALID, "NULL ret");
        check(cmdline_from_load_options(p, sizeof(quiet), buf, 0, &len) == CMDLINE_ERR_BUFFER, "no buffer");
        free(block);

        check(cmdline_load_options_units(0) == 1, "empty");
        check(cmdline_load_options_units(SIZE_MAX) == 0, "overflow");
        check(cmdline_load_options_units(UINT32_MAX) == (size_t)UINT32_MAX / 2 + 1, "LoadOptionsSize max");
}

/* ---- the embedded .cmdline --------------------------------------------------------------------- */

static void test_utf8(void)
{
        static const struct {
                const char *in;
                size_t n;
                const uint16_t *want;
                const char *what;
        } cases[] = {
                {"init=/nix/store/x-init quiet", 28, u"init=/nix/store/x-init quiet", "ASCII"},
                {"quiet splash\n", 13, u"quiet splash", "a trailing newline is cut"},
                {"\n \tquiet", 8, u"quiet", "leading whitespace is skipped"},
                {"a\tb", 3, u"a b", "a tab becomes a space"},
                {"caf\xc3\xa9", 5, u"caf\u00e9", "two-byte sequence"},
                {"\xe4\xb8\xad", 3, u"\u4e2d", "three-byte sequence"},
                {"a\xf0\x9f\x98\x80"
                 "b",
                 6, u"ab", "beyond the BMP: dropped"},
                {"a\xed\xa0\x80"
                 "b",
                 5, u"ab", "a surrogate: dropped"},
                {"a\x80"
                 "b",
                 3, u"ab", "a stray continuation byte: one byte dropped"},
                {"a\xff"
                 "b",
                 3, u"ab", "0xFF: one byte dropped"},
                {"a\xc3"
                 "Ab",
                 4, u"ab", "a bad continuation: the whole sequence length is dropped"},
                {"ab\xe4\xb8", 4, u"ab", "a truncated sequence at the end"},
                {"a\xc0\x80"
                 "b",
                 4, u"a", "an overlong NUL ends the string"},
                {"\xc1\x81", 2, u"A", "overlong forms are decoded"},
                {"\xf8\x80\x80\x81\x81", 5, u"A", "five-byte overlong form"},
                {"ab\0cd", 5, u"ab", "a NUL byte ends the input"},
                {"abcdef", 3, u"abc", "only n bytes"},
                {"", 0, u"", "empty"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check(from_utf8(cases[i].in, cases[i].n, cases[i].want), "%s", cases[i].what);
}

static void test_utf8_buffers(void)
{
        uint16_t buf[8];
        size_t len = 99;

        check(cmdline_from_utf8("abc", 3, buf, 3, &len) == CMDLINE_ERR_BUFFER && len == 99,
              "one unit short");
        check(cmdline_from_utf8("abc", 3, buf, 4, &len) == CMDLINE_OK && len == 3, "exact");
        check(cmdline_from_utf8(NULL, 1, buf, 4, &len) == CMDLINE_ERR_INVALID, "NULL with a size");
        check(cmdline_from_utf8(NULL, 0, buf, 4, &len) == CMDLINE_OK && len == 0, "NULL, empty");
        check(cmdline_utf8_units(0) == 1, "empty");
        check(cmdline_utf8_units(SIZE_MAX) == 0, "SIZE_MAX");
        check(cmdline_utf8_units(SIZE_MAX / 2) == 0, "bytes overflow");
        check(cmdline_utf8_units(SIZE_MAX / 2 - 1) == SIZE_MAX / 2, "the largest");
}

static void test_mangle(void)
{
        uint16_t s[] = {0x7f, ' ', 'a', 0x1f, 'b', 0x7f, ' ', '\n', 0};
        uint16_t empty[] = {0};

        check(cmdline_mangle(s) == 3 && eq16(s, 3, u"a b"), "0x7F counts as whitespace");
        check(cmdline_mangle(empty) == 0, "empty");
}

/* ---- the whole decision, as the stub makes it ------------------------------------------------- */

enum { LO_NONE, LO_SHORT, LO_BINARY, LO_CTRL, LO_WHITESPACE, LO_TEXT, LO_BLANK, _LO_MAX };

static const struct {
        const uint16_t *units;
        size_t size;
} load_option_kinds[_LO_MAX] = {
        [LO_NONE] = {NULL, 0},
        [LO_SHORT] = {u"q", 1},
        [LO_BINARY] = {(const uint16_t[]){0x0001, 0x0000}, 4},
        [LO_CTRL] = {u"\x1fquiet", 14},
        [LO_WHITESPACE] = {u"  quiet \n", 20},
        [LO_TEXT] = {u"quiet", 12},
        [LO_BLANK] = {u"  \x7f ", 10},
};

/* Returns the command line the kernel gets and whether it is measured into PCR 12 (only a
 * loader-supplied one is; the embedded one is already in PCR 11). */
static void settle(bool sb, const char *embedded, int kind, uint16_t *out, size_t out_units,
                   bool *ret_measured)
{
        uint8_t *block = NULL, *p = NULL;
        size_t size = load_option_kinds[kind].size, len;

        if (load_option_kinds[kind].units)
                p = load_options(load_option_kinds[kind].units, size, &block);
        *ret_measured = false;
        out[0] = 0;
        /* A loader line that is empty once mangled counts as none (stub.c settle_command_line()). */
        if (cmdline_use_load_options(sb, embedded != NULL, false, p, size) &&
            cmdline_from_load_options(p, size, out, out_units, &len) == CMDLINE_OK && len > 0)
                *ret_measured = true;
        else if (embedded)
                check(cmdline_from_utf8(embedded, strlen(embedded), out, out_units, &len) == CMDLINE_OK,
                      "convert");
        free(block);
}

static void test_matrix(void)
{
        static const char *const embedded = "init=/x splash\n";
        static const struct {
                bool sb, embedded;
                int kind;
                const uint16_t *want;
                bool measured;
        } cases[] = {
                {false, true, LO_NONE, u"init=/x splash", false},
                {false, true, LO_SHORT, u"init=/x splash", false},
                {false, true, LO_BINARY, u"init=/x splash", false},
                {false, true, LO_CTRL, u"init=/x splash", false},
                {false, true, LO_WHITESPACE, u"init=/x splash", false},
                {false, true, LO_BLANK, u"init=/x splash", false},
                {false, true, LO_TEXT, u"quiet", true},
                {false, false, LO_NONE, u"", false},
                {false, false, LO_SHORT, u"", false},
                {false, false, LO_BINARY, u"", false},
                {false, false, LO_CTRL, u"", false},
                {false, false, LO_WHITESPACE, u"", false},
                {false, false, LO_BLANK, u"", false},
                {false, false, LO_TEXT, u"quiet", true},
                {true, true, LO_NONE, u"init=/x splash", false},
                {true, true, LO_SHORT, u"init=/x splash", false},
                {true, true, LO_BINARY, u"init=/x splash", false},
                {true, true, LO_CTRL, u"init=/x splash", false},
                {true, true, LO_WHITESPACE, u"init=/x splash", false},
                {true, true, LO_BLANK, u"init=/x splash", false},
                {true, true, LO_TEXT, u"init=/x splash", false},
                {true, false, LO_NONE, u"", false},
                {true, false, LO_SHORT, u"", false},
                {true, false, LO_BINARY, u"", false},
                {true, false, LO_CTRL, u"", false},
                {true, false, LO_WHITESPACE, u"", false},
                {true, false, LO_BLANK, u"", false},
                {true, false, LO_TEXT, u"quiet", true},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint16_t out[32];
                bool measured;

                settle(cases[i].sb, cases[i].embedded ? embedded : NULL, cases[i].kind, out, 32, &measured);
                check(eq16(out, len16(out), cases[i].want) && measured == cases[i].measured,
                      "Secure Boot %s, .cmdline %s, LoadOptions kind %d", cases[i].sb ? "on" : "off",
                      cases[i].embedded ? "present" : "absent", cases[i].kind);
        }
}

int main(void)
{
        test_use_load_options();
        test_load_options();
        test_load_options_buffers();
        test_utf8();
        test_utf8_buffers();
        test_mangle();
        test_matrix();
        return tests_finish();
}
