/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

/* printf-like output to the firmware console, checked by the compiler as printf. Supported:
 * %s (ASCII char *), %ls (CHAR16 *), %c, %d, %u, %x, %X with optional '0' flag, width and the
 * length modifiers l, ll, z; %%. Print statuses with %s and efi_status_name(). A newline is
 * written as CR LF. */
void log_printf(UINTN attribute, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...)  log_printf(EFI_LIGHTGRAY, __VA_ARGS__)
#define log_warn(...)  log_printf(EFI_YELLOW, __VA_ARGS__)
#define log_error(...) log_printf(EFI_LIGHTRED, __VA_ARGS__)

/* Log an error and return its status in one expression: return log_error_status(err, "..."). */
#define log_error_status(status, ...)                                                                       \
        ({                                                                                                  \
                log_error(__VA_ARGS__);                                                                     \
                (EFI_STATUS)(status);                                                                       \
        })

/* The same formatting into a buffer of size CHAR16s, truncated and NUL-terminated. */
void snprintf16(CHAR16 *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

const char *efi_status_name(EFI_STATUS s);
