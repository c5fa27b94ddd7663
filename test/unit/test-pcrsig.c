/* SPDX-License-Identifier: MIT */
/* Signed PCR policies: the PolicyPCR digest against formats.md §6.2's vectors (checked there with a TPM
 * trial session on swtpm), pkfp against openssl's own PKCS#1 encoding of the key, signatures verified with
 * OpenSSL, and the .pcrpkey/.pcrsig sections of a stub. The shell test test-measure.sh compares with
 * systemd-measure sign. Keys are throwaway ones made with openssl in a temporary directory. */
#include <errno.h>
#include <json.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcrsig.h"
#include "pe-builder.h"
#include "pe-synth.h"
#include "test-util.h"
#include "tests.h"
#include "util.h"

static char tmpdir[] = "/tmp/test-pcrsig-XXXXXX";

static int run(const char *fmt, ...)
{
        char cmd[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

static char *path_of(const char *name)
{
        static char buf[8][256];
        static unsigned next;
        char *p = buf[next++ % 8];

        snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
        return p;
}

static uint8_t *slurp(const char *path, size_t *ret_size)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc(1 << 16);
        size_t n = f && buf ? fread(buf, 1, 1 << 16, f) : 0;

        if (f)
                fclose(f);
        *ret_size = n;
        return buf;
}

static void unhex(const char *hex, uint8_t *out)
{
        for (size_t i = 0; hex[2 * i]; i++)
                sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

static void test_policy_vectors(void)
{
        uint8_t value[PCR_DIGEST_MAX] = {}, pol[32], want[32];

        EVP_Digest("example pcr 11 value", 20, value, NULL, EVP_sha256(), NULL);
        unhex("4d0179341ab55d309f4b6366480825879e2952250be4b1fc36500b2719b37e20", want);
        check(pcr_policy_digest(PCR_BANK_SHA256, 11, value, pol) == 0 && memcmp(pol, want, 32) == 0,
              "sha256:11 vector");

        memset(value, 0, sizeof(value));
        EVP_Digest("x", 1, value, NULL, EVP_sha1(), NULL);
        unhex("7e9978cb4ddf25294ab3d2df3ebc6441134da9b16ece88b9df590ac9fbcfa9c4", want);
        check(pcr_policy_digest(PCR_BANK_SHA1, 11, value, pol) == 0 && memcmp(pol, want, 32) == 0,
              "sha1:11 vector: the session hash stays SHA-256");

        check(pcr_policy_digest(PCR_BANK_SHA256, 24, value, pol) == -EINVAL,
              "PCR 24 is outside the selection");
}

static void make_keys(void)
{
        if (!mkdtemp(tmpdir))
                abort();
        run("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2>/dev/null "
            "&& "
            "openssl pkey -in k.pem -pubout -out pub.pem && "
            "openssl rsa -in k.pem -RSAPublicKey_out -outform DER -out pub.pkcs1 2>/dev/null && "
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem 2>/dev/null && "
            "openssl pkey -in other.pem -pubout -out other-pub.pem && "
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem && "
            "openssl pkey -in k.pem -aes256 -passout pass:x -out enc.pem",
            tmpdir);
}

static void test_load(void)
{
        struct pcr_signer s;
        char *message = NULL;
        size_t size;
        uint8_t *pub = slurp(path_of("pub.pem"), &size), *pkcs1, want[32];

        check(pcr_signer_load(path_of("k.pem"), path_of("pub.pem"), 0, NULL, &s, &message) == 0, "load: %s",
              message);
        check(s.banks == PCR_BANKS_ALL && strv_length(s.phases) == 4, "systemd-measure's defaults");
        check(s.public_pem_size == size && memcmp(s.public_pem, pub, size) == 0,
              ".pcrpkey is the PEM public key");
        pkcs1 = slurp(path_of("pub.pkcs1"), &size);
        EVP_Digest(pkcs1, size, want, NULL, EVP_sha256(), NULL);
        check(memcmp(s.fingerprint, want, 32) == 0, "pkfp is SHA-256 of the PKCS#1 RSAPublicKey");
        pcr_signer_done(&s);
        free(pub);
        free(pkcs1);

        static const struct {
                const char *key, *pub;
                int error;
                const char *names;
        } bad[] = {
                {"k.pem", "other-pub.pem", -EKEYREJECTED, "other-pub.pem"},
                {"ec.pem", NULL, -EOPNOTSUPP, "ec.pem"},
                {"enc.pem", NULL, -EBADMSG, "enc.pem"},
                {"missing.pem", NULL, -ENOENT, "missing.pem"},
                {"k.pem", "k.pem", -EINVAL, "k.pem"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                message = NULL;
                int r = pcr_signer_load(path_of(bad[i].key), bad[i].pub ? path_of(bad[i].pub) : NULL, 0,
                                        NULL, &s, &message);
                check(r == bad[i].error && message && strstr(message, bad[i].names), "%s/%s: %d %s",
                      bad[i].key, bad[i].pub, r, message);
                free(message);
        }
}

/* Checks one .pcrsig array entry: PCR 11, our pkfp, pol of the value, and a signature over pol with the
 * bank's hash that the public key verifies. */
static void check_entry(const struct pcr_signer *s, enum pcr_bank bank, const uint8_t *value,
                        struct json_object *e)
{
        struct json_object *pcrs, *pkfp, *pol, *sig;
        uint8_t want_pol[32], sig_bin[1024];
        char pkfp_hex[65], pol_hex[65];
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int sig_size;

        pcr_policy_digest(bank, 11, value, want_pol);
        for (size_t i = 0; i < 32; i++) {
                snprintf(pkfp_hex + 2 * i, 3, "%02x", s->fingerprint[i]);
                snprintf(pol_hex + 2 * i, 3, "%02x", want_pol[i]);
        }
        check(json_object_object_length(e) == 4 && json_object_object_get_ex(e, "pcrs", &pcrs) &&
                      json_object_array_length(pcrs) == 1 &&
                      json_object_get_int(json_object_array_get_idx(pcrs, 0)) == 11,
              "pcrs [11]");
        check(json_object_object_get_ex(e, "pkfp", &pkfp) &&
                      strcmp(json_object_get_string(pkfp), pkfp_hex) == 0,
              "pkfp");
        check(json_object_object_get_ex(e, "pol", &pol) && strcmp(json_object_get_string(pol), pol_hex) == 0,
              "pol");
        check(json_object_object_get_ex(e, "sig", &sig), "sig");
        sig_size = EVP_DecodeBlock(sig_bin, (const unsigned char *)json_object_get_string(sig),
                                   json_object_get_string_len(sig));
        /* EVP_DecodeBlock counts base64 padding as zero bytes; an RSA-2048 signature is 256. */
        check(sig_size >= 256 && EVP_DigestVerifyInit(ctx, NULL, pcr_bank_md(bank), NULL, s->key) == 1 &&
                      EVP_DigestVerify(ctx, sig_bin, 256, want_pol, 32) == 1,
              "signature verifies");
        EVP_MD_CTX_free(ctx);
}

static void test_sign(void)
{
        char *phases[] = {"a", "", NULL}, *message = NULL;
        struct pcr_digests after = {};
        struct json_object *json = NULL, *list;
        struct pcr_signer s;

        check(pcr_signer_load(path_of("k.pem"), NULL, 1u << PCR_BANK_SHA1 | 1u << PCR_BANK_SHA256, phases,
                              &s, &message) == 0,
              "load: %s", message);
        for (size_t i = 0; i < sizeof(after.d); i++)
                after.d[i / PCR_DIGEST_MAX][i % PCR_DIGEST_MAX] = (uint8_t)i;
        check(pcr_signer_sign(&s, &after, &json) == 0, "sign");
        check(json_object_object_length(json) == 2, "two banks: %s", json_object_to_json_string(json));
        for (enum pcr_bank b = PCR_BANK_SHA1; b <= PCR_BANK_SHA256; b++) {
                struct pcr_digests v = after;

                check(json_object_object_get_ex(json, pcr_bank_name(b), &list) &&
                              json_object_array_length(list) == 2,
                      "%s: one entry per phase", pcr_bank_name(b));
                /* Sorted phases: "" first. */
                check_entry(&s, b, v.d[b], json_object_array_get_idx(list, 0));
                pcr11_extend_phase(&v, "a");
                check_entry(&s, b, v.d[b], json_object_array_get_idx(list, 1));
        }
        json_object_put(json);
        pcr_signer_done(&s);
}

static void test_stub_sections(void)
{
        static const struct synth_section sections[] = {{".text", 0x300}, {".osrel", 10}};
        struct pe_section_copy copies[] = {{.name = ".pcrpkey"}, {.name = ".pcrsig"}};
        char *phases[] = {"enter-initrd", NULL};
        struct json_object *json = NULL;
        struct pcr11_sections measured;
        struct pcr_digests after;
        struct pcr_signer s;
        size_t size;
        uint8_t *image = synth_pe(sections, ELEMENTSOF(sections), &size);

        check(pcr_signer_load(path_of("k.pem"), NULL, 1u << PCR_BANK_SHA256, phases, &s, NULL) == 0, "load");
        check(pcr_signer_add_sections(&s, &image, &size, NULL, NULL) == 0, "add sections");
        check(pe_get_sections(image, size, copies, 2, NULL) == 0 && copies[0].data && copies[1].data,
              "both sections present");
        check(copies[0].size == s.public_pem_size &&
                      memcmp(copies[0].data, s.public_pem, copies[0].size) == 0,
              ".pcrpkey holds the public key");

        /* .pcrsig signs the values of the final image, in which .pcrpkey is measured and .pcrsig is not. */
        check(pcr11_sections_from_image(image, size, NULL, NULL, &measured, NULL) == 0 &&
                      measured.present[UNIFIED_SECTION_PCRPKEY],
              ".pcrpkey measured");
        pcr11_after_stub(&measured, &after);
        check(pcr_signer_sign(&s, &after, &json) == 0 &&
                      strcmp(json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
                                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
                             (char *)copies[1].data) == 0,
              ".pcrsig signs the measured image");
        json_object_put(json);
        pe_section_copies_free(copies, 2);
        pcr_signer_done(&s);
        free(image);
}

int main(void)
{
        test_policy_vectors();
        make_keys();
        test_load();
        test_sign();
        test_stub_sections();
        rm_rf(tmpdir);
        return tests_finish();
}
