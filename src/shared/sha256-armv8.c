/* SPDX-License-Identifier: MIT */

/* The ARMv8 Cryptography Extensions path (SHA256H, SHA256H2, SHA256SU0, SHA256SU1). The file is compiled
 * with +crypto because arm_neon.h declares the intrinsics only then; the compiler emits these instructions
 * only for the intrinsics below, which run only after sha256_armv8_supported() said yes. */

#include <arm_neon.h>

#include "sha256-internal.h"

/* ID_AA64ISAR0_EL1.SHA2, bits [15:12] (Arm ARM D19.2.61): 0 none, 1 SHA256*, 2 SHA512* as well. */
#define ID_AA64ISAR0_SHA2_SHIFT 12
#define ID_AA64ISAR0_SHA2_MASK  UINT64_C(0xf)

static bool cpu_has_sha2(void)
{
        uint64_t isar0;

        /* Readable at EL1 and EL2, where UEFI runs; Linux emulates the read for user space (since 4.11). */
        __asm__("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
        return ((isar0 >> ID_AA64ISAR0_SHA2_SHIFT) & ID_AA64ISAR0_SHA2_MASK) != 0;
}

bool sha256_armv8_supported(void)
{
        /* 0: not asked yet, 1: yes, -1: no; as sha256_shani_supported(). */
        static int8_t cached;
        int8_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

        if (v == 0) {
                v = cpu_has_sha2() ? 1 : -1;
                __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
        }
        return v > 0;
}

/* Four message words, big-endian in memory, as lanes. */
static inline uint32x4_t load_words(const uint8_t *p)
{
        return vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p)));
}

/* Rounds t..t+3: SHA256H gives the new {a,b,c,d} and SHA256H2 the new {e,f,g,h}, both from the old
 * {a,b,c,d}, so it is kept for the second. */
static inline void rounds4(uint32x4_t *abcd, uint32x4_t *efgh, uint32x4_t w, size_t t)
{
        uint32x4_t wk = vaddq_u32(w, vld1q_u32(&sha256_k[t]));
        uint32x4_t abcd_old = *abcd;

        *abcd = vsha256hq_u32(*abcd, *efgh, wk);
        *efgh = vsha256h2q_u32(*efgh, abcd_old, wk);
}

/* W[t..t+3] from the sixteen words before them (FIPS 180-4 §6.2.2 step 1): SU0 adds σ0, SU1 the rest. */
static inline uint32x4_t schedule(uint32x4_t w0, uint32x4_t w1, uint32x4_t w2, uint32x4_t w3)
{
        return vsha256su1q_u32(vsha256su0q_u32(w0, w1), w2, w3);
}

void sha256_blocks_armv8(uint32_t state[static 8], const uint8_t *data, size_t n_blocks)
{
        uint32x4_t abcd = vld1q_u32(&state[0]), efgh = vld1q_u32(&state[4]);

        for (; n_blocks > 0; n_blocks--, data += SHA256_BLOCK_SIZE) {
                uint32x4_t abcd_in = abcd, efgh_in = efgh;
                uint32x4_t w0 = load_words(data), w1 = load_words(data + 16);
                uint32x4_t w2 = load_words(data + 32), w3 = load_words(data + 48);

                rounds4(&abcd, &efgh, w0, 0);
                rounds4(&abcd, &efgh, w1, 4);
                rounds4(&abcd, &efgh, w2, 8);
                rounds4(&abcd, &efgh, w3, 12);
                for (size_t t = 16; t < 64; t += 16) {
                        w0 = schedule(w0, w1, w2, w3);
                        rounds4(&abcd, &efgh, w0, t);
                        w1 = schedule(w1, w2, w3, w0);
                        rounds4(&abcd, &efgh, w1, t + 4);
                        w2 = schedule(w2, w3, w0, w1);
                        rounds4(&abcd, &efgh, w2, t + 8);
                        w3 = schedule(w3, w0, w1, w2);
                        rounds4(&abcd, &efgh, w3, t + 12);
                }

                abcd = vaddq_u32(abcd, abcd_in);
                efgh = vaddq_u32(efgh, efgh_in);
        }

        vst1q_u32(&state[0], abcd);
        vst1q_u32(&state[4], efgh);
}
