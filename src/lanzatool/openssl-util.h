/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>

/* Cleanup handlers for _cleanup_() (util.h), one per OpenSSL type we hold. */
#define DEFINE_OPENSSL_FREEP(type, free_fn)                                                                 \
        static inline void free_fn##p(type **p)                                                             \
        {                                                                                                   \
                free_fn(*p);                                                                                \
        }
DEFINE_OPENSSL_FREEP(EVP_PKEY, EVP_PKEY_free)
DEFINE_OPENSSL_FREEP(EVP_MD_CTX, EVP_MD_CTX_free)
DEFINE_OPENSSL_FREEP(X509, X509_free)
DEFINE_OPENSSL_FREEP(X509_STORE, X509_STORE_free)
DEFINE_OPENSSL_FREEP(X509_SIG, X509_SIG_free)
DEFINE_OPENSSL_FREEP(X509_EXTENSION, X509_EXTENSION_free)
DEFINE_OPENSSL_FREEP(PKCS7, PKCS7_free)
DEFINE_OPENSSL_FREEP(BIO, BIO_free)
DEFINE_OPENSSL_FREEP(BIGNUM, BN_free)
DEFINE_OPENSSL_FREEP(ASN1_OBJECT, ASN1_OBJECT_free)

static inline void openssl_freep(uint8_t **p)
{
        OPENSSL_free(*p);
}

/* The reason OpenSSL gave for its last failure; also empties its error queue for the next caller. */
const char *openssl_reason(void);

/* A pem_password_cb that never prompts: lanzatool runs unattended, from nixos-rebuild. */
int openssl_refuse_passphrase(char *buf, int size, int rwflag, void *userdata);

/* Loads an RSA private key from an unencrypted PEM file, or from a PKCS#11 token when spec is a pkcs11:
 * URI (keysource.h). RSA only: UEFI firmware verifies RSA signatures only, and systemd 252 seals and
 * verifies PCR policies with RSA keys only. Failures as set_error_message() describes, naming spec. */
int openssl_load_private_key(const char *spec, EVP_PKEY **ret, char **reterr_message);
