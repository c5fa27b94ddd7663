/* SPDX-License-Identifier: MIT */
#include "sha256-internal.h"

const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
static const uint32_t sha256_h0[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline uint32_t ror32(uint32_t x, unsigned n)
{
        return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

/* FIPS 180-4 §4.1.2, with Ch and Maj in their equivalent forms that need one operation less. */
static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
        return z ^ (x & (y ^ z));
}

static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
        return (x & y) | (z & (x | y));
}

static inline uint32_t bsig0(uint32_t x)
{
        return ror32(x, 2) ^ ror32(x, 13) ^ ror32(x, 22);
}

static inline uint32_t bsig1(uint32_t x)
{
        return ror32(x, 6) ^ ror32(x, 11) ^ ror32(x, 25);
}

static inline uint32_t ssig0(uint32_t x)
{
        return ror32(x, 7) ^ ror32(x, 18) ^ (x >> 3);
}

static inline uint32_t ssig1(uint32_t x)
{
        return ror32(x, 17) ^ ror32(x, 19) ^ (x >> 10);
}

/* The message schedule lives in a ring of 16 words: W[t] replaces W[t-16] (FIPS 180-4 §6.2.2 step 1). */
#define W_LOAD(t)   (w[(t)] = load_be32(data + 4 * (t)))
#define W_EXPAND(t) (w[(t)&15] += ssig1(w[((t)-2) & 15]) + w[((t)-7) & 15] + ssig0(w[((t)-15) & 15]))

/* One round of §6.2.2 step 3. The working variables are renamed by the caller instead of shifted, so a
 * round only writes two of them: h receives the new a, d the new e. */
#define ROUND(a, b, c, d, e, f, g, h, t, W)                                                                 \
        do {                                                                                                \
                uint32_t t1 = h + bsig1(e) + ch(e, f, g) + sha256_k[(t)] + W(t);                            \
                d += t1;                                                                                    \
                h = t1 + bsig0(a) + maj(a, b, c);                                                           \
        } while (0)

/* Eight renamings bring every variable back to its own name. */
#define ROUNDS8(t, W)                                                                                       \
        do {                                                                                                \
                ROUND(a, b, c, d, e, f, g, h, (t) + 0, W);                                                  \
                ROUND(h, a, b, c, d, e, f, g, (t) + 1, W);                                                  \
                ROUND(g, h, a, b, c, d, e, f, (t) + 2, W);                                                  \
                ROUND(f, g, h, a, b, c, d, e, (t) + 3, W);                                                  \
                ROUND(e, f, g, h, a, b, c, d, (t) + 4, W);                                                  \
                ROUND(d, e, f, g, h, a, b, c, (t) + 5, W);                                                  \
                ROUND(c, d, e, f, g, h, a, b, (t) + 6, W);                                                  \
                ROUND(b, c, d, e, f, g, h, a, (t) + 7, W);                                                  \
        } while (0)

void sha256_blocks_portable(uint32_t state[static 8], const uint8_t *data, size_t n_blocks)
{
        for (; n_blocks > 0; n_blocks--, data += SHA256_BLOCK_SIZE) {
                uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
                uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
                uint32_t w[16];

                ROUNDS8(0, W_LOAD);
                ROUNDS8(8, W_LOAD);
                ROUNDS8(16, W_EXPAND);
                ROUNDS8(24, W_EXPAND);
                ROUNDS8(32, W_EXPAND);
                ROUNDS8(40, W_EXPAND);
                ROUNDS8(48, W_EXPAND);
                ROUNDS8(56, W_EXPAND);

                state[0] += a;
                state[1] += b;
                state[2] += c;
                state[3] += d;
                state[4] += e;
                state[5] += f;
                state[6] += g;
                state[7] += h;
        }
}

/* Each instruction path is built only for its own architecture (meson picks the file), so only that
 * architecture's path is referenced here. */
static void compress(struct sha256_ctx *c, const uint8_t *data, size_t n_blocks)
{
        switch (c->impl) {
#if defined(__x86_64__)
        case SHA256_IMPL_SHANI:
                sha256_blocks_shani(c->state, data, n_blocks);
                return;
#elif defined(__aarch64__)
        case SHA256_IMPL_ARMV8:
                sha256_blocks_armv8(c->state, data, n_blocks);
                return;
#endif
        default:
                sha256_blocks_portable(c->state, data, n_blocks);
                return;
        }
}

bool sha256_impl_supported(enum sha256_impl impl)
{
        switch (impl) {
        case SHA256_IMPL_PORTABLE:
                return true;
#if defined(__x86_64__)
        case SHA256_IMPL_SHANI:
                return sha256_shani_supported();
#elif defined(__aarch64__)
        case SHA256_IMPL_ARMV8:
                return sha256_armv8_supported();
#endif
        default:
                return false;
        }
}

const char *sha256_impl_name(enum sha256_impl impl)
{
        static const char *const names[_SHA256_IMPL_MAX] = {
                [SHA256_IMPL_PORTABLE] = "portable",
                [SHA256_IMPL_SHANI] = "sha-ni",
                [SHA256_IMPL_ARMV8] = "armv8-ce",
        };

        return (unsigned)impl < _SHA256_IMPL_MAX ? names[impl] : NULL;
}

enum sha256_impl sha256_best_impl(void)
{
        for (enum sha256_impl impl = _SHA256_IMPL_MAX - 1; impl > SHA256_IMPL_PORTABLE; impl--)
                if (sha256_impl_supported(impl))
                        return impl;
        return SHA256_IMPL_PORTABLE;
}

void sha256_init_impl(struct sha256_ctx *c, enum sha256_impl impl)
{
        *c = (struct sha256_ctx){
                .impl = sha256_impl_supported(impl) ? impl : SHA256_IMPL_PORTABLE,
        };
        __builtin_memcpy(c->state, sha256_h0, sizeof(c->state));
}

void sha256_init(struct sha256_ctx *c)
{
        sha256_init_impl(c, sha256_best_impl());
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
        const uint8_t *p = data;
        size_t used = c->n_bytes % SHA256_BLOCK_SIZE;

        if (n == 0)
                return;

        c->n_bytes += n;

        if (used > 0) {
                size_t take = SHA256_BLOCK_SIZE - used;

                if (n < take) {
                        __builtin_memcpy(c->buffer + used, p, n);
                        return;
                }
                __builtin_memcpy(c->buffer + used, p, take);
                compress(c, c->buffer, 1);
                p += take;
                n -= take;
        }

        compress(c, p, n / SHA256_BLOCK_SIZE);
        p += n - n % SHA256_BLOCK_SIZE;
        __builtin_memcpy(c->buffer, p, n % SHA256_BLOCK_SIZE);
}

void sha256_final(struct sha256_ctx *c, uint8_t ret_digest[SHA256_DIGEST_SIZE])
{
        /* FIPS 180-4 §5.1.1: a 1 bit, zeros, and the message length in bits as a 64-bit big-endian number.
         * The standard only covers messages below 2^64 bits, so this product wraps only outside it. */
        uint64_t n_bits = c->n_bytes * 8;
        size_t used = c->n_bytes % SHA256_BLOCK_SIZE;
        const size_t length_offset = SHA256_BLOCK_SIZE - sizeof(n_bits);

        c->buffer[used++] = 0x80;
        if (used > length_offset) {
                __builtin_memset(c->buffer + used, 0, SHA256_BLOCK_SIZE - used);
                compress(c, c->buffer, 1);
                used = 0;
        }
        __builtin_memset(c->buffer + used, 0, length_offset - used);
        store_be32(c->buffer + length_offset, n_bits >> 32);
        store_be32(c->buffer + length_offset + 4, n_bits);
        compress(c, c->buffer, 1);

        for (size_t i = 0; i < 8; i++)
                store_be32(ret_digest + 4 * i, c->state[i]);
}

void sha256_digest(const void *data, size_t n, uint8_t ret_digest[SHA256_DIGEST_SIZE])
{
        struct sha256_ctx c;

        sha256_init(&c);
        sha256_update(&c, data, n);
        sha256_final(&c, ret_digest);
}
