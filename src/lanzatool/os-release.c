/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "os-release.h"
#include "util.h"

__attribute__((format(printf, 1, 2))) static char *strprintf(const char *fmt, ...)
{
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* A value is written unquoted on one line, as upstream does: a control character would end it early. */
static char *sanitize(const char *s)
{
        char *copy = strdup(s);

        for (char *p = copy; p && *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        return copy;
}

char *os_release_build(const char *sort_key, const char *label, unsigned generation,
                       const char *specialisation, time_t build_time)
{
        _cleanup_free_ char *id = sanitize(sort_key), *name = sanitize(label), *version = NULL;
        _cleanup_free_ char *spec = specialisation ? sanitize(specialisation) : NULL;
        struct tm tm;

        if (!id || !name || (specialisation && !spec))
                return NULL;
        if (!gmtime_r(&build_time, &tm))
                return NULL;
        version = strprintf("Generation %u%s%s, %04d-%02d-%02d", generation, spec ? ", specialisation " : "",
                            spec ? spec : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        if (!version)
                return NULL;
        /* Sorted by key; PRETTY_NAME is unique per entry so that systemd-boot shows it as is. */
        return strprintf("ID=%s\nPRETTY_NAME=%s (%s)\nVERSION_ID=%s\n", id, name, version, version);
}

/* os-release(5) is shell-like: KEY=value lines, '#' comments, values unquoted, in '…' (taken literally)
 * or in "…" (where \ escapes $ ` " \ and newline, and stays otherwise), and segments of the three kinds
 * concatenated. Unquoted, \ escapes any character and blanks around the value are dropped; systemd's own
 * parser keeps the blanks inside an unquoted value, and so do we, since upstream writes PRETTY_NAME so. */

static bool is_newline(char c)
{
        return c == '\n' || c == '\r';
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p, const char *end)
{
        while (p < end && is_blank(*p))
                p++;
        return p;
}

static const char *skip_line(const char *p, const char *end)
{
        while (p < end && !is_newline(*p))
                p++;
        return p < end ? p + 1 : p;
}

/* Output goes to buf when there is one: a value is only decoded for the key asked for. */
static void put(char *buf, size_t *n, char c)
{
        if (buf)
                buf[*n] = c;
        (*n)++;
}

static int read_single_quoted(const char **pp, const char *end, char *buf, size_t *n)
{
        for (const char *p = *pp; p < end; p++) {
                if (*p == '\'') {
                        *pp = p + 1;
                        return 0;
                }
                put(buf, n, *p);
        }
        return -EINVAL;
}

static int read_double_quoted(const char **pp, const char *end, char *buf, size_t *n)
{
        for (const char *p = *pp; p < end; p++) {
                if (*p == '"') {
                        *pp = p + 1;
                        return 0;
                }
                if (*p != '\\') {
                        put(buf, n, *p);
                        continue;
                }
                if (++p == end)
                        return -EINVAL;
                if (*p == '\n')
                        continue;
                if (!strchr("$`\"\\", *p))
                        put(buf, n, '\\');
                put(buf, n, *p);
        }
        return -EINVAL;
}

/* From after '=' to the end of the line the value ends on. The result is never longer than the text it
 * comes from, so a buffer of end - p + 1 bytes holds it. */
static int read_value(const char **pp, const char *end, char *buf, size_t *ret_len)
{
        const char *p = skip_blanks(*pp, end);
        size_t n = 0, kept = 0; /* kept: n without trailing unquoted blanks */
        int r = 0;

        while (p < end && !is_newline(*p)) {
                char c = *p++;

                if (c == '\'')
                        r = read_single_quoted(&p, end, buf, &n);
                else if (c == '"')
                        r = read_double_quoted(&p, end, buf, &n);
                else if (c == '\\' && p == end)
                        r = -EINVAL;
                else if (c == '\\' && is_newline(*p))
                        p++;
                else if (c == '\\')
                        put(buf, &n, *p++);
                else
                        put(buf, &n, c);
                if (r < 0)
                        return r;
                if (!is_blank(c))
                        kept = n;
        }
        *pp = p < end ? p + 1 : p;
        *ret_len = kept;
        return 0;
}

/* The key of the assignment at p, which is past leading blanks: [*ret_key, *ret_key_end), and p moved
 * past '='. False for a line that is no assignment (blank, comment, or without '='). */
static bool read_key(const char **pp, const char *end, const char **ret_key, const char **ret_key_end)
{
        const char *p = *pp, *key_end;

        if (p == end || is_newline(*p) || *p == '#')
                return false;
        while (p < end && *p != '=' && !is_newline(*p))
                p++;
        if (p == end || *p != '=')
                return false;
        for (key_end = p; key_end > *pp && is_blank(key_end[-1]); key_end--)
                ;
        *ret_key = *pp;
        *ret_key_end = key_end;
        *pp = p + 1;
        return true;
}

char *os_release_get(const char *text, size_t size, const char *key)
{
        const char *nul = memchr(text, '\0', size), *end = nul ? nul : text + size, *p = text;
        size_t key_len = strlen(key);
        _cleanup_free_ char *found = NULL;

        while (p < end) {
                _cleanup_free_ char *buf = NULL;
                const char *k, *k_end;
                size_t len;

                p = skip_blanks(p, end);
                if (!read_key(&p, end, &k, &k_end)) {
                        p = skip_line(p, end);
                        continue;
                }
                /* The last assignment wins, as in the shell. */
                if ((size_t)(k_end - k) == key_len && memcmp(k, key, key_len) == 0) {
                        buf = malloc((size_t)(end - p) + 1);
                        if (!buf)
                                return NULL;
                }
                if (read_value(&p, end, buf, &len) < 0)
                        return NULL;
                if (buf) {
                        buf[len] = '\0';
                        free(found);
                        found = TAKE_PTR(buf);
                }
        }
        return TAKE_PTR(found);
}
