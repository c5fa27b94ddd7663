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
#include "targets.h"
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

/* Entries and payloads from the boot partition (the XBOOTLDR partition when there is one), then
 * systemd-boot and loader.conf from the ESP. */
static int remove_target(const struct target *t, X509 *cert)
{
        struct gc_plan g = {};
        int r = gc_plan(t->boot->path, NULL, NULL, &g);

        if (r >= 0 && !arg.dry_run)
                r = gc_run(t->boot->path, &g);
        /* systemd-boot of every architecture: the ESP may have been installed for either. */
        for (size_t i = 0; r >= 0 && !arg.dry_run && i < efi_arches_count; i++) {
                r = remove_if_ours(&t->esp, efi_arches[i].systemd_boot_path, cert);
                if (r >= 0)
                        r = remove_if_ours(&t->esp, efi_arches[i].removable_path, cert);
        }
        if (r >= 0 && !arg.dry_run)
                r = remove_if_ours(&t->esp, LOADER_CONF_PATH, cert);
        if (r >= 0)
                log_info("%s: removed %zu entries and %zu files", t->boot->path, strv_length(g.stubs),
                         strv_length(g.payloads));
        gc_plan_done(&g);
        return r;
}

int verb_remove(int argc, char *argv[])
{
        struct target *t = NULL;
        size_t n = 0;
        X509 *cert = NULL;
        int r;

        (void)argc, (void)argv;
        r = targets_find_certificate(&t, &n, &cert);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = remove_target(&t[i], cert);
        X509_free(cert);
        targets_free(t, n);
        return r < 0 ? 1 : 0;
}
