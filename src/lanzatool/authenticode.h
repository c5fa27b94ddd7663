/* SPDX-License-Identifier: MIT */
#pragma once

/* Authenticode for PE32+ images (formats.md §1): the image hash, signing as sbsign does but reproducibly,
 * and verification as EDK2 (OVMF) and shim do it.
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence describing the problem (NULL when even that allocation failed). For
 * functions given an image in memory the sentence does not name a file: print it as "lanzatool: FILE:
 * MESSAGE". Functions given paths start it with the path at fault: print it as "lanzatool: MESSAGE". */

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define AUTHENTICODE_DIGEST_SIZE 32 /* SHA-256, the only algorithm we produce or accept */

/* [PE] Attribute Certificate Table: entries are WIN_CERTIFICATE, 8-byte aligned. */
#define WIN_CERT_REVISION_2_0          0x0200
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
#define WIN_CERTIFICATE_ALIGNMENT      8

/* The key and certificate that sign images: db.key and db.pem of a PKI bundle. */
struct authenticode_signer {
        EVP_PKEY *key;
        X509 *certificate;
};

/* The Authenticode SHA-256 of the image exactly as it is (formats.md §1.2): headers without CheckSum and the
 * certificate directory, sections with raw data in file order, then any data after them up to the
 * certificate table. Note the shim difference (§1.2): an unsigned image not padded to 8 bytes hashes
 * differently in shim, and differently once signed. Returns -EBADMSG for a malformed image or certificate
 * table, or another pe_parse() error. */
int authenticode_digest(const uint8_t *image, size_t size,
                        uint8_t ret_digest[static AUTHENTICODE_DIGEST_SIZE], char **reterr_message);

struct pe_image;
typedef int (*authenticode_update_fn)(void *userdata, const uint8_t *data, size_t size);

/* Feeds update() the regions formats.md §1.2 steps 1-5 hash, in order: the headers without CheckSum and the
 * certificate directory entry, then the sections with raw data in file order. *ret_hashed is the count of
 * bytes that step 6 starts the trailing data at. The trailing data itself is left to the caller: signature
 * verification and firmware measurement bound it differently. Stops at update()'s first negative result. */
int authenticode_hash_regions(const struct pe_image *img, authenticode_update_fn update, void *userdata,
                              uint64_t *ret_hashed);

/* 1 when the image has a non-empty certificate table (whatever it holds), 0 when it has none, negative when
 * the image or its certificate table is malformed. */
int authenticode_is_signed(const uint8_t *image, size_t size);

/* Loads a PEM private key and a PEM X.509 certificate. Refused: an unreadable file, an encrypted key (there
 * is nobody to ask for a passphrase), a key that is not RSA (the firmware verifies only RSA signatures, and
 * RSASSA-PKCS1-v1_5 is what makes signatures reproducible), a key that does not match the certificate.
 * key_path may instead be a pkcs11: URI naming a key in a token (keysource.h). */
int authenticode_signer_load(const char *key_path, const char *certificate_path,
                             struct authenticode_signer *ret, char **reterr_message);

/* Frees what authenticode_signer_load() allocated; safe on a zeroed struct. */
void authenticode_signer_done(struct authenticode_signer *signer);

/* Loads a PEM X.509 certificate, to verify with. */
int authenticode_certificate_load(const char *path, X509 **ret, char **reterr_message);

/* Signs a PE32+ image in memory (formats.md §1.3-1.7), replacing any signature it already carries: pads it
 * with zeros to 8 bytes, hashes that, builds a PKCS#7 SignedData around an SPC_INDIRECT_DATA content with
 * only the contentType, messageDigest and (empty) SpcSpOpusInfo attributes and the signer's certificate,
 * appends it as one WIN_CERTIFICATE, sets the certificate directory and recomputes CheckSum. No signing time
 * and a deterministic signature scheme: the same inputs always give the same bytes. */
int authenticode_sign(const uint8_t *image, size_t size, const struct authenticode_signer *signer,
                      uint8_t **ret_image, size_t *ret_size, char **reterr_message);

/* Replaces our signature on a signed image and keeps everyone else's: removes the signatures that verify
 * with old (whatever digest they sign), keeps every other entry of the certificate table as it is, in order,
 * and appends a new signature by signer, as authenticode_sign() makes it. For images that carry a vendor's
 * signature besides ours; the image's digest does not change. */
int authenticode_resign(const uint8_t *image, size_t size, X509 *old,
                        const struct authenticode_signer *signer, uint8_t **ret_image, size_t *ret_size,
                        char **reterr_message);

/* Checks, as EDK2 does, that some WIN_CERTIFICATE of the image is a signature that verifies with
 * certificate as the only trust anchor (the signer itself or a CA above it; validity dates and key usage
 * ignored) and that the digest it signs is the image's Authenticode digest. Returns 0 when so; -ENODATA when
 * the image is not signed; -EKEYREJECTED when no signature verifies with this certificate; -EBADMSG when a
 * signature by it signs another digest (the image changed after signing) or the image is malformed. */
int authenticode_verify(const uint8_t *image, size_t size, X509 *certificate, char **reterr_message);
