/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fs-util.h"
#include "kernel-check.h"
#include "pe-loader.h"
#include "util.h"

int kernel_check_file(const char *path, const char **ret_reason)
{
        _cleanup_free_ uint8_t *data = NULL;
        const char *reason = NULL;
        size_t size;
        int r;

        r = read_file(path, KERNEL_CHECK_MAX_SIZE, &data, &size);
        if (r < 0)
                reason = r == -EFBIG ? "the kernel file is larger than 1 GiB"
                                     : "the kernel file cannot be read";
        else if (pe_loader_check(data, size, &reason) < 0)
                r = -ENOEXEC;
        if (r < 0 && ret_reason)
                *ret_reason = reason;
        return r;
}
