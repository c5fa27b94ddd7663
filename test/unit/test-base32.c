/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>

#include "base32.h"
#include "sha256.h"
#include "tests.h"

/* RFC 4648 §10, lowercased and without the '=' padding. */
static const struct {
        const char *in, *out;
} rfc4648[] = {
        {"", ""},
        {"f", "my"},
        {"fo", "mzxq"},
        {"foo", "mzxw6"},
        {"foob", "mzxw6yq"},
        {"fooba", "mzxw6ytb"},
        {"foobar", "mzxw6ytboi"},
};

static void test_rfc4648(void)
{
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
                size_t n = strlen(rfc4648[i].in);
                char out[32];

                memset(out, 'X', sizeof(out));
                base32_encode((const uint8_t *)rfc4648[i].in, n, out);
                check(strcmp(out, rfc4648[i].out) == 0, "\"%s\" gave \"%s\"", rfc4648[i].in, out);
                check(base32_encoded_len(n) == strlen(rfc4648[i].out), "length of \"%s\"", rfc4648[i].in);
        }
}

static void test_sha256_names(void)
{
        /* Python: base64.b32encode(hashlib.sha256(b"abc").digest()).decode().lower().rstrip("=") */
        const char *expected = "xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq";
        uint8_t digest[SHA256_DIGEST_SIZE];
        char out[64];

        sha256_digest("abc", 3, digest);
        base32_encode(digest, sizeof(digest), out);
        check(base32_encoded_len(SHA256_DIGEST_SIZE) == 52, "%zu", base32_encoded_len(SHA256_DIGEST_SIZE));
        check(strlen(out) == 52, "%zu", strlen(out));
        check(strcmp(out, expected) == 0, "%s", out);
}

static void test_all_bytes(void)
{
        /* Every alphabet position and every bit offset: 5 bytes of 0xff give "77777777", 0x00 "aaaaaaaa". */
        const uint8_t ones[5] = {0xff, 0xff, 0xff, 0xff, 0xff}, zeros[5] = {0};
        char out[16];

        base32_encode(ones, sizeof(ones), out);
        check(strcmp(out, "77777777") == 0, "%s", out);
        base32_encode(zeros, sizeof(zeros), out);
        check(strcmp(out, "aaaaaaaa") == 0, "%s", out);
}

static void test_overflow(void)
{
        /* n0 bytes encode to exactly SIZE_MAX - 7 characters; the first result that leaves no room for the
         * NUL must be refused, whether it comes from the partial group or from the whole groups. */
        const size_t n0 = SIZE_MAX / 8 * 5;

        check(base32_encoded_len(n0) == SIZE_MAX - 7, "n0");
        check(base32_encoded_len(n0 + 3) == SIZE_MAX - 2, "n0 + 3");
        check(base32_encoded_len(n0 + 4) == SIZE_MAX, "n0 + 4");
        check(base32_encoded_len(n0 + 5) == SIZE_MAX, "n0 + 5");
        check(base32_encoded_len(SIZE_MAX) == SIZE_MAX, "SIZE_MAX");
}

int main(void)
{
        test_rfc4648();
        test_sha256_names();
        test_all_bytes();
        test_overflow();
        return tests_finish();
}
