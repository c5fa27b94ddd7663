/* SPDX-License-Identifier: MIT */
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

static int file_fd = -1;
static char file_path[64];

char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                return NULL;
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
        fuzz_file_close();
        file_fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (file_fd < 0)
                fuzz_fail(__FILE__, __LINE__, "memfd_create");
        for (size_t done = 0; done < size;) {
                ssize_t n = write(file_fd, data + done, size - done);
                if (n <= 0)
                        fuzz_fail(__FILE__, __LINE__, "write");
                done += (size_t)n;
        }
        snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
        return file_path;
}

void fuzz_file_close(void)
{
        if (file_fd >= 0)
                close(file_fd);
        file_fd = -1;
}

_Noreturn void fuzz_fail(const char *file, int line, const char *expr)
{
        char message[512];

        /* Through the sanitizers' report descriptor: with -close_fd_mask=2, libFuzzer closed stderr. */
        snprintf(message, sizeof(message), "%s:%d: broken promise: %s", file, line, expr);
        __sanitizer_report_error_summary(message);
        abort();
}
