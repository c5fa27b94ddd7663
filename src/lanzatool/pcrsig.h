/* SPDX-License-Identifier: MIT */
#pragma once

/* Signed PCR 11 policies, as systemd-measure sign writes them and systemd-stub hands them to the OS
 * (systemd-stub-spec.md §1.6, formats.md §6): the TPM2 PolicyPCR digest computed in software, the public key
 * fingerprint, the signatures, the .pcrsig JSON, and the .pcrpkey and .pcrsig sections of a stub.
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence naming the problem (NULL when even that allocation failed). */

#include <json.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "pcr.h"

#define PCRSIG_POLICY_SIZE 32 /* systemd's policy sessions hash with SHA-256 */

/* TPM_CC of TPM2_PolicyPCR (TPM 2.0 Library Part 2, Table 12). */
#define TPM2_CC_POLICY_PCR 0x0000017F
/* TPMS_PCR_SELECTION.sizeofSelect as systemd writes it: a bitmap of PCRs 0-23. */
#define TPM2_PCR_SELECT_SIZE 3

/* The TPM2 policy digest of PolicyPCR over one PCR of one bank holding value, in a SHA-256 session started
 * from zeros (formats.md §6.2): SHA256(0³² || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || SHA256(value)). */
int pcr_policy_digest(enum pcr_bank bank, unsigned pcr, const uint8_t value[PCR_DIGEST_MAX],
                      uint8_t ret[PCRSIG_POLICY_SIZE]);

/* systemd's "pkfp": SHA-256 of the public key as i2d_PublicKey() writes it (for RSA, PKCS#1 RSAPublicKey
 * DER, not SubjectPublicKeyInfo). */
int pcr_public_key_fingerprint(EVP_PKEY *key, uint8_t ret[32]);

/* What signs PCR 11 policies into the stubs install builds. */
struct pcr_signer {
        EVP_PKEY *key;
        char *public_pem; /* SubjectPublicKeyInfo PEM of key: the .pcrpkey section */
        size_t public_pem_size;
        uint8_t fingerprint[32];
        unsigned banks; /* PCR_BANK bits */
        char **phases;  /* normalised phase paths */
        /* Digests of kernels and initrds hashed already: generations share them. */
        struct pcr_signer_file {
                char *path;
                struct pcr_digests digests;
        } * files;
        size_t n_files;
};

/* Loads an RSA private key (PEM, unencrypted) and, when public_key_path is not NULL, checks that the PEM
 * public key there belongs to it. banks 0 and phases NULL mean systemd-measure's defaults. Errors name the
 * file at fault. */
int pcr_signer_load(const char *private_key_path, const char *public_key_path, unsigned banks,
                    char *const *phases, struct pcr_signer *ret, char **reterr_message);
void pcr_signer_done(struct pcr_signer *s);

/* The .pcrsig JSON for a PCR 11 value after the stub: per bank (sorted) an array with one
 * {"pcrs":[11],"pkfp":…,"pol":…,"sig":…} per phase path (sorted), where sig is the base64 of the signature
 * over pol with the bank's own hash (RSASSA-PKCS1-v1_5, as EVP_DigestSign gives for RSA). */
int pcr_signer_sign(const struct pcr_signer *s, const struct pcr_digests *after_stub,
                    struct json_object **ret);

/* Adds .pcrpkey to the unsigned stub in *image, computes the PCR 11 values of the result (in external mode
 * with kernel_path and initrd_path, NULL when there is none, standing in for .linux and .initrd), and adds
 * their .pcrsig. Replaces *image and *size on success. Logs one message naming the file at fault. */
int pcr_signer_add_sections(struct pcr_signer *s, uint8_t **image, size_t *size, const char *kernel_path,
                            const char *initrd_path);
