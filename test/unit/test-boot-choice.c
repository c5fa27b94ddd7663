/* SPDX-License-Identifier: MIT */
/* Entry names and the model of systemd-boot's choice. Expected values come from systemd: the version
 * order documented in string-util-fundamental.c, config_entry_parse_tries()'s grammar and
 * config_entry_compare() / config_default_entry_select() of systemd-boot 252 (systemd-stub-spec.md
 * §6.2-6.4), derived by hand. */
#include <stdlib.h>
#include <string.h>

#include "boot-choice.h"
#include "entry-name.h"
#include "tests.h"
#include "util.h"

#define H52 "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"

static void test_strverscmp_improved(void)
{
        /* Oldest to newest, as systemd's comment lists them. */
        static const char *const order[] = {"122.1",   "123~rc1-1", "123",     "123-a",
                                            "123-a.1", "123-1",     "123-1.1", "123^post1",
                                            "123.a-1", "123.1-1",   "123a-1",  "124-1"};

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                check(strverscmp_improved(order[i], order[i]) == 0, "%s == itself", order[i]);
                for (size_t j = i + 1; j < ELEMENTSOF(order); j++) {
                        check(strverscmp_improved(order[i], order[j]) < 0, "%s < %s", order[i], order[j]);
                        check(strverscmp_improved(order[j], order[i]) > 0, "%s > %s", order[j], order[i]);
                }
        }
        check(strverscmp_improved("nixos-generation-10-a", "nixos-generation-9-z") > 0, "10 > 9");
        check(strverscmp_improved("00123", "123") == 0, "leading zeros");
        check(strverscmp_improved(NULL, "") == 0 && strverscmp_improved(NULL, "1") < 0, "NULL is empty");
        /* A parent's VERSION_ID against its specialisation's: the number is newer than the word. */
        check(strverscmp_improved("Generation 3, 2026-11-04",
                                  "Generation 3, specialisation docked, 2026-11-04") > 0,
              "parent first");
}

static void test_boot_counter(void)
{
        static const struct {
                const char *name;
                size_t base;
                int left, done;
        } cases[] = {
                {"a+3.efi", 1, 3, 0},       {"a+3-1.efi", 1, 3, 1},  {"a+0-12.efi", 1, 0, 12},
                {"a.efi", 1, -1, -1},       {"a+.efi", 2, -1, -1},   {"a+3-.efi", 4, -1, -1},
                {"a+x.efi", 3, -1, -1},     {"a+-1.efi", 4, -1, -1}, {"a+1+2.efi", 3, 2, 0},
                {"A+3.EFI", 1, 3, 0},       {"a-1.efi", 3, -1, -1},  {"+5.efi", 0, 5, 0},
                {"a+3-1-2.efi", 7, -1, -1},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t base = 99;
                int left = 99, done = 99;
                bool ok = boot_counter_parse(cases[i].name, ".efi", &base, &left, &done);
                check(ok && base == cases[i].base && left == cases[i].left && done == cases[i].done,
                      "%s: base %zu left %d done %d", cases[i].name, base, left, done);
        }
        {
                size_t base;
                int left, done;
                check(!boot_counter_parse("a.conf", ".efi", &base, &left, &done), "suffix");
        }
}

static void test_entry_names(void)
{
        static const struct {
                const char *name;
                unsigned generation;
                const char *spec;
                int left, done;
        } good[] = {
                {"nixos-generation-1-" H52 ".efi", 1, NULL, -1, -1},
                {"nixos-generation-42-" H52 "+3.efi", 42, NULL, 3, 0},
                {"nixos-generation-7-specialisation-Big-" H52 "+2-1.efi", 7, "Big", 2, 1},
                {"nixos-generation-7-specialisation-a+3-" H52 ".efi", 7, "a+3", -1, -1},
                {"nixos-generation-7-specialisation-a+3-" H52 "+0-2.efi", 7, "a+3", 0, 2},
                {"nixos-generation-7-specialisation-x-specialisation-y-" H52 ".efi", 7, "x-specialisation-y",
                 -1, -1},
        };
        static const char *const bad[] = {
                "nixos-rescue.efi",
                "nixos-generation-1-" H52,
                "nixos-generation-1-" H52 ".EFI",
                "nixos-generation-01-" H52 ".efi",
                "nixos-generation--" H52 ".efi",
                "nixos-generation-x-" H52 ".efi",
                "nixos-generation-1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST.efi",
                "nixos-generation-1-" H52 "x.efi",
                "nixos-generation-1-specialisation--" H52 ".efi",
                "nixos-generation-1-" H52 "+x.efi",
                "other-generation-1-" H52 ".efi",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                struct entry_name n = {};
                int r = entry_name_parse(good[i].name, &n);
                check(r == 0 && n.generation == good[i].generation &&
                              (good[i].spec ? n.specialisation && strcmp(n.specialisation, good[i].spec) == 0
                                            : !n.specialisation) &&
                              n.tries_left == good[i].left && n.tries_done == good[i].done && n.stem &&
                              strncmp(n.stem, good[i].name, strlen(n.stem)) == 0 &&
                              strncmp(n.stem + strlen(n.stem) - 52, H52, 52) == 0,
                      "%s: %d gen %u spec %s", good[i].name, r, n.generation, n.specialisation ?: "-");
                entry_name_done(&n);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check(!entry_name_is_ours(bad[i]), "%s taken for ours", bad[i]);

        check(payload_name_is_ours("kernel-6.1.0-" H52 ".efi"), "kernel");
        check(payload_name_is_ours("initrd-unknown-" H52 ".efi"), "initrd");
        check(!payload_name_is_ours("kernel-" H52 ".efi"), "no kver");
        check(!payload_name_is_ours("memtest86.efi"), "memtest");
        check(!payload_name_is_ours("kernel-6.1/x-" H52 ".efi"), "slash");
        {
                char *v = payload_name_version("initrd-6.1.0_rc1+x-" H52 ".efi");
                check(v && strcmp(v, "6.1.0_rc1+x") == 0, "version: %s", v ?: "(null)");
                free(v);
        }
}

static void test_id_matches(void)
{
        const char *file = "nixos-generation-3-specialisation-Big-" H52 "+2-1.efi";

        /* systemd-boot 252 exported the id at menu time (+3), lower-cased; newer ones drop the counter. */
        check(entry_id_matches_file("nixos-generation-3-specialisation-big-" H52 "+3.efi", file), "252 id");
        check(entry_id_matches_file("nixos-generation-3-specialisation-big-" H52 ".efi", file), "newer id");
        check(!entry_id_matches_file("nixos-generation-3-specialisation-big-" H52 "x.efi", file), "other");
        check(!entry_id_matches_file("nixos-generation-3-specialisation-bi-" H52 "+3.efi", file), "prefix");
        check(!entry_id_matches_file(NULL, file), "NULL");
}

#define OSREL(v) "ID=nixos\nPRETTY_NAME=NixOS (" v ")\nVERSION_ID=" v "\n"

static int add(struct boot_menu *m, const char *name, const char *osrel)
{
        return boot_menu_add(m, name, osrel, strlen(osrel));
}

static const char *name_of(const struct boot_menu *m, ssize_t i)
{
        return i < 0 ? "(none)" : m->entries[i].file_name;
}

static void test_choice(void)
{
        struct boot_menu m = {};
        struct boot_choice_state s = {};
        ssize_t i;

        check(add(&m, "nixos-generation-9-a.efi", OSREL("Generation 9, 2026-11-01")) == 0, "add");
        check(add(&m, "nixos-generation-10-b+0-3.efi", OSREL("Generation 10, 2026-11-02")) == 0, "add");
        check(add(&m, "nixos-generation-10-spec-c+2.efi",
                  OSREL("Generation 10, specialisation x, 2026-11-02")) == 0,
              "add");
        check(add(&m, "Other.efi", "NAME=Other\n") == 0, "add");
        check(add(&m, "nameless.efi", "VERSION_ID=1\n") == 0 && m.n_entries == 4, "nameless");
        boot_menu_sort(&m);
        /* No tries left: last; with a sort key before without; newest version first. */
        check(strcmp(m.entries[0].file_name, "nixos-generation-10-spec-c+2.efi") == 0 &&
                      strcmp(m.entries[1].file_name, "nixos-generation-9-a.efi") == 0 &&
                      strcmp(m.entries[2].file_name, "Other.efi") == 0 &&
                      strcmp(m.entries[3].file_name, "nixos-generation-10-b+0-3.efi") == 0,
              "order: %s %s %s %s", m.entries[0].file_name, m.entries[1].file_name, m.entries[2].file_name,
              m.entries[3].file_name);
        check(strcmp(m.entries[2].id, "other.efi") == 0, "id lower-cased: %s", m.entries[2].id);

        i = boot_choice_default(&m, &s);
        check(i == 0, "first entry: %s", name_of(&m, i));
        s.default_config = "nixos-generation-1*";
        i = boot_choice_default(&m, &s);
        check(i == 0, "the first match of the glob: %s", name_of(&m, i));
        s.default_config = "NIXOS-GENERATION-9-*";
        i = boot_choice_default(&m, &s);
        check(i == 1, "glob, case folded: %s", name_of(&m, i));
        s.default_efivar = "other.efi";
        i = boot_choice_default(&m, &s);
        check(i == 2, "LoaderEntryDefault before loader.conf: %s", name_of(&m, i));
        s.oneshot = "nixos-generation-10-b+0-3.efi";
        i = boot_choice_default(&m, &s);
        check(i == 3, "LoaderEntryOneShot first: %s", name_of(&m, i));
        s.oneshot = "missing.efi";
        s.default_efivar = "@saved";
        s.last_booted = "nixos-generation-9-a.efi";
        s.default_config = "other.efi";
        i = boot_choice_default(&m, &s);
        check(i == 1, "@saved: %s", name_of(&m, i));
        s.default_efivar = NULL;
        s.default_config = "@saved";
        i = boot_choice_default(&m, &s);
        check(i == 1, "loader.conf @saved: %s", name_of(&m, i));
        s.last_booted = "gone.efi";
        i = boot_choice_default(&m, &s);
        check(i == 0, "@saved, nothing saved: %s", name_of(&m, i));
        boot_menu_remove(&m, "nixos-generation-10-spec-c+2.efi");
        check(m.n_entries == 3 && boot_menu_find(&m, "*spec*") == -1, "remove");
        boot_menu_done(&m);
}

#define TYPE1(key, version, mid)                                                                            \
        "title NixOS\nsort-key " key "\nversion " version "\nlinux /EFI/nixos/k-bzImage.efi\n" mid

static int add1(struct boot_menu *m, const char *name, const char *text)
{
        return boot_menu_add_type1(m, name, text, strlen(text));
}

/* Type #1 entries beside ours (a migration from plain systemd-boot): config_entry_compare() puts the
 * lower sort key first, then no machine-id before one, then the newer version; without linux or efi there
 * is no entry. */
static void test_type1(void)
{
        struct boot_menu m = {};
        struct boot_choice_state s = {.default_config = "nixos-*"};
        ssize_t i;

        check(add(&m, "nixos-generation-2-a.efi",
                  "ID=lanza\nPRETTY_NAME=NixOS\nVERSION_ID=Generation 2\n") == 0,
              "add");
        check(add1(&m, "nixos-generation-2.conf", TYPE1("nixos", "Generation 2", "machine-id 01\n")) == 0 &&
                      add1(&m, "nixos-generation-3+1-2.conf",
                           TYPE1("nixos", "Generation 3", "machine-id 01\n")) == 0 &&
                      add1(&m, "memtest.conf", "title memtest\n") == 0 && m.n_entries == 3,
              "add Type #1, skip one without linux: %zu", m.n_entries);
        boot_menu_sort(&m);
        check(strcmp(m.entries[0].file_name, "nixos-generation-2-a.efi") == 0 &&
                      strcmp(m.entries[1].file_name, "nixos-generation-3+1-2.conf") == 0 &&
                      m.entries[1].type1 && m.entries[1].tries_left == 1 && m.entries[1].tries_done == 2,
              "lanza before nixos, newest Type #1 next: %s %s", m.entries[0].file_name,
              m.entries[1].file_name);
        i = boot_choice_default(&m, &s);
        check(i == 0, "nixos-* picks ours: %s", name_of(&m, i));
        check(add1(&m, "nixos-generation-1.conf", TYPE1("aaa", "Generation 1", "")) == 0, "add");
        check(add1(&m, "nixos-generation-4.conf", TYPE1("lanza", "Generation 4", "machine-id 00\n")) == 0,
              "add");
        boot_menu_sort(&m);
        i = boot_choice_default(&m, &s);
        check(i == 0 && m.entries[i].type1 && strcmp(name_of(&m, i), "nixos-generation-1.conf") == 0,
              "a lower sort key wins: %s", name_of(&m, i));
        check(strcmp(m.entries[1].file_name, "nixos-generation-2-a.efi") == 0,
              "same sort key: no machine-id first: %s", m.entries[1].file_name);
        boot_menu_done(&m);
}

static void test_loader_conf(void)
{
        static const char text[] =
                "# default nope\ntimeout 0\n  default\tnixos-generation-3-*  \neditor no\n";
        char *d = loader_conf_default(text, strlen(text));

        check(d && strcmp(d, "nixos-generation-3-*") == 0, "default: %s", d ?: "(null)");
        free(d);
        check(!loader_conf_default("defaultx y\n", 11), "defaultx");
}

int main(void)
{
        test_strverscmp_improved();
        test_boot_counter();
        test_entry_names();
        test_id_matches();
        test_choice();
        test_type1();
        test_loader_conf();
        return tests_finish();
}
