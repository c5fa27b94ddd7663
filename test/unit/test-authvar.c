/* SPDX-License-Identifier: MIT */
/* EFI signature lists and authenticated variables against the oracle we did not write: efitools'
 * cert-to-efi-sig-list and sign-efi-sig-list, whose output for fixed keys, owner GUID and timestamp is in
 * test/data/authvar (generate.sh there says how it was made). Ours must equal it byte for byte. Then the
 * parsers on malformed input, the GUID and EFI_TIME conversions. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authvar.h"
#include "fs-util.h"
#include "tests.h"

#define FIXTURES  TEST_DATA_DIR "/authvar/"
#define OWNER     "6c7a6274-7465-4573-b461-757468766172"
#define TIMESTAMP "2024-01-02 03:04:05"
#define FILE_MAX  (1u << 20)

/* generate.sh's choices: PK and KEK signed by PK, db by KEK. */
static const struct {
        const char *name, *signer;
        const struct efi_guid *vendor;
} variables[] = {
        {"PK", "PK", &efi_global_variable_guid},
        {"KEK", "PK", &efi_global_variable_guid},
        {"db", "KEK", &efi_image_security_database_guid},
};

struct fixture {
        uint8_t *data;
        size_t size;
};

static struct fixture load(const char *name)
{
        struct fixture f = {};
        char path[512];
        int r;

        snprintf(path, sizeof(path), FIXTURES "%s", name);
        r = read_file(path, FILE_MAX, &f.data, &f.size);
        check(r >= 0, "%s: %s", path, strerror(-r));
        return f;
}

static void load_signer(const char *name, struct authenticode_signer *ret)
{
        char key[512], cert[512], *message = NULL;
        int r;

        snprintf(key, sizeof(key), FIXTURES "keys/%s.key", name);
        snprintf(cert, sizeof(cert), FIXTURES "keys/%s.pem", name);
        r = authenticode_signer_load(key, cert, ret, &message);
        check(r >= 0, "%s: %s", name, message ?: strerror(-r));
        free(message);
}

static bool equal(const struct blob *b, const struct fixture *f)
{
        return f->data && b->size == f->size && memcmp(b->data, f->data, f->size) == 0;
}

static struct efi_guid owner(void)
{
        struct efi_guid g = {};

        check(efi_guid_from_string(OWNER, &g) == 0, "owner GUID");
        return g;
}

static struct efi_time timestamp(void)
{
        struct efi_time t = {};

        check(efi_time_parse(TIMESTAMP, &t) == 0, "timestamp");
        return t;
}

/* cert-to-efi-sig-list -g OWNER X.pem. */
static void test_esl(void)
{
        struct efi_guid o = owner();

        for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++) {
                struct authenticode_signer s = {};
                char name[32];
                struct blob esl = {};
                struct fixture want;

                load_signer(variables[i].name, &s);
                snprintf(name, sizeof(name), "%s.esl", variables[i].name);
                want = load(name);
                check(esl_append_x509(&esl, &o, s.certificate) == 0, "%s", name);
                check(equal(&esl, &want), "%s differs from cert-to-efi-sig-list's", name);
                blob_done(&esl);
                free(want.data);
                authenticode_signer_done(&s);
        }
}

static void check_auth(const char *name, const struct efi_guid *vendor, uint32_t attributes,
                       const char *signer, const char *esl_file, const char *auth_file)
{
        struct authenticode_signer s = {};
        struct fixture esl = load(esl_file), want = load(auth_file);
        struct efi_time t = timestamp();
        struct blob auth = {};
        char *message = NULL;
        int r;

        load_signer(signer, &s);
        r = authvar_build(name, vendor, attributes, &t, esl.data, esl.size, &s, &auth, &message);
        check(r == 0, "%s: %s", auth_file, message ?: strerror(-r));
        check(equal(&auth, &want), "%s: %zu bytes differ from sign-efi-sig-list's %zu", auth_file, auth.size,
              want.size);
        free(message);
        blob_done(&auth);
        free(esl.data);
        free(want.data);
        authenticode_signer_done(&s);
}

/* sign-efi-sig-list [-a] -t TIMESTAMP -k SIGNER.key -c SIGNER.pem NAME X.esl X.auth. */
static void test_auth(void)
{
        for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++) {
                char esl[32], auth[32];

                snprintf(esl, sizeof(esl), "%s.esl", variables[i].name);
                snprintf(auth, sizeof(auth), "%s.auth", variables[i].name);
                check_auth(variables[i].name, variables[i].vendor, AUTHVAR_ATTRIBUTES, variables[i].signer,
                           esl, auth);
        }
        check_auth("db", &efi_image_security_database_guid, AUTHVAR_ATTRIBUTES | EFI_VARIABLE_APPEND_WRITE,
                   "KEK", "db.esl", "db-append.auth");
        check_auth("db", &efi_image_security_database_guid, AUTHVAR_ATTRIBUTES, "KEK", "db-two.esl",
                   "db-two.auth");
}

static void test_auth_refused(void)
{
        struct authenticode_signer s = {};
        struct efi_time t = timestamp();
        struct blob auth = {};
        char *message = NULL;

        load_signer("PK", &s);
        check(authvar_build("P\xc3\xa9", &efi_global_variable_guid, AUTHVAR_ATTRIBUTES, &t, NULL, 0, &s,
                            &auth, &message) == -EINVAL,
              "a name that is not ASCII");
        free(message);
        message = NULL;
        check(authvar_build("", &efi_global_variable_guid, AUTHVAR_ATTRIBUTES, &t, NULL, 0, &s, &auth,
                            &message) == -EINVAL,
              "an empty name");
        free(message);
        authenticode_signer_done(&s);
}

/* Merging: the lists of db, then KEK's, is db-two.esl; what is there already is not added twice. */
static void test_merge(void)
{
        struct fixture db = load("db.esl"), kek = load("KEK.esl"), two = load("db-two.esl");
        struct blob esl = {};
        char *message = NULL;

        check(esl_merge(&esl, db.data, db.size, &message) == 0, "merge db into nothing");
        check(equal(&esl, &db), "db alone");
        check(esl_merge(&esl, kek.data, kek.size, &message) == 0, "merge KEK");
        check(equal(&esl, &two), "db then KEK is db-two.esl");
        check(esl_merge(&esl, two.data, two.size, &message) == 0, "merge both again");
        check(equal(&esl, &two), "nothing added twice");
        blob_done(&esl);

        /* Duplicates within the source collapse as well. */
        check(esl_merge(&esl, two.data, two.size, &message) == 0 &&
                      esl_merge(&esl, db.data, db.size, &message) == 0,
              "merge");
        check(equal(&esl, &two), "db-two.esl, then db again");
        blob_done(&esl);
        free(message);
        free(db.data);
        free(kek.data);
        free(two.data);
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (size_t i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static int parse(const uint8_t *data, size_t size, size_t *ret_n)
{
        struct esl_entry *entries = NULL;
        char *message = NULL;
        int r = esl_parse(data, size, &entries, ret_n, &message);

        check(r == 0 || message, "a failure comes with a message");
        free(entries);
        free(message);
        return r;
}

static void test_parse(void)
{
        struct fixture two = load("db-two.esl");
        struct efi_guid o = owner();
        struct esl_entry *entries = NULL;
        uint8_t *bad;
        size_t n = 0;

        check(esl_parse(two.data, two.size, &entries, &n, NULL) == 0 && n == 2,
              "db-two.esl: 2 entries, not %zu", n);
        for (size_t i = 0; i < n; i++)
                check(efi_guid_equal(&entries[i].owner, &o) &&
                              efi_guid_equal(&entries[i].type, &efi_cert_x509_guid),
                      "entry %zu: owner and type", i);
        free(entries);
        check(parse(NULL, 0, &n) == 0 && n == 0, "no lists at all");
        check(parse(two.data, 27, &n) == -EBADMSG, "shorter than a header");
        check(parse(two.data, two.size - 1, &n) == -EBADMSG, "cut short");

        bad = malloc(two.size);
        memcpy(bad, two.data, two.size);
        put_le32(bad + 16, 27);
        check(parse(bad, two.size, &n) == -EBADMSG, "SignatureListSize below the header's size");
        put_le32(bad + 16, UINT32_MAX);
        check(parse(bad, two.size, &n) == -EBADMSG, "SignatureListSize past the end");
        memcpy(bad, two.data, two.size);
        put_le32(bad + 20, 4);
        check(parse(bad, two.size, &n) == -EBADMSG, "a SignatureHeader");
        memcpy(bad, two.data, two.size);
        put_le32(bad + 24, 16);
        check(parse(bad, two.size, &n) == -EBADMSG, "entries without data");
        put_le32(bad + 24, 100);
        check(parse(bad, two.size, &n) == -EBADMSG, "SignatureSize not dividing the list");
        memcpy(bad, two.data, two.size);
        memcpy(bad, efi_cert_sha256_guid.bytes, EFI_GUID_SIZE);
        check(parse(bad, two.size, &n) == -EBADMSG, "a SHA-256 list with X.509-sized entries");
        free(bad);
        free(two.data);
}

static void test_auth_parse(void)
{
        struct fixture auth = load("PK.auth"), esl = load("PK.esl");
        struct efi_time t = {}, want = timestamp();
        size_t offset = 0;
        char *message = NULL;
        uint8_t *bad;

        check(authvar_parse(auth.data, auth.size, &t, &offset, &message) == 0, "PK.auth: %s", message ?: "");
        check(memcmp(&t, &want, sizeof(t)) == 0, "PK.auth: timestamp");
        check(offset + esl.size == auth.size && memcmp(auth.data + offset, esl.data, esl.size) == 0,
              "PK.auth: the data after the descriptor is PK.esl");
        check(authvar_parse(auth.data, 39, &t, &offset, &message) == -EBADMSG, "too short");
        free(message);
        message = NULL;

        bad = malloc(auth.size);
        memcpy(bad, auth.data, auth.size);
        bad[20] = 0x01; /* wRevision 0x0201 */
        check(authvar_parse(bad, auth.size, &t, &offset, &message) == -EBADMSG, "wRevision");
        free(message);
        message = NULL;
        memcpy(bad, auth.data, auth.size);
        put_le32(bad + 16, (uint32_t)auth.size);
        check(authvar_parse(bad, auth.size, &t, &offset, &message) == -EBADMSG, "dwLength past the end");
        free(message);
        message = NULL;
        memcpy(bad, auth.data, auth.size);
        bad[8] = 1; /* Nanosecond */
        check(authvar_parse(bad, auth.size, &t, &offset, &message) == -EBADMSG, "a nanosecond");
        free(message);
        free(bad);
        free(auth.data);
        free(esl.data);
}

static void test_guid(void)
{
        /* formats.md §3.1. */
        static const uint8_t global[EFI_GUID_SIZE] = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                                                      0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
        static const char *const bad[] = {
                "8be4df61-93ca-11d2-aa0d-00e098032b8",  "8be4df61-93ca-11d2-aa0d-00e098032b8cc",
                "8be4df6193ca-11d2-aa0d-00e098032b8c-", "8be4df61-93ca-11d2-aa0d-00e098032b8g",
                "{be4df61-93ca-11d2-aa0d-00e098032b8}", "",
        };
        char text[EFI_GUID_STRING_SIZE];
        struct efi_guid g;

        check(memcmp(efi_global_variable_guid.bytes, global, EFI_GUID_SIZE) == 0,
              "EFI_GUID_INIT byte order");
        check(efi_guid_from_string("8BE4DF61-93CA-11D2-AA0D-00E098032B8C", &g) == 0 &&
                      efi_guid_equal(&g, &efi_global_variable_guid),
              "parse, upper case");
        efi_guid_to_string(&efi_image_security_database_guid, text);
        check(strcmp(text, "d719b2cb-3d3a-4596-a3bc-dad00e67656f") == 0, "to string: %s", text);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                check(efi_guid_from_string(bad[i], &g) == -EINVAL, "refused: \"%s\"", bad[i]);
}

static void test_time(void)
{
        static const char *const bad[] = {
                "2024-02-30 00:00:00", "2023-02-29 00:00:00",  "2024-13-01 00:00:00", "2024-00-01 00:00:00",
                "2024-01-00 00:00:00", "2024-01-01 24:00:00",  "2024-01-01 00:60:00", "2024-01-01 00:00:60",
                "1899-12-31 23:59:59", "2024-1-02 03:04:05",   " 024-01-02 03:04:05", "+024-01-02 03:04:05",
                "2024-01-02T03:04:05", "2024-01-02 03:04:05Z", "2024-01-02 03:04",    "",
        };
        struct efi_time t = {}, now = {};

        check(efi_time_parse("2024-02-29 23:59:59", &t) == 0 && t.year == 2024 && t.month == 2 &&
                      t.day == 29 && t.hour == 23 && t.minute == 59 && t.second == 59,
              "a leap day");
        check(efi_time_parse("2000-02-29 00:00:00", &t) == 0, "2000 is a leap year");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                check(efi_time_parse(bad[i], &t) == -EINVAL, "refused: \"%s\"", bad[i]);
        check(efi_time_now(&now) == 0 && now.year >= 2024 && now.month >= 1 && now.month <= 12, "now: %u-%u",
              now.year, now.month);
}

int main(void)
{
        test_esl();
        test_auth();
        test_auth_refused();
        test_merge();
        test_parse();
        test_auth_parse();
        test_guid();
        test_time();
        return tests_finish();
}
