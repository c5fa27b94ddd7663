/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal harness: check() counts and reports, tests_finish() prints the tally and gives main's result.
 * Each test is one executable, listed in meson.build. */

#include <stdio.h>

static unsigned tests_passed, tests_failed;

#define check(cond, ...)                                                                                    \
        do {                                                                                                \
                if (cond) {                                                                                 \
                        tests_passed++;                                                                     \
                } else {                                                                                    \
                        tests_failed++;                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);            \
                        fprintf(stderr, __VA_ARGS__);                                                       \
                        fputc('\n', stderr);                                                                \
                }                                                                                           \
        } while (0)

static inline int tests_finish(void)
{
        printf("%u passed, %u failed\n", tests_passed, tests_failed);
        return tests_failed > 0;
}
