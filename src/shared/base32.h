/* SPDX-License-Identifier: MIT */
#pragma once

/* RFC 4648 §6 base32 with the lowercase alphabet and no padding, as used in ESP file names. */

#include <stddef.h>
#include <stdint.h>

/* Characters in the encoding of n bytes, without the NUL. Returns SIZE_MAX when that count plus the NUL
 * does not fit in size_t; no real buffer is that large, so SIZE_MAX is never a valid length. */
size_t base32_encoded_len(size_t n);

/* Writes base32_encoded_len(n) characters and a NUL to out. */
void base32_encode(const uint8_t *in, size_t n, char *out);
