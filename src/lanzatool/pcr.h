/* SPDX-License-Identifier: MIT */
#pragma once

/* PCR banks, the TPM2 extend operation, and the PCR 11 value systemd-stub (and our stub) leaves for a
 * unified kernel image, in every bank and boot phase, computed as systemd-measure does (systemd-stub-spec.md
 * §1.5).
 *
 * Errors are negative errno values. Where a function takes char **reterr_message, it stores there, on
 * failure only, a malloc'd sentence naming the problem (NULL when even that allocation failed). */

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uki.h"

/* PCR numbers, as systemd's tpm2-pcr.h names them. */
#define TPM2_PCR_BOOT_LOADER_CODE 4
#define TPM2_PCR_KERNEL_BOOT      11

/* TPM_ALG_ID of the hash algorithms (TPM 2.0 Library Part 2, Table 9). */
#define TPM2_ALG_SHA1   0x0004
#define TPM2_ALG_SHA256 0x000B
#define TPM2_ALG_SHA384 0x000C
#define TPM2_ALG_SHA512 0x000D

/* The banks systemd-measure knows, in the order it prints them (sorted by name). */
enum pcr_bank {
        PCR_BANK_SHA1,
        PCR_BANK_SHA256,
        PCR_BANK_SHA384,
        PCR_BANK_SHA512,
        _PCR_BANK_MAX,
};

#define PCR_BANKS_ALL  ((1u << _PCR_BANK_MAX) - 1)
#define PCR_DIGEST_MAX 64 /* SHA-512: no TPM hash is longer */

/* systemd-measure's default boot phase paths: what systemd-pcrphase extends into PCR 11 up to each point. */
#define PCR_PHASES_DEFAULT                                                                                  \
        "enter-initrd", "enter-initrd:leave-initrd", "enter-initrd:leave-initrd:sysinit",                   \
                "enter-initrd:leave-initrd:sysinit:ready"

const char *pcr_bank_name(enum pcr_bank bank);
uint16_t pcr_bank_tpm_alg(enum pcr_bank bank);
size_t pcr_bank_size(enum pcr_bank bank);
const EVP_MD *pcr_bank_md(enum pcr_bank bank);
/* The bank of a TPM_ALG_ID, or -EOPNOTSUPP. */
int pcr_bank_from_tpm_alg(uint16_t alg);

/* Adds the banks of a comma-separated list of names ("sha1,SHA256"; case does not matter, as in
 * systemd-measure) to *banks. -EINVAL for an unknown or empty name. */
int pcr_banks_parse(const char *list, unsigned *banks);

/* One value per bank, each pcr_bank_size() bytes long: digests of some data, or PCR values. */
struct pcr_digests {
        uint8_t d[_PCR_BANK_MAX][PCR_DIGEST_MAX];
};

/* Hashes data with every bank's algorithm at once. */
struct pcr_hasher {
        EVP_MD_CTX *ctx[_PCR_BANK_MAX];
};

int pcr_hasher_init(struct pcr_hasher *h);
int pcr_hasher_update(struct pcr_hasher *h, const void *data, size_t size);
/* Writes the digests and frees the hasher (also on failure). */
int pcr_hasher_final(struct pcr_hasher *h, struct pcr_digests *ret);
/* Frees a hasher that is not finalised; safe on a zeroed one. */
void pcr_hasher_done(struct pcr_hasher *h);

int pcr_digests_of(const void *data, size_t size, struct pcr_digests *ret);
/* Digests of a file's contents relative to dir_fd (AT_FDCWD for paths), streamed; its size in *ret_size.
 * Negative errno of the failed call. */
int pcr_digests_of_file_at(int dir_fd, const char *path, struct pcr_digests *ret, uint64_t *ret_size);

/* pcr = H(pcr || digest) in one bank, as TPM2_PCR_Extend does; both are pcr_bank_size(bank) bytes. */
int pcr_extend(enum pcr_bank bank, uint8_t *pcr, const uint8_t *digest);
/* The same in every bank. */
int pcr_extend_all(struct pcr_digests *pcr, const struct pcr_digests *digests);

/* Lowercase hex of a bank's value; ret holds 2 * PCR_DIGEST_MAX + 1 bytes. */
void pcr_hex(enum pcr_bank bank, const uint8_t value[PCR_DIGEST_MAX], char ret[2 * PCR_DIGEST_MAX + 1]);

/* What each UKI section contributes to PCR 11: the digests of the bytes the stub measures for it. */
struct pcr11_sections {
        bool present[_UNIFIED_SECTION_MAX]; /* false: absent or empty, so not measured */
        struct pcr_digests data[_UNIFIED_SECTION_MAX];
};

/* PCR 11 after the stub (before any boot phase): starting from zeros, for every present section in canonical
 * order, the extend with H(name + NUL) and then the one with H(data). */
int pcr11_after_stub(const struct pcr11_sections *s, struct pcr_digests *ret);

/* Extends value by H(word) for every non-empty ':'-separated word of phase (no NUL), as systemd-pcrphase. */
int pcr11_extend_phase(struct pcr_digests *value, const char *phase);

/* Phase paths as systemd-measure takes them: each normalised (empty words dropped), then sorted and without
 * duplicates. NULL in: the default paths. Returns a new strv in *ret. */
int pcr_phases_normalize(char *const *phases, char ***ret);

/* A path as UEFI writes it ("\EFI\nixos\kernel.efi": backslashes, one leading) of at most size bytes (up to
 * a NUL) as a path relative to the ESP root ("EFI/nixos/kernel.efi"). Refused with -EBADMSG: a relative
 * path, an empty, "." or ".." component, a '/' or any byte below 0x20. */
int uefi_path_to_relative(const char *path, size_t size, char **ret);

/* The ESP paths a stub in external mode (a non-empty .linuxh) reads its kernel and initrd from, as written
 * in .linux and .initrd ("\EFI\nixos\kernel-….efi"), converted to paths relative to the ESP root. Both NULL
 * when the stub is in embedded mode; *ret_initrd NULL when it has no initrd. Paths with empty, "." or ".."
 * components, or any byte below 0x20, are refused with -EBADMSG. */
int pcr11_external_paths(const uint8_t *image, size_t size, char **ret_kernel, char **ret_initrd,
                         char **reterr_message);

/* The sections of a stub or UKI (a PE image as a file) as the stub measures them: VirtualSize bytes each,
 * .pcrsig never. In external mode, kernel and initrd are the digests of the files that .linux and .initrd
 * name, which stand in for those sections; their SHA-256 must equal the hashes the stub pins in .linuxh and
 * .initrdh (-EBADMSG otherwise, as the stub would refuse to boot). They are ignored in embedded mode. */
int pcr11_sections_from_image(const uint8_t *image, size_t size, const struct pcr_digests *kernel,
                              const struct pcr_digests *initrd, struct pcr11_sections *ret,
                              char **reterr_message);
