/* SPDX-License-Identifier: MIT */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "test-util.h"
#include "tests.h"

#if defined(__x86_64__)
#define HOST_X86_64 true
#else
#define HOST_X86_64 false
#endif
#if defined(__aarch64__)
#define HOST_AARCH64 true
#else
#define HOST_AARCH64 false
#endif

#define SEED           UINT64_C(0x6c616e7a61626f6f)
#define N_RANDOM       2000
#define MAX_RANDOM_LEN 70000

/* FIPS 180-4 examples (NIST CSRC "Example Values"), and the classic million times 'a'. */
static const struct {
        const char *message;
        size_t repeat;
        const char *digest;
} vectors[] = {
        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

/* Feeds data in random pieces of 0 to max_chunk bytes, zero-length updates included. */
static void hash_chunked(enum sha256_impl impl, const uint8_t *data, size_t n, size_t max_chunk,
                         uint8_t ret[SHA256_DIGEST_SIZE])
{
        struct sha256_ctx c;

        sha256_init_impl(&c, impl);
        while (n > 0) {
                size_t k = rng_next() % (max_chunk + 1);
                if (k > n)
                        k = n;
                sha256_update(&c, data, k);
                data += k;
                n -= k;
        }
        sha256_final(&c, ret);
}

static bool impl_available(enum sha256_impl impl)
{
        return sha256_impl_supported(impl);
}

static void test_vectors(void)
{
        for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
                size_t len = strlen(vectors[v].message), n = len * vectors[v].repeat;
                uint8_t *msg = malloc(n + 1), digest[SHA256_DIGEST_SIZE];
                char hex[2 * SHA256_DIGEST_SIZE + 1];

                for (size_t i = 0; i < vectors[v].repeat; i++)
                        memcpy(msg + i * len, vectors[v].message, len);

                sha256_digest(msg, n, digest);
                to_hex(digest, hex);
                check(strcmp(hex, vectors[v].digest) == 0, "vector %zu one-shot: %s", v, hex);

                for (enum sha256_impl impl = 0; impl < _SHA256_IMPL_MAX; impl++) {
                        if (!impl_available(impl))
                                continue;
                        hash_chunked(impl, msg, n, 200, digest);
                        to_hex(digest, hex);
                        check(strcmp(hex, vectors[v].digest) == 0, "vector %zu %s: %s", v,
                              sha256_impl_name(impl), hex);
                }
                free(msg);
        }
}

static void test_random_against_openssl(void)
{
        static const size_t max_chunks[] = {1, 63, 64, 65, 200, 4096, MAX_RANDOM_LEN};
        uint8_t *data = malloc(MAX_RANDOM_LEN);

        for (size_t i = 0; i < MAX_RANDOM_LEN; i++)
                data[i] = rng_next();

        for (unsigned i = 0; i < N_RANDOM; i++) {
                size_t n = rng_next() % (MAX_RANDOM_LEN + 1);
                size_t offset = rng_next() % (MAX_RANDOM_LEN - n + 1);
                uint8_t expected[SHA256_DIGEST_SIZE], digest[SHA256_DIGEST_SIZE];

                check(EVP_Digest(data + offset, n, expected, NULL, EVP_sha256(), NULL) == 1, "EVP_Digest");
                for (enum sha256_impl impl = 0; impl < _SHA256_IMPL_MAX; impl++) {
                        size_t max_chunk =
                                max_chunks[rng_next() % (sizeof(max_chunks) / sizeof(max_chunks[0]))];

                        if (!impl_available(impl))
                                continue;
                        hash_chunked(impl, data + offset, n, max_chunk, digest);
                        check(memcmp(digest, expected, sizeof(digest)) == 0,
                              "case %u: %s, %zu bytes at offset %zu, chunks up to %zu", i,
                              sha256_impl_name(impl), n, offset, max_chunk);
                }
        }
        free(data);
}

static void test_selection(void)
{
        struct sha256_ctx c;

        /* Peeks at a private field: the point is which implementation the public calls chose. */
        sha256_init(&c);
        check(c.impl == sha256_best_impl(), "auto: %d", c.impl);
        check(sha256_impl_supported(SHA256_IMPL_PORTABLE), "portable always supported");
        /* Each instruction path exists only on its own architecture, whatever the CPU. */
        for (enum sha256_impl impl = 0; impl < _SHA256_IMPL_MAX; impl++) {
                bool other_arch = (impl == SHA256_IMPL_SHANI && !HOST_X86_64) ||
                                  (impl == SHA256_IMPL_ARMV8 && !HOST_AARCH64);

                check(!(other_arch && sha256_impl_supported(impl)), "%s on this architecture",
                      sha256_impl_name(impl));
                sha256_init_impl(&c, impl);
                check(c.impl == (sha256_impl_supported(impl) ? impl : SHA256_IMPL_PORTABLE), "%s chose %d",
                      sha256_impl_name(impl), c.impl);
        }
        sha256_init_impl(&c, SHA256_IMPL_PORTABLE);
        check(c.impl == SHA256_IMPL_PORTABLE, "portable: %d", c.impl);
        sha256_init_impl(&c, _SHA256_IMPL_MAX);
        check(c.impl == SHA256_IMPL_PORTABLE, "out of range: %d", c.impl);
}

int main(void)
{
        rng_seed(SEED);
        printf("seed 0x%016llx\n", (unsigned long long)SEED);
        for (enum sha256_impl impl = 0; impl < _SHA256_IMPL_MAX; impl++)
                if (!sha256_impl_supported(impl))
                        printf("note: %s is not available here (architecture or CPU), not tested\n",
                               sha256_impl_name(impl));

        test_selection();
        test_vectors();
        test_random_against_openssl();
        return tests_finish();
}
