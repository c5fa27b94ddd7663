/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "boot-choice.h"
#include "efivars.h"
#include "entry-name.h"
#include "fs-util.h"
#include "log.h"
#include "os-release.h"
#include "pe-builder.h"
#include "systemd-boot.h"
#include "util.h"

#define CMP(a, b)       ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)
#define LOADER_CONF_MAX (1u << 20)
#define SAVED           "@saved"

static bool is_version_char(char c)
{
        return isdigit((unsigned char)c) || isalpha((unsigned char)c) || strchr("~-^.", c);
}

/* Segment by segment, as systemd's string-util-fundamental.c (rpmvercmp() with '-', '^', '~'). */
int strverscmp_improved(const char *a, const char *b)
{
        a = a ?: "";
        b = b ?: "";
        for (;;) {
                const char *aa, *bb;
                int r;

                while (*a && !is_version_char(*a))
                        a++;
                while (*b && !is_version_char(*b))
                        b++;
                /* '~' marks a pre-release: older. */
                if (*a == '~' || *b == '~') {
                        if ((r = CMP(*a != '~', *b != '~')))
                                return r;
                        a++, b++;
                }
                /* Except for '~', more segments is newer. */
                if (!*a || !*b)
                        return CMP(*a, *b);
                for (const char *sep = "-^."; *sep; sep++)
                        if (*a == *sep || *b == *sep) {
                                if ((r = CMP(*a != *sep, *b != *sep)))
                                        return r;
                                a++, b++;
                        }
                if (isdigit((unsigned char)*a) || isdigit((unsigned char)*b)) {
                        for (aa = a; isdigit((unsigned char)*aa); aa++)
                                ;
                        for (bb = b; isdigit((unsigned char)*bb); bb++)
                                ;
                        /* A numeric segment is newer than an alphabetic one. */
                        if ((r = CMP(a != aa, b != bb)))
                                return r;
                        while (*a == '0')
                                a++;
                        while (*b == '0')
                                b++;
                        if ((r = CMP(aa - a, bb - b)))
                                return r;
                        if ((r = CMP(strncmp(a, b, (size_t)(aa - a)), 0)))
                                return r;
                } else {
                        for (aa = a; isalpha((unsigned char)*aa); aa++)
                                ;
                        for (bb = b; isalpha((unsigned char)*bb); bb++)
                                ;
                        if ((r = CMP(strncmp(a, b, (size_t)(aa - a < bb - b ? aa - a : bb - b)), 0)))
                                return r;
                        if ((r = CMP(aa - a, bb - b)))
                                return r;
                }
                a = aa;
                b = bb;
        }
}

static char *lowercase(const char *s)
{
        char *l = s ? strdup(s) : NULL;

        for (char *p = l; p && *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return l;
}

static void entry_done(struct boot_menu_entry *e)
{
        free(e->file_name);
        free(e->id);
        free(e->sort_key);
        free(e->version);
        free(e->machine_id);
}

/* The first of keys that the .osrel has, as bootspec_pick_name_version_sort_key(). */
static char *osrel_pick(const char *osrel, size_t size, const char *const *keys)
{
        for (; *keys; keys++) {
                char *v = os_release_get(osrel, size, *keys);
                if (v)
                        return v;
        }
        return NULL;
}

/* Takes e over (freed on failure). */
static int menu_append(struct boot_menu *m, struct boot_menu_entry *e)
{
        struct boot_menu_entry *n = reallocarray(m->entries, m->n_entries + 1, sizeof(*n));

        if (n)
                m->entries = n;
        if (!e->file_name || !e->id || !n) {
                entry_done(e);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        m->entries[m->n_entries++] = *e;
        return 0;
}

int boot_menu_add(struct boot_menu *m, const char *file_name, const char *osrel, size_t osrel_size)
{
        static const char *const names[] = {"PRETTY_NAME", "IMAGE_ID", "NAME", "ID", NULL};
        static const char *const versions[] = {"IMAGE_VERSION", "VERSION", "VERSION_ID", "BUILD_ID", NULL};
        static const char *const sort_keys[] = {"IMAGE_ID", "ID", NULL};
        struct boot_menu_entry e = {.tries_left = -1, .tries_done = -1};
        _cleanup_free_ char *name = osrel_pick(osrel, osrel_size, names);
        size_t base;

        if (!name)
                return 0;
        boot_menu_remove(m, file_name);
        e.file_name = strdup(file_name);
        e.id = lowercase(file_name);
        e.sort_key = osrel_pick(osrel, osrel_size, sort_keys);
        e.version = osrel_pick(osrel, osrel_size, versions);
        (void)boot_counter_parse(file_name, ".efi", &base, &e.tries_left, &e.tries_done);
        return menu_append(m, &e);
}

/* The value of the first "key value" line of a loader.conf or Type #1 entry, blanks trimmed; NULL when
 * none. */
static char *config_get(const char *text, size_t size, const char *key)
{
        const char *p = text, *end = text + size;
        size_t k = strlen(key);

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)) ?: end, *v, *e = eol;
                while (p < eol && isspace((unsigned char)*p))
                        p++;
                if ((size_t)(eol - p) > k && strncmp(p, key, k) == 0 && isspace((unsigned char)p[k])) {
                        for (v = p + k; v < eol && isspace((unsigned char)*v); v++)
                                ;
                        while (e > v && isspace((unsigned char)e[-1]))
                                e--;
                        if (e > v)
                                return strndup(v, (size_t)(e - v));
                }
                p = eol + 1;
        }
        return NULL;
}

int boot_menu_add_type1(struct boot_menu *m, const char *file_name, const char *text, size_t size)
{
        struct boot_menu_entry e = {.tries_left = -1, .tries_done = -1, .type1 = true};
        _cleanup_free_ char *linux = config_get(text, size, "linux"), *efi = config_get(text, size, "efi");
        size_t base;

        if (!linux && !efi)
                return 0;
        boot_menu_remove(m, file_name);
        e.file_name = strdup(file_name);
        e.id = lowercase(file_name);
        e.sort_key = config_get(text, size, "sort-key");
        e.version = config_get(text, size, "version");
        e.machine_id = config_get(text, size, "machine-id");
        (void)boot_counter_parse(file_name, ".conf", &base, &e.tries_left, &e.tries_done);
        return menu_append(m, &e);
}

void boot_menu_remove(struct boot_menu *m, const char *file_name)
{
        for (size_t i = 0; i < m->n_entries; i++)
                if (strcmp(m->entries[i].file_name, file_name) == 0) {
                        entry_done(&m->entries[i]);
                        memmove(&m->entries[i], &m->entries[i + 1],
                                (m->n_entries - i - 1) * sizeof(*m->entries));
                        m->n_entries--;
                        return;
                }
}

static bool is_candidate(const struct dirent *de)
{
        size_t n = strlen(de->d_name);

        return de->d_name[0] != '.' && de->d_type != DT_DIR && strncmp(de->d_name, "auto-", 5) != 0 &&
               n >= 4 && strcasecmp(de->d_name + n - 4, ".efi") == 0;
}

int boot_menu_load(const char *esp, struct boot_menu *ret)
{
        struct boot_menu m = {};
        char path[PATH_MAX];
        DIR *d;
        int r = 0;

        snprintf(path, sizeof(path), "%s/EFI/Linux", esp);
        d = opendir(path);
        if (!d && errno != ENOENT)
                return log_error_errno(-errno, "%s: %m", path);
        for (struct dirent *de; d && r >= 0 && (de = readdir(d));) {
                struct pe_section_copy s = {.name = ".osrel"};
                char *message = NULL, *file = NULL;

                if (!is_candidate(de))
                        continue;
                if (asprintf(&file, "%s/%s", path, de->d_name) < 0) {
                        r = log_error_errno(-ENOMEM, "out of memory");
                        break;
                }
                if (pe_read_sections(file, &s, 1, &message) >= 0 && s.data && s.size > 0)
                        r = boot_menu_add(&m, de->d_name, (const char *)s.data, s.size);
                pe_section_copies_free(&s, 1);
                free(message);
                free(file);
        }
        if (d)
                closedir(d);
        if (r < 0) {
                boot_menu_done(&m);
                return r;
        }
        boot_menu_sort(&m);
        *ret = m;
        return 0;
}

/* config_entry_compare() of systemd-boot 252; type #2 entries have no machine-id, and no machine-id
 * sorts first. */
static int compare(const void *x, const void *y)
{
        const struct boot_menu_entry *a = x, *b = y;
        int r;

        /* No tries left: last. */
        if ((r = CMP(a->tries_left == 0, b->tries_left == 0)))
                return r;
        /* With a sort key before without. */
        if ((r = CMP(!a->sort_key, !b->sort_key)))
                return r;
        if (a->sort_key && b->sort_key) {
                if ((r = strcmp(a->sort_key, b->sort_key)))
                        return r;
                if ((r = CMP(!!a->machine_id, !!b->machine_id)) ||
                    (a->machine_id && b->machine_id && (r = strcmp(a->machine_id, b->machine_id))))
                        return r;
                /* Newest version first. */
                if ((r = -strverscmp_improved(a->version, b->version)))
                        return r;
        }
        if ((r = -strverscmp_improved(a->id, b->id)))
                return r;
        if (a->tries_left < 0 || b->tries_left < 0)
                return 0;
        if ((r = -CMP(a->tries_left, b->tries_left)))
                return r;
        return CMP(a->tries_done, b->tries_done);
}

void boot_menu_sort(struct boot_menu *m)
{
        if (m->n_entries > 1)
                qsort(m->entries, m->n_entries, sizeof(*m->entries), compare);
}

void boot_menu_done(struct boot_menu *m)
{
        for (size_t i = 0; i < m->n_entries; i++)
                entry_done(&m->entries[i]);
        free(m->entries);
        *m = (struct boot_menu){};
}

ssize_t boot_menu_find(const struct boot_menu *m, const char *pattern)
{
        _cleanup_free_ char *folded = lowercase(pattern);

        if (!folded)
                return -1;
        for (size_t i = 0; i < m->n_entries; i++)
                if (fnmatch(folded, m->entries[i].id, 0) == 0)
                        return (ssize_t)i;
        return -1;
}

/* config_default_entry_select(): the one-shot entry, then LoaderEntryDefault (or, when it is "@saved",
 * the last booted), then loader.conf's default (likewise), then the first entry. */
ssize_t boot_choice_efivar_default(const struct boot_menu *m, const struct boot_choice_state *s)
{
        bool saved = s->default_efivar && strcmp(s->default_efivar, SAVED) == 0;

        return boot_menu_find(m, saved ? s->last_booted : s->default_efivar);
}

ssize_t boot_choice_default(const struct boot_menu *m, const struct boot_choice_state *s)
{
        bool saved_efivar = s->default_efivar && strcmp(s->default_efivar, SAVED) == 0;
        bool saved_config = s->default_config && strcmp(s->default_config, SAVED) == 0;
        ssize_t i;

        if ((i = boot_menu_find(m, s->oneshot)) >= 0)
                return i;
        if ((i = boot_choice_efivar_default(m, s)) >= 0)
                return i;
        if (saved_config)
                i = saved_efivar ? -1 : boot_menu_find(m, s->last_booted);
        else
                i = boot_menu_find(m, s->default_config);
        if (i >= 0)
                return i;
        return m->n_entries > 0 ? 0 : -1;
}

char *loader_conf_default(const char *text, size_t size)
{
        return config_get(text, size, "default");
}

int boot_choice_state_load(const char *esp, struct boot_choice_state *ret)
{
        struct boot_choice_state s = {};
        _cleanup_free_ uint8_t *conf = NULL;
        char path[PATH_MAX];
        size_t size;

        (void)efivar_read_string("LoaderEntryOneShot", EFI_LOADER_GUID_STR, &s.oneshot);
        (void)efivar_read_string("LoaderEntryDefault", EFI_LOADER_GUID_STR, &s.default_efivar);
        (void)efivar_read_string("LoaderEntryLastBooted", EFI_LOADER_GUID_STR, &s.last_booted);
        snprintf(path, sizeof(path), "%s/" LOADER_CONF_PATH, esp);
        if (read_file(path, LOADER_CONF_MAX, &conf, &size) >= 0)
                s.default_config = loader_conf_default((const char *)conf, size);
        *ret = s;
        return 0;
}

void boot_choice_state_done(struct boot_choice_state *s)
{
        free(s->oneshot);
        free(s->default_efivar);
        free(s->last_booted);
        free(s->default_config);
        *s = (struct boot_choice_state){};
}
