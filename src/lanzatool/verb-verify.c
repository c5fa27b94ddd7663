/* SPDX-License-Identifier: MIT */
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
#include "util.h"

/* systemd-boot's copies, of whichever architecture, when present, must carry our signature. */
static unsigned verify_boot_loader(const char *esp, X509 *cert)
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
                        bad++;
                } else
                        log_info("%s: signature ok", path);
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

int verb_verify(int argc, char *argv[])
{
        struct esp esp = {.fd = -1};
        struct inventory inv = {};
        unsigned bad = 0;
        X509 *cert = NULL;
        int r;

        (void)argc, (void)argv;
        r = esp_find(arg.esp_path, &esp);
        if (r >= 0)
                r = pki_load_certificate(arg.pki_bundle, &cert);
        if (r >= 0)
                r = inventory_load(esp.path, cert, &inv);
        if (r >= 0) {
                for (size_t i = 0; i < inv.n_entries; i++) {
                        const struct inventory_entry *e = &inv.entries[i];
                        if (e->problem) {
                                log_error("%s/EFI/Linux/%s: %s", esp.path, e->name, e->problem);
                                bad++;
                        }
                }
                bad += verify_boot_loader(esp.path, cert);
                bad += verify_firmware_trust(cert);
                log_info("%s: %zu entries checked, %u problems", esp.path, inv.n_entries, bad);
        }
        inventory_done(&inv);
        X509_free(cert);
        esp_done(&esp);
        return r < 0 || bad > 0 ? 1 : 0;
}
