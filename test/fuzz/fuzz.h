/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers for the libFuzzer targets in this directory. Each target feeds its input to the code the
 * product runs and checks what the API promises; sanitizers catch the rest. */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (a copy; free() it). NULL only on allocation failure. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Writes the input to an anonymous file (memfd) and returns its path, "/proc/self/fd/N", for the code
 * that reads files by name; fuzz_file_close() closes it. Aborts on failure: that is the harness's
 * fault, not the input's. */
const char *fuzz_file(const uint8_t *data, size_t size);
void fuzz_file_close(void);

/* Aborts, naming the target's broken promise, so libFuzzer records the input as a crash. */
#define fuzz_assert(expr)                                                                                   \
        do {                                                                                                \
                if (!(expr))                                                                                \
                        fuzz_fail(__FILE__, __LINE__, #expr);                                               \
        } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *expr);
