/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The one model of systemd-boot's choice of entry (reference/systemd-stub-spec.md §6.1-6.4, v252
 * config_entry_compare() and config_default_entry_select()): install, GC, list and status ask it which
 * entry boots next. boot_menu_load() finds the Type #2 entries (the .efi files in EFI/Linux), the only ones
 * lanzatool writes; boot_menu_add_type1() adds a Type #1 entry (a .conf file in loader/entries) that a
 * migration from plain systemd-boot leaves beside them. */

/* systemd's strverscmp_improved(): <0, 0, >0 as a is older, equal, newer than b. NULL is "". */
int strverscmp_improved(const char *a, const char *b);

struct boot_menu_entry {
        char *file_name;            /* in EFI/Linux */
        char *id;                   /* systemd-boot 252's id: the file name lower-cased, counter included */
        char *sort_key;             /* .osrel IMAGE_ID, else ID; NULL: none */
        char *version;              /* .osrel IMAGE_VERSION, VERSION, VERSION_ID or BUILD_ID; NULL: none */
        char *machine_id;           /* Type #1 "machine-id"; NULL: none (always for Type #2) */
        int tries_left, tries_done; /* -1: no boot counter */
        bool type1;                 /* file_name is in loader/entries */
};

struct boot_menu {
        struct boot_menu_entry *entries; /* in menu order once sorted */
        size_t n_entries;
};

/* What else systemd-boot reads to choose; patterns as stored, NULL when unset. */
struct boot_choice_state {
        char *oneshot;        /* LoaderEntryOneShot */
        char *default_efivar; /* LoaderEntryDefault ("@saved": use LoaderEntryLastBooted) */
        char *last_booted;    /* LoaderEntryLastBooted */
        char *default_config; /* loader.conf's "default" ("@saved" likewise) */
};

/* Adds an entry from its file name and .osrel text; an .osrel without a name (PRETTY_NAME, IMAGE_ID,
 * NAME or ID) is no entry for systemd-boot and is skipped. Replaces an entry of the same file name. */
int boot_menu_add(struct boot_menu *m, const char *file_name, const char *osrel, size_t osrel_size);
/* Adds a Type #1 entry from its file name in loader/entries and its text: "sort-key", "version" and
 * "machine-id" lines as systemd-boot reads them; a text without "linux" or "efi" is no entry and is
 * skipped. */
int boot_menu_add_type1(struct boot_menu *m, const char *file_name, const char *text, size_t size);
/* Drops the entry of that file name, if any. */
void boot_menu_remove(struct boot_menu *m, const char *file_name);
/* Every candidate in ESP/EFI/Linux as systemd-boot 252 finds them: *.efi (any case), not "auto-*",
 * not a dot file, with a non-empty .osrel. */
int boot_menu_load(const char *esp, struct boot_menu *ret);
/* Sorts in menu order (config_entry_compare). */
void boot_menu_sort(struct boot_menu *m);
void boot_menu_done(struct boot_menu *m);

/* The first entry (in menu order) that pattern selects as systemd-boot's config_entry_find() does
 * (a case-folded glob over the id); -1 when none or pattern is NULL. */
ssize_t boot_menu_find(const struct boot_menu *m, const char *pattern);

/* The entry LoaderEntryDefault selects (LoaderEntryLastBooted's when it is "@saved"), -1 when none. */
ssize_t boot_choice_efivar_default(const struct boot_menu *m, const struct boot_choice_state *s);

/* The index of the entry systemd-boot boots next from the sorted menu m, -1 when none. */
ssize_t boot_choice_default(const struct boot_menu *m, const struct boot_choice_state *s);

/* The "default" of a loader.conf text, NULL when it has none. */
char *loader_conf_default(const char *text, size_t size);

/* Reads the variables (through efivars.h) and ESP/loader/loader.conf. */
int boot_choice_state_load(const char *esp, struct boot_choice_state *ret);
void boot_choice_state_done(struct boot_choice_state *s);
