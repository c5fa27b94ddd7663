/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventlog.h"
#include "fs-util.h"
#include "log.h"
#include "option-roms.h"
#include "util.h"

/* Real logs are some ten KiB; anything this large is not one. */
#define EVENT_LOG_MAX (16u << 20)

int option_roms_count_in(const uint8_t *log, size_t size, size_t *ret_count, char **reterr_message)
{
        struct tcg_log parsed = {};
        size_t count = 0;
        int r;

        r = tcg_log_parse(log, size, &parsed, reterr_message);
        if (r < 0)
                return r;
        for (size_t i = 0; i < parsed.n_events; i++)
                count += parsed.events[i].type == EV_EFI_BOOT_SERVICES_DRIVER;
        tcg_log_done(&parsed);
        *ret_count = count;
        return 0;
}

/* securityfs reports a size of 0, so the file is read to its end. */
static int read_log(const char *path, uint8_t **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", path);
        return read_fd_bounded(fd, path, EVENT_LOG_MAX, ret, ret_size);
}

int option_roms_count(const char *path, size_t *ret_count)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_free_ char *message = NULL;
        size_t size = 0;
        int r;

        r = read_log(path, &log, &size);
        if (r < 0)
                return r;
        r = option_roms_count_in(log, size, ret_count, &message);
        if (r < 0)
                return log_error_errno(r, "%s: not a TCG event log: %s", path, message ?: strerror(-r));
        return 0;
}
