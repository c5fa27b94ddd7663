/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot-choice.h"
#include "efi-arch.h"

/* Where users come from (DESIGN §2, issue 18): what the ESP holds before an install, said once, and the
 * plain NixOS systemd-boot entries left beside ours.
 * - Upstream lanzaboote's files follow the same contract: install adopts its payloads (same names, same
 *   content) and replaces its stubs by ours through the usual protocol; nothing here writes.
 * - NixOS's systemd-boot-builder.py writes Type #1 entries, loader/entries/nixos[-PROFILE]-generation-N
 *   [-specialisation-S].conf, and copies kernels and initrds to EFI/nixos/<store name>-<file>.efi, names
 *   that are not of our payload grammar (GC never touches them). They are removed only after our entries
 *   are written and flushed, and only when asked (--remove-type1-entries) or once one of ours has booted
 *   (LoaderEntrySelected). */
struct migration {
        char **type1;         /* loader/entries names of NixOS's Type #1 entries */
        char **type1_files;   /* EFI/nixos names only they use (none of ours, none another entry uses), and
                               * kernels and initrds of their naming that no entry uses (an interrupted
                               * migration's) */
        size_t n_other_stubs; /* entries of our name grammar made by another stub: upstream lanzaboote */
        size_t n_stubs;       /* entries of our name grammar */
        int loader;           /* systemd-boot at its path: LOADER_* */
        int secure_boot;      /* efi_secure_boot(): 1, 0, negative when unknown */
        int setup_mode;       /* efi_setup_mode() */
        bool remove;          /* the Type #1 entries and their files go after the install */
        const char *why;      /* why they go, or why not */
};

enum {
        LOADER_MISSING,
        LOADER_UNSIGNED,
        LOADER_OTHER_KEY,
        LOADER_OUR_KEY,
};

/* Looks at the ESP before anything is written. stub: our unsigned stub (its .sbat tells our stubs from
 * another's); cert: the db certificate we sign with; remove: --remove-type1-entries. */
int migration_plan(int esp_fd, const char *esp, const struct efi_arch *arch, const uint8_t *stub,
                   size_t stub_size, X509 *cert, bool remove, struct migration *ret);

/* Adds the Type #1 entries to a model of systemd-boot's menu (boot-choice.h); after: the menu once the
 * install is done, without those about to be removed. */
int migration_menu(const struct migration *m, const char *esp, struct boot_menu *menu, bool after);

/* What was found and what is (dry_run: would be) done, on stderr. */
void migration_report(const struct migration *m, const char *esp, bool dry_run);
/* The removals as "remove PATH" lines of --dry-run's plan, on stdout. */
void migration_print(const struct migration *m);

/* Removes the Type #1 entries, then (after a device flush) the files only they used. Call it after the
 * new entries and loader.conf were flushed. */
int migration_remove(int esp_fd, const char *esp, const struct migration *m);

void migration_done(struct migration *m);
