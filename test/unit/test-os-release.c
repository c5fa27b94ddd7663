/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "os-release.h"
#include "tests.h"

#define LABEL "NixOS Warbler 25.05.20250612.0d2d8f2 (Linux 6.12.33)"
/* 2023-11-14 22:13:20 UTC, already 2023-11-15 at UTC+14. */
#define BUILD_TIME ((time_t)1700000000)

static bool streq_ptr(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static void check_build(const char *sort_key, const char *label, unsigned generation,
                        const char *specialisation, time_t build_time, const char *want)
{
        char *got = os_release_build(sort_key, label, generation, specialisation, build_time);

        check(streq_ptr(got, want), "got:\n%s\nwant:\n%s", got, want);
        free(got);
}

static void test_build(void)
{
        /* Upstream's snapshot (tests/integration/os_release.rs). */
        check_build("lanzaboote", "LanzaOS", 1, NULL, 0,
                    "ID=lanzaboote\n"
                    "PRETTY_NAME=LanzaOS (Generation 1, 1970-01-01)\n"
                    "VERSION_ID=Generation 1, 1970-01-01\n");
        check_build("lanza", LABEL, 42, NULL, BUILD_TIME,
                    "ID=lanza\n"
                    "PRETTY_NAME=" LABEL " (Generation 42, 2023-11-14)\n"
                    "VERSION_ID=Generation 42, 2023-11-14\n");
        check_build("lanza", LABEL, 42, "docked", BUILD_TIME,
                    "ID=lanza\n"
                    "PRETTY_NAME=" LABEL " (Generation 42, specialisation docked, 2023-11-14)\n"
                    "VERSION_ID=Generation 42, specialisation docked, 2023-11-14\n");
        check_build("lanza", "Old", 4294967295u, NULL, -86400,
                    "ID=lanza\n"
                    "PRETTY_NAME=Old (Generation 4294967295, 1969-12-31)\n"
                    "VERSION_ID=Generation 4294967295, 1969-12-31\n");
        /* A newline would end a value and start a key of its own. */
        check_build("a\nb", "NixOS\nPRETTY_NAME=evil\t\x7f", 1, "x\ry", 0,
                    "ID=a b\n"
                    "PRETTY_NAME=NixOS PRETTY_NAME=evil   (Generation 1, specialisation x y, 1970-01-01)\n"
                    "VERSION_ID=Generation 1, specialisation x y, 1970-01-01\n");
}

/* The date is UTC whatever the local time zone says. */
static void test_build_ignores_time_zone(void)
{
        setenv("TZ", "TST-14", 1); /* POSIX form, UTC+14: no tzdata needed */
        tzset();
        check_build("lanza", LABEL, 42, NULL, BUILD_TIME,
                    "ID=lanza\n"
                    "PRETTY_NAME=" LABEL " (Generation 42, 2023-11-14)\n"
                    "VERSION_ID=Generation 42, 2023-11-14\n");
        unsetenv("TZ");
        tzset();
}

static void check_get_n(const char *text, size_t size, const char *key, const char *want)
{
        char *got = os_release_get(text, size, key);

        check(streq_ptr(got, want), "%s in \"%.*s\": got [%s], want [%s]", key, (int)size, text, got, want);
        free(got);
}

#define check_get(text, key, want) check_get_n(text, sizeof(text) - 1, key, want)

static void test_get(void)
{
        check_get("ID=nixos\n", "ID", "nixos");
        check_get("ID=nixos\n", "VERSION", NULL);
        check_get("", "ID", NULL);
        /* What systemd-boot's .osrel looks like. */
        check_get("ID=systemd-boot\nVERSION=\"255.6\"\n", "VERSION", "255.6");
        /* No final newline, a trailing NUL, NUL padding; nothing after a NUL counts. */
        check_get("A=1\nB=2", "B", "2");
        check_get("A=1\nB=2\0", "B", "2");
        check_get("A=1\nB=2\n\0\0\0\0", "B", "2");
        check_get("A=1\0B=2\n", "B", NULL);
        /* Keys are whole words; the last assignment wins. */
        check_get("XY=1\nX=2\n", "X", "2");
        check_get("X=1\n", "XY", NULL);
        check_get("X=1\nX=2\n", "X", "2");
        /* Comments, blank lines, lines without '=', blanks around key and value, CRLF. */
        check_get("# X=comment\n\n   \nX=real\n", "X", "real");
        check_get("  #X=1\n", "X", NULL);
        check_get("garbage\nX=1\n", "X", "1");
        check_get("  X  =  v  \n", "X", "v");
        check_get("X=1\r\nY=2\r\n", "Y", "2");
        check_get("X=\n", "X", "");
        check_get("X=", "X", "");
        check_get("X=\"\"\n", "X", "");
        /* Unquoted: blanks inside are kept (upstream writes PRETTY_NAME so), \ escapes, '#' is no comment.
         */
        check_get("PRETTY_NAME=NixOS Warbler (Generation 1, 1970-01-01)   \n", "PRETTY_NAME",
                  "NixOS Warbler (Generation 1, 1970-01-01)");
        check_get("X=a\\ b\\\\c\\\"d #e\n", "X", "a b\\c\"d #e");
        check_get("X=a\\ \n", "X", "a ");
        check_get("X=a\\\nb\n", "X", "ab");
        /* Double quotes: \ escapes $ ` " \ and newline only; blanks inside are kept. */
        check_get("X=\" a \\\"b\\\" \\\\ \\$ \\` \\q \"\n", "X", " a \"b\" \\ $ ` \\q ");
        check_get("X=\"a\\\nb\"\n", "X", "ab");
        /* Single quotes: everything literal, newlines included. */
        check_get("X='a \"b\" \\n $c'\n", "X", "a \"b\" \\n $c");
        check_get("X='a\nb'\nY=2\n", "X", "a\nb");
        check_get("X='a\nb'\nY=2\n", "Y", "2");
        /* Segments concatenate. */
        check_get("X=\"a\"'b'c\n", "X", "abc");
        /* Malformed: an unterminated quote or a final lone backslash spoils the whole text. */
        check_get("X=\"abc\nY=1\n", "Y", NULL);
        check_get("X='abc\nY=1\n", "X", NULL);
        check_get("Y=1\nX=a\\", "Y", NULL);
        check_get("X=\"a\\", "X", NULL);
}

static void check_round_trip(unsigned generation, const char *specialisation, const char *version)
{
        char *text = os_release_build("lanza", LABEL, generation, specialisation, BUILD_TIME);
        char *pretty = NULL;

        check(text != NULL, "build");
        if (!text)
                return;
        if (asprintf(&pretty, "%s (%s)", LABEL, version) < 0)
                abort();
        check_get_n(text, strlen(text), "ID", "lanza");
        check_get_n(text, strlen(text), "PRETTY_NAME", pretty);
        check_get_n(text, strlen(text), "VERSION_ID", version);
        /* As it sits in a PE section: NUL-terminated. */
        check_get_n(text, strlen(text) + 1, "VERSION_ID", version);
        free(pretty);
        free(text);
}

static void test_round_trip(void)
{
        check_round_trip(42, NULL, "Generation 42, 2023-11-14");
        check_round_trip(7, "docked", "Generation 7, specialisation docked, 2023-11-14");
}

int main(void)
{
        test_build();
        test_build_ignores_time_zone();
        test_get();
        test_round_trip();
        return tests_finish();
}
