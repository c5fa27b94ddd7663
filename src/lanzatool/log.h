/* SPDX-License-Identifier: MIT */
#pragma once

/* Messages go to stderr as "lanzatool: <message>"; an error names the file and the problem:
 * "lanzatool: /nix/store/…/boot.json: \"kernel\" must be a string". */

enum log_level {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
};

extern enum log_level log_max_level;

void log_message(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_message(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_message(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...)    log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Log and return a negative errno in one expression: return log_error_errno(-ENOENT, "%s: …", path).
 * r is evaluated before logging, which may change errno. */
#define log_full_errno(level, r, ...)                                                                       \
        ({                                                                                                  \
                int _r = (r);                                                                               \
                log_message((level), __VA_ARGS__);                                                          \
                _r;                                                                                         \
        })
#define log_error_errno(r, ...) log_full_errno(LOG_LEVEL_ERROR, r, __VA_ARGS__)

/* Logs "<message>: <strerror(error)>" and returns -error; error is errno as the failed call left it,
 * read as an argument before logging can change it. */
int log_errno(enum log_level level, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
