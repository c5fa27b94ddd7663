/* SPDX-License-Identifier: MIT */

/* Throughput of our SHA-256 paths against OpenSSL's in the same process. The portable path is compared with
 * OpenSSL's best code without the SHA extensions: OpenSSL reads its CPU capability mask once at start-up,
 * so the process re-executes itself with that mask set for the second comparison. */

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

#define BUF_SIZE      ((size_t)64 << 20)
#define N_RUNS        5
#define PORTABLE_PASS "--portable"

/* OPENSSL_ia32cap(3): after the ':' comes the mask for CPUID leaf 7 (EBX in the low 32 bits), '~' clears
 * the bits given, and bit 29 of leaf 7 EBX is the SHA extensions. */
#define OPENSSL_NO_SHA_EXT ":~0x20000000"

typedef void (*hash_fn)(const uint8_t *buf, size_t n, uint8_t ret[SHA256_DIGEST_SIZE]);

static void hash_ours(enum sha256_impl impl, const uint8_t *buf, size_t n, uint8_t ret[SHA256_DIGEST_SIZE])
{
        struct sha256_ctx c;

        sha256_init_impl(&c, impl);
        sha256_update(&c, buf, n);
        sha256_final(&c, ret);
}

static void hash_shani(const uint8_t *buf, size_t n, uint8_t ret[SHA256_DIGEST_SIZE])
{
        hash_ours(SHA256_IMPL_SHANI, buf, n, ret);
}

static void hash_portable(const uint8_t *buf, size_t n, uint8_t ret[SHA256_DIGEST_SIZE])
{
        hash_ours(SHA256_IMPL_PORTABLE, buf, n, ret);
}

static void hash_openssl(const uint8_t *buf, size_t n, uint8_t ret[SHA256_DIGEST_SIZE])
{
        if (EVP_Digest(buf, n, ret, NULL, EVP_sha256(), NULL) != 1)
                abort();
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of N_RUNS after a warm-up round, alternating the contenders so that frequency drift or a noisy
 * neighbour hits both alike. */
static void compare(const char *label, hash_fn ours, double target, const uint8_t *buf)
{
        const hash_fn fns[2] = {ours, hash_openssl};
        uint8_t digests[2][SHA256_DIGEST_SIZE];
        double best[2] = {1e9, 1e9}, gbs[2];

        for (int run = -1; run < N_RUNS; run++)
                for (int k = 0; k < 2; k++) {
                        double t = now();
                        fns[k](buf, BUF_SIZE, digests[k]);
                        t = now() - t;
                        if (run >= 0 && t < best[k])
                                best[k] = t;
                }
        for (int k = 0; k < 2; k++)
                gbs[k] = BUF_SIZE / best[k] * 1e-9;

        printf("sha256 %s: %.2f GB/s, openssl %.2f GB/s, ratio %.2f (target >= %.2f)%s\n", label, gbs[0],
               gbs[1], gbs[0] / gbs[1], target,
               memcmp(digests[0], digests[1], SHA256_DIGEST_SIZE) ? ", DIGESTS DIFFER" : "");
        fflush(stdout);
}

int main(int argc, char *argv[])
{
        uint8_t *buf = malloc(BUF_SIZE);
        uint32_t x = 0x12345678;

        if (!buf)
                return 0;
        for (size_t i = 0; i < BUF_SIZE; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = x;
        }

        if (argc > 1 && strcmp(argv[1], PORTABLE_PASS) == 0) {
                compare("portable", hash_portable, 0.35, buf);
                free(buf);
                return 0;
        }

        if (sha256_impl_supported(SHA256_IMPL_SHANI))
                compare("shani", hash_shani, 0.90, buf);
        else
                printf("sha256 shani: not supported by this CPU\n");
        free(buf);

        if (setenv("OPENSSL_ia32cap", OPENSSL_NO_SHA_EXT, 1) < 0)
                return 0;
        printf("re-executing with OPENSSL_ia32cap=%s\n", OPENSSL_NO_SHA_EXT);
        fflush(stdout);
        execl("/proc/self/exe", argv[0], PORTABLE_PASS, (char *)NULL);
        perror("bench-sha256: re-exec");
        return 0;
}
