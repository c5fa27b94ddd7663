/* SPDX-License-Identifier: MIT */
/* The cpio archives the stub builds from companion files: the input is split at NUL bytes into the
 * target directory, then (name, data) pairs. cpio_write() must write exactly cpio_size() bytes, into a
 * buffer of exactly that size, and refuse a buffer one byte short. */
#include <stdlib.h>
#include <string.h>

#include "cpio.h"
#include "fuzz.h"

#define MAX_FILES 16

static int write_archive(const char *dir, uint32_t dmode, uint32_t fmode, const struct cpio_file *files,
                         size_t n)
{
        size_t size;
        uint8_t *buf;
        int r;

        r = cpio_size(dir, files, n, &size);
        if (r < 0)
                return r;
        fuzz_assert(size % 4 == 0 && size >= CPIO_TRAILER_SIZE);
        buf = malloc(size);
        if (!buf)
                return 0;
        /* cpio_size() does not look at the modes; cpio_write() refuses all but permission bits. */
        r = cpio_write(dir, dmode, fmode, files, n, buf, size);
        fuzz_assert(r == CPIO_OK || (r == CPIO_ERR_INVALID && ((dmode | fmode) & ~07777u)));
        if (r == CPIO_OK) {
                fuzz_assert(memcmp(buf, "070701", 6) == 0);
                fuzz_assert(cpio_write(dir, dmode, fmode, files, n, buf, size - 1) == CPIO_ERR_BUFFER);
        }
        free(buf);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct cpio_file files[MAX_FILES];
        size_t n = 0;
        char *copy, *p, *end, *dir;
        uint32_t dmode = 0500, fmode = 0400;

        if (size >= 4) {
                dmode = (uint32_t)data[0] | (uint32_t)data[1] << 8;
                fmode = (uint32_t)data[2] | (uint32_t)data[3] << 8;
                data += 4, size -= 4;
        }
        copy = fuzz_strndup(data, size);
        if (!copy)
                return 0;
        end = copy + size;
        dir = copy;
        p = dir + strlen(dir) + 1;
        while (p < end && n < MAX_FILES) {
                char *d;

                files[n].name = p;
                p += strlen(p) + 1;
                d = p < end ? p : end;
                files[n].data = d;
                files[n].size = d < end ? strlen(d) : 0;
                p = d + files[n].size + 1;
                n++;
        }
        (void)write_archive(dir, dmode, fmode, files, n);
        free(copy);
        return 0;
}
