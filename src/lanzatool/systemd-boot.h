/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "efi-arch.h"
#include "pki.h"

#define LOADER_CONF_PATH   "loader/loader.conf"
#define LOADER_CONF_MARKER "# Written by lanzatool"

struct loader_conf {
        const char *timeout; /* seconds, or menu-force, menu-hidden, menu-disabled; NULL: not written */
        const char *default_entry;
        const char *console_mode; /* NULL: not written */
        bool editor;
        bool auto_enroll;
        bool replace_removable; /* overwrite a REMOVABLE_PATH that is not systemd-boot */
};

/* Signed systemd-boot for both of its places on the ESP; a place is written only when its file
 * is missing, older (its .osrel VERSION), malformed, or not signed by our db key. */
struct systemd_boot_plan {
        uint8_t *image; /* signed */
        size_t size;
        const char *paths[2]; /* the architecture's systemd_boot_path and removable_path */
        bool write[2];
        char *loader_conf;
        bool write_loader_conf;
};

/* source NULL: the architecture's systemd_boot_source. The image must be for that architecture. */
int systemd_boot_plan(const char *esp, const struct efi_arch *arch, const char *source,
                      const struct pki *pki, const struct loader_conf *conf, struct systemd_boot_plan *ret);
int systemd_boot_install(int esp_fd, const struct systemd_boot_plan *p);
void systemd_boot_plan_done(struct systemd_boot_plan *p);
