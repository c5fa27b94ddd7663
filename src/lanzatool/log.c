/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

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
