/* SPDX-License-Identifier: MIT */
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "db-trust.h"
#include "esp.h"
#include "fs-util.h"
#include "inventory.h"
#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "targets.h"
#include "util.h"

/* --json: one object per file checked. */
static void add_file(struct json_object *files, const char *path, const char *type, int signature,
                     int pins_ok, const char *problem)
{
        struct json_object *o;

        if (!files)
                return;
        o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "signature", signature < 0 ? NULL : json_object_new_boolean(signature));
        json_object_object_add(o, "pinnedHashes", pins_ok < 0 ? NULL : json_object_new_boolean(pins_ok));
        json_object_object_add(o, "ok", json_object_new_boolean(!problem));
        json_object_object_add(o, "problem", problem ? json_object_new_string(problem) : NULL);
        json_object_array_add(files, o);
}

/* systemd-boot's copies, of whichever architecture, when present, must carry our signature. */
static unsigned verify_boot_loader(const char *esp, X509 *cert, struct json_object *files)
{
        unsigned bad = 0;

        for (size_t i = 0; i < 2 * efi_arches_count; i++) {
                const struct efi_arch *a = &efi_arches[i / 2];
                _cleanup_free_ uint8_t *image = NULL;
                _cleanup_free_ char *message = NULL;
                char path[PATH_MAX];
                size_t size;

                snprintf(path, sizeof(path), "%s/%s", esp, i % 2 ? a->removable_path : a->systemd_boot_path);
                if (read_file(path, 64u << 20, &image, &size) < 0)
                        continue;
                if (authenticode_verify(image, size, cert, &message) < 0) {
                        log_error("%s: %s", path, message ?: "not signed by the db key");
                        add_file(files, path, "boot-loader", 0, -1, message ?: "not signed by the db key");
                        bad++;
                } else {
                        log_info("%s: signature ok", path);
                        add_file(files, path, "boot-loader", 1, -1, NULL);
                }
        }
        return bad;
}

/* With Secure Boot enforcing, the firmware's db must trust the bundle's db certificate. */
static unsigned verify_firmware_trust(X509 *cert)
{
        _cleanup_free_ char *summary = NULL;

        if (firmware_trusts_certificate(cert, &summary) != 0)
                return 0;
        log_error("%s/keys/db/db.pem: the firmware's db does not trust it (db holds: %s)", arg.pki_bundle,
                  summary ?: "?");
        return 1;
}

/* The entries (stubs and their payloads, on the XBOOTLDR partition when there is one) and systemd-boot
 * (on the ESP) of one target. */
static unsigned verify_target(const struct target *t, X509 *cert, struct json_object *files, int *r)
{
        struct inventory inv = {};
        unsigned bad = 0;

        *r = inventory_load(t->boot->path, t->esp.path, cert, &inv);
        if (*r < 0)
                return 0;
        for (size_t i = 0; i < inv.n_entries; i++) {
                const struct inventory_entry *e = &inv.entries[i];
                char path[PATH_MAX];

                snprintf(path, sizeof(path), "%s/EFI/Linux/%s", t->boot->path, e->name);
                add_file(files, path, "entry", e->signature, !e->bad_pin, e->problem);
                if (e->problem) {
                        log_error("%s: %s", path, e->problem);
                        bad++;
                }
        }
        bad += verify_boot_loader(t->esp.path, cert, files);
        log_info("%s: %zu entries checked, %u problems", t->boot->path, inv.n_entries, bad);
        inventory_done(&inv);
        return bad;
}

int verb_verify(int argc, char *argv[])
{
        struct target *t = NULL;
        size_t n = 0;
        unsigned bad = 0, trust_bad = 0;
        struct json_object *files = arg.json != JSON_OFF ? json_object_new_array() : NULL;
        X509 *cert = NULL;
        int r;

        (void)argc, (void)argv;
        r = targets_find_certificate(&t, &n, &cert);
        for (size_t i = 0; r >= 0 && i < n; i++)
                bad += verify_target(&t[i], cert, files, &r);
        if (r >= 0) {
                trust_bad = verify_firmware_trust(cert);
                bad += trust_bad;
        }
        if (r >= 0 && files) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "esp", json_object_new_string(t[0].esp.path));
                json_object_object_add(o, "files", json_object_get(files));
                json_object_object_add(o, "firmwareTrustsPkiBundle", json_object_new_boolean(!trust_bad));
                json_object_object_add(o, "problems", json_object_new_int64(bad));
                json_object_object_add(o, "ok", json_object_new_boolean(bad == 0));
                json_print(o);
        }
        json_object_put(files);
        X509_free(cert);
        targets_free(t, n);
        return r < 0 || bad > 0 ? 1 : 0;
}
