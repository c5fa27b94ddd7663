/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authenticode.h"
#include "efivars.h"
#include "entry-name.h"
#include "fs-util.h"
#include "gc.h"
#include "log.h"
#include "migrate.h"
#include "pe-builder.h"
#include "plan.h"
#include "util.h"

#define TYPE1_DIR     "loader/entries"
#define TYPE1_NIXOS   "nixos*-generation-[1-9]*.conf" /* systemd-boot-builder.py's own glob */
#define TYPE1_MAX     (64u << 10)
#define LOADER_MAX    (64u << 20)
#define NIXOS_DIR_REF "efi/nixos/"

/* dir under the ESP, opened for reading its entries; 0 with *ret NULL when it does not exist. */
static int open_esp_dir(int esp_fd, const char *esp, const char *dir, DIR **ret)
{
        int fd = openat(esp_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        *ret = NULL;
        if (fd < 0)
                return errno == ENOENT ? 0 : log_errno(LOG_LEVEL_ERROR, errno, "%s/%s", esp, dir);
        if (!(*ret = fdopendir(fd))) {
                int r = log_errno(LOG_LEVEL_ERROR, errno, "%s/%s", esp, dir);
                close(fd);
                return r;
        }
        return 0;
}

static bool strv_contains_case(char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (strcasecmp(*l, s) == 0)
                        return true;
        return false;
}

/* The name in EFI/nixos that a Type #1 path ("/EFI/nixos/NAME", either slash, any case) points at; NULL
 * for any other path. */
static char *nixos_dir_name(const char *value)
{
        char *p = strdup(value), *name;

        if (!p)
                return NULL;
        for (char *c = p; *c; c++)
                if (*c == '\\')
                        *c = '/';
        name = p + (*p == '/');
        if (strncasecmp(name, NIXOS_DIR_REF, strlen(NIXOS_DIR_REF)) != 0 ||
            !*(name += strlen(NIXOS_DIR_REF)) || strchr(name, '/') || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0) {
                free(p);
                return NULL;
        }
        memmove(p, name, strlen(name) + 1);
        return p;
}

/* Adds to *refs the EFI/nixos names that the linux, initrd and devicetree lines of a Type #1 entry name. */
static int type1_references(const char *text, size_t size, char ***refs)
{
        static const char *const keys[] = {"linux", "initrd", "devicetree"};
        const char *p = text, *end = text + size;
        int r = 0;

        while (r >= 0 && p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)) ?: end, *v, *e = eol;
                while (p < eol && isspace((unsigned char)*p))
                        p++;
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        size_t n = strlen(keys[k]);
                        _cleanup_free_ char *value = NULL, *name = NULL;
                        if ((size_t)(eol - p) <= n || strncmp(p, keys[k], n) != 0 ||
                            !isspace((unsigned char)p[n]))
                                continue;
                        for (v = p + n; v < eol && isspace((unsigned char)*v); v++)
                                ;
                        while (e > v && isspace((unsigned char)e[-1]))
                                e--;
                        value = strndup(v, (size_t)(e - v));
                        if (!value)
                                return -ENOMEM;
                        name = nixos_dir_name(value);
                        if (name && !strv_contains_case(*refs, name))
                                r = strv_extend(refs, name);
                }
                p = eol + 1;
        }
        return r;
}

/* NixOS's entries and what they use; *elsewhere: what every other entry in loader/entries uses. */
static int scan_type1(int esp_fd, const char *esp, struct migration *m, char ***used, char ***elsewhere)
{
        DIR *d;
        int r = open_esp_dir(esp_fd, esp, TYPE1_DIR, &d);

        if (r < 0 || !d)
                return r;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                _cleanup_free_ uint8_t *text = NULL;
                bool nixos = fnmatch(TYPE1_NIXOS, de->d_name, FNM_CASEFOLD) == 0;
                size_t size;
                int k;

                if (de->d_name[0] == '.' || de->d_type == DT_DIR || strlen(de->d_name) < 5 ||
                    strcasecmp(de->d_name + strlen(de->d_name) - 5, ".conf") != 0)
                        continue;
                if ((k = read_file_at(dirfd(d), de->d_name, TYPE1_MAX, &text, &size)) < 0) {
                        /* Unreadable: whatever it uses stays. */
                        log_warning("%s/" TYPE1_DIR "/%s: cannot read: %s", esp, de->d_name, strerror(-k));
                        continue;
                }
                if (nixos)
                        r = strv_extend(&m->type1, de->d_name);
                if (r >= 0)
                        r = type1_references((const char *)text, size, nixos ? used : elsewhere);
        }
        closedir(d);
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

/* Counts the entries of our name grammar and those another stub made (its .sbat is not ours), adds what
 * every stub references to *elsewhere, and tells whether LoaderEntrySelected names one of them. */
static int scan_stubs(int esp_fd, const char *esp, const uint8_t *stub, size_t stub_size,
                      struct migration *m, char ***elsewhere, char **ret_booted)
{
        struct pe_section_copy ours = {.name = ".sbat"};
        _cleanup_free_ char *selected = NULL, *message = NULL;
        DIR *d;
        int r = open_esp_dir(esp_fd, esp, ESP_LINUX_DIR, &d);

        if (r < 0 || !d)
                return r;
        (void)pe_get_sections(stub, stub_size, &ours, 1, &message);
        (void)efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &selected);
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                struct pe_section_copy theirs = {.name = ".sbat"};
                char path[PATH_MAX], **refs = NULL;
                _cleanup_free_ char *msg = NULL;

                if (de->d_type == DT_DIR)
                        continue;
                snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR "/%s", esp, de->d_name);
                if (stub_references(path, &refs) >= 0)
                        for (size_t i = 0; r >= 0 && refs && refs[i]; i++)
                                r = strv_extend(elsewhere, refs[i]);
                strv_free(refs);
                if (!entry_name_is_ours(de->d_name))
                        continue;
                m->n_stubs++;
                if (pe_read_sections(path, &theirs, 1, &msg) < 0 || theirs.size != ours.size ||
                    (theirs.size && memcmp(theirs.data, ours.data, ours.size) != 0))
                        m->n_other_stubs++;
                pe_section_copies_free(&theirs, 1);
                if (!*ret_booted && entry_id_matches_file(selected, de->d_name))
                        *ret_booted = strdup(de->d_name);
        }
        closedir(d);
        pe_section_copies_free(&ours, 1);
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

static int loader_state(const char *esp, const struct efi_arch *arch, X509 *cert)
{
        _cleanup_free_ uint8_t *image = NULL;
        _cleanup_free_ char *message = NULL;
        char path[PATH_MAX];
        size_t size;

        snprintf(path, sizeof(path), "%s/%s", esp, arch->systemd_boot_path);
        if (read_file(path, LOADER_MAX, &image, &size) < 0)
                return LOADER_MISSING;
        if (authenticode_is_signed(image, size) <= 0)
                return LOADER_UNSIGNED;
        return authenticode_verify(image, size, cert, &message) == 0 ? LOADER_OUR_KEY : LOADER_OTHER_KEY;
}

/* Files in EFI/nixos named as systemd-boot-builder.py names kernels and initrds that no entry uses: what a
 * migration interrupted between removing the entries and removing their files left. */
static int scan_orphans(int esp_fd, const char *esp, char *const *used, char *const *elsewhere,
                        char ***orphans)
{
        static const char *const kinds[] = {"*-bzImage.efi", "*-Image.efi", "*-vmlinuz.efi", "*-initrd.efi"};
        DIR *d;
        int r = open_esp_dir(esp_fd, esp, ESP_NIXOS_DIR, &d);

        if (r < 0 || !d)
                return r;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                bool nixos = false;
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                        nixos = nixos || fnmatch(kinds[i], de->d_name, FNM_CASEFOLD) == 0;
                if (nixos && de->d_type != DT_DIR && !payload_name_is_ours(de->d_name) &&
                    !strv_contains_case(used, de->d_name) && !strv_contains_case(elsewhere, de->d_name))
                        r = strv_extend(orphans, de->d_name);
        }
        closedir(d);
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

int migration_plan(int esp_fd, const char *esp, const struct efi_arch *arch, const uint8_t *stub,
                   size_t stub_size, X509 *cert, bool remove, struct migration *ret)
{
        struct migration m = {.secure_boot = efi_secure_boot(), .setup_mode = efi_setup_mode()};
        char **used = NULL, **elsewhere = NULL, *booted = NULL;
        int r = scan_type1(esp_fd, esp, &m, &used, &elsewhere);

        if (r >= 0)
                r = scan_stubs(esp_fd, esp, stub, stub_size, &m, &elsewhere, &booted);
        /* A file goes only when no entry that stays uses it, and it is none of ours (GC's business). */
        for (size_t i = 0; r >= 0 && used && used[i]; i++)
                if (!payload_name_is_ours(used[i]) && !strv_contains_case(elsewhere, used[i]) &&
                    strv_extend(&m.type1_files, used[i]) < 0)
                        r = log_error_errno(-ENOMEM, "out of memory");
        if (r >= 0)
                r = scan_orphans(esp_fd, esp, used, elsewhere, &m.type1_files);
        m.loader = loader_state(esp, arch, cert);
        if ((m.type1 || m.type1_files) && remove)
                m.why = "--remove-type1-entries";
        else if ((m.type1 || m.type1_files) && booted)
                m.why = "one of our entries has booted (LoaderEntrySelected)";
        m.remove = m.why != NULL;
        if ((m.type1 || m.type1_files) && !m.remove)
                m.why = "kept until one of our entries has booted, or --remove-type1-entries";
        if (booted)
                log_debug("LoaderEntrySelected names %s", booted);
        free(booted);
        strv_free(used);
        strv_free(elsewhere);
        if (r < 0) {
                migration_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int migration_menu(const struct migration *m, const char *esp, struct boot_menu *menu, bool after)
{
        char path[PATH_MAX];
        int r = 0;

        for (size_t i = 0; r >= 0 && m->type1 && m->type1[i]; i++) {
                _cleanup_free_ uint8_t *text = NULL;
                size_t size;

                if (after) {
                        if (m->remove)
                                boot_menu_remove(menu, m->type1[i]);
                        continue;
                }
                snprintf(path, sizeof(path), "%s/" TYPE1_DIR "/%s", esp, m->type1[i]);
                if (read_file(path, TYPE1_MAX, &text, &size) >= 0)
                        r = boot_menu_add_type1(menu, m->type1[i], (const char *)text, size);
        }
        boot_menu_sort(menu);
        return r;
}

static const char *loader_text(int loader)
{
        switch (loader) {
        case LOADER_MISSING:
                return "no systemd-boot";
        case LOADER_UNSIGNED:
                return "an unsigned systemd-boot";
        case LOADER_OTHER_KEY:
                return "a systemd-boot signed by another key";
        default:
                return "a systemd-boot signed by this db key";
        }
}

static const char *state_text(int v, const char *on, const char *off)
{
        return v > 0 ? on : v == 0 ? off : "unknown";
}

void migration_report(const struct migration *m, const char *esp, bool dry_run)
{
        size_t n1 = strv_length(m->type1), nf = strv_length(m->type1_files);

        if (m->n_other_stubs)
                log_info("%s: %zu of %zu entries were made by another stub (upstream lanzaboote's layout): "
                         "their kernels and initrds are kept where they match, their stubs %s replaced by "
                         "ours",
                         esp, m->n_other_stubs, m->n_stubs, dry_run ? "would be" : "are");
        if (n1 || nf)
                log_info("%s: plain NixOS systemd-boot: %zu Type #1 entries in " TYPE1_DIR
                         " and %zu files in " ESP_NIXOS_DIR " only they use; %s %s (%s)",
                         esp, n1, nf, dry_run ? "they would be" : "they are", m->remove ? "removed" : "kept",
                         m->why);
        if (m->loader != LOADER_OUR_KEY && m->n_stubs == m->n_other_stubs)
                log_info(
                        "%s: %s and none of our entries yet; Secure Boot %s, setup mode %s: %s signed "
                        "systemd-boot and the entries with this db key; Secure Boot needs its keys enrolled "
                        "(lanzatool enroll-keys) before it can be turned on",
                        esp, loader_text(m->loader), state_text(m->secure_boot, "on", "off"),
                        state_text(m->setup_mode, "yes", "no"), dry_run ? "would install" : "installed");
}

void migration_print(const struct migration *m)
{
        for (size_t i = 0; m->remove && m->type1 && m->type1[i]; i++)
                printf("remove " TYPE1_DIR "/%s\n", m->type1[i]);
        for (size_t i = 0; m->remove && m->type1_files && m->type1_files[i]; i++)
                printf("remove " ESP_NIXOS_DIR "/%s\n", m->type1_files[i]);
}

static int remove_names(int esp_fd, const char *esp, const char *dir, char *const *names)
{
        _cleanup_close_ int fd = openat(esp_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : log_errno(LOG_LEVEL_ERROR, errno, "%s/%s", esp, dir);
        for (size_t i = 0; r >= 0 && names && names[i]; i++)
                if ((r = unlink_at(fd, names[i])) < 0)
                        log_error("%s/%s/%s: cannot remove: %s", esp, dir, names[i], strerror(-r));
        if (r >= 0 && (r = fsync_dir(fd)) < 0)
                log_error("%s/%s: %s", esp, dir, strerror(-r));
        return r;
}

int migration_remove(int esp_fd, const char *esp, const struct migration *m)
{
        int r;

        if (!m->remove)
                return 0;
        /* The entries first, durable before any file they use goes: never an entry naming a missing file. */
        r = remove_names(esp_fd, esp, TYPE1_DIR, m->type1);
        if (r >= 0 && (r = flush_fs(esp_fd)) < 0)
                log_error("%s: sync failed: %s", esp, strerror(-r));
        if (r >= 0)
                r = remove_names(esp_fd, esp, ESP_NIXOS_DIR, m->type1_files);
        if (r >= 0)
                log_info("%s: removed %zu Type #1 entries and %zu files they used (%s)", esp,
                         strv_length(m->type1), strv_length(m->type1_files), m->why);
        return r;
}

void migration_done(struct migration *m)
{
        strv_free(m->type1);
        strv_free(m->type1_files);
        *m = (struct migration){};
}
