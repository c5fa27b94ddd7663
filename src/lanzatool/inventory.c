/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "authenticode.h"
#include "boot-choice.h"
#include "efivars.h"
#include "entry-name.h"
#include "fs-util.h"
#include "inventory.h"
#include "kernel-check.h"
#include "log.h"
#include "os-release.h"
#include "pe-builder.h"
#include "plan.h"
#include "systemd-boot.h"
#include "util.h"

#define ESP_NIXOS_PREFIX "\\EFI\\nixos\\"

static void set_problem(struct inventory_entry *e, const char *fmt, const char *arg)
{
        if (!e->problem && asprintf(&e->problem, fmt, arg) < 0)
                e->problem = NULL;
}

/* A pinned file: must be \EFI\nixos\NAME, exist, and hash to the pinned digest. */
static char *check_pinned(const char *esp, struct inventory_entry *e, const char *what,
                          const struct pe_section_copy *path, const struct pe_section_copy *hash)
{
        char full[PATH_MAX];
        uint8_t digest[32];
        uint64_t size;
        const char *name;

        if (!path->data)
                return NULL;
        name = (const char *)path->data + strlen(ESP_NIXOS_PREFIX);
        if (strncmp((const char *)path->data, ESP_NIXOS_PREFIX, strlen(ESP_NIXOS_PREFIX)) != 0 ||
            strlen((const char *)path->data) != path->size || strchr(name, '\\')) {
                set_problem(e, "%s path is not in \\EFI\\nixos", what);
                e->bad_pin = true;
                return NULL;
        }
        snprintf(full, sizeof(full), "%s/" ESP_NIXOS_DIR "/%s", esp, name);
        if (!hash->data || hash->size != 32)
                set_problem(e, "%s has no pinned hash", what);
        else if (sha256_file_at(AT_FDCWD, full, digest, &size) < 0)
                set_problem(e, "%s is missing", full);
        else if (memcmp(digest, hash->data, 32) != 0)
                set_problem(e, "%s does not match its pinned hash", full);
        else {
                e->pinned_size += size;
                return strdup(name);
        }
        e->bad_pin = true;
        return strdup(name);
}

/* A pinned kernel the stub's loader would refuse makes the entry unbootable. */
static void check_kernel(const char *esp, struct inventory_entry *e)
{
        char full[PATH_MAX];
        const char *reason = NULL;

        snprintf(full, sizeof(full), "%s/" ESP_NIXOS_DIR "/%s", esp, e->kernel);
        if (kernel_check_file(full, &reason) < 0)
                set_problem(e, "the stub cannot boot its kernel: %s", reason);
}

static void check_entry(const char *esp, X509 *cert, struct inventory_entry *e)
{
        struct pe_section_copy s[] = {{.name = ".osrel"},
                                      {.name = ".linux"},
                                      {.name = ".linuxh"},
                                      {.name = ".initrd"},
                                      {.name = ".initrdh"}};
        _cleanup_free_ uint8_t *image = NULL;
        _cleanup_free_ char *message = NULL;
        char path[PATH_MAX];
        size_t size;

        snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR "/%s", esp, e->name);
        if (read_file(path, 64u << 20, &image, &size) < 0 ||
            pe_get_sections(image, size, s, ELEMENTSOF(s), &message) < 0) {
                set_problem(e, "%s is not a readable PE image", path);
                return;
        }
        e->stub_size = size;
        e->signature = !cert ? -1 : authenticode_verify(image, size, cert, &message) >= 0;
        if (e->signature == 0)
                set_problem(e, "%s is not signed by the db key", path);
        if (s[0].data) {
                e->sort_key = os_release_get((const char *)s[0].data, s[0].size, "ID");
                e->pretty_name = os_release_get((const char *)s[0].data, s[0].size, "PRETTY_NAME");
        }
        if (!s[1].data)
                set_problem(e, "%s has no .linux section", path);
        e->kernel = check_pinned(esp, e, "kernel", &s[1], &s[2]);
        if (e->kernel && !e->problem)
                check_kernel(esp, e);
        e->initrd = check_pinned(esp, e, "initrd", &s[3], &s[4]);
        pe_section_copies_free(s, ELEMENTSOF(s));
}

static void parse_name(struct inventory_entry *e)
{
        struct entry_name n;

        if (entry_name_parse(e->name, &n) < 0)
                return;
        e->generation = n.generation;
        e->specialisation = TAKE_PTR(n.specialisation);
        entry_name_done(&n);
}

static int compare(const void *a, const void *b)
{
        const struct inventory_entry *x = a, *y = b;
        if (x->generation != y->generation)
                return x->generation < y->generation ? -1 : 1;
        if (!x->specialisation != !y->specialisation) /* a generation before its specialisations */
                return x->specialisation ? 1 : -1;
        return strcmp(x->name, y->name);
}

/* The entry systemd-boot boots next, as the one model of its choice has it. */
static int mark_default(const char *boot, const char *esp, struct inventory *inv)
{
        struct boot_menu menu;
        struct boot_choice_state state;
        ssize_t i;
        int r = boot_menu_load(boot, &menu);

        if (r < 0)
                return r;
        (void)boot_choice_state_load(esp, &state);
        i = boot_choice_default(&menu, &state);
        for (size_t k = 0; i >= 0 && k < inv->n_entries; k++)
                inv->entries[k].is_default = strcmp(inv->entries[k].name, menu.entries[i].file_name) == 0;
        boot_choice_state_done(&state);
        boot_menu_done(&menu);
        return 0;
}

int inventory_load(const char *esp, const char *loader_esp, X509 *cert, struct inventory *ret)
{
        struct inventory inv = {};
        _cleanup_free_ char *booted = NULL;
        char path[PATH_MAX];
        DIR *d;
        int r;

        snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR, esp);
        d = opendir(path);
        if (!d && errno != ENOENT)
                return log_error_errno(-errno, "%s: %m", path);
        (void)efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &booted);
        for (struct dirent *de; d && (de = readdir(d));) {
                struct inventory_entry *n;
                if (!entry_name_is_ours(de->d_name) || de->d_type == DT_DIR)
                        continue;
                n = reallocarray(inv.entries, inv.n_entries + 1, sizeof(*n));
                if (!n) {
                        closedir(d);
                        inventory_done(&inv);
                        return log_error_errno(-ENOMEM, "out of memory");
                }
                inv.entries = n;
                n = &inv.entries[inv.n_entries++];
                *n = (struct inventory_entry){.name = strdup(de->d_name)};
                n->booted = entry_id_matches_file(booted, n->name);
                parse_name(n);
                check_entry(esp, cert, n);
        }
        if (d)
                closedir(d);
        qsort(inv.entries, inv.n_entries, sizeof(*inv.entries), compare);
        r = mark_default(esp, loader_esp ?: esp, &inv);
        if (r < 0) {
                inventory_done(&inv);
                return r;
        }
        *ret = inv;
        return 0;
}

void inventory_done(struct inventory *inv)
{
        for (size_t i = 0; i < inv->n_entries; i++) {
                struct inventory_entry *e = &inv->entries[i];
                free(e->name);
                free(e->specialisation);
                free(e->kernel);
                free(e->initrd);
                free(e->sort_key);
                free(e->pretty_name);
                free(e->problem);
        }
        free(inv->entries);
        *inv = (struct inventory){};
}
