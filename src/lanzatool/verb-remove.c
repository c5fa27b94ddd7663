/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
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
#include "plan.h"
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

/* Adds ESP/DIR/NAME (DIR may be NULL) to the list of what is removed (or would be, with --dry-run). */
static int note(char ***removed, const char *esp, const char *dir, const char *name)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s%s%s", esp, dir ?: "", dir ? "/" : "", name);
        return strv_extend(removed, path) < 0 ? log_error_errno(-ENOMEM, "out of memory") : 0;
}

/* Removes path when it is ours: loader.conf with our marker, systemd-boot signed by our db key. */
static int remove_if_ours(const struct esp *esp, const char *path, X509 *cert, char ***removed)
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
        if (ours) {
                int r = note(removed, esp->path, NULL, path);
                if (r < 0 || arg.dry_run)
                        return r;
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

static int note_plan(const char *esp, const struct gc_plan *g, char ***removed)
{
        int r = 0;

        for (char **s = g->stubs; r >= 0 && s && *s; s++)
                r = note(removed, esp, ESP_LINUX_DIR, *s);
        for (char **p = g->payloads; r >= 0 && p && *p; p++)
                r = note(removed, esp, ESP_NIXOS_DIR, *p);
        return r;
}

/* Every file removed, or with --dry-run every file the removal would delete: one line each, or JSON. */
static void print_removed(const char *esp, char *const *removed)
{
        struct json_object *o, *a;

        if (arg.json == JSON_OFF) {
                for (char *const *p = removed; p && *p; p++)
                        if (arg.dry_run)
                                printf("would remove %s\n", *p);
                        else
                                log_debug("removed %s", *p);
                return;
        }
        o = json_object_new_object();
        a = json_object_new_array();
        for (char *const *p = removed; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        json_object_object_add(o, "esp", json_object_new_string(esp));
        json_object_object_add(o, "dryRun", json_object_new_boolean(arg.dry_run));
        json_object_object_add(o, "removed", a);
        json_print(o);
}

/* Entries and payloads from the boot partition (the XBOOTLDR partition when there is one), then
 * systemd-boot and loader.conf from the ESP. */
static int remove_target(const struct target *t, X509 *cert)
{
        struct gc_plan g = {};
        char **removed = NULL;
        int r = gc_plan(t->boot->path, NULL, NULL, &g);

        if (r >= 0)
                r = note_plan(t->boot->path, &g, &removed);
        if (r >= 0 && !arg.dry_run)
                r = gc_run(t->boot->path, &g);
        /* systemd-boot of every architecture: the ESP may have been installed for either. */
        for (size_t i = 0; r >= 0 && i < efi_arches_count; i++) {
                r = remove_if_ours(&t->esp, efi_arches[i].systemd_boot_path, cert, &removed);
                if (r >= 0)
                        r = remove_if_ours(&t->esp, efi_arches[i].removable_path, cert, &removed);
        }
        if (r >= 0)
                r = remove_if_ours(&t->esp, LOADER_CONF_PATH, cert, &removed);
        if (r >= 0)
                print_removed(t->boot->path, removed);
        if (r >= 0)
                log_info("%s: %s %zu entries and %zu files", t->boot->path,
                         arg.dry_run ? "would remove" : "removed", strv_length(g.stubs),
                         strv_length(g.payloads));
        strv_free(removed);
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
