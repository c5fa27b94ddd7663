/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pcr.h"
#include "pe.h"
#include "util.h"

#define FILE_CHUNK_SIZE (1u << 20)

static const struct {
        const char *name;
        uint16_t tpm_alg;
        size_t size;
        const EVP_MD *(*md)(void);
} banks[_PCR_BANK_MAX] = {
        [PCR_BANK_SHA1] = {"sha1", TPM2_ALG_SHA1, 20, EVP_sha1},
        [PCR_BANK_SHA256] = {"sha256", TPM2_ALG_SHA256, 32, EVP_sha256},
        [PCR_BANK_SHA384] = {"sha384", TPM2_ALG_SHA384, 48, EVP_sha384},
        [PCR_BANK_SHA512] = {"sha512", TPM2_ALG_SHA512, 64, EVP_sha512},
};

const char *pcr_bank_name(enum pcr_bank bank)
{
        return banks[bank].name;
}

uint16_t pcr_bank_tpm_alg(enum pcr_bank bank)
{
        return banks[bank].tpm_alg;
}

size_t pcr_bank_size(enum pcr_bank bank)
{
        return banks[bank].size;
}

const EVP_MD *pcr_bank_md(enum pcr_bank bank)
{
        return banks[bank].md();
}

int pcr_bank_from_tpm_alg(uint16_t alg)
{
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++)
                if (banks[b].tpm_alg == alg)
                        return (int)b;
        return -EOPNOTSUPP;
}

int pcr_banks_parse(const char *list, unsigned *banks_mask)
{
        const char *p = list;

        do {
                size_t n = strcspn(p, ",");
                enum pcr_bank b;

                for (b = 0; b < _PCR_BANK_MAX; b++)
                        if (n == strlen(banks[b].name) && strncasecmp(p, banks[b].name, n) == 0)
                                break;
                if (b == _PCR_BANK_MAX)
                        return -EINVAL;
                *banks_mask |= 1u << b;
                p += n;
        } while (*p++ == ',');
        return 0;
}

int pcr_hasher_init(struct pcr_hasher *h)
{
        *h = (struct pcr_hasher){};
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                h->ctx[b] = EVP_MD_CTX_new();
                if (!h->ctx[b] || EVP_DigestInit_ex(h->ctx[b], pcr_bank_md(b), NULL) != 1) {
                        pcr_hasher_done(h);
                        return -ENOMEM;
                }
        }
        return 0;
}

int pcr_hasher_update(struct pcr_hasher *h, const void *data, size_t size)
{
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++)
                if (EVP_DigestUpdate(h->ctx[b], data, size) != 1)
                        return -EIO;
        return 0;
}

int pcr_hasher_final(struct pcr_hasher *h, struct pcr_digests *ret)
{
        struct pcr_digests d = {};
        int r = 0;

        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX && r == 0; b++)
                if (EVP_DigestFinal_ex(h->ctx[b], d.d[b], NULL) != 1)
                        r = -EIO;
        pcr_hasher_done(h);
        if (r == 0)
                *ret = d;
        return r;
}

void pcr_hasher_done(struct pcr_hasher *h)
{
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                EVP_MD_CTX_free(h->ctx[b]);
                h->ctx[b] = NULL;
        }
}

int pcr_digests_of(const void *data, size_t size, struct pcr_digests *ret)
{
        struct pcr_hasher h;
        int r = pcr_hasher_init(&h);

        if (r < 0)
                return r;
        r = pcr_hasher_update(&h, data, size);
        if (r < 0) {
                pcr_hasher_done(&h);
                return r;
        }
        return pcr_hasher_final(&h, ret);
}

int pcr_digests_of_file_at(int dir_fd, const char *path, struct pcr_digests *ret, uint64_t *ret_size)
{
        _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ uint8_t *buf = malloc(FILE_CHUNK_SIZE);
        struct pcr_hasher h;
        uint64_t total = 0;
        ssize_t n;
        int r;

        if (fd < 0)
                return -errno;
        if (!buf)
                return -ENOMEM;
        r = pcr_hasher_init(&h);
        if (r < 0)
                return r;
        while ((n = read(fd, buf, FILE_CHUNK_SIZE)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                r = n < 0 ? -errno : pcr_hasher_update(&h, buf, (size_t)n);
                if (r < 0) {
                        pcr_hasher_done(&h);
                        return r;
                }
                total += (uint64_t)n;
        }
        r = pcr_hasher_final(&h, ret);
        if (r >= 0 && ret_size)
                *ret_size = total;
        return r;
}

int pcr_extend(enum pcr_bank bank, uint8_t *pcr, const uint8_t *digest)
{
        uint8_t buf[2 * PCR_DIGEST_MAX];
        size_t n = pcr_bank_size(bank);

        memcpy(buf, pcr, n);
        memcpy(buf + n, digest, n);
        return EVP_Digest(buf, 2 * n, pcr, NULL, pcr_bank_md(bank), NULL) == 1 ? 0 : -EIO;
}

int pcr_extend_all(struct pcr_digests *pcr, const struct pcr_digests *digests)
{
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                int r = pcr_extend(b, pcr->d[b], digests->d[b]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void pcr_hex(enum pcr_bank bank, const uint8_t value[PCR_DIGEST_MAX], char ret[2 * PCR_DIGEST_MAX + 1])
{
        static const char hex[] = "0123456789abcdef";
        size_t n = pcr_bank_size(bank);

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = hex[value[i] >> 4];
                ret[2 * i + 1] = hex[value[i] & 15];
        }
        ret[2 * n] = 0;
}

int pcr11_after_stub(const struct pcr11_sections *s, struct pcr_digests *ret)
{
        struct pcr_digests pcr = {}, name;
        int r;

        for (enum unified_section i = 0; i < _UNIFIED_SECTION_MAX; i++) {
                if (!s->present[i])
                        continue;
                /* The name event hashes the ASCII name with its NUL (systemd-stub-spec.md §1.3). */
                r = pcr_digests_of(unified_sections[i], strlen(unified_sections[i]) + 1, &name);
                if (r >= 0)
                        r = pcr_extend_all(&pcr, &name);
                if (r >= 0)
                        r = pcr_extend_all(&pcr, &s->data[i]);
                if (r < 0)
                        return r;
        }
        *ret = pcr;
        return 0;
}

int pcr11_extend_phase(struct pcr_digests *value, const char *phase)
{
        for (const char *p = phase; *p;) {
                size_t n = strcspn(p, ":");
                struct pcr_digests word;
                int r;

                if (n > 0) {
                        r = pcr_digests_of(p, n, &word);
                        if (r >= 0)
                                r = pcr_extend_all(value, &word);
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return 0;
}

/* "a::b:" → "a:b": what systemd-measure makes of a phase path before using it. */
static char *phase_normalize(const char *phase)
{
        char *out = malloc(strlen(phase) + 1), *o = out;

        if (!out)
                return NULL;
        for (const char *p = phase; *p;) {
                size_t n = strcspn(p, ":");
                if (n > 0) {
                        if (o != out)
                                *o++ = ':';
                        memcpy(o, p, n);
                        o += n;
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        *o = 0;
        return out;
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int pcr_phases_normalize(char *const *phases, char ***ret)
{
        static char *const defaults[] = {PCR_PHASES_DEFAULT, NULL};
        char *const *in = phases ?: defaults;
        size_t n = strv_length(in), kept = 0;
        char **out = calloc(n + 1, sizeof(char *));

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(out[i] = phase_normalize(in[i]))) {
                        strv_free(out);
                        return -ENOMEM;
                }
        qsort(out, n, sizeof(char *), strcmp_ptr);
        for (size_t i = 0; i < n; i++) {
                if (kept > 0 && strcmp(out[kept - 1], out[i]) == 0)
                        free(out[i]);
                else
                        out[kept++] = out[i];
        }
        out[kept] = NULL;
        *ret = out;
        return 0;
}

/* The section's bytes as they lie in the file; NULL data when the image lacks it. */
static int section_get(const struct pe_image *img, const char *name,
                       const struct pe_section_header **ret_header, const uint8_t **ret_data,
                       size_t *ret_size)
{
        const struct pe_section_header *h = pe_find_section(img, name);

        *ret_header = h;
        *ret_data = NULL;
        *ret_size = 0;
        return h ? pe_section_data(img, h, ret_data, ret_size) : 0;
}

int uefi_path_to_relative(const char *data, size_t size, char **ret)
{
        size_t n = strnlen(data, size);
        char *path;

        if (!uki_esp_path_valid(data, n))
                return -EBADMSG;
        path = strndup(data + 1, n - 1);
        if (!path)
                return -ENOMEM;
        for (char *c = path; *c; c++)
                if (*c == '\\')
                        *c = '/';
        *ret = path;
        return 0;
}

/* Parses a stub and applies the stub's own layout rules (uki.h), so that nothing is predicted for an image
 * the stub would refuse. */
static int image_parse(const uint8_t *image, size_t size, struct pe_image *ret, char **reterr_message)
{
        enum uki_layout_problem problem;
        const char *name = NULL;
        int r = pe_parse(image, size, PE_LAYOUT_FILE, ret);

        if (r < 0)
                return set_error_message(reterr_message, r, "not a valid PE32+ image");
        problem = uki_check_layout(ret, &name);
        if (problem != UKI_LAYOUT_OK)
                return set_error_message(reterr_message, -EBADMSG, "its %s section %s", name,
                                         uki_layout_problem_string(problem));
        return 0;
}

int pcr11_external_paths(const uint8_t *image, size_t size, char **ret_kernel, char **ret_initrd,
                         char **reterr_message)
{
        const struct pe_section_header *h;
        const uint8_t *hash, *kpath, *ipath;
        size_t hash_size, kpath_size, ipath_size;
        _cleanup_free_ char *kernel = NULL, *initrd = NULL;
        struct pe_image img;
        int r;

        r = image_parse(image, size, &img, reterr_message);
        if (r < 0)
                return r;
        if (section_get(&img, LANZABOOTE_SECTION_LINUX_HASH, &h, &hash, &hash_size) < 0 ||
            section_get(&img, unified_sections[UNIFIED_SECTION_LINUX], &h, &kpath, &kpath_size) < 0 ||
            section_get(&img, unified_sections[UNIFIED_SECTION_INITRD], &h, &ipath, &ipath_size) < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed section table");
        if (hash_size > 0) {
                /* Exactly the stub's rule: the whole section is the path, no NUL in it. */
                r = kpath && uki_esp_path_valid((const char *)kpath, kpath_size) &&
                                    (ipath_size == 0 || uki_esp_path_valid((const char *)ipath, ipath_size))
                            ? 0
                            : -EBADMSG;
                if (r >= 0)
                        r = uefi_path_to_relative((const char *)kpath, kpath_size, &kernel);
                if (r >= 0 && ipath_size > 0)
                        r = uefi_path_to_relative((const char *)ipath, ipath_size, &initrd);
                if (r < 0)
                        return set_error_message(reterr_message, r,
                                                 "a .linux or .initrd section is not a plain ESP path");
        }
        *ret_kernel = TAKE_PTR(kernel);
        *ret_initrd = TAKE_PTR(initrd);
        return 0;
}

/* The digests of what the stub measures for a section: its VirtualSize bytes in memory, which beyond the raw
 * data in the file are the zeros the loader fills in. */
static int section_digests(const struct pe_section_header *h, const uint8_t *data, size_t size,
                           struct pcr_digests *ret)
{
        static const uint8_t zeros[4096];
        struct pcr_hasher hasher;
        int r = pcr_hasher_init(&hasher);

        if (r < 0)
                return r;
        r = pcr_hasher_update(&hasher, data, size);
        for (size_t left = h->VirtualSize - size; r >= 0 && left > 0;) {
                size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
                r = pcr_hasher_update(&hasher, zeros, n);
                left -= n;
        }
        if (r < 0) {
                pcr_hasher_done(&hasher);
                return r;
        }
        return pcr_hasher_final(&hasher, ret);
}

/* External mode: the file's digests stand in for the path section, once its SHA-256 matches the pin. */
static int external_digests(const char *what, const uint8_t *pin, size_t pin_size,
                            const struct pcr_digests *file, struct pcr_digests *ret, char **reterr_message)
{
        if (!file)
                return set_error_message(reterr_message, -EINVAL,
                                         "no %s file given for this external-mode stub", what);
        if (pin_size != 32 || !pin)
                return set_error_message(reterr_message, -EBADMSG, "the %s hash section is not 32 bytes",
                                         what);
        if (memcmp(pin, file->d[PCR_BANK_SHA256], 32) != 0)
                return set_error_message(reterr_message, -EBADMSG,
                                         "the %s file does not match the hash this stub pins", what);
        *ret = *file;
        return 0;
}

int pcr11_sections_from_image(const uint8_t *image, size_t size, const struct pcr_digests *kernel,
                              const struct pcr_digests *initrd, struct pcr11_sections *ret,
                              char **reterr_message)
{
        const struct pe_section_header *h;
        const uint8_t *linuxh, *initrdh, *data;
        size_t linuxh_size, initrdh_size, data_size;
        struct pcr11_sections s = {};
        struct pe_image img;
        bool external;
        int r;

        r = image_parse(image, size, &img, reterr_message);
        if (r < 0)
                return r;
        if (section_get(&img, LANZABOOTE_SECTION_LINUX_HASH, &h, &linuxh, &linuxh_size) < 0 ||
            section_get(&img, LANZABOOTE_SECTION_INITRD_HASH, &h, &initrdh, &initrdh_size) < 0)
                return set_error_message(reterr_message, -EBADMSG, "malformed section table");
        external = linuxh_size > 0;

        for (enum unified_section i = 0; i < _UNIFIED_SECTION_MAX; i++) {
                if (section_get(&img, unified_sections[i], &h, &data, &data_size) < 0)
                        return set_error_message(reterr_message, -EBADMSG, "malformed section table");
                /* The stub skips what is absent or empty (VirtualSize 0), in both modes. */
                if (!h || h->VirtualSize == 0)
                        continue;
                s.present[i] = true;
                if (external && i == UNIFIED_SECTION_LINUX)
                        r = external_digests("kernel", linuxh, linuxh_size, kernel, &s.data[i],
                                             reterr_message);
                else if (external && i == UNIFIED_SECTION_INITRD)
                        r = external_digests("initrd", initrdh, initrdh_size, initrd, &s.data[i],
                                             reterr_message);
                else if ((r = section_digests(h, data, data_size, &s.data[i])) < 0)
                        set_error_message(reterr_message, r, "cannot hash the %s section",
                                          unified_sections[i]);
                if (r < 0)
                        return r;
        }
        *ret = s;
        return 0;
}
