/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define EFI_IMAGE_SECURITY_DATABASE_GUID_STR "d719b2cb-3d3a-4596-a3bc-dad00e67656f"

/* Whether the firmware's db (EFI_SIGNATURE_LISTs) trusts images signed by certificate, as EDK2 decides:
 * db holds the certificate itself or an X.509 certificate that issued it (the chain up to it verifies).
 * 1 yes, 0 no, negative errno when db is malformed. *ret_summary (may be NULL) gets the subjects db
 * holds, for messages. */
int db_trusts_certificate(const uint8_t *db, size_t size, X509 *certificate, char **ret_summary);

/* The firmware's verdict on certificate for the next boot: 1 trusted, or Secure Boot is off, or the
 * firmware is in setup mode (nothing is enforced); 0 db does not trust it (*ret_summary says what db
 * holds); negative errno when unknown (no efivarfs, db unreadable). */
int firmware_trusts_certificate(X509 *certificate, char **ret_summary);
