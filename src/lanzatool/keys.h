/* SPDX-License-Identifier: MIT */
#pragma once

/* The whole PKI bundle in sbctl's layout (lanzaboote-upstream-study.md §4.1), so that an existing sbctl
 * bundle works unchanged and ours works with sbctl:
 *
 *     DIR/GUID                     the owner GUID of our signature list entries, as text, no newline
 *     DIR/keys/{PK,KEK,db}/X.key   unencrypted PKCS#8 PEM private key, mode 0400
 *     DIR/keys/{PK,KEK,db}/X.pem   self-signed X.509 certificate
 *
 * pki.h loads only the db pair, which is all that installing needs; this loads all three, to enroll. */

#include "authenticode.h"
#include "authvar.h"

/* The Secure Boot keys, which are also the names of the variables they go into. */
enum secure_boot_key {
        SECURE_BOOT_PK,
        SECURE_BOOT_KEK,
        SECURE_BOOT_DB,
        _SECURE_BOOT_KEY_MAX,
};

#define KEYS_DEFAULT_BITS 4096

struct keys {
        char *dir;
        struct efi_guid owner;
        struct authenticode_signer signer[_SECURE_BOOT_KEY_MAX];
};

/* "PK", "KEK", "db". */
const char *secure_boot_key_name(enum secure_boot_key k);

#define KEYS_ALL   ((1u << _SECURE_BOOT_KEY_MAX) - 1)
#define KEY_BIT(k) (1u << (k))

/* Loads DIR/GUID, the three certificates and the private keys of those in private_keys (KEY_BIT()s), so
 * that a key that is not needed may be offline; the others have signer[k].key NULL. Logs one message
 * naming the file at fault. */
int keys_load_some(const char *dir, unsigned private_keys, struct keys *ret);
/* All three key pairs. */
int keys_load(const char *dir, struct keys *ret);
void keys_done(struct keys *k);

/* Creates the bundle: RSA keys of this many bits (2048, 3072 or 4096) and self-signed certificates
 * ("Platform Key", "Key Exchange Key", "Database Key", valid for 5 years), all first in a temporary
 * directory that is renamed to DIR/keys at the end, so that DIR/keys is either complete or absent. DIR is
 * created (0700) when missing. An existing DIR/keys is refused; an existing DIR/GUID is kept (an earlier
 * run may have been interrupted after writing it, and sbctl keeps it too), otherwise a random one is
 * written. */
int keys_create(const char *dir, unsigned bits);
/* The same, with the keys that token_keys names (pkcs11: URIs, or NULL) taken from their tokens rather than
 * generated: their certificates are made with them, and DIR/keys/NAME/NAME.uri holds the URI. */
int keys_create_with(const char *dir, unsigned bits,
                     const char *const token_keys[static _SECURE_BOOT_KEY_MAX]);
