/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership to someone else: the cleanup handler then sees NULL. */
#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) _p = (p);                                                                     \
                (p) = NULL;                                                                                 \
                _p;                                                                                         \
        })
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* For functions reporting failures as a sentence: stores a malloc'd message in *ret_message (when
 * ret_message is not NULL; NULL when even that allocation fails) and returns error. */
int set_error_message(char **ret_message, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A NULL-terminated array of strings. */
void strv_free(char **l);
size_t strv_length(char *const *l);
/* Appends a copy of s; -ENOMEM on failure. */
int strv_extend(char ***l, const char *s);
int strv_contains(char *const *l, const char *s);
