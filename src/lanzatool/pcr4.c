/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authenticode.h"
#include "fs-util.h"
#include "pcr4.h"
#include "pe.h"
#include "util.h"

#define BOOT_LOADER_MAX_SIZE (64u << 20)

static int pcr_hasher_update_fn(void *userdata, const uint8_t *data, size_t size)
{
        return pcr_hasher_update(userdata, data, size);
}

/* Unlike authenticode_digest(), which signs and verifies with SHA-256 only, this hashes with every bank's
 * algorithm, and takes the trailing data exactly as EDK2's measurement does: from the count of bytes hashed
 * up to the file size less the certificate directory's Size, wherever the table lies. */
int pcr4_authenticode_digests(const uint8_t *image, size_t size, struct pcr_digests *ret,
                              char **reterr_message)
{
        const struct pe_data_directory *security;
        struct pcr_hasher h;
        struct pe_image img;
        uint64_t hashed, cert_size;
        int r;

        r = pe_parse(image, size, PE_LAYOUT_FILE, &img);
        if (r < 0)
                return set_error_message(reterr_message, -EBADMSG, "not a valid PE32+ image");
        security = pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_SECURITY);
        cert_size = security ? security->Size : 0;

        r = pcr_hasher_init(&h);
        if (r < 0)
                return set_error_message(reterr_message, r, "out of memory");
        r = authenticode_hash_regions(&img, pcr_hasher_update_fn, &h, &hashed);
        if (r >= 0 && size > hashed) {
                if (size < hashed + cert_size)
                        r = -EBADMSG;
                else if (size - cert_size > hashed)
                        r = pcr_hasher_update(&h, image + hashed, (size_t)(size - cert_size - hashed));
        }
        if (r < 0) {
                pcr_hasher_done(&h);
                return set_error_message(reterr_message, r == -EBADMSG ? r : -EIO,
                                         r == -EBADMSG ? "the certificate table does not fit the image"
                                                       : "hashing failed");
        }
        r = pcr_hasher_final(&h, ret);
        return r < 0 ? set_error_message(reterr_message, r, "hashing failed") : 0;
}

static bool is_application_load(const struct tcg_event *e)
{
        return e->pcr == TPM2_PCR_BOOT_LOADER_CODE && e->type == EV_EFI_BOOT_SERVICES_APPLICATION;
}

/* Which events are the booted stub and the boot loader that started it. Their order identifies them: in
 * PCR 4 the firmware logs one EV_EFI_BOOT_SERVICES_APPLICATION event per image it loads, in load order. The
 * stub starts the kernel with its own loader rather than LoadImage(), and the kernel measures nothing into
 * PCR 4, so the booted stub is the last application event, and the boot loader that loaded it (systemd-boot)
 * the one before. Their device paths confirm it: the stub's file must lie in PCR4_ENTRY_DIR, and the
 * loader's is where the next boot will read it from again. Any other chain (a stub started by the firmware
 * itself, a kernel booted without a stub) is refused rather than guessed at. */
static int find_chain(const struct tcg_log *log, const char *log_path, size_t *ret_stub, size_t *ret_loader,
                      char **ret_loader_path, char **reterr_message)
{
        _cleanup_free_ char *stub_path = NULL, *loader_path = NULL;
        size_t stub = SIZE_MAX, loader = SIZE_MAX;
        int r;

        for (size_t i = 0; i < log->n_events; i++)
                if (is_application_load(&log->events[i])) {
                        loader = stub;
                        stub = i;
                }
        if (stub == SIZE_MAX)
                return set_error_message(reterr_message, -ENOENT,
                                         "%s: no boot application was measured into PCR 4", log_path);
        r = tcg_event_image_path(&log->events[stub], &stub_path);
        if (r < 0)
                return set_error_message(reterr_message, r,
                                         "%s: the device path of the last boot application has no file name",
                                         log_path);
        if (strncasecmp(stub_path, PCR4_ENTRY_DIR, strlen(PCR4_ENTRY_DIR)) != 0)
                return set_error_message(
                        reterr_message, -ENOENT,
                        "%s: the last boot application measured, %s, is not an entry in %s: "
                        "this boot did not come through a boot loader and a stub",
                        log_path, stub_path, PCR4_ENTRY_DIR);
        if (loader == SIZE_MAX)
                return set_error_message(reterr_message, -ENOENT,
                                         "%s: no boot loader was measured before the booted entry %s",
                                         log_path, stub_path);
        r = tcg_event_image_path(&log->events[loader], &loader_path);
        if (r < 0)
                return set_error_message(
                        reterr_message, r,
                        "%s: the device path of the boot loader that started %s has no file name", log_path,
                        stub_path);
        *ret_stub = stub;
        *ret_loader = loader;
        *ret_loader_path = TAKE_PTR(loader_path);
        return 0;
}

/* The loader file as the next boot will find it on the ESP. */
static int loader_digests(int esp_fd, const char *esp_path, const char *logged_path, struct pcr_digests *ret,
                          char **reterr_message)
{
        _cleanup_free_ char *relative = NULL, *message = NULL;
        _cleanup_free_ uint8_t *image = NULL;
        size_t size;
        int r;

        r = uefi_path_to_relative(logged_path, strlen(logged_path), &relative);
        if (r < 0)
                return set_error_message(reterr_message, r,
                                         "%s: the boot loader's logged path %s is not an ESP path", esp_path,
                                         logged_path);
        r = read_file_at(esp_fd, relative, BOOT_LOADER_MAX_SIZE, &image, &size);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s/%s (the boot loader): %s", esp_path,
                                         relative, strerror(-r));
        r = pcr4_authenticode_digests(image, size, ret, &message);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s/%s (the boot loader): %s", esp_path,
                                         relative, message ?: strerror(-r));
        return 0;
}

int pcr4_predict(const struct tcg_log *log, const char *log_path, const struct pcr_digests *stub, int esp_fd,
                 const char *esp_path, struct pcr_digests *ret, unsigned *ret_banks, char **reterr_message)
{
        _cleanup_free_ char *loader_path = NULL;
        _cleanup_free_ struct tcg_event *events = NULL;
        struct pcr_digests loader, value = {};
        struct tcg_log next = *log;
        size_t stub_index = 0, loader_index = 0;
        int r;

        r = find_chain(log, log_path, &stub_index, &loader_index, &loader_path, reterr_message);
        if (r >= 0)
                r = loader_digests(esp_fd, esp_path, loader_path, &loader, reterr_message);
        if (r < 0)
                return r;

        /* The same events, the loader's and the stub's pointing at the digests of the next boot's files. */
        events = malloc(log->n_events * sizeof(*events));
        if (!events)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        memcpy(events, log->events, log->n_events * sizeof(*events));
        next.events = events;
        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                events[loader_index].digests[b] = loader.d[b];
                events[stub_index].digests[b] = stub->d[b];
        }

        for (enum pcr_bank b = 0; b < _PCR_BANK_MAX; b++) {
                if (!(log->banks & (1u << b)))
                        continue;
                r = tcg_log_replay(&next, TPM2_PCR_BOOT_LOADER_CODE, b, value.d[b]);
                if (r < 0)
                        return set_error_message(reterr_message, r,
                                                 "%s: an event in PCR 4 lacks its %s digest", log_path,
                                                 pcr_bank_name(b));
        }
        *ret = value;
        *ret_banks = log->banks;
        return 0;
}
