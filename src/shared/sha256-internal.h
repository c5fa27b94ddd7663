/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between sha256.c and the instruction paths (sha256-shani.c on x86-64, sha256-armv8.c on AArch64),
 * which are built with different compiler flags and only for their own architecture. */

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
extern const uint32_t sha256_k[64];

/* Each compresses n_blocks consecutive 64-byte blocks into state (a..h, FIPS 180-4 §6.2.2). */
void sha256_blocks_portable(uint32_t state[static 8], const uint8_t *data, size_t n_blocks);
void sha256_blocks_shani(uint32_t state[static 8], const uint8_t *data, size_t n_blocks);
void sha256_blocks_armv8(uint32_t state[static 8], const uint8_t *data, size_t n_blocks);

/* Whether this CPU has the instructions of that path. Each asks the CPU once, then remembers. */
bool sha256_shani_supported(void);
bool sha256_armv8_supported(void);
