/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "bootspec.h"

/* A NixOS generation given on the command line: a profile link such as
 * /nix/var/nix/profiles/system-42-link, or a directory holding boot.json whose name has the same
 * form (<profile>-<N>-link). */
struct generation {
        char *path;                /* as given */
        unsigned number;           /* N of the name */
        time_t build_time;         /* the link's own mtime (lstat), else the directory's */
        struct bootspec *bootspec; /* <path>/boot.json */
};

/* Logs "lanzatool: PATH: problem" and returns a negative errno when the name has no generation
 * number, the path does not exist, or boot.json is missing or malformed. */
int generation_load(const char *path, struct generation **ret);
void generation_free(struct generation *g);

/* N of a generation's name alone, logging as generation_load() does when there is none. */
int generation_number(const char *path, unsigned *ret);

/* Sorts by number, ascending. */
void generations_sort(struct generation **g, size_t n);
