/* SPDX-License-Identifier: MIT */

/* lanzatool list-enrolled-keys: what PK, KEK, db and dbx hold, as the firmware shows them in efivarfs. Each
 * X.509 entry with its subject, issuer and the SHA-256 of its DER encoding (the fingerprint Microsoft and
 * `openssl x509 -fingerprint -sha256` print), each EFI_CERT_SHA256 entry with its digest, every entry with
 * its owner GUID. Microsoft's UEFI CAs are named, as the option ROM guard recognises them. */

#include <errno.h>
#include <json.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authvar.h"
#include "efivars.h"
#include "lanzatool.h"
#include "log.h"
#include "openssl-util.h"
#include "option-roms.h"
#include "sha256.h"
#include "util.h"

#define HEX_SHA256_SIZE (2 * SHA256_DIGEST_SIZE + 1)

static const struct enrolled_variable {
        const char *name;
        const struct efi_guid *vendor;
} enrolled_variables[] = {
        {"PK", &efi_global_variable_guid},
        {"KEK", &efi_global_variable_guid},
        {"db", &efi_image_security_database_guid},
        {"dbx", &efi_image_security_database_guid},
};

static void hex(const uint8_t *data, size_t size, char *ret)
{
        for (size_t i = 0; i < size; i++)
                sprintf(ret + 2 * i, "%02x", data[i]);
}

/* An X509_NAME on one line, RFC 2253 style; NULL when out of memory. */
static char *name_text(const X509_NAME *name)
{
        _cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_mem());
        char *p, *text;
        long n;

        if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return NULL;
        n = BIO_get_mem_data(bio, &p);
        text = n >= 0 ? strndup(p, (size_t)n) : NULL;
        return text;
}

/* One entry as JSON: {"type", "owner", and "subject", "issuer", "sha256", "name" or "sha256"}. */
static struct json_object *entry_json(const struct esl_entry *e)
{
        struct json_object *o = json_object_new_object();
        char owner[EFI_GUID_STRING_SIZE], fingerprint[HEX_SHA256_SIZE];
        uint8_t digest[SHA256_DIGEST_SIZE];

        efi_guid_to_string(&e->owner, owner);
        json_object_object_add(o, "owner", json_object_new_string(owner));
        if (efi_guid_equal(&e->type, &efi_cert_x509_guid)) {
                const uint8_t *p = e->data;
                _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long)e->size);
                _cleanup_free_ char *subject = x ? name_text(X509_get_subject_name(x)) : NULL,
                                    *issuer = x ? name_text(X509_get_issuer_name(x)) : NULL;
                const char *known;

                sha256_digest(e->data, e->size, digest);
                hex(digest, sizeof(digest), fingerprint);
                known = option_roms_ca_name(digest);
                json_object_object_add(o, "type", json_object_new_string("x509"));
                json_object_object_add(o, "subject", subject ? json_object_new_string(subject) : NULL);
                json_object_object_add(o, "issuer", issuer ? json_object_new_string(issuer) : NULL);
                json_object_object_add(o, "sha256", json_object_new_string(fingerprint));
                json_object_object_add(o, "knownAs", known ? json_object_new_string(known) : NULL);
        } else if (efi_guid_equal(&e->type, &efi_cert_sha256_guid) && e->size == SHA256_DIGEST_SIZE) {
                hex(e->data, e->size, fingerprint);
                json_object_object_add(o, "type", json_object_new_string("sha256"));
                json_object_object_add(o, "sha256", json_object_new_string(fingerprint));
        } else {
                char type[EFI_GUID_STRING_SIZE];

                efi_guid_to_string(&e->type, type);
                json_object_object_add(o, "type", json_object_new_string(type));
                json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
        }
        return o;
}

/* The entries of one variable, or NULL (logged) when it is unreadable or malformed; [] when absent. */
static struct json_object *variable_json(const struct enrolled_variable *v)
{
        _cleanup_free_ struct esl_entry *entries = NULL;
        _cleanup_free_ char *message = NULL;
        _cleanup_free_ void *data = NULL;
        char guid[EFI_GUID_STRING_SIZE];
        struct json_object *list;
        size_t size = 0, n = 0;
        int r;

        efi_guid_to_string(v->vendor, guid);
        r = efivar_read(v->name, guid, &data, &size);
        if (r < 0 && r != -ENOENT) {
                log_error("%s-%s: cannot read: %s", v->name, guid, strerror(-r));
                return NULL;
        }
        if (r >= 0 && (r = esl_parse(data, size, &entries, &n, &message)) < 0) {
                log_error("%s-%s: not a signature list: %s", v->name, guid, message ?: strerror(-r));
                return NULL;
        }
        list = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(list, entry_json(&entries[i]));
        return list;
}

static const char *field(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static void print_text(struct json_object *all)
{
        for (size_t i = 0; i < ELEMENTSOF(enrolled_variables); i++) {
                const char *name = enrolled_variables[i].name;
                struct json_object *list = json_object_object_get(all, name);
                size_t n = list ? json_object_array_length(list) : 0;

                printf("%s:%s\n", name, !list ? " unreadable" : n == 0 ? " empty" : "");
                for (size_t j = 0; j < n; j++) {
                        struct json_object *e = json_object_array_get_idx(list, j);
                        const char *type = field(e, "type"), *known = field(e, "knownAs");

                        if (strcmp(type, "x509") == 0) {
                                printf("  X.509  %s%s%s%s\n", field(e, "subject") ?: "(unparsable)",
                                       known ? " (" : "", known ?: "", known ? ")" : "");
                                printf("         issuer %s\n", field(e, "issuer") ?: "(unparsable)");
                                printf("         sha256 %s\n", field(e, "sha256"));
                        } else if (strcmp(type, "sha256") == 0)
                                printf("  SHA256 %s\n", field(e, "sha256"));
                        else
                                printf("  %s (%s bytes)\n", type, field(e, "size"));
                        printf("         owner  %s\n", field(e, "owner"));
                }
        }
}

int verb_list_enrolled_keys(int argc, char *argv[])
{
        struct json_object *all;
        bool failed = false;

        (void)argc, (void)argv;
        if (!efivarfs_path())
                return log_error("no EFI variables: this system was not booted through UEFI"), 1;
        all = json_object_new_object();
        for (size_t i = 0; i < ELEMENTSOF(enrolled_variables); i++) {
                struct json_object *list = variable_json(&enrolled_variables[i]);

                failed |= !list;
                json_object_object_add(all, enrolled_variables[i].name, list);
        }
        if (arg.json != JSON_OFF)
                puts(json_object_to_json_string_ext(all, arg.json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY
                                                                                 : JSON_C_TO_STRING_PLAIN));
        else
                print_text(all);
        json_object_put(all);
        return failed ? 1 : 0;
}
