/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authvar.h"
#include "eventlog.h"
#include "fs-util.h"
#include "log.h"
#include "option-roms.h"
#include "util.h"

/* Real logs are some ten KiB; anything this large is not one. */
#define EVENT_LOG_MAX (16u << 20)

/* SHA-256 of the DER certificates, as Microsoft publishes them (their SHA-1 thumbprints are
 * 46def63b5ce61cf8ba0de2e6639c1019d0ed14f3, b5eeb4a6706048073f0ed296e7f580a790b59eaa and
 * 3fb39e2b8bd183bf9e4594e72183ca60afcd4277). The 2011 CA signed option ROMs and boot loaders alike. Its
 * successors split the work: since October 2025 Microsoft signs option ROM submissions with the Option ROM
 * UEFI CA 2023 and UEFI applications with the UEFI CA 2023, never one binary with both. Both 2023 CAs are
 * issued by the Microsoft RSA Devices Root CA 2021 and neither issues the other, so the UEFI CA 2023 does
 * not verify an option ROM. */
static const struct option_rom_ca {
        const char *name;
        bool signs_option_roms;
        uint8_t fingerprint[SHA256_DIGEST_SIZE];
} option_rom_cas[] = {
        {
                .name = "Microsoft Corporation UEFI CA 2011",
                .signs_option_roms = true,
                .fingerprint = {0x48, 0xe9, 0x9b, 0x99, 0x1f, 0x57, 0xfc, 0x52, 0xf7, 0x61, 0x49,
                                0x59, 0x9b, 0xff, 0x0a, 0x58, 0xc4, 0x71, 0x54, 0x22, 0x9b, 0x9f,
                                0x8d, 0x60, 0x3a, 0xc4, 0x0d, 0x35, 0x00, 0x24, 0x85, 0x07},
        },
        {
                .name = "Microsoft UEFI CA 2023",
                .signs_option_roms = false,
                .fingerprint = {0xf6, 0x12, 0x4e, 0x34, 0x12, 0x5b, 0xee, 0x3f, 0xe6, 0xd7, 0x9a,
                                0x57, 0x4e, 0xaa, 0x7b, 0x91, 0xc0, 0xe7, 0xbd, 0x9d, 0x92, 0x9c,
                                0x1a, 0x32, 0x11, 0x78, 0xef, 0xd6, 0x11, 0xda, 0xd9, 0x01},
        },
        {
                .name = "Microsoft Option ROM UEFI CA 2023",
                .signs_option_roms = true,
                .fingerprint = {0xe5, 0xbe, 0x3e, 0x64, 0xc6, 0xe6, 0x6a, 0x28, 0x14, 0x57, 0xec,
                                0xde, 0xce, 0x0d, 0x6d, 0x07, 0x87, 0x57, 0x7a, 0xad, 0x2a, 0x3a,
                                0x01, 0x44, 0x26, 0x2c, 0x10, 0xc1, 0x4b, 0xa8, 0xd8, 0xf1},
        },
};

int option_roms_parse(const uint8_t *log, size_t size, struct option_roms *ret, char **reterr_message)
{
        struct tcg_log parsed = {};
        struct option_roms roms = {};
        int r;

        r = tcg_log_parse(log, size, &parsed, reterr_message);
        if (r < 0)
                return r;
        for (size_t i = 0; i < parsed.n_events; i++)
                roms.n += parsed.events[i].type == EV_EFI_BOOT_SERVICES_DRIVER;
        if (roms.n > 0 && (parsed.banks & (1u << PCR_BANK_SHA256))) {
                roms.sha256 = calloc(roms.n, SHA256_DIGEST_SIZE);
                if (!roms.sha256) {
                        tcg_log_done(&parsed);
                        return set_error_message(reterr_message, -ENOMEM, "out of memory");
                }
                for (size_t i = 0, j = 0; i < parsed.n_events; i++) {
                        if (parsed.events[i].type != EV_EFI_BOOT_SERVICES_DRIVER)
                                continue;
                        /* Found by fuzz-eventlog: a log can announce the bank and still hand an event
                         * without its digest. */
                        if (!parsed.events[i].digests[PCR_BANK_SHA256]) {
                                option_roms_done(&roms);
                                tcg_log_done(&parsed);
                                return set_error_message(reterr_message, -EBADMSG,
                                                         "event %zu has no SHA-256 digest", i + 1);
                        }
                        memcpy(roms.sha256[j++], parsed.events[i].digests[PCR_BANK_SHA256],
                               SHA256_DIGEST_SIZE);
                }
        }
        tcg_log_done(&parsed);
        *ret = roms;
        return 0;
}

void option_roms_done(struct option_roms *roms)
{
        free(roms->sha256);
        *roms = (struct option_roms){};
}

/* securityfs reports a size of 0, so the file is read to its end. */
static int read_log(const char *path, uint8_t **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", path);
        return read_fd_bounded(fd, path, EVENT_LOG_MAX, ret, ret_size);
}

int option_roms_load(const char *path, struct option_roms *ret)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_free_ char *message = NULL;
        size_t size = 0;
        int r;

        r = read_log(path, &log, &size);
        if (r < 0)
                return r;
        r = option_roms_parse(log, size, ret, &message);
        if (r < 0)
                return log_error_errno(r, "%s: not a TCG event log: %s", path, message ?: strerror(-r));
        return 0;
}

static const struct option_rom_ca *find_ca(const uint8_t fingerprint[static SHA256_DIGEST_SIZE])
{
        for (size_t i = 0; i < ELEMENTSOF(option_rom_cas); i++)
                if (memcmp(option_rom_cas[i].fingerprint, fingerprint, SHA256_DIGEST_SIZE) == 0)
                        return &option_rom_cas[i];
        return NULL;
}

const char *option_roms_ca_name(const uint8_t fingerprint[static SHA256_DIGEST_SIZE])
{
        const struct option_rom_ca *ca = find_ca(fingerprint);

        return ca ? ca->name : NULL;
}

static bool has_digest(const struct esl_entry *entries, size_t n, const uint8_t digest[SHA256_DIGEST_SIZE])
{
        for (size_t i = 0; i < n; i++)
                if (efi_guid_equal(&entries[i].type, &efi_cert_sha256_guid) &&
                    entries[i].size == SHA256_DIGEST_SIZE &&
                    memcmp(entries[i].data, digest, SHA256_DIGEST_SIZE) == 0)
                        return true;
        return false;
}

/* The option ROM CAs db holds, as bits of option_rom_cas. */
static unsigned option_rom_cas_held(const struct esl_entry *entries, size_t n)
{
        unsigned held = 0;

        for (size_t i = 0; i < n; i++) {
                uint8_t fingerprint[SHA256_DIGEST_SIZE];
                const struct option_rom_ca *ca;

                if (!efi_guid_equal(&entries[i].type, &efi_cert_x509_guid))
                        continue;
                sha256_digest(entries[i].data, entries[i].size, fingerprint);
                ca = find_ca(fingerprint);
                if (ca && ca->signs_option_roms)
                        held |= 1u << (ca - option_rom_cas);
        }
        return held;
}

int option_roms_cover(const struct option_roms *roms, const uint8_t *db, size_t size,
                      const char **ret_ca_name)
{
        _cleanup_free_ struct esl_entry *entries = NULL;
        size_t n, covered = 0;
        unsigned held;
        int r;

        r = esl_parse(db, size, &entries, &n, NULL);
        if (r < 0)
                return r;
        held = option_rom_cas_held(entries, n);
        if (held) {
                *ret_ca_name = option_rom_cas[__builtin_ctz(held)].name;
                return OPTION_ROMS_BY_CA;
        }
        for (size_t i = 0; roms->sha256 && i < roms->n; i++)
                covered += has_digest(entries, n, roms->sha256[i]);
        return roms->sha256 && covered == roms->n ? OPTION_ROMS_BY_DIGEST : OPTION_ROMS_UNCOVERED;
}

const char *option_roms_ca_missing(const uint8_t *db, size_t size)
{
        _cleanup_free_ struct esl_entry *entries = NULL;
        unsigned held;
        size_t n;

        if (esl_parse(db, size, &entries, &n, NULL) < 0)
                return NULL;
        held = option_rom_cas_held(entries, n);
        for (size_t i = 0; held && i < ELEMENTSOF(option_rom_cas); i++)
                if (option_rom_cas[i].signs_option_roms && !(held & (1u << i)))
                        return option_rom_cas[i].name;
        return NULL;
}
