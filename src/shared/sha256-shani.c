/* SPDX-License-Identifier: MIT */

/* The Intel SHA extensions path. Only the functions marked TARGET_SHANI may contain SSE4.1, SSSE3 and SHA
 * instructions, and they run only after sha256_shani_supported() said yes; the UEFI build compiles this file
 * without -mgeneral-regs-only for that reason alone. */

#include <cpuid.h>
#include <immintrin.h>
/* Under an MSVC-flavoured target (UEFI), immintrin.h only includes the headers of the features enabled on
 * the command line. Including them directly declares the intrinsics for the target(...) functions. */
#include <shaintrin.h>
#include <smmintrin.h>
#include <tmmintrin.h>

#include "sha256-internal.h"

#define TARGET_SHANI __attribute__((target("sha,sse4.1,ssse3")))

static bool cpu_has_shani(void)
{
        unsigned eax, ebx, ecx, edx;

        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSSE3) || !(ecx & bit_SSE4_1))
                return false;
        return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & bit_SHA);
}

bool sha256_shani_supported(void)
{
        /* 0: not asked yet, 1: yes, -1: no. Racing threads at worst both ask CPUID and store the same
         * answer; CPUID is worth caching because it traps to the hypervisor in a VM. */
        static int8_t cached;
        int8_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

        if (v == 0) {
                v = cpu_has_shani() ? 1 : -1;
                __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
        }
        return v > 0;
}

/* Four message words, turned from big-endian into lanes. */
TARGET_SHANI static inline __m128i load_words(const uint8_t *p)
{
        const __m128i bswap32 = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);

        return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), bswap32);
}

/* W[t..t+3] from the sixteen words before them, oldest first (FIPS 180-4 §6.2.2 step 1): msg1 adds σ0,
 * the alignr supplies W[t-7..t-4], msg2 adds σ1 including that of the words it has just produced. */
TARGET_SHANI static inline __m128i schedule(__m128i w0, __m128i w1, __m128i w2, __m128i w3)
{
        return _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4)),
                                    w3);
}

/* Rounds t..t+3. sha256rnds2 does two rounds, takes W+K from the low half of its third operand and returns
 * the new {a,b,e,f}; the old {a,b,e,f} is then the new {c,d,g,h}, so the two registers swap roles. */
TARGET_SHANI static inline void rounds4(__m128i *abef, __m128i *cdgh, __m128i w, size_t t)
{
        __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&sha256_k[t]));

        *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
        *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

TARGET_SHANI void sha256_blocks_shani(uint32_t state[static 8], const uint8_t *data, size_t n_blocks)
{
        /* Register names list the lanes from the highest down. */
        __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
        __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
        __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
        __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
        __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
        __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

        for (; n_blocks > 0; n_blocks--, data += SHA256_BLOCK_SIZE) {
                __m128i abef_in = abef, cdgh_in = cdgh;
                __m128i w0 = load_words(data), w1 = load_words(data + 16);
                __m128i w2 = load_words(data + 32), w3 = load_words(data + 48);

                rounds4(&abef, &cdgh, w0, 0);
                rounds4(&abef, &cdgh, w1, 4);
                rounds4(&abef, &cdgh, w2, 8);
                rounds4(&abef, &cdgh, w3, 12);
                for (size_t t = 16; t < 64; t += 16) {
                        w0 = schedule(w0, w1, w2, w3);
                        rounds4(&abef, &cdgh, w0, t);
                        w1 = schedule(w1, w2, w3, w0);
                        rounds4(&abef, &cdgh, w1, t + 4);
                        w2 = schedule(w2, w3, w0, w1);
                        rounds4(&abef, &cdgh, w2, t + 8);
                        w3 = schedule(w3, w0, w1, w2);
                        rounds4(&abef, &cdgh, w3, t + 12);
                }

                abef = _mm_add_epi32(abef, abef_in);
                cdgh = _mm_add_epi32(cdgh, cdgh_in);
        }

        __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
        __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
        _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xf0));
        _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}
