/* SPDX-License-Identifier: MIT */
#include "base32.h"

#define BASE32_BITS 5

static const char base32_alphabet[32] = "abcdefghijklmnopqrstuvwxyz234567";

size_t base32_encoded_len(size_t n)
{
        /* Every 5 bytes give 8 characters; a partial group gives ceil(bits / 5). */
        size_t len;

        if (__builtin_mul_overflow(n / 5, 8, &len) ||
            __builtin_add_overflow(len, (n % 5 * 8 + BASE32_BITS - 1) / BASE32_BITS, &len) ||
            len == SIZE_MAX)
                return SIZE_MAX;
        return len;
}

void base32_encode(const uint8_t *in, size_t n, char *out)
{
        /* Only the low bits of acc matter: the high ones are shifted out unused. */
        uint32_t acc = 0;
        unsigned n_bits = 0;

        for (size_t i = 0; i < n; i++) {
                acc = acc << 8 | in[i];
                n_bits += 8;
                while (n_bits >= BASE32_BITS) {
                        n_bits -= BASE32_BITS;
                        *out++ = base32_alphabet[(acc >> n_bits) & 31];
                }
        }
        if (n_bits > 0)
                *out++ = base32_alphabet[(acc << (BASE32_BITS - n_bits)) & 31];
        *out = '\0';
}
