/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "log.h"
#include "util.h"

/* One formatter for two sinks: the console (flushed in pieces, newlines as CR LF) and a
 * caller's buffer (truncated, always NUL-terminated). */
typedef struct {
        CHAR16 *buf;
        size_t size, n;
        bool console;
} Out;

static void out_flush(Out *o)
{
        o->buf[o->n] = 0;
        if (!o->console || o->n == 0)
                return;
        (void)ST->ConOut->OutputString(ST->ConOut, o->buf);
        o->n = 0;
}

static void out_char(Out *o, CHAR16 c)
{
        if (o->console && c == '\n')
                out_char(o, '\r');
        if (o->n + 1 >= o->size) {
                if (!o->console)
                        return;
                out_flush(o);
        }
        o->buf[o->n++] = c;
}

static void out_number(Out *o, uint64_t v, bool negative, unsigned base, bool upper, unsigned width,
                       char pad)
{
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        char tmp[24];
        unsigned n = 0;

        do {
                tmp[n++] = digits[v % base];
                v /= base;
        } while (v > 0);
        if (negative)
                tmp[n++] = '-';
        for (; width > n; width--)
                out_char(o, (CHAR16)pad);
        while (n > 0)
                out_char(o, (CHAR16)tmp[--n]);
}

static uint64_t arg_unsigned(va_list *ap, unsigned length)
{
        if (length == 0)
                return va_arg(*ap, unsigned);
        if (length == 1)
                return va_arg(*ap, unsigned long);
        return va_arg(*ap, unsigned long long);
}

static int64_t arg_signed(va_list *ap, unsigned length)
{
        if (length == 0)
                return va_arg(*ap, int);
        if (length == 1)
                return va_arg(*ap, long);
        return va_arg(*ap, long long);
}

static void out_format(Out *o, const char *fmt, va_list *ap)
{
        for (; *fmt; fmt++) {
                unsigned width = 0, length = 0;
                char pad = ' ';

                if (*fmt != '%') {
                        out_char(o, (CHAR16)(uint8_t)*fmt);
                        continue;
                }
                fmt++;
                if (*fmt == '0')
                        pad = '0', fmt++;
                for (; *fmt >= '0' && *fmt <= '9'; fmt++)
                        width = width * 10 + (unsigned)(*fmt - '0');
                for (; *fmt == 'l' || *fmt == 'z'; fmt++)
                        length = *fmt == 'z' ? 2 : length + 1;

                switch (*fmt) {
                case 's':
                        if (length == 0) {
                                for (const char *s = va_arg(*ap, const char *); s && *s; s++)
                                        out_char(o, (CHAR16)(uint8_t)*s);
                        } else {
                                for (const CHAR16 *s = va_arg(*ap, const CHAR16 *); s && *s; s++)
                                        out_char(o, *s);
                        }
                        break;
                case 'c':
                        out_char(o, (CHAR16)va_arg(*ap, int));
                        break;
                case 'd': {
                        int64_t v = arg_signed(ap, length);
                        out_number(o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, width, pad);
                        break;
                }
                case 'u':
                case 'x':
                case 'X':
                        out_number(o, arg_unsigned(ap, length), false, *fmt == 'u' ? 10 : 16, *fmt == 'X',
                                   width, pad);
                        break;
                case '%':
                        out_char(o, '%');
                        break;
                default:
                        return;
                }
        }
}

void log_printf(UINTN attribute, const char *fmt, ...)
{
        CHAR16 buf[128];
        Out o = {.buf = buf, .size = ELEMENTSOF(buf), .console = true};
        va_list ap;

        (void)ST->ConOut->SetAttribute(ST->ConOut, attribute);
        va_start(ap, fmt);
        out_format(&o, fmt, &ap);
        va_end(ap);
        out_char(&o, '\n');
        out_flush(&o);
        (void)ST->ConOut->SetAttribute(ST->ConOut, EFI_LIGHTGRAY);
}

void snprintf16(CHAR16 *buf, size_t size, const char *fmt, ...)
{
        Out o = {.buf = buf, .size = size};
        va_list ap;

        if (size == 0)
                return;
        va_start(ap, fmt);
        out_format(&o, fmt, &ap);
        va_end(ap);
        out_flush(&o);
}

const char *efi_status_name(EFI_STATUS s)
{
        static const struct {
                EFI_STATUS status;
                const char *name;
        } table[] = {
                {EFI_SUCCESS, "Success"},
                {EFI_LOAD_ERROR, "Load error"},
                {EFI_INVALID_PARAMETER, "Invalid parameter"},
                {EFI_UNSUPPORTED, "Unsupported"},
                {EFI_BUFFER_TOO_SMALL, "Buffer too small"},
                {EFI_DEVICE_ERROR, "Device error"},
                {EFI_OUT_OF_RESOURCES, "Out of resources"},
                {EFI_VOLUME_CORRUPTED, "Volume corrupted"},
                {EFI_NOT_FOUND, "Not found"},
                {EFI_ACCESS_DENIED, "Access denied"},
                {EFI_TIMEOUT, "Timeout"},
                {EFI_ALREADY_STARTED, "Already started"},
                {EFI_ABORTED, "Aborted"},
                {EFI_INCOMPATIBLE_VERSION, "Incompatible version"},
                {EFI_SECURITY_VIOLATION, "Security violation"},
                {EFI_END_OF_FILE, "End of file"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].status == s)
                        return table[i].name;
        return "Unknown error";
}
