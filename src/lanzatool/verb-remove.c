/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "enroll.h"
#include "esp.h"
#include "fs-util.h"
#include "gc.h"
#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "util.h"

/* Our loader.conf comes with the auto-enrollment payloads it names (install --auto-enroll). */
static int remove_auto_enroll(const struct esp *esp)
{
        static const char *const files[] = {ESP_AUTO_ENROLL_DIR "/PK.auth", ESP_AUTO_ENROLL_DIR "/KEK.auth",
                                            ESP_AUTO_ENROLL_DIR "/db.auth"};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(files); i++)
                r = unlink_at(esp->fd, files[i]);
        (void)unlinkat(esp->fd, ESP_AUTO_ENROLL_DIR, AT_REMOVEDIR);
        return r;
}

/* Removes path when it is ours: loader.conf with our marker, systemd-boot signed by our db key. */
static int remove_if_ours(const struct esp *esp, const char *path, X509 *cert)
{
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *message = NULL;
        size_t size;
        bool ours;

        if (read_file_at(esp->fd, path, 64u << 20, &data, &size) < 0)
                return 0;
        if (strcmp(path, LOADER_CONF_PATH) == 0)
                ours = size >= strlen(LOADER_CONF_MARKER) &&
                       memcmp(data, LOADER_CONF_MARKER, strlen(LOADER_CONF_MARKER)) == 0;
        else
                ours = cert && authenticode_verify(data, size, cert, &message) >= 0;
        if (ours && arg.dry_run) {
                printf("would remove %s/%s\n", esp->path, path);
                return 0;
        }
        if (!ours) {
                log_info("%s/%s: not installed by lanzatool%s, leaving it", esp->path, path,
                         cert || strcmp(path, LOADER_CONF_PATH) == 0 ? "" : " (no --pki-bundle to tell)");
                return 0;
        }
        if (strcmp(path, LOADER_CONF_PATH) == 0) {
                int r = remove_auto_enroll(esp);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_AUTO_ENROLL_DIR ": %s", esp->path, strerror(-r));
        }
        return unlink_at(esp->fd, path);
}

/* --dry-run: every file the removal would delete, one per line. */
static void print_plan(const char *esp, const struct gc_plan *g)
{
        for (char **s = g->stubs; s && *s; s++)
                printf("would remove %s/EFI/Linux/%s\n", esp, *s);
        for (char **p = g->payloads; p && *p; p++)
                printf("would remove %s/EFI/nixos/%s\n", esp, *p);
}

int verb_remove(int argc, char *argv[])
{
        struct esp esp = {.fd = -1};
        struct gc_plan g = {};
        X509 *cert = NULL;
        int r;

        (void)argc, (void)argv;
        r = esp_find(arg.esp_path, &esp);
        if (r >= 0 && arg.pki_bundle)
                r = pki_load_certificate(arg.pki_bundle, &cert);
        if (r >= 0)
                r = gc_plan(esp.path, NULL, NULL, &g);
        if (r >= 0 && arg.dry_run)
                print_plan(esp.path, &g);
        if (r >= 0 && !arg.dry_run)
                r = gc_run(esp.path, &g);
        /* systemd-boot of every architecture: the ESP may have been installed for either. */
        for (size_t i = 0; r >= 0 && i < efi_arches_count; i++) {
                r = remove_if_ours(&esp, efi_arches[i].systemd_boot_path, cert);
                if (r >= 0)
                        r = remove_if_ours(&esp, efi_arches[i].removable_path, cert);
        }
        if (r >= 0)
                r = remove_if_ours(&esp, LOADER_CONF_PATH, cert);
        if (r >= 0)
                log_info("%s: %s %zu entries and %zu files", esp.path,
                         arg.dry_run ? "would remove" : "removed", strv_length(g.stubs),
                         strv_length(g.payloads));
        gc_plan_done(&g);
        X509_free(cert);
        esp_done(&esp);
        return r < 0 ? 1 : 0;
}
