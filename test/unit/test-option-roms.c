/* SPDX-License-Identifier: MIT */
/* The bricking guard of enroll-keys and install --auto-enroll. Event logs are built here in the TCG
 * crypto-agile format (formats.md §4.1-4.2) as OVMF records them, with SHA-1 and SHA-256 banks: one as a
 * machine without option ROMs has it, one with a graphics card's driver (EV_EFI_BOOT_SERVICES_DRIVER), one
 * with two, and broken ones. The guard must refuse exactly when option ROMs ran and db could not verify
 * them: an unrelated extra certificate is not enough, their logged digests are. (Microsoft's CA, recognised
 * by its fingerprint, is tested with the real certificate in test/install/test-keys.sh.) */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authvar.h"
#include "enroll.h"
#include "fs-util.h"
#include "keys.h"
#include "option-roms.h"
#include "tests.h"

#define FIXTURES TEST_DATA_DIR "/authvar/"

/* formats.md §4.1 and §4.3. */
#define EV_NO_ACTION                     0x00000003
#define EV_SEPARATOR                     0x00000004
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_ACTION                    0x80000007
#define TPM_ALG_SHA1                     0x0004
#define TPM_ALG_SHA256                   0x000B
#define TPM_ALG_SHA384                   0x000C

static char tmpdir[] = "/tmp/test-option-roms-XXXXXX";

static void put(struct blob *b, const void *data, size_t size)
{
        if (blob_append(b, data, size) < 0)
                abort(); /* out of memory: nothing to test */
}

static void put_u8(struct blob *b, uint8_t v)
{
        put(b, &v, 1);
}

static void put_u16(struct blob *b, uint16_t v)
{
        uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
        put(b, p, sizeof(p));
}

static void put_u32(struct blob *b, uint32_t v)
{
        uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        put(b, p, sizeof(p));
}

static void put_fill(struct blob *b, uint8_t byte, size_t n)
{
        for (size_t i = 0; i < n; i++)
                put_u8(b, byte);
}

/* TCG_PCR_EVENT with the TCG_EfiSpecIDEventStruct: client platform, spec 2.0, UINT64, SHA-1 and SHA-256. */
static void put_spec_id(struct blob *b)
{
        static const char signature[16] = "Spec ID Event03";

        put_u32(b, 0);
        put_u32(b, EV_NO_ACTION);
        put_fill(b, 0, 20);
        put_u32(b, 37); /* 16 + 4 + 4 + 4 + 2 x 4 + 1 */
        put(b, signature, sizeof(signature));
        put_u32(b, 0); /* platformClass */
        put_u8(b, 0);  /* specVersionMinor */
        put_u8(b, 2);  /* specVersionMajor */
        put_u8(b, 0);  /* specErrata */
        put_u8(b, 2);  /* uintnSize: UINT64 */
        put_u32(b, 2); /* numberOfAlgorithms */
        put_u16(b, TPM_ALG_SHA1), put_u16(b, 20);
        put_u16(b, TPM_ALG_SHA256), put_u16(b, 32);
        put_u8(b, 0); /* vendorInfoSize */
}

/* TCG_PCR_EVENT2 with made-up digests in both banks; algorithm replaces SHA-256 when not 0. */
static void put_event(struct blob *b, uint32_t pcr, uint32_t type, const void *data, uint32_t size,
                      uint16_t algorithm)
{
        put_u32(b, pcr);
        put_u32(b, type);
        put_u32(b, 2);
        put_u16(b, TPM_ALG_SHA1), put_fill(b, (uint8_t)type, 20);
        put_u16(b, algorithm ?: TPM_ALG_SHA256), put_fill(b, (uint8_t)pcr, 32);
        put_u32(b, size);
        put(b, data, size);
}

/* UEFI_IMAGE_LOAD_EVENT (formats.md §4.4) with an end-of-device-path node as the whole path. */
static void put_image_load(struct blob *b, uint32_t pcr, uint32_t type)
{
        uint8_t event[32 + 4] = {};

        event[24] = 4;    /* LengthOfDevicePath */
        event[32] = 0x7f; /* END_DEVICE_PATH_TYPE */
        event[33] = 0xff; /* END_ENTIRE_DEVICE_PATH_SUBTYPE */
        event[34] = 4;    /* its length */
        put_event(b, pcr, type, event, sizeof(event), 0);
}

/* What OVMF logs up to starting the boot loader, with n_roms option ROM drivers among the PCR 2 events. */
static struct blob make_log(size_t n_roms)
{
        static const char action[] = "Calling EFI Application from Boot Option";
        static const uint8_t separator[4] = {};
        struct blob b = {};

        put_spec_id(&b);
        for (size_t i = 0; i < n_roms; i++)
                put_image_load(&b, 2, EV_EFI_BOOT_SERVICES_DRIVER);
        put_event(&b, 4, EV_EFI_ACTION, action, sizeof(action) - 1, 0);
        for (uint32_t pcr = 0; pcr <= 7; pcr++)
                put_event(&b, pcr, EV_SEPARATOR, separator, sizeof(separator), 0);
        put_image_load(&b, 4, EV_EFI_BOOT_SERVICES_APPLICATION);
        return b;
}

static int count(const struct blob *log, size_t *ret)
{
        struct option_roms roms = {};
        char *message = NULL;
        int r = option_roms_parse(log->data, log->size, &roms, &message);

        check(r == 0 || message, "a failure comes with a message");
        if (r == 0) {
                *ret = roms.n;
                /* put_event() fills the SHA-256 digest with the PCR number. */
                for (size_t i = 0; i < roms.n; i++)
                        for (size_t j = 0; j < SHA256_DIGEST_SIZE; j++)
                                check(roms.sha256 && roms.sha256[i][j] == 2, "option ROM %zu: digest", i);
        }
        option_roms_done(&roms);
        free(message);
        return r;
}

static void test_count(void)
{
        struct blob none = make_log(0), one = make_log(1), two = make_log(2), bad = {};
        size_t n = 99;

        check(count(&none, &n) == 0 && n == 0, "no option ROMs: %zu", n);
        check(count(&one, &n) == 0 && n == 1, "one option ROM: %zu", n);
        check(count(&two, &n) == 0 && n == 2, "two option ROMs: %zu", n);
        check(count(&(struct blob){one.data, one.size - 1}, &n) == -EBADMSG, "the last event cut short");
        check(count(&(struct blob){one.data, 20}, &n) == -EBADMSG, "cut inside the first event");

        put_spec_id(&bad);
        put_event(&bad, 4, EV_EFI_ACTION, "x", 1, TPM_ALG_SHA384);
        check(count(&bad, &n) == -EBADMSG, "a digest of an algorithm the Spec ID event does not list");
        blob_done(&bad);

        blob_done(&none);
        blob_done(&one);
        blob_done(&two);
}

static char *write_log(const char *name, const struct blob *log)
{
        char *path = NULL;
        FILE *f;

        check(asprintf(&path, "%s/%s", tmpdir, name) > 0, "asprintf");
        f = fopen(path, "we");
        check(f && fwrite(log->data, 1, log->size, f) == log->size && fclose(f) == 0, "%s", path);
        return path;
}

static void load_keys(struct keys *k)
{
        char *message = NULL;
        int r;

        *k = (struct keys){};
        check(efi_guid_from_string("6c7a6274-7465-4573-b461-757468766172", &k->owner) == 0, "owner");
        r = authenticode_signer_load(FIXTURES "keys/db.key", FIXTURES "keys/db.pem",
                                     &k->signer[SECURE_BOOT_DB], &message);
        check(r == 0, "db key: %s", message ?: "");
        free(message);
}

static int guard(const struct blob *db, const char *log, bool allow_brick)
{
        struct enroll_options o = {.tpm_eventlog_path = log, .allow_brick = allow_brick};

        return enroll_guard(db, &o);
}

static void test_guard(void)
{
        struct blob none = make_log(0), one = make_log(1), broken = {};
        char *none_path = write_log("none", &none), *one_path = write_log("one", &one), *broken_path,
             *missing_path = NULL;
        struct blob ours = {}, more = {}, kek = {}, digests = {}, wrong = {};
        const uint8_t logged[1][SHA256_DIGEST_SIZE] = {{[0 ... SHA256_DIGEST_SIZE - 1] = 2}};
        const uint8_t other[1][SHA256_DIGEST_SIZE] = {{[0 ... SHA256_DIGEST_SIZE - 1] = 3}};
        struct keys k;

        load_keys(&k);
        check(esl_append_x509(&ours, &k.owner, k.signer[SECURE_BOOT_DB].certificate) == 0, "our db list");
        check(read_file(FIXTURES "KEK.esl", 1 << 20, &kek.data, &kek.size) == 0, "KEK.esl");
        check(esl_merge(&more, ours.data, ours.size, NULL) == 0 &&
                      esl_merge(&more, kek.data, kek.size, NULL) == 0,
              "db with another certificate");
        check(esl_merge(&digests, ours.data, ours.size, NULL) == 0 &&
                      esl_append_sha256(&digests, &k.owner, logged, 1) == 0,
              "db with the logged digest");
        check(esl_merge(&wrong, ours.data, ours.size, NULL) == 0 &&
                      esl_append_sha256(&wrong, &k.owner, other, 1) == 0,
              "db with another digest");
        broken = (struct blob){one.data, one.size - 3};
        broken_path = write_log("broken", &broken);
        check(asprintf(&missing_path, "%s/missing", tmpdir) > 0, "asprintf");

        check(guard(&ours, none_path, false) == 0, "no option ROMs: enrolled");
        check(guard(&ours, one_path, false) == -EPERM, "an option ROM, our certificate alone: refused");
        check(guard(&more, one_path, false) == -EPERM,
              "an option ROM, an unrelated certificate in db: refused");
        check(guard(&digests, one_path, false) == 0, "an option ROM, its digest in db: enrolled");
        check(guard(&wrong, one_path, false) == -EPERM, "an option ROM, another digest in db: refused");
        check(guard(&ours, one_path, true) == 0,
              "an option ROM, --yes-this-might-brick-my-machine: enrolled");
        check(enroll_guard(&ours, &(struct enroll_options){.tpm_eventlog_path = one_path,
                                                           .firmware_builtin = true}) == 0,
              "an option ROM, db keeping dbDefault: enrolled");
        check(guard(&ours, broken_path, false) == -EBADMSG, "a broken log: refused");
        check(guard(&more, broken_path, false) == -EBADMSG,
              "a broken log, an unrelated certificate: refused");
        check(guard(&ours, missing_path, false) == -ENOENT, "a log given that does not exist: refused");

        for (char **p = (char *[]){none_path, one_path, broken_path, missing_path, NULL}; *p; p++) {
                unlink(*p);
                free(*p);
        }
        free(kek.data);
        blob_done(&ours);
        blob_done(&more);
        blob_done(&digests);
        blob_done(&wrong);
        blob_done(&none);
        blob_done(&one);
        keys_done(&k);
}

int main(void)
{
        check(mkdtemp(tmpdir) != NULL, "mkdtemp");
        test_count();
        test_guard();
        rmdir(tmpdir);
        return tests_finish();
}
