/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int set_error_message(char **ret_message, int error, const char *fmt, ...)
{
        va_list ap;

        if (!ret_message)
                return error;
        va_start(ap, fmt);
        if (vasprintf(ret_message, fmt, ap) < 0)
                *ret_message = NULL;
        va_end(ap);
        return error;
}

void strv_free(char **l)
{
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

int strv_extend(char ***l, const char *s)
{
        size_t n = strv_length(*l);
        char *c = strdup(s), **m = c ? realloc(*l, (n + 2) * sizeof(char *)) : NULL;

        if (!m) {
                free(c);
                return -ENOMEM;
        }
        m[n] = c;
        m[n + 1] = NULL;
        *l = m;
        return 0;
}

int strv_contains(char *const *l, const char *s)
{
        for (size_t i = 0; l && l[i]; i++)
                if (strcmp(l[i], s) == 0)
                        return 1;
        return 0;
}
