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

        struct pe_image img;

        r = read_file(path, KERNEL_CHECK_MAX_SIZE, &data, &size);
        /* The check is the x86-64 stub's; arm64 kernels are left to the aa64 stub (see pe-loader.h). */
        if (r >= 0 && pe_parse(data, size, PE_LAYOUT_FILE, &img) == 0 &&
            img.file_header->Machine == IMAGE_FILE_MACHINE_ARM64)
                return 0;
        if (r < 0)
                reason = r == -EFBIG ? "the kernel file is larger than 1 GiB"
                                     : "the kernel file cannot be read";
        else if (pe_loader_check(data, size, &reason) < 0)
                r = -ENOEXEC;
        if (r < 0 && ret_reason)
                *ret_reason = reason;
        return r;
}
