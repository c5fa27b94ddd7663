/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "keysource.h"
#include "openssl-util.h"
#include "pe-builder.h"
#include "pe.h"
#include "sha256.h"
#include "util.h"

/* [AC] object identifiers. */
#define SPC_INDIRECT_DATA_OBJID "1.3.6.1.4.1.311.2.1.4"
#define SPC_SP_OPUS_INFO_OBJID  "1.3.6.1.4.1.311.2.1.12"
#define PKCS9_CONTENT_TYPE      "1.2.840.113549.1.9.3"
#define PKCS9_MESSAGE_DIGEST    "1.2.840.113549.1.9.4"

/* [PE] WIN_CERTIFICATE header, followed by bCertificate. */
struct win_certificate {
        uint32_t dwLength; /* this header included, padding excluded */
        uint16_t wRevision;
        uint16_t wCertificateType;
} __attribute__((packed));
_Static_assert(sizeof(struct win_certificate) == 8, "WIN_CERTIFICATE header size");

/* formats.md §1.5: the DER of SpcIndirectDataContent for SHA-256, constant up to the digest that ends it.
 * [EDK2] takes the last 32 bytes of its contents as the signed image hash, so the digest must come last. */
static const uint8_t spc_indirect_data_prefix[] = {
        0x30, 0x68, /* SpcIndirectDataContent */
        0x30, 0x33, /* SpcAttributeTypeAndOptionalValue */
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x0f, /* SPC_PE_IMAGE_DATA_OBJID */
        0x30, 0x25,                                                             /* SpcPeImageData */
        0x03, 0x01, 0x00,                                                       /* flags: empty BIT STRING */
        0xa0, 0x20, 0xa2, 0x1e, 0x80, 0x1c, /* file: [0] SpcLink, [2] SpcString, [0] BMPString */
        0x00, '<',  0x00, '<',  0x00, '<',  0x00, 'O',  0x00, 'b',  0x00, 's',  0x00, 'o',  0x00, 'l',
        0x00, 'e',  0x00, 't',  0x00, 'e',  0x00, '>',  0x00, '>',  0x00, '>',  0x30, 0x31, /* DigestInfo */
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, /* sha256
                                                                                                   */
        0x04, 0x20, /* the digest follows */
};
#define SPC_INDIRECT_DATA_SIZE   (sizeof(spc_indirect_data_prefix) + AUTHENTICODE_DIGEST_SIZE)
#define SPC_INDIRECT_DATA_HEADER 2 /* tag and one-byte length: the message digest covers what follows */
_Static_assert(SPC_INDIRECT_DATA_SIZE == 106, "SpcIndirectDataContent for SHA-256 is 106 bytes");

/* [EDK2] HashPeImageByType reads the ContentInfo's length as two bytes (0x82 form) and the digest algorithm
 * at a fixed offset: the first OID of SignedData.digestAlgorithms, which is where it lands when ContentInfo,
 * [0] and SignedData all have 0x82 lengths. */
#define EDK2_LENGTH_FORM_OFFSET 1
#define EDK2_DIGEST_OID_OFFSET  32
static const uint8_t sha256_oid[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};

static const uint8_t empty_sequence[] = {0x30, 0x00};

static size_t offset_in(const struct pe_image *img, const void *p)
{
        return (size_t)((const uint8_t *)p - img->base);
}

static size_t align8(size_t x)
{
        return (x + WIN_CERTIFICATE_ALIGNMENT - 1) & ~(size_t)(WIN_CERTIFICATE_ALIGNMENT - 1);
}

/* Where the attribute certificate table is: offset and size, or (image size, 0) when there is none. Shim
 * requires it at the very end of the file, and so do we: data after it would be covered by no hash. */
static int certificate_table(const struct pe_image *img, size_t *ret_offset, size_t *ret_size)
{
        const struct pe_data_directory *security = pe_data_directory(img, IMAGE_DIRECTORY_ENTRY_SECURITY);

        if (!security || security->Size == 0) {
                *ret_offset = img->size;
                *ret_size = 0;
                return 0;
        }
        if (security->VirtualAddress < img->optional_header->SizeOfHeaders ||
            (uint64_t)security->VirtualAddress + security->Size != img->size)
                return -EBADMSG;

        *ret_offset = security->VirtualAddress;
        *ret_size = security->Size;
        return 0;
}

static int hash_range(const struct pe_image *img, size_t from, size_t to, authenticode_update_fn update,
                      void *userdata)
{
        return to > from ? update(userdata, img->base + from, to - from) : 0;
}

/* formats.md §1.2 steps 1-3: the headers up to SizeOfHeaders, without CheckSum and the certificate entry. */
static int hash_headers(const struct pe_image *img, authenticode_update_fn update, void *userdata)
{
        size_t checksum = offset_in(img, &img->optional_header->CheckSum);
        size_t end = img->optional_header->SizeOfHeaders;
        const struct pe_data_directory *security = pe_data_directory(img, IMAGE_DIRECTORY_ENTRY_SECURITY);
        int r;

        r = hash_range(img, 0, checksum, update, userdata);
        if (r >= 0 && security) {
                r = hash_range(img, checksum + sizeof(uint32_t), offset_in(img, security), update, userdata);
                if (r >= 0)
                        r = hash_range(img, offset_in(img, security + 1), end, update, userdata);
        } else if (r >= 0)
                r = hash_range(img, checksum + sizeof(uint32_t), end, update, userdata);
        return r;
}

/* formats.md §1.2 step 5: sections with raw data, in file order. Ties keep table order, so the result never
 * depends on the sort algorithm. */
static int hash_sections(const struct pe_image *img, authenticode_update_fn update, void *userdata,
                         uint64_t *hashed)
{
        const struct pe_section_header *sorted[PE_MAX_SECTIONS];
        size_t n = 0;

        for (size_t i = 0; i < img->n_sections; i++) {
                const struct pe_section_header *s = &img->sections[i];
                size_t j;

                if (s->SizeOfRawData == 0)
                        continue;
                /* Insertion sort, stable: at most PE_MAX_SECTIONS entries. */
                for (j = n++; j > 0 && sorted[j - 1]->PointerToRawData > s->PointerToRawData; j--)
                        sorted[j] = sorted[j - 1];
                sorted[j] = s;
        }

        for (size_t i = 0; i < n; i++) {
                int r = hash_range(img, sorted[i]->PointerToRawData,
                                   (size_t)sorted[i]->PointerToRawData + sorted[i]->SizeOfRawData, update,
                                   userdata);
                if (r < 0)
                        return r;
                *hashed += sorted[i]->SizeOfRawData;
        }
        return 0;
}

int authenticode_hash_regions(const struct pe_image *img, authenticode_update_fn update, void *userdata,
                              uint64_t *ret_hashed)
{
        uint64_t hashed = img->optional_header->SizeOfHeaders;
        int r;

        r = hash_headers(img, update, userdata);
        if (r >= 0)
                r = hash_sections(img, update, userdata, &hashed);
        if (r < 0)
                return r;
        *ret_hashed = hashed;
        return 0;
}

static int sha256_update_fn(void *userdata, const uint8_t *data, size_t size)
{
        sha256_update(userdata, data, size);
        return 0;
}

static int digest_image(const struct pe_image *img, uint8_t ret[static AUTHENTICODE_DIGEST_SIZE])
{
        struct sha256_ctx c;
        size_t table_offset, table_size;
        uint64_t hashed;

        if (certificate_table(img, &table_offset, &table_size) < 0)
                return -EBADMSG;

        sha256_init(&c);
        (void)authenticode_hash_regions(img, sha256_update_fn, &c, &hashed);

        /* Step 6: the trailing data starts at the count of bytes hashed, not at the end of the last section.
         * [EDK2] rejects an image too short for that count plus the table. */
        if (table_size != 0 && hashed > table_offset)
                return -EBADMSG;
        (void)hash_range(img, hashed, table_offset, sha256_update_fn, &c);

        sha256_final(&c, ret);
        return 0;
}

int authenticode_digest(const uint8_t *image, size_t size,
                        uint8_t ret_digest[static AUTHENTICODE_DIGEST_SIZE], char **reterr_message)
{
        struct pe_image img;
        int r;

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "not a valid PE32+ image");
        r = digest_image(&img, ret_digest);
        if (r < 0)
                return set_error_message(reterr_message, r, "malformed attribute certificate table");
        return 0;
}

int authenticode_is_signed(const uint8_t *image, size_t size)
{
        struct pe_image img;
        size_t offset, table_size;
        int r;

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return r;
        r = certificate_table(&img, &offset, &table_size);
        if (r < 0)
                return r;
        return table_size > 0;
}

int authenticode_certificate_load(const char *path, X509 **ret, char **reterr_message)
{
        _cleanup_(fclosep) FILE *f = NULL;
        X509 *certificate;

        f = fopen(path, "re");
        if (!f)
                return set_error_message(reterr_message, -errno, "%s: cannot open certificate: %m", path);
        certificate = PEM_read_X509(f, NULL, openssl_refuse_passphrase, NULL);
        if (!certificate)
                return set_error_message(reterr_message, -EBADMSG, "%s: not a PEM X.509 certificate (%s)",
                                         path, openssl_reason());

        *ret = certificate;
        return 0;
}

int authenticode_signer_load(const char *key_path, const char *certificate_path,
                             struct authenticode_signer *ret, char **reterr_message)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *certificate = NULL;
        int r;

        r = openssl_load_private_key(key_path, &key, reterr_message);
        if (r < 0)
                return r;
        r = authenticode_certificate_load(certificate_path, &certificate, reterr_message);
        if (r < 0)
                return r;
        if (X509_check_private_key(certificate, key) != 1) {
                ERR_clear_error();
                return set_error_message(reterr_message, -EKEYREJECTED,
                                         "%s: private key does not match certificate %s", key_path,
                                         certificate_path);
        }

        *ret = (struct authenticode_signer){.key = TAKE_PTR(key), .certificate = TAKE_PTR(certificate)};
        return 0;
}

void authenticode_signer_done(struct authenticode_signer *signer)
{
        EVP_PKEY_free(signer->key);
        X509_free(signer->certificate);
        *signer = (struct authenticode_signer){};
}

/* Adds an authenticated attribute; the value is copied. */
static bool add_attribute(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *value, int size)
{
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *object = OBJ_txt2obj(oid, 1);

        return object && X509at_add1_attr_by_OBJ(&si->auth_attr, object, type, value, size);
}

/* formats.md §1.5-1.6: contentType, messageDigest over the contents octets of SpcIndirectDataContent (its
 * tag and length excluded), and an empty SpcSpOpusInfo, optional in Authenticode and ignored by EDK2, added
 * as Windows signers and osslsigncode do. No signingTime: it would make every signature different. OpenSSL
 * sorts the SET into DER order when it encodes it, both for the signature and in the output. */
static bool add_attributes(PKCS7_SIGNER_INFO *si, const uint8_t idc[static SPC_INDIRECT_DATA_SIZE])
{
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *content_type = OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1);
        uint8_t message_digest[SHA256_DIGEST_SIZE];

        sha256_digest(idc + SPC_INDIRECT_DATA_HEADER, SPC_INDIRECT_DATA_SIZE - SPC_INDIRECT_DATA_HEADER,
                      message_digest);

        return content_type && add_attribute(si, PKCS9_CONTENT_TYPE, V_ASN1_OBJECT, content_type, -1) &&
               add_attribute(si, PKCS9_MESSAGE_DIGEST, V_ASN1_OCTET_STRING, message_digest,
                             sizeof(message_digest)) &&
               add_attribute(si, SPC_SP_OPUS_INFO_OBJID, V_ASN1_SEQUENCE, empty_sequence,
                             sizeof(empty_sequence));
}

/* The SignedData's content: SPC_INDIRECT_DATA, carried as an opaque SEQUENCE. */
static bool set_content(PKCS7 *p7, const uint8_t idc[static SPC_INDIRECT_DATA_SIZE])
{
        PKCS7 *content = PKCS7_new();
        ASN1_STRING *sequence = ASN1_STRING_type_new(V_ASN1_SEQUENCE);

        if (!content || !sequence || !ASN1_STRING_set(sequence, idc, SPC_INDIRECT_DATA_SIZE))
                goto fail;
        content->type = OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1);
        content->d.other = ASN1_TYPE_new();
        if (!content->type || !content->d.other)
                goto fail;
        ASN1_TYPE_set(content->d.other, V_ASN1_SEQUENCE, TAKE_PTR(sequence));
        if (!PKCS7_set_content(p7, content))
                goto fail;
        return true;
fail:
        ASN1_STRING_free(sequence);
        PKCS7_free(content);
        return false;
}

static bool edk2_accepts_layout(const uint8_t *der, size_t size)
{
        return size > EDK2_DIGEST_OID_OFFSET + sizeof(sha256_oid) && der[EDK2_LENGTH_FORM_OFFSET] == 0x82 &&
               memcmp(der + EDK2_DIGEST_OID_OFFSET, sha256_oid, sizeof(sha256_oid)) == 0;
}

/* formats.md §1.5: ContentInfo { signedData, SignedData { version 1, {sha256}, SPC_INDIRECT_DATA content,
 * [0] the signer's certificate, one SignerInfo (issuer and serial, sha256, attributes, rsaEncryption,
 * RSASSA-PKCS1-v1_5 signature over the attributes) } }. */
static int build_signature(const struct authenticode_signer *signer,
                           const uint8_t digest[static AUTHENTICODE_DIGEST_SIZE], uint8_t **ret_der,
                           size_t *ret_size, char **reterr_message)
{
        _cleanup_(PKCS7_freep) PKCS7 *p7 = PKCS7_new();
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        uint8_t idc[SPC_INDIRECT_DATA_SIZE];
        PKCS7_SIGNER_INFO *si;
        int size;

        memcpy(idc, spc_indirect_data_prefix, sizeof(spc_indirect_data_prefix));
        memcpy(idc + sizeof(spc_indirect_data_prefix), digest, AUTHENTICODE_DIGEST_SIZE);

        if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed) || !set_content(p7, idc) ||
            !(si = PKCS7_add_signature(p7, signer->certificate, signer->key, EVP_sha256())) ||
            !PKCS7_add_certificate(p7, signer->certificate) || !add_attributes(si, idc) ||
            !PKCS7_SIGNER_INFO_sign(si))
                return set_error_message(reterr_message, -EIO, "cannot build the signature: %s",
                                         openssl_reason());

        size = i2d_PKCS7(p7, &der);
        if (size <= 0)
                return set_error_message(reterr_message, -EIO, "cannot encode the signature: %s",
                                         openssl_reason());
        if (!edk2_accepts_layout(der, (size_t)size))
                return set_error_message(reterr_message, -E2BIG,
                                         "signature of %d bytes is outside what UEFI firmware parses", size);

        *ret_der = TAKE_PTR(der);
        *ret_size = (size_t)size;
        return 0;
}

/* The image without any certificate table, zero-padded to 8 bytes, its certificate directory at
 * security_offset cleared. */
static int unsigned_copy(const struct pe_image *img, size_t security_offset, uint8_t **ret, size_t *ret_size)
{
        size_t keep, old_table_size, padded;
        uint8_t *copy;

        if (certificate_table(img, &keep, &old_table_size) < 0)
                return -EBADMSG;
        padded = align8(keep);
        if (padded > UINT32_MAX)
                return -EFBIG;

        copy = calloc(padded, 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, img->base, keep);
        memset(copy + security_offset, 0, sizeof(struct pe_data_directory));

        *ret = copy;
        *ret_size = padded;
        return 0;
}

static int signing_digest(const uint8_t *image, size_t size, uint8_t ret[static AUTHENTICODE_DIGEST_SIZE])
{
        struct pe_image img;
        int r;

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return r;
        return digest_image(&img, ret);
}

/* formats.md §1.3: one WIN_CERTIFICATE whose dwLength excludes its padding, at the 8-aligned end of the
 * image, and a directory entry whose Size includes the padding. image has room for table_size more bytes. */
static void append_table(uint8_t *image, size_t padded, size_t security_offset, const uint8_t *der,
                         size_t der_size, size_t table_size)
{
        struct win_certificate header = {
                .dwLength = (uint32_t)(sizeof(header) + der_size),
                .wRevision = WIN_CERT_REVISION_2_0,
                .wCertificateType = WIN_CERT_TYPE_PKCS_SIGNED_DATA,
        };
        struct pe_data_directory security = {.VirtualAddress = (uint32_t)padded,
                                             .Size = (uint32_t)table_size};

        memset(image + padded, 0, table_size);
        memcpy(image + padded, &header, sizeof(header));
        memcpy(image + padded + sizeof(header), der, der_size);
        memcpy(image + security_offset, &security, sizeof(security));
}

static const char *unsigned_copy_problem(int r)
{
        switch (-r) {
        case EBADMSG:
                return "malformed attribute certificate table";
        case EFBIG:
                return "image too large";
        default:
                return "out of memory";
        }
}

int authenticode_sign(const uint8_t *image, size_t size, const struct authenticode_signer *signer,
                      uint8_t **ret_image, size_t *ret_size, char **reterr_message)
{
        _cleanup_free_ uint8_t *copy = NULL;
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE], *grown;
        size_t padded = 0, der_size = 0, table_size, security_offset;
        const struct pe_data_directory *security;
        struct pe_image img;
        int r;

        if (!image || !signer || !signer->key || !signer->certificate || !ret_image || !ret_size)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "not a valid PE32+ image");
        security = pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_SECURITY);
        if (!security)
                return set_error_message(reterr_message, -EOPNOTSUPP,
                                         "image has no certificate table directory");
        security_offset = offset_in(&img, security);
        /* Section data is hashed as it is: data overlapping the headers would include the CheckSum and
         * the certificate directory, which signing changes, so no signature could ever match. */
        for (size_t i = 0; i < img.n_sections; i++)
                if (img.sections[i].SizeOfRawData > 0 &&
                    img.sections[i].PointerToRawData < img.optional_header->SizeOfHeaders)
                        return set_error_message(
                                reterr_message, -EBADMSG,
                                "section %zu's raw data (at %" PRIu32 ") overlaps the headers (%" PRIu32
                                " bytes): a signature could not cover it",
                                i + 1, img.sections[i].PointerToRawData, img.optional_header->SizeOfHeaders);

        r = unsigned_copy(&img, security_offset, &copy, &padded);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s", unsigned_copy_problem(r));
        /* Without its old signature the image may no longer hold its sections. */
        r = signing_digest(copy, padded, digest);
        if (r < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed image under its signature");

        r = build_signature(signer, digest, &der, &der_size, reterr_message);
        if (r < 0)
                return r;

        table_size = align8(sizeof(struct win_certificate) + der_size);
        if (padded + table_size > UINT32_MAX)
                return set_error_message(reterr_message, -EFBIG, "signed image would exceed 4 GiB");
        grown = realloc(copy, padded + table_size);
        if (!grown)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        copy = grown;
        append_table(copy, padded, security_offset, der, der_size, table_size);

        /* formats.md §1.4: last, over everything, the table included. */
        r = pe_builder_update_checksum(copy, padded + table_size);
        if (r < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed image");

        *ret_image = TAKE_PTR(copy);
        *ret_size = padded + table_size;
        return 0;
}

static bool is_sha256(const X509_ALGOR *algorithm)
{
        const ASN1_OBJECT *oid;

        X509_ALGOR_get0(&oid, NULL, NULL, algorithm);
        return OBJ_obj2nid(oid) == NID_sha256;
}

/* SHA-256 is all we sign with and all EDK2 looks for (at a fixed offset). Checking before PKCS7_verify()
 * also spares it digests it does not know, on which OpenSSL 3.0 leaks the content BIO. */
static bool digests_are_sha256(const PKCS7 *p7)
{
        const STACK_OF(X509_ALGOR) *algorithms = p7->d.sign->md_algs;
        const STACK_OF(PKCS7_SIGNER_INFO) *signers = p7->d.sign->signer_info;

        if (sk_X509_ALGOR_num(algorithms) <= 0 || sk_PKCS7_SIGNER_INFO_num(signers) <= 0)
                return false;
        for (int i = 0; i < sk_X509_ALGOR_num(algorithms); i++)
                if (!is_sha256(sk_X509_ALGOR_value(algorithms, i)))
                        return false;
        for (int i = 0; i < sk_PKCS7_SIGNER_INFO_num(signers); i++)
                if (!is_sha256(sk_PKCS7_SIGNER_INFO_value(signers, i)->digest_alg))
                        return false;
        return true;
}

/* The contents octets of the SignedData's SPC_INDIRECT_DATA content: what messageDigest covers. */
static int indirect_data(PKCS7 *p7, const uint8_t **ret, size_t *ret_size)
{
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *spc_indirect_data =
                OBJ_txt2obj(SPC_INDIRECT_DATA_OBJID, 1);
        const PKCS7 *content;
        const uint8_t *data, *p;
        long size, length;
        int tag, class;

        if (!spc_indirect_data)
                return -ENOMEM;
        if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !digests_are_sha256(p7) ||
            !(content = p7->d.sign->contents) || !content->type ||
            OBJ_cmp(content->type, spc_indirect_data) != 0 || !content->d.other ||
            content->d.other->type != V_ASN1_SEQUENCE)
                return -EBADMSG;

        data = p = ASN1_STRING_get0_data(content->d.other->value.sequence);
        size = ASN1_STRING_length(content->d.other->value.sequence);
        /* DER only: definite length, nothing after it. */
        if (ASN1_get_object(&p, &length, &tag, &class, size) != V_ASN1_CONSTRUCTED ||
            tag != V_ASN1_SEQUENCE || class != V_ASN1_UNIVERSAL || p + length != data + size)
                return -EBADMSG;

        *ret = p;
        *ret_size = (size_t)length;
        return 0;
}

/* The digest an SpcIndirectDataContent signs: its second and last element is a DigestInfo, which must be
 * SHA-256. */
static int signed_digest(const uint8_t *content, size_t size, uint8_t ret[static AUTHENTICODE_DIGEST_SIZE])
{
        _cleanup_(X509_SIG_freep) X509_SIG *digest_info = NULL;
        const uint8_t *p = content, *end = content + size;
        const ASN1_OCTET_STRING *digest;
        const X509_ALGOR *algorithm;
        long length;
        int tag, class;

        /* Skip SpcAttributeTypeAndOptionalValue. */
        if (ASN1_get_object(&p, &length, &tag, &class, (long)size) != V_ASN1_CONSTRUCTED ||
            tag != V_ASN1_SEQUENCE || length > end - p)
                return -EBADMSG;
        p += length;

        digest_info = d2i_X509_SIG(NULL, &p, end - p);
        if (!digest_info || p != end)
                return -EBADMSG;
        X509_SIG_get0(digest_info, &algorithm, &digest);
        if (!is_sha256(algorithm) || ASN1_STRING_length(digest) != AUTHENTICODE_DIGEST_SIZE)
                return -EBADMSG;

        memcpy(ret, ASN1_STRING_get0_data(digest), AUTHENTICODE_DIGEST_SIZE);
        return 0;
}

/* As EDK2's AuthenticodeVerify: the certificate is the only trust anchor, and may be the signer or any CA
 * above it; the chain comes from the signature's own certificates; validity dates and key usage do not
 * matter to firmware. */
static int verify_pkcs7(PKCS7 *p7, X509 *certificate, const uint8_t *content, size_t size)
{
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        _cleanup_(BIO_freep) BIO *data = BIO_new_mem_buf(content, (int)size);

        if (!store || !data || !X509_STORE_add_cert(store, certificate) ||
            !X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME) ||
            !X509_STORE_set_purpose(store, X509_PURPOSE_ANY))
                return -ENOMEM;
        return PKCS7_verify(p7, NULL, store, data, NULL, PKCS7_BINARY) == 1 ? 0 : -EKEYREJECTED;
}

static void hex(const uint8_t digest[static AUTHENTICODE_DIGEST_SIZE],
                char out[static 2 * AUTHENTICODE_DIGEST_SIZE + 1])
{
        for (size_t i = 0; i < AUTHENTICODE_DIGEST_SIZE; i++)
                sprintf(out + 2 * i, "%02x", digest[i]);
}

/* What one WIN_CERTIFICATE says, from worst to best match: when none is valid, the best one explains. */
enum entry_verdict {
        ENTRY_MALFORMED,
        ENTRY_OTHER_SIGNER,
        ENTRY_OTHER_DIGEST, /* signed by the certificate, but over another image */
        ENTRY_VALID,
};

static const int entry_verdict_errno[] = {
        [ENTRY_MALFORMED] = -EBADMSG,
        [ENTRY_OTHER_SIGNER] = -EKEYREJECTED,
        [ENTRY_OTHER_DIGEST] = -EBADMSG,
        [ENTRY_VALID] = 0,
};

/* One WIN_CERTIFICATE's PKCS#7, checked with the certificate before the digest is compared, so that
 * ENTRY_OTHER_DIGEST means a signature by that certificate. */
static enum entry_verdict verify_entry(const uint8_t *der, size_t size, X509 *certificate,
                                       const uint8_t digest[static AUTHENTICODE_DIGEST_SIZE], char **ret_why)
{
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        uint8_t expected[AUTHENTICODE_DIGEST_SIZE];
        char have[2 * AUTHENTICODE_DIGEST_SIZE + 1], want[2 * AUTHENTICODE_DIGEST_SIZE + 1];
        const uint8_t *p = der, *content;
        size_t content_size;

        if (size > INT32_MAX || !(p7 = d2i_PKCS7(NULL, &p, (long)size)) ||
            indirect_data(p7, &content, &content_size) < 0 ||
            signed_digest(content, content_size, expected) < 0) {
                ERR_clear_error();
                set_error_message(ret_why, 0, "signature is not an Authenticode PKCS#7 SignedData");
                return ENTRY_MALFORMED;
        }

        if (verify_pkcs7(p7, certificate, content, content_size) < 0) {
                set_error_message(ret_why, 0, "signature does not verify with this certificate (%s)",
                                  openssl_reason());
                return ENTRY_OTHER_SIGNER;
        }

        if (memcmp(expected, digest, AUTHENTICODE_DIGEST_SIZE) != 0) {
                hex(digest, have);
                hex(expected, want);
                set_error_message(ret_why, 0,
                                  "image changed after signing: Authenticode digest %s, signed %s", have,
                                  want);
                return ENTRY_OTHER_DIGEST;
        }
        return ENTRY_VALID;
}

/* Walks the table as EDK2 does: each entry padded to 8 bytes, the walk ending exactly at the table's end.
 * Entries of other types are skipped. */
static int verify_table(const struct pe_image *img, X509 *certificate,
                        const uint8_t digest[static AUTHENTICODE_DIGEST_SIZE], char **reterr_message)
{
        _cleanup_free_ char *best_why = NULL;
        enum entry_verdict best = ENTRY_MALFORMED;
        size_t offset, size, end;
        bool any = false;

        if (certificate_table(img, &offset, &size) < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed attribute certificate table");
        if (size == 0)
                return set_error_message(reterr_message, -ENODATA, "not signed");

        for (end = offset + size; offset < end;) {
                struct win_certificate header;
                _cleanup_free_ char *why = NULL;
                enum entry_verdict v;

                if (end - offset < sizeof(header))
                        break;
                memcpy(&header, img->base + offset, sizeof(header));
                if (header.dwLength < sizeof(header) || header.dwLength > end - offset)
                        break;

                if (header.wCertificateType == WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
                        v = verify_entry(img->base + offset + sizeof(header),
                                         header.dwLength - sizeof(header), certificate, digest, &why);
                        if (v == ENTRY_VALID)
                                return 0;
                        if (!any || v > best) {
                                free(best_why);
                                best_why = TAKE_PTR(why);
                                best = v;
                        }
                        any = true;
                }
                offset += align8(header.dwLength);
        }

        if (offset != end)
                return set_error_message(reterr_message, -EBADMSG, "malformed attribute certificate table");
        if (!any)
                return set_error_message(reterr_message, -EKEYREJECTED,
                                         "no PKCS#7 signature in the certificate table");
        return set_error_message(reterr_message, entry_verdict_errno[best], "%s",
                                 best_why ? best_why : "out of memory");
}

int authenticode_verify(const uint8_t *image, size_t size, X509 *certificate, char **reterr_message)
{
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        struct pe_image img;
        int r;

        if (!image || !certificate)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "not a valid PE32+ image");
        if (digest_image(&img, digest) < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed attribute certificate table");
        return verify_table(&img, certificate, digest, reterr_message);
}

/* The entries of the table at [offset, offset + size) that are not ours: everything but PKCS#7 signatures
 * that verify with old (whatever digest they sign), each with its padding, in order, into *kept. */
static int foreign_entries(const struct pe_image *img, size_t offset, size_t size, X509 *old,
                           const uint8_t digest[static AUTHENTICODE_DIGEST_SIZE], uint8_t *kept,
                           size_t *ret_kept_size)
{
        size_t end = offset + size, n = 0;

        while (offset < end) {
                struct win_certificate header;
                size_t step;

                if (end - offset < sizeof(header))
                        return -EBADMSG;
                memcpy(&header, img->base + offset, sizeof(header));
                step = align8(header.dwLength);
                if (header.dwLength < sizeof(header) || step > end - offset)
                        return -EBADMSG;
                if (header.wCertificateType != WIN_CERT_TYPE_PKCS_SIGNED_DATA ||
                    verify_entry(img->base + offset + sizeof(header), header.dwLength - sizeof(header), old,
                                 digest, NULL) < ENTRY_OTHER_DIGEST) {
                        memcpy(kept + n, img->base + offset, step);
                        n += step;
                }
                offset += step;
        }
        *ret_kept_size = n;
        return 0;
}

int authenticode_resign(const uint8_t *image, size_t size, X509 *old,
                        const struct authenticode_signer *signer, uint8_t **ret_image, size_t *ret_size,
                        char **reterr_message)
{
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        size_t offset, table, kept = 0, der_size = 0, entry_size, security_offset;
        struct pe_image img;
        int r;

        if (!image || !old || !signer || !signer->key || !signer->certificate || !ret_image || !ret_size)
                return set_error_message(reterr_message, -EINVAL, "invalid arguments");
        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, r, "not a valid PE32+ image");
        if (certificate_table(&img, &offset, &table) < 0 || table == 0 || offset != align8(offset) ||
            digest_image(&img, digest) < 0)
                return set_error_message(reterr_message, -EBADMSG,
                                         "no well-formed attribute certificate table to add to");
        r = build_signature(signer, digest, &der, &der_size, reterr_message);
        if (r < 0)
                return r;
        entry_size = align8(sizeof(struct win_certificate) + der_size);
        if (offset + table + entry_size > UINT32_MAX || !(out = malloc(offset + table + entry_size)))
                return set_error_message(reterr_message, -EFBIG, "signed image would exceed 4 GiB");
        memcpy(out, image, offset);
        r = foreign_entries(&img, offset, table, old, digest, out + offset, &kept);
        if (r < 0)
                return set_error_message(reterr_message, r, "malformed attribute certificate table");
        /* Our entry goes after the kept ones; the directory then spans them all, from the table's start. */
        security_offset = offset_in(&img, pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_SECURITY));
        append_table(out, offset + kept, security_offset, der, der_size, entry_size);
        memcpy(out + security_offset,
               &(struct pe_data_directory){.VirtualAddress = (uint32_t)offset,
                                           .Size = (uint32_t)(kept + entry_size)},
               sizeof(struct pe_data_directory));
        r = pe_builder_update_checksum(out, offset + kept + entry_size);
        if (r < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed image");
        *ret_image = TAKE_PTR(out);
        *ret_size = offset + kept + entry_size;
        return 0;
}
