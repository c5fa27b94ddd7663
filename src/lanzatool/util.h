/* SPDX-License-Identifier: MIT */
#pragma once

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

#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define ELEMENTSOF(a)   (sizeof(a) / sizeof((a)[0]))

/* A NULL-terminated array of strings. */
void strv_free(char **l);
size_t strv_length(char *const *l);
/* Appends a copy of s; -ENOMEM on failure. */
int strv_extend(char ***l, const char *s);
int strv_contains(char *const *l, const char *s);
