/* SPDX-License-Identifier: MIT */
#include "cmdline.h"

/* Firmware boot entries (some Dell machines) fill LoadOptions with binary data; a command line
 * worth using has no control character anywhere before its NUL. */
#define CONTROL_CHAR_MAX 0x1f

#define UTF8_INVALID UINT32_MAX

static uint16_t unit_le(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

bool cmdline_use_load_options(bool secure_boot, bool have_embedded_cmdline, bool confidential_vm,
                              const void *load_options, size_t load_options_size)
{
        if (secure_boot && (have_embedded_cmdline || confidential_vm))
                return false;
        if (!load_options || load_options_size < sizeof(uint16_t))
                return false;
        for (size_t i = 0; i < load_options_size / sizeof(uint16_t); i++) {
                uint16_t c = unit_le((const uint8_t *)load_options + i * sizeof(uint16_t));
                if (c == 0)
                        break;
                if (c <= CONTROL_CHAR_MAX)
                        return false;
        }
        return true;
}

size_t cmdline_load_options_units(size_t load_options_size)
{
        size_t units = load_options_size / sizeof(uint16_t);

        return units < SIZE_MAX / sizeof(uint16_t) ? units + 1 : 0;
}

size_t cmdline_utf8_units(size_t n)
{
        /* Every unit comes from at least one byte. */
        return n < SIZE_MAX / sizeof(uint16_t) ? n + 1 : 0;
}

static bool shall_be_whitespace(uint16_t c)
{
        return c <= 0x20 || c == 0x7f;
}

size_t cmdline_mangle(uint16_t *s)
{
        const uint16_t *p = s;
        size_t q = 0, end = 0;

        while (*p != 0 && shall_be_whitespace(*p))
                p++;
        for (; *p != 0; p++) {
                if (shall_be_whitespace(*p)) {
                        s[q++] = ' ';
                        continue;
                }
                s[q++] = *p;
                end = q;
        }
        s[end] = 0;
        return end;
}

int cmdline_from_load_options(const void *load_options, size_t load_options_size, uint16_t *buf,
                              size_t buf_units, size_t *ret_len)
{
        const uint8_t *p = load_options;
        size_t max = load_options_size / sizeof(uint16_t), n = 0;

        if (!buf || !ret_len || (!load_options && load_options_size > 0))
                return CMDLINE_ERR_INVALID;
        if (buf_units == 0 || buf_units - 1 < max)
                return CMDLINE_ERR_BUFFER;

        for (; n < max; n++) {
                uint16_t c = unit_le(p + n * sizeof(uint16_t));
                if (c == 0)
                        break;
                buf[n] = c;
        }
        buf[n] = 0;
        *ret_len = cmdline_mangle(buf);
        return CMDLINE_OK;
}

/* One sequence as sd-stub's utf8_to_unichar() reads it: lead bytes for up to 6 bytes, no check
 * for overlong forms. A bad lead byte consumes 1 byte, a truncated sequence or a bad continuation
 * byte consumes the sequence's full length; all of them yield UTF8_INVALID. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *ret)
{
        size_t len;
        uint32_t c;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, c = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, c = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, c = s[0] & 0x07;
        else if ((s[0] & 0xfc) == 0xf8)
                len = 5, c = s[0] & 0x03;
        else if ((s[0] & 0xfe) == 0xfc)
                len = 6, c = s[0] & 0x01;
        else {
                *ret = UTF8_INVALID;
                return 1;
        }

        if (len > n) {
                *ret = UTF8_INVALID;
                return len;
        }
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *ret = UTF8_INVALID;
                        return len;
                }
                c = c << 6 | (s[i] & 0x3f);
        }
        *ret = c;
        return len;
}

/* UCS-2: surrogates and anything beyond the BMP cannot be one unit, so sd-stub drops them. */
static bool is_ucs2(uint32_t c)
{
        return c <= 0xd7ff || (c >= 0xe000 && c <= 0xffff);
}

int cmdline_from_utf8(const char *s, size_t n, uint16_t *buf, size_t buf_units, size_t *ret_len)
{
        const uint8_t *p = (const uint8_t *)s;
        size_t units = cmdline_utf8_units(n), i = 0;

        if (!buf || !ret_len || (!s && n > 0))
                return CMDLINE_ERR_INVALID;
        if (units == 0 || buf_units < units)
                return CMDLINE_ERR_BUFFER;

        while (n > 0 && *p != 0) {
                uint32_t c;
                size_t len = utf8_decode(p, n, &c);

                /* A truncated sequence claims more than is left; it ends the input. */
                if (len > n)
                        len = n;
                p += len;
                n -= len;
                if (is_ucs2(c))
                        buf[i++] = (uint16_t)c;
        }
        buf[i] = 0;
        *ret_len = cmdline_mangle(buf);
        return CMDLINE_OK;
}
