/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "generation.h"
#include "log.h"
#include "util.h"

#define LINK_SUFFIX "-link"
#define BOOT_JSON   "boot.json"

static void generation_freep(struct generation **g)
{
        generation_free(*g);
}

/* N of "<profile>-<N>-link": decimal digits without sign or leading zero (so that one number has one
 * name), within unsigned. The profile part may hold '-' itself (system-profiles/my-laptop-3-link), so N
 * is the last field. */
static int parse_generation_number(const char *path, const char *name, unsigned *ret)
{
        size_t len = strlen(name), stem;
        const char *dash, *digits;
        unsigned n = 0;

        if (len <= strlen(LINK_SUFFIX) || strcmp(name + len - strlen(LINK_SUFFIX), LINK_SUFFIX) != 0)
                goto invalid;
        stem = len - strlen(LINK_SUFFIX);
        dash = memrchr(name, '-', stem);
        if (!dash || dash == name)
                goto invalid;
        digits = dash + 1;
        if (digits == name + stem || (digits[0] == '0' && digits + 1 != name + stem))
                goto invalid;
        for (const char *p = digits; p < name + stem; p++) {
                if (*p < '0' || *p > '9')
                        goto invalid;
                if (n > (UINT_MAX - (unsigned)(*p - '0')) / 10)
                        return log_error_errno(-ERANGE,
                                               "%s: generation number %.*s is out of range (at most %u)",
                                               path, (int)(name + stem - digits), digits, UINT_MAX);
                n = n * 10 + (unsigned)(*p - '0');
        }
        *ret = n;
        return 0;

invalid:
        return log_error_errno(-EINVAL, "%s: not a generation: the name must be <profile>-<N>" LINK_SUFFIX,
                               path);
}

/* path without trailing slashes: "system-42-link/" names the link too, and lstat() would follow it. */
static char *link_of(const char *path)
{
        size_t len = strlen(path);

        while (len > 1 && path[len - 1] == '/')
                len--;
        return strndup(path, len);
}

int generation_number(const char *path, unsigned *ret)
{
        _cleanup_free_ char *link = link_of(path);
        const char *name;

        if (!link)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        name = strrchr(link, '/');
        return parse_generation_number(path, name ? name + 1 : link, ret);
}

int generation_load(const char *path, struct generation **ret)
{
        _cleanup_(generation_freep) struct generation *g = NULL;
        _cleanup_free_ char *link = link_of(path), *boot_json = NULL;
        size_t len;
        struct stat st;
        unsigned number;
        int r;

        if (!link)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        len = strlen(link);
        r = generation_number(path, &number);
        if (r < 0)
                return r;
        if (lstat(link, &st) < 0) {
                r = -errno;
                return log_error_errno(r, "%s: %s", path, strerror(-r));
        }
        g = calloc(1, sizeof(*g));
        boot_json = malloc(len + sizeof("/" BOOT_JSON));
        if (!g || !boot_json)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        g->path = strdup(path);
        if (!g->path)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        stpcpy(stpcpy(boot_json, link), "/" BOOT_JSON);
        g->number = number;
        g->build_time = st.st_mtim.tv_sec;
        r = bootspec_load(boot_json, &g->bootspec);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(g);
        return 0;
}

void generation_free(struct generation *g)
{
        if (!g)
                return;
        free(g->path);
        bootspec_free(g->bootspec);
        free(g);
}

static int generation_compare(const void *a, const void *b)
{
        const struct generation *x = *(struct generation *const *)a, *y = *(struct generation *const *)b;

        if (x->number != y->number)
                return x->number < y->number ? -1 : 1;
        /* The same number from two profiles: any fixed order will do. */
        return strcmp(x->path, y->path);
}

void generations_sort(struct generation **g, size_t n)
{
        if (n > 1)
                qsort(g, n, sizeof(*g), generation_compare);
}
