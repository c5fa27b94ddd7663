/* SPDX-License-Identifier: MIT */
#pragma once

/* Where a signing key comes from: a PEM file, or a PKCS#11 token named by an RFC 7512 URI.
 *
 * In a PKI bundle, DIR/keys/NAME/NAME.uri holding one "pkcs11:" URI takes the place of
 * DIR/keys/NAME/NAME.key; the certificate stays in DIR/keys/NAME/NAME.pem, since the public key is
 * part of every stub's name and must be readable without the token. Having both files is refused:
 * nobody should have to guess which key signs.
 *
 * The URI is what libp11's engine takes, plus the standard "module-path" query attribute (the
 * PKCS#11 module to load; without it, p11-kit's proxy, which loads every registered module). The
 * PIN comes from "pin-source=file:PATH" or nowhere: lanzatool runs unattended and never prompts, and
 * "pin-value" is refused because it would put the PIN into messages and process listings.
 *
 * Errors as in authenticode.h: a negative errno, and in *reterr_message a sentence that starts with
 * the file or URI at fault. */

#include <openssl/evp.h>
#include <stdbool.h>

#define PKCS11_URI_SCHEME "pkcs11:"

/* Whether spec names a key in a token rather than a file. */
bool keysource_is_pkcs11_uri(const char *spec);

/* The key NAME ("db", "KEK", "PK") of the bundle in dir: the path of DIR/keys/NAME/NAME.key, or the
 * URI that DIR/keys/NAME/NAME.uri holds. Malloc'd into *ret_spec. */
int keysource_bundle_key(const char *dir, const char *name, char **ret_spec, char **reterr_message);

/* Whether two pkcs11: URIs name objects in the same token: the same "token" attribute and the same
 * module-path (or none in both), as written. A URI without a token attribute is in no known token. */
bool keysource_same_token(const char *a, const char *b);

/* Splits a pkcs11: URI into what OpenSSL's engine takes (the URI without module-path) and the module path
 * (percent-decoded; NULL when absent). -EINVAL for a pin-value attribute or a malformed module-path. */
int keysource_split_pkcs11_uri(const char *uri, char **ret_engine_uri, char **ret_module_path,
                               char **reterr_message);
/* Loads the private key a pkcs11: URI names, through OpenSSL's pkcs11 engine. Refused: a key that
 * is not RSA, as for key files. The engine stays loaded until keysource_release(): the key's
 * operations go through it. */
int keysource_load_pkcs11(const char *uri, EVP_PKEY **ret, char **reterr_message);

/* As ssh does for its keys: warns, naming the file and its mode, when what, a private key or a PIN file,
 * is readable or writable by anyone but its owner (any of the mode bits 077). fd is open on path. */
void keysource_warn_exposed(int fd, const char *path, const char *what);

/* Unloads the engine and the PKCS#11 module, once every key loaded from a token is freed. Called at
 * the end of main(), not from an exit handler: by then a module's own static destructors (C++ in
 * SoftHSM2) and OpenSSL's cleanup may have run, and closing the token's sessions would crash. */
void keysource_release(void);
