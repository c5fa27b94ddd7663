/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum log_level log_max_level = LOG_LEVEL_INFO;

void log_message(enum log_level level, const char *fmt, ...)
{
        va_list ap;

        if (level > log_max_level)
                return;
        fputs(level == LOG_LEVEL_WARNING ? "lanzatool: warning: " : "lanzatool: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int log_errno(enum log_level level, int error, const char *fmt, ...)
{
        char message[1024];
        va_list ap;

        if (error <= 0)
                error = EIO;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        log_message(level, "%s: %s", message, strerror(error));
        return -error;
}
