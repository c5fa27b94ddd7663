/* SPDX-License-Identifier: MIT */
#pragma once

/* EFI signature lists and authenticated variables (formats.md §3): the bytes that go into PK, KEK and db,
 * built exactly as efitools' cert-to-efi-sig-list and sign-efi-sig-list build them. Pure data: nothing here
 * reads or writes files or EFI variables.
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence describing the problem (NULL when even that allocation failed); the
 * sentence names no file: print it as "lanzatool: WHAT: MESSAGE". */

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authenticode.h"

#define EFI_GUID_SIZE        16
#define EFI_GUID_STRING_SIZE 37 /* 36 characters and a NUL */

/* An EFI_GUID as it is stored (formats.md §3.1): Data1, Data2 and Data3 little-endian, then Data4. */
struct efi_guid {
        uint8_t bytes[EFI_GUID_SIZE];
};

/* Write a GUID as the specification prints it: EFI_GUID_INIT(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, ...).
 */
#define EFI_GUID_INIT(d1, d2, d3, a, b, c, d, e, f, g, h)                                                   \
        {                                                                                                   \
                {                                                                                           \
                        (d1) & 0xff, (d1) >> 8 & 0xff, (d1) >> 16 & 0xff, (d1) >> 24 & 0xff, (d2)&0xff,     \
                                (d2) >> 8 & 0xff, (d3)&0xff, (d3) >> 8 & 0xff, (a), (b), (c), (d), (e),     \
                                (f), (g), (h)                                                               \
                }                                                                                           \
        }

/* [UEFI] formats.md §3.3. */
extern const struct efi_guid efi_global_variable_guid;         /* PK, KEK, *Default, SetupMode */
extern const struct efi_guid efi_image_security_database_guid; /* db, dbx */
extern const struct efi_guid efi_cert_x509_guid;
extern const struct efi_guid efi_cert_sha256_guid;
extern const struct efi_guid efi_cert_type_pkcs7_guid;

/* Parses the text form (either case); -EINVAL when s is not one. */
int efi_guid_from_string(const char *s, struct efi_guid *ret);
/* The lowercase text form, as efivarfs file names and sbctl's GUID file use it. */
void efi_guid_to_string(const struct efi_guid *g, char ret[static EFI_GUID_STRING_SIZE]);
bool efi_guid_equal(const struct efi_guid *a, const struct efi_guid *b);

/* [UEFI] 8.2 Variable Services: attributes. Secure Boot key variables take exactly
 * NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS | TIME_BASED_AUTHENTICATED_WRITE_ACCESS, and an
 * update that appends adds APPEND_WRITE; both are part of what is signed (formats.md §3.4). */
#define EFI_VARIABLE_NON_VOLATILE                          0x00000001u
#define EFI_VARIABLE_BOOTSERVICE_ACCESS                    0x00000002u
#define EFI_VARIABLE_RUNTIME_ACCESS                        0x00000004u
#define EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS 0x00000020u
#define EFI_VARIABLE_APPEND_WRITE                          0x00000040u
#define AUTHVAR_ATTRIBUTES                                                                                  \
        (EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS |        \
         EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS)

/* EFI_TIME to the second; Pad1, Nanosecond, TimeZone, Daylight and Pad2 are always 0, as the firmware
 * demands of an authenticated variable's timestamp (formats.md §3.5). */
struct efi_time {
        uint16_t year;
        uint8_t month, day, hour, minute, second;
};

/* "YYYY-MM-DD HH:MM:SS", copied field for field as sign-efi-sig-list -t does; -EINVAL for anything else,
 * including a day that the month does not have. */
int efi_time_parse(const char *s, struct efi_time *ret);
/* The current time in UTC. */
int efi_time_now(struct efi_time *ret);

/* A growing byte buffer. */
struct blob {
        uint8_t *data;
        size_t size;
};

int blob_append(struct blob *b, const void *data, size_t size);
void blob_done(struct blob *b);

/* One EFI_SIGNATURE_DATA of a signature list, pointing into the list's bytes. */
struct esl_entry {
        struct efi_guid type;  /* the list's SignatureType */
        struct efi_guid owner; /* SignatureOwner */
        const uint8_t *data;   /* SignatureData */
        size_t size;
};

/* Appends one EFI_SIGNATURE_LIST holding certificate (DER) owned by owner: byte for byte what
 * `cert-to-efi-sig-list -g OWNER` writes. */
int esl_append_x509(struct blob *esl, const struct efi_guid *owner, X509 *certificate);

/* Appends one EFI_SIGNATURE_LIST of type EFI_CERT_SHA256 holding the n digests (Authenticode hashes of
 * images), each owned by owner; nothing when n is 0. */
#define SHA256_SIGNATURE_SIZE 32
int esl_append_sha256(struct blob *esl, const struct efi_guid *owner,
                      const uint8_t (*digests)[SHA256_SIGNATURE_SIZE], size_t n);

/* Checks that data is zero or more well-formed EFI_SIGNATURE_LISTs, back to back (formats.md §3.2), and
 * returns their entries, in order; *ret_entries is NULL when there are none. Lists with a
 * SignatureHeader are refused: no standard signature type has one. */
int esl_parse(const uint8_t *data, size_t size, struct esl_entry **ret_entries, size_t *ret_n,
              char **reterr_message);

/* Appends the entries of the lists in src that esl does not hold yet (same type and data, whoever the
 * owner), keeping src's order and owners; lists left empty are dropped. */
int esl_merge(struct blob *esl, const uint8_t *src, size_t size, char **reterr_message);

/* EFI_VARIABLE_AUTHENTICATION_2 (formats.md §3.5-3.7) followed by data: an update of the variable
 * name (ASCII) of vendor with these attributes and this timestamp, signed by signer. The signature is a
 * PKCS#7 SignedData without ContentInfo and without authenticated attributes, detached, over
 * name (UTF-16LE) ‖ vendor ‖ attributes ‖ timestamp ‖ data. Deterministic: byte for byte what
 * `sign-efi-sig-list -t TIMESTAMP -k KEY -c CERT NAME` writes. */
int authvar_build(const char *name, const struct efi_guid *vendor, uint32_t attributes,
                  const struct efi_time *timestamp, const uint8_t *data, size_t size,
                  const struct authenticode_signer *signer, struct blob *ret, char **reterr_message);

/* The reverse, as far as lanzatool needs it: checks the descriptor's header and returns the timestamp
 * and where the variable's data starts. The signature is not checked: that is the firmware's job. */
int authvar_parse(const uint8_t *auth, size_t size, struct efi_time *ret_timestamp, size_t *ret_data_offset,
                  char **reterr_message);

/* Checks an update payload as the firmware would: the signature verifies, with signer as the only trust
 * anchor, over name, vendor, attributes, the payload's timestamp and its data. 0 when it does,
 * -EKEYREJECTED when not, -EBADMSG when malformed. Needs no private key. */
int authvar_verify(const char *name, const struct efi_guid *vendor, uint32_t attributes, const uint8_t *auth,
                   size_t size, X509 *signer, char **reterr_message);
