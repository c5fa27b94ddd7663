/* SPDX-License-Identifier: MIT */
/* lanzatool measure: the PCR 11 values a stub (or UKI sections given as files) will produce, per bank and
 * boot phase, printed as systemd-measure calculate prints them, or signed as systemd-measure sign does; with
 * --pcr=4, the PCR 4 value the next boot of a stub will produce. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp.h"
#include "eventlog.h"
#include "fs-util.h"
#include "lanzatool.h"
#include "log.h"
#include "pcr.h"
#include "pcr4.h"
#include "pcrsig.h"
#include "util.h"

#define STUB_MAX_SIZE      (1u << 30) /* a UKI may embed a large initrd */
#define EVENT_LOG_MAX_SIZE (16u << 20)

static void esp_donep(struct esp *esp)
{
        esp_done(esp);
}

static void json_object_putp(struct json_object **o)
{
        json_object_put(*o);
}

/* Base64 has slashes, which json-c would escape and systemd does not. */
static void print_json(struct json_object *o)
{
        int flags = arg.json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN;

        puts(json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static bool section_files_given(void)
{
        for (size_t i = 0; i < _UNIFIED_SECTION_MAX; i++)
                if (arg.section_paths[i])
                        return true;
        return false;
}

/* --linux= … --pcrpkey=: as systemd-measure, an empty file counts as an absent section. */
static int sections_from_files(struct pcr11_sections *ret)
{
        struct pcr11_sections s = {};

        for (enum unified_section i = 0; i < _UNIFIED_SECTION_MAX; i++) {
                uint64_t size;
                int r;

                if (!arg.section_paths[i])
                        continue;
                r = pcr_digests_of_file_at(AT_FDCWD, arg.section_paths[i], &s.data[i], &size);
                if (r < 0)
                        return log_errno(LOG_LEVEL_ERROR, -r, "%s", arg.section_paths[i]);
                s.present[i] = size > 0;
        }
        *ret = s;
        return 0;
}

static int esp_file_digests(const struct esp *esp, const char *relative, struct pcr_digests *ret)
{
        int r = pcr_digests_of_file_at(esp->fd, relative, ret, NULL);
        return r < 0 ? log_errno(LOG_LEVEL_ERROR, -r, "%s/%s", esp->path, relative) : 0;
}

/* A stub in external mode is measured with the files it pins, as they are on the ESP. */
static int sections_from_stub(const char *path, struct pcr11_sections *ret)
{
        _cleanup_free_ char *kernel_path = NULL, *initrd_path = NULL, *message = NULL;
        _cleanup_(esp_donep) struct esp esp = {.fd = -1};
        _cleanup_free_ uint8_t *image = NULL;
        struct pcr_digests kernel, initrd;
        size_t size;
        int r;

        r = read_file(path, STUB_MAX_SIZE, &image, &size);
        if (r < 0)
                return log_errno(LOG_LEVEL_ERROR, -r, "%s", path);
        r = pcr11_external_paths(image, size, &kernel_path, &initrd_path, &message);
        if (r < 0)
                return log_error_errno(r, "%s: %s", path, message ?: strerror(-r));
        if (kernel_path) {
                r = esp_find(arg.esp_path, &esp);
                if (r < 0 && !arg.esp_path)
                        return log_error_errno(r,
                                               "%s pins its kernel %s on an ESP: give --esp-path=DIR (with "
                                               "--no-esp-checks for a directory that is not a mounted ESP)",
                                               path, kernel_path);
                if (r >= 0)
                        r = esp_file_digests(&esp, kernel_path, &kernel);
                if (r >= 0 && initrd_path)
                        r = esp_file_digests(&esp, initrd_path, &initrd);
                if (r < 0)
                        return r;
        }
        r = pcr11_sections_from_image(image, size, kernel_path ? &kernel : NULL,
                                      initrd_path ? &initrd : NULL, ret, &message);
        return r < 0 ? log_error_errno(r, "%s: %s", path, message ?: strerror(-r)) : 0;
}

static int json_add_value(struct json_object *list, const char *phase, unsigned pcr, enum pcr_bank bank,
                          const uint8_t *value)
{
        char hex[2 * PCR_DIGEST_MAX + 1];
        struct json_object *o = json_object_new_object();

        pcr_hex(bank, value, hex);
        /* systemd-measure leaves "phase" out for the value before any phase. */
        if (!o ||
            (phase && *phase && json_object_object_add(o, "phase", json_object_new_string(phase)) < 0) ||
            json_object_object_add(o, "pcr", json_object_new_int((int)pcr)) < 0 ||
            json_object_object_add(o, "hash", json_object_new_string(hex)) < 0 ||
            json_object_array_add(list, o) < 0) {
                json_object_put(o);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        return 0;
}

/* {"<bank>": [{"phase": …, "pcr": N, "hash": …}, …], …}: one entry per phase in values[]. */
static int print_values_json(unsigned pcr, unsigned banks, char *const *phases,
                             const struct pcr_digests *values, size_t n_values)
{
        _cleanup_(json_object_putp) struct json_object *root = json_object_new_object();

        if (!root)
                return log_error_errno(-ENOMEM, "out of memory");
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                struct json_object *list;

                if (!(banks & (1u << b)))
                        continue;
                list = json_object_new_array();
                if (!list || json_object_object_add(root, pcr_bank_name(b), list) < 0) {
                        json_object_put(list);
                        return log_error_errno(-ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < n_values; i++) {
                        int r = json_add_value(list, phases ? phases[i] : NULL, pcr, b, values[i].d[b]);
                        if (r < 0)
                                return r;
                }
        }
        print_json(root);
        return 0;
}

/* "11:<bank>=<hex>" per bank, each phase announced on stderr as "# PCR[11] Phase <…>" (an empty phase as
 * "<:>"), exactly as systemd-measure calculate prints them; -q leaves the announcements out. */
static void print_values_text(unsigned pcr, unsigned banks, char *const *phases,
                              const struct pcr_digests *values, size_t n_values)
{
        for (size_t i = 0; i < n_values; i++) {
                if (phases && !arg.quiet) {
                        fflush(stdout);
                        fprintf(stderr, "# PCR[%u] Phase <%s>\n", pcr, *phases[i] ? phases[i] : ":");
                }
                for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                        char hex[2 * PCR_DIGEST_MAX + 1];

                        if (!(banks & (1u << b)))
                                continue;
                        pcr_hex(b, values[i].d[b], hex);
                        printf("%u:%s=%s\n", pcr, pcr_bank_name(b), hex);
                }
        }
}

static int print_values(unsigned pcr, unsigned banks, char *const *phases, const struct pcr_digests *values,
                        size_t n_values)
{
        if (arg.json != JSON_OFF)
                return print_values_json(pcr, banks, phases, values, n_values);
        print_values_text(pcr, banks, phases, values, n_values);
        return 0;
}

static int sign_pcr11(const struct pcr_digests *after_stub)
{
        _cleanup_(json_object_putp) struct json_object *json = NULL;
        _cleanup_free_ char *message = NULL;
        struct pcr_signer signer;
        int r;

        r = pcr_signer_load(arg.pcr_private_key, arg.pcr_public_key, arg.pcr_banks, arg.phases, &signer,
                            &message);
        if (r < 0)
                return log_error_errno(r, "%s", message ?: strerror(-r));
        r = pcr_signer_sign(&signer, after_stub, &json);
        pcr_signer_done(&signer);
        if (r < 0)
                return log_errno(LOG_LEVEL_ERROR, -r, "cannot sign the PCR 11 policies");
        print_json(json);
        return 0;
}

/* The value after the stub extended with each phase path. */
static int phase_values(const struct pcr_digests *after_stub, char *const *phases, struct pcr_digests **ret)
{
        size_t n = strv_length(phases);
        _cleanup_free_ struct pcr_digests *values = calloc(n ?: 1, sizeof(*values));

        if (!values)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                int r;

                values[i] = *after_stub;
                r = pcr11_extend_phase(&values[i], phases[i]);
                if (r < 0)
                        return log_errno(LOG_LEVEL_ERROR, -r, "hashing failed");
        }
        *ret = TAKE_PTR(values);
        return 0;
}

static int measure_pcr11(const char *stub)
{
        _cleanup_free_ struct pcr_digests *values = NULL;
        struct pcr11_sections sections;
        struct pcr_digests after_stub;
        char **phases = NULL;
        int r;

        r = stub ? sections_from_stub(stub, &sections) : sections_from_files(&sections);
        if (r >= 0 && (r = pcr11_after_stub(&sections, &after_stub)) < 0)
                log_errno(LOG_LEVEL_ERROR, -r, "hashing failed");
        if (r < 0)
                return r;
        if (arg.pcr_private_key)
                return sign_pcr11(&after_stub);

        r = pcr_phases_normalize(arg.phases, &phases);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        r = phase_values(&after_stub, phases, &values);
        if (r >= 0)
                r = print_values(TPM2_PCR_KERNEL_BOOT, arg.pcr_banks ?: PCR_BANKS_ALL, phases, values,
                                 strv_length(phases));
        strv_free(phases);
        return r;
}

/* The kernel's event log is a pseudo file whose size stat() does not tell: read it to the end. */
static int read_event_log(const char *path, uint8_t **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;

        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s", path);
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        uint8_t *b;
                        if (allocated == EVENT_LOG_MAX_SIZE)
                                return log_error_errno(-EFBIG, "%s: larger than %u MiB", path,
                                                       EVENT_LOG_MAX_SIZE >> 20);
                        allocated = allocated ? 2 * allocated : 64 * 1024;
                        if (!(b = realloc(buf, allocated)))
                                return log_error_errno(-ENOMEM, "out of memory");
                        buf = b;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_errno(LOG_LEVEL_ERROR, errno, "%s", path);
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int stub_digests(const char *path, struct pcr_digests *ret)
{
        _cleanup_free_ uint8_t *image = NULL;
        _cleanup_free_ char *message = NULL;
        size_t size;
        int r;

        r = read_file(path, STUB_MAX_SIZE, &image, &size);
        if (r < 0)
                return log_errno(LOG_LEVEL_ERROR, -r, "%s", path);
        r = pcr4_authenticode_digests(image, size, ret, &message);
        return r < 0 ? log_error_errno(r, "%s: %s", path, message ?: strerror(-r)) : 0;
}

static int measure_pcr4(const char *stub_path)
{
        const char *log_path = arg.tpm_eventlog ?: TCG_EVENT_LOG_PATH;
        _cleanup_(esp_donep) struct esp esp = {.fd = -1};
        _cleanup_free_ uint8_t *log_data = NULL;
        _cleanup_free_ char *message = NULL;
        struct pcr_digests stub, value;
        struct tcg_log log = {};
        size_t log_size = 0;
        unsigned banks = 0;
        int r;

        r = read_event_log(log_path, &log_data, &log_size);
        if (r >= 0 && (r = tcg_log_parse(log_data, log_size, &log, &message)) < 0)
                log_error("%s: %s", log_path, message ?: strerror(-r));
        if (r >= 0)
                r = stub_digests(stub_path, &stub);
        if (r >= 0)
                r = esp_find(arg.esp_path, &esp);
        if (r >= 0 &&
            (r = pcr4_predict(&log, log_path, &stub, esp.fd, esp.path, &value, &banks, &message)) < 0)
                log_error("%s", message ?: strerror(-r));
        tcg_log_done(&log);
        if (r < 0)
                return r;
        if (arg.pcr_banks & ~banks)
                return log_error_errno(-EOPNOTSUPP, "%s: the event log lacks a bank asked for", log_path);
        return print_values(TPM2_PCR_BOOT_LOADER_CODE, arg.pcr_banks ?: banks, NULL, &value, 1);
}

int verb_measure(int argc, char *argv[])
{
        const char *stub = argc > 1 ? argv[1] : NULL;
        bool files = section_files_given();
        int r;

        if (arg.pcr_public_key && !arg.pcr_private_key)
                return usage_error("--pcr-public-key= needs --pcr-private-key=");
        if (arg.pcr == TPM2_PCR_BOOT_LOADER_CODE && (!stub || files || arg.pcr_private_key || arg.phases))
                return usage_error("measure --pcr=4 takes a STUB, and no section files, phases or keys");
        if (!stub == !files)
                return usage_error("measure takes either a STUB or section files (--linux= …)");

        if (arg.pcr == TPM2_PCR_BOOT_LOADER_CODE)
                r = measure_pcr4(stub);
        else
                r = measure_pcr11(stub);
        return r < 0 ? 1 : 0;
}
