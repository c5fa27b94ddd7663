/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "openssl-util.h"
#include "pcrsig.h"
#include "pe-builder.h"
#include "util.h"

static void put_be16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        put_be16(p, (uint16_t)(v >> 16));
        put_be16(p + 2, (uint16_t)v);
}

int pcr_policy_digest(enum pcr_bank bank, unsigned pcr, const uint8_t value[PCR_DIGEST_MAX],
                      uint8_t ret[PCRSIG_POLICY_SIZE])
{
        /* D0 || TPM_CC || TPML_PCR_SELECTION{count, hash, sizeofSelect, pcrSelect} || pcrDigest */
        uint8_t buf[PCRSIG_POLICY_SIZE + 4 + 4 + 2 + 1 + TPM2_PCR_SELECT_SIZE + PCRSIG_POLICY_SIZE] = {};
        uint8_t *p = buf + PCRSIG_POLICY_SIZE;

        if (pcr >= 8 * TPM2_PCR_SELECT_SIZE)
                return -EINVAL;
        put_be32(p, TPM2_CC_POLICY_PCR);
        put_be32(p + 4, 1);
        put_be16(p + 8, pcr_bank_tpm_alg(bank));
        p[10] = TPM2_PCR_SELECT_SIZE;
        p[11 + pcr / 8] = (uint8_t)(1u << (pcr % 8));
        p += 11 + TPM2_PCR_SELECT_SIZE;
        /* The session's hash, SHA-256, even for the values of another bank. */
        if (EVP_Digest(value, pcr_bank_size(bank), p, NULL, EVP_sha256(), NULL) != 1 ||
            EVP_Digest(buf, sizeof(buf), ret, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;
        return 0;
}

int pcr_public_key_fingerprint(EVP_PKEY *key, uint8_t ret[32])
{
        unsigned char *der = NULL;
        int n = i2d_PublicKey(key, &der);
        int r = 0;

        if (n <= 0)
                return -EINVAL;
        if (EVP_Digest(der, (size_t)n, ret, NULL, EVP_sha256(), NULL) != 1)
                r = -EIO;
        OPENSSL_free(der);
        return r;
}

static int check_public_key(const char *path, EVP_PKEY *private_key, char **reterr_message)
{
        _cleanup_(BIO_freep) BIO *b = BIO_new_file(path, "r");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

        if (!b)
                return set_error_message(reterr_message, -ENOENT, "%s: cannot open: %s", path,
                                         openssl_reason());
        key = PEM_read_bio_PUBKEY(b, NULL, openssl_refuse_passphrase, NULL);
        if (!key)
                return set_error_message(reterr_message, -EINVAL, "%s: not a PEM public key: %s", path,
                                         openssl_reason());
        if (EVP_PKEY_eq(key, private_key) != 1)
                return set_error_message(reterr_message, -EKEYREJECTED,
                                         "%s: does not belong to the PCR private key", path);
        return 0;
}

static int public_pem(EVP_PKEY *key, char **ret, size_t *ret_size)
{
        _cleanup_(BIO_freep) BIO *b = BIO_new(BIO_s_mem());
        char *data, *copy;
        long n;

        if (!b || PEM_write_bio_PUBKEY(b, key) != 1)
                return -ENOMEM;
        n = BIO_get_mem_data(b, &data);
        if (n <= 0 || !(copy = malloc((size_t)n)))
                return -ENOMEM;
        memcpy(copy, data, (size_t)n);
        *ret = copy;
        *ret_size = (size_t)n;
        return 0;
}

int pcr_signer_load(const char *private_key_path, const char *public_key_path, unsigned banks,
                    char *const *phases, struct pcr_signer *ret, char **reterr_message)
{
        struct pcr_signer s = {.banks = banks ?: PCR_BANKS_ALL};
        int r;

        r = openssl_load_private_key(private_key_path, &s.key, reterr_message);
        if (r >= 0 && public_key_path)
                r = check_public_key(public_key_path, s.key, reterr_message);
        if (r >= 0 && ((r = public_pem(s.key, &s.public_pem, &s.public_pem_size)) < 0 ||
                       (r = pcr_public_key_fingerprint(s.key, s.fingerprint)) < 0 ||
                       (r = pcr_phases_normalize(phases, &s.phases)) < 0))
                set_error_message(reterr_message, r, "%s: %s", private_key_path, strerror(-r));
        if (r < 0) {
                pcr_signer_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void pcr_signer_done(struct pcr_signer *s)
{
        EVP_PKEY_free(s->key);
        free(s->public_pem);
        strv_free(s->phases);
        for (size_t i = 0; i < s->n_files; i++)
                free(s->files[i].path);
        free(s->files);
        *s = (struct pcr_signer){};
}

static void hex(const uint8_t *data, size_t size, char *ret)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < size; i++) {
                ret[2 * i] = digits[data[i] >> 4];
                ret[2 * i + 1] = digits[data[i] & 15];
        }
        ret[2 * size] = 0;
}

/* Base64 of the signature over the policy digest, hashed with the bank's algorithm. */
static int sign_policy(EVP_PKEY *key, enum pcr_bank bank, const uint8_t pol[PCRSIG_POLICY_SIZE], char **ret)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_free_ uint8_t *sig = NULL;
        size_t sig_size = 0;
        char *b64;

        if (!ctx || EVP_DigestSignInit(ctx, NULL, pcr_bank_md(bank), NULL, key) != 1 ||
            EVP_DigestSign(ctx, NULL, &sig_size, pol, PCRSIG_POLICY_SIZE) != 1 || sig_size > INT32_MAX)
                return -EIO;
        sig = malloc(sig_size);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(ctx, sig, &sig_size, pol, PCRSIG_POLICY_SIZE) != 1)
                return -EIO;
        /* 4 output bytes per 3 input bytes, and a NUL. */
        b64 = malloc((sig_size + 2) / 3 * 4 + 1);
        if (!b64)
                return -ENOMEM;
        EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_size);
        *ret = b64;
        return 0;
}

static int sign_entry(const struct pcr_signer *s, enum pcr_bank bank, const uint8_t value[PCR_DIGEST_MAX],
                      struct json_object **ret)
{
        uint8_t pol[PCRSIG_POLICY_SIZE];
        char pkfp_hex[2 * 32 + 1], pol_hex[2 * PCRSIG_POLICY_SIZE + 1];
        _cleanup_free_ char *sig = NULL;
        struct json_object *o, *pcrs;
        int r;

        r = pcr_policy_digest(bank, TPM2_PCR_KERNEL_BOOT, value, pol);
        if (r >= 0)
                r = sign_policy(s->key, bank, pol, &sig);
        if (r < 0)
                return r;
        hex(s->fingerprint, 32, pkfp_hex);
        hex(pol, sizeof(pol), pol_hex);
        o = json_object_new_object();
        pcrs = json_object_new_array();
        if (!o || !pcrs || json_object_array_add(pcrs, json_object_new_int(TPM2_PCR_KERNEL_BOOT)) < 0 ||
            json_object_object_add(o, "pcrs", pcrs) < 0 ||
            json_object_object_add(o, "pkfp", json_object_new_string(pkfp_hex)) < 0 ||
            json_object_object_add(o, "pol", json_object_new_string(pol_hex)) < 0 ||
            json_object_object_add(o, "sig", json_object_new_string(sig)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

int pcr_signer_sign(const struct pcr_signer *s, const struct pcr_digests *after_stub,
                    struct json_object **ret)
{
        struct json_object *root = json_object_new_object();
        int r = root ? 0 : -ENOMEM;

        for (enum pcr_bank b = 0; r >= 0 && b < _PCR_BANK_MAX; b++) {
                struct json_object *list;

                if (!(s->banks & (1u << b)))
                        continue;
                list = json_object_new_array();
                if (!list || json_object_object_add(root, pcr_bank_name(b), list) < 0) {
                        json_object_put(list);
                        r = -ENOMEM;
                        break;
                }
                for (size_t i = 0; r >= 0 && s->phases[i]; i++) {
                        struct pcr_digests value = *after_stub;
                        struct json_object *entry;

                        r = pcr11_extend_phase(&value, s->phases[i]);
                        if (r >= 0)
                                r = sign_entry(s, b, value.d[b], &entry);
                        if (r >= 0 && json_object_array_add(list, entry) < 0) {
                                json_object_put(entry);
                                r = -ENOMEM;
                        }
                }
        }
        if (r < 0) {
                json_object_put(root);
                return r;
        }
        *ret = root;
        return 0;
}

/* A file's digests, hashed once per install: generations share kernels and initrds. Copied out, as the
 * next file may move the cache. */
static int file_digests(struct pcr_signer *s, const char *path, struct pcr_digests *ret)
{
        struct pcr_signer_file *n;
        char *copy;
        int r;

        for (size_t i = 0; i < s->n_files; i++)
                if (strcmp(s->files[i].path, path) == 0) {
                        *ret = s->files[i].digests;
                        return 0;
                }
        n = reallocarray(s->files, s->n_files + 1, sizeof(*n));
        if (!n)
                return log_error_errno(-ENOMEM, "out of memory");
        s->files = n;
        copy = strdup(path);
        if (!copy)
                return log_error_errno(-ENOMEM, "out of memory");
        r = pcr_digests_of_file_at(AT_FDCWD, path, &n[s->n_files].digests, NULL);
        if (r < 0) {
                free(copy);
                return log_errno(LOG_LEVEL_ERROR, -r, "%s: cannot read", path);
        }
        n[s->n_files].path = copy;
        *ret = n[s->n_files++].digests;
        return 0;
}

static int add_section(uint8_t **image, size_t *size, const char *name, const void *data, size_t data_size)
{
        const struct pe_builder_section section = {name, data, data_size};
        _cleanup_free_ char *message = NULL;
        uint8_t *out;
        size_t out_size;
        int r;

        r = pe_builder_add_sections(*image, *size, &section, 1, &out, &out_size, &message);
        if (r < 0)
                return log_error_errno(r, "cannot add %s to the stub: %s", name, message ?: strerror(-r));
        free(*image);
        *image = out;
        *size = out_size;
        return 0;
}

int pcr_signer_add_sections(struct pcr_signer *s, uint8_t **image, size_t *size, const char *kernel_path,
                            const char *initrd_path)
{
        struct pcr_digests kernel, initrd;
        _cleanup_free_ char *message = NULL;
        struct json_object *json = NULL;
        struct pcr11_sections sections;
        struct pcr_digests after_stub;
        const char *text;
        int r;

        /* .pcrpkey is measured, so it goes in before the PCR 11 values are computed; .pcrsig never is. */
        r = add_section(image, size, ".pcrpkey", s->public_pem, s->public_pem_size);
        if (r >= 0 && kernel_path)
                r = file_digests(s, kernel_path, &kernel);
        if (r >= 0 && initrd_path)
                r = file_digests(s, initrd_path, &initrd);
        if (r < 0)
                return r;
        r = pcr11_sections_from_image(*image, *size, kernel_path ? &kernel : NULL,
                                      initrd_path ? &initrd : NULL, &sections, &message);
        if (r < 0)
                return log_error_errno(r, "%s: %s", kernel_path ?: "stub", message ?: strerror(-r));
        r = pcr11_after_stub(&sections, &after_stub);
        if (r >= 0)
                r = pcr_signer_sign(s, &after_stub, &json);
        if (r < 0)
                return log_errno(LOG_LEVEL_ERROR, -r, "cannot sign the PCR 11 policies");
        text = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = text ? add_section(image, size, UKI_SECTION_PCRSIG, text, strlen(text))
                 : log_error_errno(-ENOMEM, "out of memory");
        json_object_put(json);
        return r;
}
