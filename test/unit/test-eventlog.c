/* SPDX-License-Identifier: MIT */
/* The TCG event log and the PCR 4 prediction, on synthetic logs built here as EDK2 writes them: the PCR 4
 * value before any application against formats.md §4.5's vector (identical in the tpm2-tools fixtures), the
 * image paths of load events, the replacement of the loader's and the stub's digests, refusals, and the
 * parser against truncation and random corruption. The per-bank Authenticode hash is checked against
 * authenticode_digest() and formats.md §1.2's vector for Debian's systemd-boot. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authenticode.h"
#include "eventlog.h"
#include "pcr4.h"
#include "pe-synth.h"
#include "test-util.h"
#include "tests.h"
#include "util.h"

#define SEED   UINT64_C(0x6576656e746c6f67)
#define N_FUZZ 3000

#define SYSTEMD_BOOT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

/* formats.md §4.5: PCR 4 after EDK2's EV_EFI_ACTION and EV_SEPARATOR. */
#define PCR4_BEFORE_APPS_SHA256 "7a94ffe8a7729a566d3d3c577fcb4b6b1e671f31540375f80eae6382ab785e35"
#define PCR4_BEFORE_APPS_SHA1   "45a323382bd933f08e7f0e256bc8249e4095b1ec"
#define CALLING_EFI_APPLICATION "Calling EFI Application from Boot Option"

#define TPM2_ALG_SM3_256 0x0012

static char tmpdir[] = "/tmp/test-eventlog-XXXXXX";
struct buf {
        uint8_t data[1 << 16];
        size_t size;
};

static void put(struct buf *b, const void *p, size_t n)
{
        if (b->size + n > sizeof(b->data))
                abort();
        memcpy(b->data + b->size, p, n);
        b->size += n;
}

static void put_le(struct buf *b, uint64_t v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint8_t byte = (uint8_t)(v >> (8 * i));
                put(b, &byte, 1);
        }
}

/* The Spec ID event for SHA-1, SHA-256 and SM3 (which we do not know, and must skip by its size). */
static void put_header(struct buf *b, const char *signature)
{
        char sig[16] = {};

        strncpy(sig, signature, sizeof(sig) - 1);
        put_le(b, 0, 4);
        put_le(b, EV_NO_ACTION, 4);
        put(b, (uint8_t[20]){}, 20);
        put_le(b, 29 + 4 * 3, 4);
        put(b, sig, 16);
        put_le(b, 0, 4);                    /* platformClass */
        put(b, (uint8_t[]){0, 2, 0, 2}, 4); /* minor, major, errata, uintnSize */
        put_le(b, 3, 4);
        put_le(b, TPM2_ALG_SHA1, 2), put_le(b, 20, 2);
        put_le(b, TPM2_ALG_SHA256, 2), put_le(b, 32, 2);
        put_le(b, TPM2_ALG_SM3_256, 2), put_le(b, 32, 2);
        put_le(b, 0, 1);
}

/* digests NULL: the hashes of the event data, as for data-hashed events. */
static void put_event(struct buf *b, uint32_t pcr, uint32_t type, const void *data, size_t size,
                      const struct pcr_digests *digests)
{
        struct pcr_digests d;

        if (digests)
                d = *digests;
        else if (pcr_digests_of(data, size, &d) < 0)
                abort();
        put_le(b, pcr, 4);
        put_le(b, type, 4);
        put_le(b, 3, 4);
        put_le(b, TPM2_ALG_SHA1, 2), put(b, d.d[PCR_BANK_SHA1], 20);
        put_le(b, TPM2_ALG_SHA256, 2), put(b, d.d[PCR_BANK_SHA256], 32);
        put_le(b, TPM2_ALG_SM3_256, 2), put(b, (uint8_t[32]){0x53}, 32);
        put_le(b, size, 4);
        put(b, data, size);
}

/* A UEFI_IMAGE_LOAD_EVENT whose device path is a hard disk node and one file path node per path given. */
static void put_image_load(struct buf *b, const struct pcr_digests *digests, ...)
{
        struct buf dp = {}, ev = {};
        const char *path;
        va_list ap;

        put_le(&dp, 0x04, 1), put_le(&dp, 0x01, 1), put_le(&dp, 42, 2), put(&dp, (uint8_t[38]){1}, 38);
        va_start(ap, digests);
        while ((path = va_arg(ap, const char *))) {
                put_le(&dp, 0x04, 1), put_le(&dp, 0x04, 1), put_le(&dp, 4 + 2 * (strlen(path) + 1), 2);
                for (const char *c = path; c == path || c[-1]; c++)
                        put_le(&dp, (uint8_t)*c, 2);
        }
        va_end(ap);
        put_le(&dp, 0x7F, 1), put_le(&dp, 0xFF, 1), put_le(&dp, 4, 2);

        put_le(&ev, 0x7e000000, 8), put_le(&ev, 0x20000, 8), put_le(&ev, 0, 8), put_le(&ev, dp.size, 8);
        put(&ev, dp.data, dp.size);
        put_event(b, TPM2_PCR_BOOT_LOADER_CODE, EV_EFI_BOOT_SERVICES_APPLICATION, ev.data, ev.size, digests);
}

static void hex_of(enum pcr_bank bank, const uint8_t *value, char *ret)
{
        pcr_hex(bank, value, ret);
}

static uint8_t *image_with(uint32_t text_size, size_t *ret_size)
{
        const struct synth_section s[] = {{".text", text_size}, {".data", 100}};
        return synth_pe(s, 2, ret_size);
}

static struct pcr_digests authenticode_of(const uint8_t *image, size_t size)
{
        struct pcr_digests d;

        if (pcr4_authenticode_digests(image, size, &d, NULL) < 0)
                abort();
        return d;
}

/* EDK2's PCR 4 before applications, then the loader and the stub as firmware measures them. */
static void build_log(struct buf *b, const struct pcr_digests *loader, const struct pcr_digests *stub)
{
        uint8_t locality[17] = "StartupLocality";

        put_header(b, TCG_SPEC_ID_SIGNATURE);
        put_event(b, 0, EV_NO_ACTION, locality, sizeof(locality), &(struct pcr_digests){});
        put_event(b, 7, EV_SEPARATOR, (uint8_t[4]){}, 4, NULL);
        put_event(b, 4, EV_EFI_ACTION, CALLING_EFI_APPLICATION, strlen(CALLING_EFI_APPLICATION), NULL);
        put_event(b, 4, EV_SEPARATOR, (uint8_t[4]){}, 4, NULL);
        put_image_load(b, loader, "\\EFI\\BOOT\\BOOTX64.EFI", NULL);
        /* Two file path nodes for one path: they join with one separator. */
        put_image_load(b, stub, "\\EFI", "Linux\\nixos-generation-1.efi", NULL);
        put_event(b, 5, EV_EFI_ACTION, "Exit Boot Services Invocation", 29, NULL);
}

static void test_replay_and_paths(void)
{
        struct buf b = {};
        struct tcg_log log;
        uint8_t value[PCR_DIGEST_MAX];
        char hex[2 * PCR_DIGEST_MAX + 1], *path = NULL, *message = NULL;
        struct buf before = {};

        put_header(&before, TCG_SPEC_ID_SIGNATURE);
        put_event(&before, 4, EV_EFI_ACTION, CALLING_EFI_APPLICATION, strlen(CALLING_EFI_APPLICATION), NULL);
        put_event(&before, 4, EV_SEPARATOR, (uint8_t[4]){}, 4, NULL);
        check(tcg_log_parse(before.data, before.size, &log, &message) == 0 && log.n_events == 2, "parse: %s",
              message);
        check(log.banks == (1u << PCR_BANK_SHA1 | 1u << PCR_BANK_SHA256), "banks %#x: SM3 skipped",
              log.banks);
        tcg_log_replay(&log, 4, PCR_BANK_SHA256, value);
        hex_of(PCR_BANK_SHA256, value, hex);
        check(strcmp(hex, PCR4_BEFORE_APPS_SHA256) == 0, "sha256 before applications: %s", hex);
        tcg_log_replay(&log, 4, PCR_BANK_SHA1, value);
        hex_of(PCR_BANK_SHA1, value, hex);
        check(strcmp(hex, PCR4_BEFORE_APPS_SHA1) == 0, "sha1 before applications: %s", hex);
        check(tcg_log_replay(&log, 4, PCR_BANK_SHA384, value) == -EOPNOTSUPP, "no sha384 bank");
        tcg_log_done(&log);

        build_log(&b, &(struct pcr_digests){}, &(struct pcr_digests){});
        check(tcg_log_parse(b.data, b.size, &log, NULL) == 0 && log.n_events == 7, "events %zu",
              log.n_events);
        check(tcg_event_image_path(&log.events[4], &path) == 0 &&
                      strcmp(path, "\\EFI\\BOOT\\BOOTX64.EFI") == 0,
              "loader path %s", path);
        free(path);
        check(tcg_event_image_path(&log.events[5], &path) == 0 &&
                      strcmp(path, "\\EFI\\Linux\\nixos-generation-1.efi") == 0,
              "stub path %s", path);
        free(path);
        check(tcg_event_image_path(&log.events[2], &path) == -EBADMSG, "an EV_EFI_ACTION is no image load");
        tcg_log_done(&log);
}

static int write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        if (!f || fwrite(data, 1, size, f) != size)
                abort();
        return fclose(f);
}

static void test_predict(void)
{
        size_t old_loader_size, new_loader_size, old_stub_size, new_stub_size;
        uint8_t *old_loader = image_with(0x300, &old_loader_size),
                *new_loader = image_with(0x500, &new_loader_size),
                *old_stub = image_with(0x700, &old_stub_size), *new_stub = image_with(0x900, &new_stub_size);
        struct pcr_digests old_l = authenticode_of(old_loader, old_loader_size),
                           new_l = authenticode_of(new_loader, new_loader_size),
                           old_s = authenticode_of(old_stub, old_stub_size),
                           new_s = authenticode_of(new_stub, new_stub_size), predicted, want = {};
        char esp[512], dir[600], *message = NULL;
        unsigned banks = 0;
        struct tcg_log log;
        struct buf b = {};
        int esp_fd;

        snprintf(esp, sizeof(esp), "%s/esp", tmpdir);
        mkdir(esp, 0755);
        snprintf(dir, sizeof(dir), "%s/EFI", esp);
        mkdir(dir, 0755);
        snprintf(dir, sizeof(dir), "%s/EFI/BOOT", esp);
        mkdir(dir, 0755);
        write_file(dir, "BOOTX64.EFI", new_loader, new_loader_size);
        esp_fd = open(esp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        build_log(&b, &old_l, &old_s);
        check(tcg_log_parse(b.data, b.size, &log, NULL) == 0, "parse");

        /* This boot's value: the log as it is. */
        for (enum pcr_bank bank = PCR_BANK_SHA1; bank <= PCR_BANK_SHA256; bank++) {
                const char *before = bank == PCR_BANK_SHA1 ? PCR4_BEFORE_APPS_SHA1 : PCR4_BEFORE_APPS_SHA256;
                uint8_t v[PCR_DIGEST_MAX], replayed[PCR_DIGEST_MAX];
                char hex[2 * PCR_DIGEST_MAX + 1];

                for (size_t i = 0; i < pcr_bank_size(bank); i++)
                        sscanf(before + 2 * i, "%2hhx", &want.d[bank][i]);
                memcpy(v, want.d[bank], PCR_DIGEST_MAX);
                pcr_extend(bank, v, old_l.d[bank]);
                pcr_extend(bank, v, old_s.d[bank]);
                tcg_log_replay(&log, 4, bank, replayed);
                pcr_hex(bank, replayed, hex);
                check(memcmp(replayed, v, pcr_bank_size(bank)) == 0, "%s replay %s", pcr_bank_name(bank),
                      hex);

                /* The next boot: the loader as it is on the ESP now, the new stub. */
                pcr_extend(bank, want.d[bank], new_l.d[bank]);
                pcr_extend(bank, want.d[bank], new_s.d[bank]);
        }
        check(pcr4_predict(&log, "log", &new_s, esp_fd, esp, &predicted, &banks, &message) == 0,
              "predict: %s", message);
        check(banks == (1u << PCR_BANK_SHA1 | 1u << PCR_BANK_SHA256), "banks of the log");
        check(memcmp(predicted.d[PCR_BANK_SHA1], want.d[PCR_BANK_SHA1], 20) == 0 &&
                      memcmp(predicted.d[PCR_BANK_SHA256], want.d[PCR_BANK_SHA256], 32) == 0,
              "predicted PCR 4");
        check(log.events[5].digests[PCR_BANK_SHA256] != new_s.d[PCR_BANK_SHA256],
              "the log itself is unchanged");
        tcg_log_done(&log);

        /* A boot that did not go through a stub in \EFI\Linux is refused. */
        memset(&b, 0, sizeof(b));
        put_header(&b, TCG_SPEC_ID_SIGNATURE);
        put_image_load(&b, &old_l, "\\EFI\\BOOT\\BOOTX64.EFI", NULL);
        tcg_log_parse(b.data, b.size, &log, NULL);
        free(message);
        message = NULL;
        check(pcr4_predict(&log, "log", &new_s, esp_fd, esp, &predicted, &banks, &message) == -ENOENT &&
                      message && strstr(message, "not an entry"),
              "no stub: %s", message);
        tcg_log_done(&log);

        /* The loader must be on the ESP. */
        memset(&b, 0, sizeof(b));
        put_header(&b, TCG_SPEC_ID_SIGNATURE);
        put_image_load(&b, &old_l, "\\EFI\\systemd\\systemd-bootx64.efi", NULL);
        put_image_load(&b, &old_s, "\\EFI\\Linux\\x.efi", NULL);
        tcg_log_parse(b.data, b.size, &log, NULL);
        free(message);
        message = NULL;
        check(pcr4_predict(&log, "log", &new_s, esp_fd, esp, &predicted, &banks, &message) == -ENOENT &&
                      message && strstr(message, "EFI/systemd/systemd-bootx64.efi"),
              "missing loader: %s", message);
        tcg_log_done(&log);
        free(message);

        close(esp_fd);
        free(old_loader), free(new_loader), free(old_stub), free(new_stub);
}

static void test_refused(void)
{
        struct buf b = {};
        struct tcg_log log;
        char *message = NULL;

        put_header(&b, "Spec ID Event02");
        check(tcg_log_parse(b.data, b.size, &log, &message) == -EBADMSG && message &&
                      strstr(message, "crypto-agile"),
              "TPM 1.2 log: %s", message);
        free(message);

        memset(&b, 0, sizeof(b));
        put_header(&b, TCG_SPEC_ID_SIGNATURE);
        put_le(&b, 4, 4), put_le(&b, EV_SEPARATOR, 4), put_le(&b, 1, 4);
        put_le(&b, TPM2_ALG_SHA384, 2), put(&b, (uint8_t[48]){}, 48), put_le(&b, 0, 4);
        check(tcg_log_parse(b.data, b.size, &log, NULL) == -EBADMSG,
              "a digest of an algorithm not announced");

        check(tcg_log_parse(b.data, 10, &log, NULL) == -EBADMSG, "a truncated header");
}

/* Every prefix and random corruptions: parsed or refused, never read out of bounds (ASan watches). */
static void test_robustness(void)
{
        static struct buf b, c;
        struct pcr_digests d = {};
        unsigned ok = 0;

        build_log(&b, &d, &d);
        for (size_t n = 0; n < b.size; n++) {
                uint8_t *copy = malloc(n ?: 1);
                struct tcg_log log;
                memcpy(copy, b.data, n);
                if (tcg_log_parse(copy, n, &log, NULL) == 0) {
                        ok++;
                        tcg_log_done(&log);
                }
                free(copy);
        }
        /* The Spec ID event alone, and after each of the first six of the seven events. */
        check(ok == 7, "exactly the prefixes that end at an event boundary parse: %u", ok);

        for (unsigned i = 0; i < N_FUZZ; i++) {
                struct tcg_log log;
                struct pcr_digests v;
                unsigned banks;

                c = b;
                for (unsigned k = 0, n = 1 + rng_next() % 4; k < n; k++)
                        c.data[rng_next() % c.size] = (uint8_t)rng_next();
                uint8_t *copy = malloc(c.size);
                memcpy(copy, c.data, c.size);
                if (tcg_log_parse(copy, c.size, &log, NULL) == 0) {
                        for (size_t e = 0; e < log.n_events; e++) {
                                char *path = NULL;
                                if (tcg_event_image_path(&log.events[e], &path) == 0)
                                        free(path);
                        }
                        (void)pcr4_predict(&log, "log", &d, AT_FDCWD, "/nonexistent", &v, &banks, NULL);
                        tcg_log_done(&log);
                }
                free(copy);
        }
}

static void test_authenticode(void)
{
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        char hex[2 * PCR_DIGEST_MAX + 1];
        struct pcr_digests d;
        size_t size;
        uint8_t *image = image_with(0x333, &size);

        check(pcr4_authenticode_digests(image, size, &d, NULL) == 0 &&
                      authenticode_digest(image, size, digest, NULL) == 0 &&
                      memcmp(d.d[PCR_BANK_SHA256], digest, 32) == 0,
              "agrees with authenticode_digest()");
        free(image);

        char want[2 * 32 + 1] = "";
        FILE *f = fopen(SYSTEMD_BOOT, "rb");

        check(f != NULL, "%s missing (systemd-boot-efi): no systemd-boot vector", SYSTEMD_BOOT);
        if (!f)
                return;
        image = malloc(1 << 20);
        size = fread(image, 1, 1 << 20, f);
        fclose(f);
        check(pcr4_authenticode_digests(image, size, &d, NULL) == 0, "systemd-boot");
        hex_of(PCR_BANK_SHA256, d.d[PCR_BANK_SHA256], hex);
        check(pesign_digest(SYSTEMD_BOOT, want) && strcmp(hex, want) == 0,
              "systemd-boot vector: %s, pesign's %s", hex, want);
        free(image);
}

int main(void)
{
        rng_seed(SEED);
        if (!mkdtemp(tmpdir))
                abort();
        test_replay_and_paths();
        test_predict();
        test_refused();
        test_robustness();
        test_authenticode();
        if (rm_rf(tmpdir) < 0)
                return 1;
        return tests_finish();
}
