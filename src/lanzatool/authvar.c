/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authvar.h"
#include "openssl-util.h"
#include "util.h"

const struct efi_guid efi_global_variable_guid =
        EFI_GUID_INIT(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c);
const struct efi_guid efi_image_security_database_guid =
        EFI_GUID_INIT(0xd719b2cb, 0x3d3a, 0x4596, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f);
const struct efi_guid efi_cert_x509_guid =
        EFI_GUID_INIT(0xa5c059a1, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72);
const struct efi_guid efi_cert_sha256_guid =
        EFI_GUID_INIT(0xc1c41626, 0x504c, 0x4092, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28);
const struct efi_guid efi_cert_type_pkcs7_guid =
        EFI_GUID_INIT(0x4aafd29d, 0x68df, 0x49ee, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7);

/* [UEFI] 32.4.1 EFI_SIGNATURE_LIST: SignatureType (GUID), SignatureListSize, SignatureHeaderSize and
 * SignatureSize (u32 each), then the header and the EFI_SIGNATURE_DATA entries, each SignatureOwner (GUID)
 * followed by SignatureData. */
#define ESL_HEADER_SIZE      28u
#define ESL_LIST_SIZE_OFFSET 16u
#define ESL_HDR_SIZE_OFFSET  20u
#define ESL_SIG_SIZE_OFFSET  24u
#define ESL_OWNER_SIZE       EFI_GUID_SIZE

/* [UEFI] 8.2.2 EFI_VARIABLE_AUTHENTICATION_2: TimeStamp (EFI_TIME), then AuthInfo, a
 * WIN_CERTIFICATE_UEFI_GUID: Hdr {dwLength u32, wRevision u16, wCertificateType u16}, CertType (GUID) and
 * CertData, the PKCS#7 SignedData. dwLength counts Hdr, CertType and CertData. */
#define EFI_TIME_SIZE               16u
#define WIN_CERTIFICATE_HEADER_SIZE 8u
#define WIN_CERT_TYPE_EFI_GUID      0x0EF1
#define AUTH_INFO_HEADER_SIZE       (WIN_CERTIFICATE_HEADER_SIZE + EFI_GUID_SIZE)
#define AUTHVAR_HEADER_SIZE         (EFI_TIME_SIZE + AUTH_INFO_HEADER_SIZE)

/* [EDK2] up to edk2-stable202211 (Debian 12's OVMF) reads CertData with fixed offsets: a two-byte (0x82)
 * length right after the SignedData tag, and the SHA-256 OID of digestAlgorithms at offset 13 (formats.md
 * §3.7). What we produce must have exactly this layout. */
#define EDK2_LENGTH_FORM_OFFSET 1
#define EDK2_DIGEST_OID_OFFSET  13
static const uint8_t sha256_oid[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};

/* [UEFI] 8.3 EFI_TIME.Year ranges over 1900-9999. */
#define EFI_TIME_YEAR_MIN 1900
#define EFI_TIME_YEAR_MAX 9999

static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
        put_le16(p, (uint16_t)v);
        put_le16(p + 2, (uint16_t)(v >> 16));
}

int efi_guid_from_string(const char *s, struct efi_guid *ret)
{
        /* Where each pair of hex digits of the text goes: Data1, Data2 and Data3 are little-endian. */
        static const uint8_t order[EFI_GUID_SIZE] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        uint8_t text[EFI_GUID_SIZE] = {};
        size_t n = 0;

        if (!s || strlen(s) != EFI_GUID_STRING_SIZE - 1)
                return -EINVAL;
        for (size_t i = 0; s[i]; i++) {
                unsigned char c = (unsigned char)s[i];

                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return -EINVAL;
                        continue;
                }
                if (!isxdigit(c))
                        return -EINVAL;
                text[n / 2] |= (uint8_t)((isdigit(c) ? c - '0' : tolower(c) - 'a' + 10) << (n % 2 ? 0 : 4));
                n++;
        }
        for (size_t i = 0; i < EFI_GUID_SIZE; i++)
                ret->bytes[i] = text[order[i]];
        return 0;
}

void efi_guid_to_string(const struct efi_guid *g, char ret[static EFI_GUID_STRING_SIZE])
{
        const uint8_t *b = g->bytes;

        snprintf(ret, EFI_GUID_STRING_SIZE,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2], b[1],
                 b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

bool efi_guid_equal(const struct efi_guid *a, const struct efi_guid *b)
{
        return memcmp(a->bytes, b->bytes, EFI_GUID_SIZE) == 0;
}

static bool leap_year(unsigned y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned year, unsigned month)
{
        static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        return month == 2 && leap_year(year) ? 29 : days[month - 1];
}

static int efi_time_set(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                        unsigned second, struct efi_time *ret)
{
        if (year < EFI_TIME_YEAR_MIN || year > EFI_TIME_YEAR_MAX || month < 1 || month > 12 || day < 1 ||
            day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
                return -EINVAL;
        *ret = (struct efi_time){
                .year = (uint16_t)year,
                .month = (uint8_t)month,
                .day = (uint8_t)day,
                .hour = (uint8_t)hour,
                .minute = (uint8_t)minute,
                .second = (uint8_t)second,
        };
        return 0;
}

int efi_time_parse(const char *s, struct efi_time *ret)
{
        /* 'd' stands for a digit. Checked first, so that sscanf's leniency (signs, spaces, fewer digits)
         * lets nothing else through. */
        static const char pattern[] = "dddd-dd-dd dd:dd:dd";
        unsigned year, month, day, hour, minute, second;

        if (!s || strlen(s) != sizeof(pattern) - 1)
                return -EINVAL;
        for (size_t i = 0; pattern[i]; i++)
                if (pattern[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pattern[i])
                        return -EINVAL;
        if (sscanf(s, "%4u-%2u-%2u %2u:%2u:%2u", &year, &month, &day, &hour, &minute, &second) != 6)
                return -EINVAL;
        return efi_time_set(year, month, day, hour, minute, second, ret);
}

int efi_time_now(struct efi_time *ret)
{
        time_t now = time(NULL);
        struct tm tm;

        if (now == (time_t)-1 || !gmtime_r(&now, &tm))
                return -EOVERFLOW;
        /* struct tm counts years from 1900 and months from 0; EFI_TIME does neither. */
        return efi_time_set((unsigned)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday,
                            (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec, ret);
}

static void efi_time_put(uint8_t p[static EFI_TIME_SIZE], const struct efi_time *t)
{
        memset(p, 0, EFI_TIME_SIZE);
        put_le16(p, t->year);
        p[2] = t->month;
        p[3] = t->day;
        p[4] = t->hour;
        p[5] = t->minute;
        p[6] = t->second;
}

int blob_append(struct blob *b, const void *data, size_t size)
{
        uint8_t *p;

        if (size == 0)
                return 0;
        if (size > SIZE_MAX - b->size)
                return -EFBIG;
        p = realloc(b->data, b->size + size);
        if (!p)
                return -ENOMEM;
        memcpy(p + b->size, data, size);
        b->data = p;
        b->size += size;
        return 0;
}

void blob_done(struct blob *b)
{
        free(b->data);
        *b = (struct blob){};
}

/* One list header: the whole list is ESL_HEADER_SIZE + n * (owner + payload size) bytes. */
static int esl_put_header(struct blob *esl, const struct efi_guid *type, size_t n, size_t payload_size)
{
        uint8_t header[ESL_HEADER_SIZE] = {};
        size_t entry_size = ESL_OWNER_SIZE + payload_size, list_size;

        if (payload_size > UINT32_MAX - ESL_OWNER_SIZE || n > (UINT32_MAX - ESL_HEADER_SIZE) / entry_size)
                return -EFBIG;
        list_size = ESL_HEADER_SIZE + n * entry_size;
        memcpy(header, type->bytes, EFI_GUID_SIZE);
        put_le32(header + ESL_LIST_SIZE_OFFSET, (uint32_t)list_size);
        put_le32(header + ESL_HDR_SIZE_OFFSET, 0);
        put_le32(header + ESL_SIG_SIZE_OFFSET, (uint32_t)entry_size);
        return blob_append(esl, header, sizeof(header));
}

static int esl_put_entry(struct blob *esl, const struct efi_guid *owner, const uint8_t *data, size_t size)
{
        int r = blob_append(esl, owner->bytes, EFI_GUID_SIZE);

        return r < 0 ? r : blob_append(esl, data, size);
}

int esl_append_x509(struct blob *esl, const struct efi_guid *owner, X509 *certificate)
{
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        size_t old_size = esl->size;
        int size, r;

        size = i2d_X509(certificate, &der);
        if (size <= 0)
                return -EINVAL;
        r = esl_put_header(esl, &efi_cert_x509_guid, 1, (size_t)size);
        if (r >= 0)
                r = esl_put_entry(esl, owner, der, (size_t)size);
        if (r < 0)
                esl->size = old_size; /* the list is all or nothing */
        return r;
}

int esl_append_sha256(struct blob *esl, const struct efi_guid *owner,
                      const uint8_t (*digests)[SHA256_SIGNATURE_SIZE], size_t n)
{
        size_t old_size = esl->size;
        int r;

        if (n == 0)
                return 0;
        r = esl_put_header(esl, &efi_cert_sha256_guid, n, SHA256_SIGNATURE_SIZE);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = esl_put_entry(esl, owner, digests[i], SHA256_SIGNATURE_SIZE);
        if (r < 0)
                esl->size = old_size;
        return r;
}

/* The payload size a signature type requires, 0 when it varies (X.509) or when we do not know the type:
 * the firmware, which does, judges those. */
static size_t fixed_payload_size(const struct efi_guid *type)
{
        return efi_guid_equal(type, &efi_cert_sha256_guid) ? SHA256_SIGNATURE_SIZE : 0;
}

/* Checks the list header at data (size bytes remain) and returns the list's size and entry size. */
static int esl_check_header(const uint8_t *data, size_t size, size_t offset, uint32_t *ret_list_size,
                            uint32_t *ret_entry_size, char **reterr_message)
{
        struct efi_guid type;
        uint32_t list_size, header_size, entry_size;
        size_t fixed;

        if (size < ESL_HEADER_SIZE)
                return set_error_message(reterr_message, -EBADMSG,
                                         "signature list at offset %zu: %zu bytes, too short for its header",
                                         offset, size);
        memcpy(type.bytes, data, EFI_GUID_SIZE);
        list_size = get_le32(data + ESL_LIST_SIZE_OFFSET);
        header_size = get_le32(data + ESL_HDR_SIZE_OFFSET);
        entry_size = get_le32(data + ESL_SIG_SIZE_OFFSET);
        if (list_size < ESL_HEADER_SIZE || list_size > size)
                return set_error_message(
                        reterr_message, -EBADMSG,
                        "signature list at offset %zu: SignatureListSize %u does not fit in "
                        "the %zu bytes left",
                        offset, list_size, size);
        if (header_size != 0)
                return set_error_message(reterr_message, -EBADMSG,
                                         "signature list at offset %zu: SignatureHeaderSize %u, no standard "
                                         "signature type has a header",
                                         offset, header_size);
        if (entry_size <= ESL_OWNER_SIZE || (list_size - ESL_HEADER_SIZE) % entry_size != 0)
                return set_error_message(
                        reterr_message, -EBADMSG,
                        "signature list at offset %zu: SignatureSize %u does not divide the "
                        "list into whole entries",
                        offset, entry_size);
        fixed = fixed_payload_size(&type);
        if (fixed != 0 && entry_size != ESL_OWNER_SIZE + fixed)
                return set_error_message(reterr_message, -EBADMSG,
                                         "signature list at offset %zu: SignatureSize %u is wrong for its "
                                         "signature type",
                                         offset, entry_size);
        *ret_list_size = list_size;
        *ret_entry_size = entry_size;
        return 0;
}

int esl_parse(const uint8_t *data, size_t size, struct esl_entry **ret_entries, size_t *ret_n,
              char **reterr_message)
{
        _cleanup_free_ struct esl_entry *entries = NULL;
        size_t n = 0, offset = 0;

        while (offset < size) {
                const uint8_t *list = data + offset;
                uint32_t list_size = 0, entry_size = 0;
                size_t count;
                struct esl_entry *grown;
                int r;

                r = esl_check_header(list, size - offset, offset, &list_size, &entry_size, reterr_message);
                if (r < 0)
                        return r;
                count = (list_size - ESL_HEADER_SIZE) / entry_size;
                /* Every entry takes more than 16 bytes of data, so n + count cannot overflow. */
                grown = reallocarray(entries, n + count ?: 1, sizeof(*entries));
                if (!grown)
                        return set_error_message(reterr_message, -ENOMEM, "out of memory");
                entries = grown;
                for (size_t i = 0; i < count; i++) {
                        const uint8_t *e = list + ESL_HEADER_SIZE + i * entry_size;
                        struct esl_entry *out = &entries[n++];

                        memcpy(out->type.bytes, list, EFI_GUID_SIZE);
                        memcpy(out->owner.bytes, e, EFI_GUID_SIZE);
                        out->data = e + ESL_OWNER_SIZE;
                        out->size = entry_size - ESL_OWNER_SIZE;
                }
                offset += list_size;
        }
        *ret_entries = n > 0 ? TAKE_PTR(entries) : NULL;
        *ret_n = n;
        return 0;
}

static bool entries_have(const struct esl_entry *entries, size_t n, const struct efi_guid *type,
                         const uint8_t *data, size_t size)
{
        for (size_t i = 0; i < n; i++)
                if (efi_guid_equal(&entries[i].type, type) && entries[i].size == size &&
                    memcmp(entries[i].data, data, size) == 0)
                        return true;
        return false;
}

/* Appends one list of the entries src[from..to) (same type and size) that have is false for. */
static int esl_merge_list(struct blob *out, const struct esl_entry *src, size_t from, size_t to,
                          const bool *have)
{
        size_t n = 0;
        int r;

        for (size_t i = from; i < to; i++)
                n += !have[i];
        if (n == 0)
                return 0;
        r = esl_put_header(out, &src[from].type, n, src[from].size);
        for (size_t i = from; r >= 0 && i < to; i++)
                if (!have[i])
                        r = esl_put_entry(out, &src[i].owner, src[i].data, src[i].size);
        return r;
}

int esl_merge(struct blob *esl, const uint8_t *src, size_t size, char **reterr_message)
{
        _cleanup_free_ struct esl_entry *old = NULL, *new = NULL;
        _cleanup_free_ bool *have = NULL;
        struct blob out = {};
        size_t n_old, n_new;
        int r;

        r = esl_parse(esl->data, esl->size, &old, &n_old, reterr_message);
        if (r < 0)
                return r;
        r = esl_parse(src, size, &new, &n_new, reterr_message);
        if (r < 0 || n_new == 0)
                return r;
        have = calloc(n_new, sizeof(*have));
        if (!have)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        /* An entry is also a duplicate of an earlier one in src itself. */
        for (size_t i = 0; i < n_new; i++)
                have[i] = entries_have(old, n_old, &new[i].type, new[i].data, new[i].size) ||
                          entries_have(new, i, &new[i].type, new[i].data, new[i].size);

        /* Consecutive entries of one type and size came from one list (or could have): keep them together.
         */
        for (size_t from = 0, to; r >= 0 && from < n_new; from = to) {
                for (to = from + 1; to < n_new && efi_guid_equal(&new[to].type, &new[from].type) &&
                                    new[to].size == new[from].size;
                     to++)
                        ;
                r = esl_merge_list(&out, new, from, to, have);
        }
        if (r >= 0)
                r = blob_append(esl, out.data, out.size);
        blob_done(&out);
        return r < 0 ? set_error_message(reterr_message, r, "%s", strerror(-r)) : 0;
}

/* formats.md §3.6: name (UTF-16LE, no NUL) ‖ vendor ‖ attributes (u32 LE) ‖ timestamp ‖ data. */
static int signed_bytes(const char *name, const struct efi_guid *vendor, uint32_t attributes,
                        const uint8_t timestamp[static EFI_TIME_SIZE], const uint8_t *data, size_t size,
                        struct blob *ret)
{
        size_t name_length = strlen(name), fixed, total;
        uint8_t *p;

        if (name_length > SIZE_MAX / 2)
                return -EFBIG;
        fixed = name_length * 2 + EFI_GUID_SIZE + sizeof(uint32_t) + EFI_TIME_SIZE;
        if (size > SIZE_MAX - fixed)
                return -EFBIG;
        total = fixed + size;
        p = malloc(total ?: 1);
        if (!p)
                return -ENOMEM;
        *ret = (struct blob){.data = p, .size = total};
        for (size_t i = 0; i < name_length; i++) {
                *p++ = (uint8_t)name[i];
                *p++ = 0;
        }
        memcpy(p, vendor->bytes, EFI_GUID_SIZE);
        p += EFI_GUID_SIZE;
        put_le32(p, attributes);
        p += sizeof(uint32_t);
        memcpy(p, timestamp, EFI_TIME_SIZE);
        p += EFI_TIME_SIZE;
        if (size > 0)
                memcpy(p, data, size);
        return 0;
}

static bool edk2_accepts_layout(const uint8_t *der, size_t size)
{
        return size > EDK2_DIGEST_OID_OFFSET + sizeof(sha256_oid) && der[EDK2_LENGTH_FORM_OFFSET] == 0x82 &&
               memcmp(der + EDK2_DIGEST_OID_OFFSET, sha256_oid, sizeof(sha256_oid)) == 0;
}

/* formats.md §3.7: a detached SignedData {version 1, {sha256}, id-data without content, [0] the signer's
 * certificate, one SignerInfo without authenticated attributes}, its ContentInfo wrapper left off. With no
 * attributes the RSA signature is over SHA-256 of the content itself, and RSASSA-PKCS1-v1_5 makes it
 * deterministic. */
static int sign_detached(const struct authenticode_signer *signer, const struct blob *content,
                         uint8_t **ret_der, size_t *ret_size, char **reterr_message)
{
        const int flags = PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR;
        _cleanup_(BIO_freep) BIO *bio = NULL;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        uint8_t *der = NULL;
        int size;

        if (content->size > INT_MAX)
                return set_error_message(reterr_message, -EFBIG, "%zu bytes to sign, too many",
                                         content->size);
        bio = BIO_new_mem_buf(content->data, (int)content->size);
        if (!bio || !(p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags | PKCS7_PARTIAL)) ||
            !PKCS7_sign_add_signer(p7, signer->certificate, signer->key, EVP_sha256(), flags) ||
            !PKCS7_final(p7, bio, flags))
                return set_error_message(reterr_message, -EIO, "cannot sign: %s", openssl_reason());

        size = i2d_PKCS7_SIGNED(p7->d.sign, &der);
        if (size <= 0)
                return set_error_message(reterr_message, -EIO, "cannot encode the signature: %s",
                                         openssl_reason());
        if (!edk2_accepts_layout(der, (size_t)size)) {
                OPENSSL_free(der);
                return set_error_message(reterr_message, -E2BIG,
                                         "signature of %d bytes is outside what UEFI firmware parses", size);
        }
        *ret_der = der;
        *ret_size = (size_t)size;
        return 0;
}

static bool name_valid(const char *name)
{
        if (!name || !*name)
                return false;
        for (const char *p = name; *p; p++)
                if (!isprint((unsigned char)*p) || (unsigned char)*p >= 0x80)
                        return false;
        return true;
}

/* Assembles timestamp ‖ AuthInfo header ‖ der ‖ data. */
static int authvar_assemble(const uint8_t timestamp[static EFI_TIME_SIZE], const uint8_t *der,
                            size_t der_size, const uint8_t *data, size_t size, struct blob *ret)
{
        uint8_t header[AUTHVAR_HEADER_SIZE];
        struct blob out = {};
        int r;

        if (der_size > UINT32_MAX - AUTH_INFO_HEADER_SIZE)
                return -EFBIG;
        memcpy(header, timestamp, EFI_TIME_SIZE);
        put_le32(header + EFI_TIME_SIZE, (uint32_t)(AUTH_INFO_HEADER_SIZE + der_size));
        put_le16(header + EFI_TIME_SIZE + 4, WIN_CERT_REVISION_2_0);
        put_le16(header + EFI_TIME_SIZE + 6, WIN_CERT_TYPE_EFI_GUID);
        memcpy(header + EFI_TIME_SIZE + WIN_CERTIFICATE_HEADER_SIZE, efi_cert_type_pkcs7_guid.bytes,
               EFI_GUID_SIZE);
        r = blob_append(&out, header, sizeof(header));
        if (r >= 0)
                r = blob_append(&out, der, der_size);
        if (r >= 0)
                r = blob_append(&out, data, size);
        if (r < 0) {
                blob_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}

int authvar_build(const char *name, const struct efi_guid *vendor, uint32_t attributes,
                  const struct efi_time *timestamp, const uint8_t *data, size_t size,
                  const struct authenticode_signer *signer, struct blob *ret, char **reterr_message)
{
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        uint8_t time_bytes[EFI_TIME_SIZE];
        struct blob content = {};
        size_t der_size = 0;
        int r;

        if (!name_valid(name) || !vendor || !timestamp || (!data && size > 0) || !signer || !signer->key ||
            !signer->certificate || !ret)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");
        efi_time_put(time_bytes, timestamp);

        r = signed_bytes(name, vendor, attributes, time_bytes, data, size, &content);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", strerror(-r));
        r = sign_detached(signer, &content, &der, &der_size, reterr_message);
        blob_done(&content);
        if (r < 0)
                return r;
        r = authvar_assemble(time_bytes, der, der_size, data, size, ret);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", strerror(-r));
        return 0;
}

int authvar_parse(const uint8_t *auth, size_t size, struct efi_time *ret_timestamp, size_t *ret_data_offset,
                  char **reterr_message)
{
        const uint8_t *info = auth + EFI_TIME_SIZE;
        struct efi_guid cert_type;
        uint32_t length;
        struct efi_time t;

        if (size < AUTHVAR_HEADER_SIZE)
                return set_error_message(reterr_message, -EBADMSG,
                                         "%zu bytes, too short for EFI_VARIABLE_AUTHENTICATION_2", size);
        length = get_le32(info);
        memcpy(cert_type.bytes, info + WIN_CERTIFICATE_HEADER_SIZE, EFI_GUID_SIZE);
        if (get_le16(info + 4) != WIN_CERT_REVISION_2_0 || get_le16(info + 6) != WIN_CERT_TYPE_EFI_GUID ||
            !efi_guid_equal(&cert_type, &efi_cert_type_pkcs7_guid))
                return set_error_message(reterr_message, -EBADMSG,
                                         "AuthInfo is not a PKCS#7 WIN_CERTIFICATE_UEFI_GUID");
        if (length <= AUTH_INFO_HEADER_SIZE || length > size - EFI_TIME_SIZE)
                return set_error_message(reterr_message, -EBADMSG,
                                         "AuthInfo.Hdr.dwLength %u does not fit in %zu bytes", length, size);
        if (auth[7] != 0 || get_le32(auth + 8) != 0 || get_le16(auth + 12) != 0 || auth[14] != 0 ||
            auth[15] != 0 ||
            efi_time_set(get_le16(auth), auth[2], auth[3], auth[4], auth[5], auth[6], &t) < 0)
                return set_error_message(reterr_message, -EBADMSG, "TimeStamp is not a valid EFI_TIME");
        *ret_timestamp = t;
        *ret_data_offset = EFI_TIME_SIZE + length;
        return 0;
}

/* The SignedData without its ContentInfo, wrapped back into one, as the firmware does before verifying. */
static PKCS7 *parse_detached(const uint8_t *der, size_t size)
{
        const uint8_t *p = der;
        PKCS7_SIGNED *sd = d2i_PKCS7_SIGNED(NULL, &p, (long)size);
        PKCS7 *p7 = sd ? PKCS7_new() : NULL;

        if (!p7) {
                PKCS7_SIGNED_free(sd);
                return NULL;
        }
        p7->type = OBJ_nid2obj(NID_pkcs7_signed);
        p7->d.sign = sd;
        return p7;
}

int authvar_verify(const char *name, const struct efi_guid *vendor, uint32_t attributes, const uint8_t *auth,
                   size_t size, X509 *signer, char **reterr_message)
{
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_(BIO_freep) BIO *content_bio = NULL;
        _cleanup_(blob_done) struct blob content = {};
        struct efi_time timestamp;
        size_t offset;
        int r;

        r = authvar_parse(auth, size, &timestamp, &offset, reterr_message);
        if (r < 0)
                return r;
        if (!name_valid(name) || offset - AUTHVAR_HEADER_SIZE > INT_MAX)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");
        r = signed_bytes(name, vendor, attributes, auth, auth + offset, size - offset, &content);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", strerror(-r));
        p7 = parse_detached(auth + AUTHVAR_HEADER_SIZE, offset - AUTHVAR_HEADER_SIZE);
        if (!p7) {
                ERR_clear_error();
                return set_error_message(reterr_message, -EBADMSG,
                                         "the signature is not a PKCS#7 SignedData");
        }
        content_bio = content.size <= INT_MAX ? BIO_new_mem_buf(content.data, (int)content.size) : NULL;
        if (!store || !content_bio || !X509_STORE_add_cert(store, signer) ||
            !X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME) ||
            !X509_STORE_set_purpose(store, X509_PURPOSE_ANY))
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        r = PKCS7_verify(p7, NULL, store, content_bio, NULL, PKCS7_BINARY) == 1;
        ERR_clear_error();
        return r ? 0 : set_error_message(reterr_message, -EKEYREJECTED, "not signed by that certificate");
}
