/* SPDX-License-Identifier: MIT */
#pragma once

/* SHA-256 (FIPS 180-4), streaming. Built for the host and for UEFI: no libc, no allocation. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE  64

enum sha256_impl {
        SHA256_IMPL_PORTABLE,
        SHA256_IMPL_SHANI, /* x86-64 SHA extensions (with SSSE3 and SSE4.1) */
        SHA256_IMPL_ARMV8, /* AArch64 Cryptography Extensions (FEAT_SHA256) */
        _SHA256_IMPL_MAX,
};

/* Stack-allocatable; the fields are private to sha256.c. */
struct sha256_ctx {
        uint32_t state[8];
        uint64_t n_bytes;
        uint8_t buffer[SHA256_BLOCK_SIZE];
        enum sha256_impl impl;
};

/* True when this build has the implementation and this CPU the instructions it needs (the portable one
 * always). Asks the CPU once per implementation, then remembers. */
bool sha256_impl_supported(enum sha256_impl impl);

/* "portable", "sha-ni", "armv8-ce"; NULL for an unknown value. */
const char *sha256_impl_name(enum sha256_impl impl);

/* The implementation sha256_init() uses: the instruction path when supported, else the portable one. */
enum sha256_impl sha256_best_impl(void);

/* Starts a hash with the fastest implementation this CPU supports. */
void sha256_init(struct sha256_ctx *c);

/* Starts a hash with the given implementation. It falls back to the portable code when
 * sha256_impl_supported() is false, so a caller can never execute an instruction the CPU lacks. */
void sha256_init_impl(struct sha256_ctx *c, enum sha256_impl impl);

void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t ret_digest[SHA256_DIGEST_SIZE]);

/* One-shot convenience: init, update, final. */
void sha256_digest(const void *data, size_t n, uint8_t ret_digest[SHA256_DIGEST_SIZE]);
