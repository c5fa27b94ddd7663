/* SPDX-License-Identifier: MIT */
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "entry-name.h"
#include "esp.h"
#include "inventory.h"
#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "plan.h"
#include "targets.h"
#include "util.h"

static void kernel_version(const char *kernel, char *buf, size_t size)
{
        _cleanup_free_ char *v = kernel ? payload_name_version(kernel) : NULL;

        snprintf(buf, size, "%s", v ?: "-");
}

/* As ls -h: 46K, 8.9M. */
static const char *human_size(uint64_t size, char buf[16])
{
        if (size < 1024 * 1024)
                snprintf(buf, 16, "%.0fK", (double)size / 1024.0);
        else
                snprintf(buf, 16, "%.1fM", (double)size / (1024.0 * 1024.0));
        return buf;
}

/* Names as bootctl list --json where the meaning is the same: id, path, sortKey, version, isDefault,
 * isSelected; esp: the ESP the entry belongs to (its stub is under boot, the XBOOTLDR partition when
 * there is one). Adds to a, the one array for every ESP. */
static void add_json(struct json_object *a, const char *esp, const char *boot, const struct inventory *inv)
{
        for (size_t i = 0; i < inv->n_entries; i++) {
                const struct inventory_entry *e = &inv->entries[i];
                struct json_object *o = json_object_new_object();
                char kver[128];

                kernel_version(e->kernel, kver, sizeof(kver));
                char path[PATH_MAX];

                snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR "/%s", boot, e->name);
                json_object_object_add(o, "id", json_object_new_string(e->name));
                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_object_add(o, "esp", json_object_new_string(esp));
                json_object_object_add(o, "title",
                                       e->pretty_name ? json_object_new_string(e->pretty_name) : NULL);
                json_object_object_add(o, "generation", json_object_new_int64(e->generation));
                json_object_object_add(o, "specialisation",
                                       e->specialisation ? json_object_new_string(e->specialisation) : NULL);
                json_object_object_add(o, "version", json_object_new_string(kver));
                json_object_object_add(o, "sortKey",
                                       e->sort_key ? json_object_new_string(e->sort_key) : NULL);
                json_object_object_add(o, "isDefault", json_object_new_boolean(e->is_default));
                json_object_object_add(o, "isSelected", json_object_new_boolean(e->booted));
                json_object_object_add(o, "signed",
                                       e->signature < 0 ? NULL : json_object_new_boolean(e->signature));
                json_object_object_add(o, "ok", json_object_new_boolean(!e->problem));
                json_object_object_add(o, "problem", e->problem ? json_object_new_string(e->problem) : NULL);
                json_object_object_add(o, "stubSize", json_object_new_int64((int64_t)e->stub_size));
                json_object_object_add(o, "pinnedSize", json_object_new_int64((int64_t)e->pinned_size));
                json_object_array_add(a, o);
        }
}

static void print_table(const struct inventory *inv)
{
        /* STUB: the entry's own bytes; PINNED: the kernel and initrd, stored once and shared by the
         * entries that pin the same ones. */
        printf("%4s %-14s %-16s %-10s %-3s %-6s %-6s %5s %7s  %s\n", "GEN", "SPECIALISATION", "KERNEL",
               "SORT-KEY", "DEF", "BOOTED", "SIGNED", "STUB", "PINNED", "ENTRY");
        for (size_t i = 0; i < inv->n_entries; i++) {
                const struct inventory_entry *e = &inv->entries[i];
                char kver[128], stub[16], pinned[16];

                kernel_version(e->kernel, kver, sizeof(kver));
                printf("%4u %-14s %-16s %-10s %-3s %-6s %-6s %5s %7s  %s%s%s\n", e->generation,
                       e->specialisation ?: "-", kver, e->sort_key ?: "-", e->is_default ? "*" : "",
                       e->booted ? "*" : "",
                       e->signature < 0 ? "?"
                       : e->signature   ? "yes"
                                        : "NO",
                       human_size(e->stub_size, stub), human_size(e->pinned_size, pinned), e->name,
                       e->problem ? "  ! " : "", e->problem ?: "");
        }
}

int verb_list(int argc, char *argv[])
{
        struct target *t = NULL;
        size_t n = 0;
        X509 *cert = NULL;
        struct json_object *a = arg.json == JSON_OFF ? NULL : json_object_new_array();
        int r;

        (void)argc, (void)argv;
        r = targets_find_certificate(&t, &n, &cert);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct inventory inv;
                char name[2 * PATH_MAX + 16];

                r = inventory_load(t[i].boot->path, t[i].esp.path, cert, &inv);
                if (r < 0)
                        break;
                /* Several ESPs (or an XBOOTLDR partition): a heading names where the entries are. */
                if (arg.json == JSON_OFF && (n > 1 || t[i].xbootldr.path))
                        printf("%s%s:\n", i > 0 ? "\n" : "", target_name(&t[i], name, sizeof(name)));
                if (a)
                        add_json(a, t[i].esp.path, t[i].boot->path, &inv);
                else
                        print_table(&inv);
                inventory_done(&inv);
        }
        /* One document for every ESP: an array of entries, as bootctl list --json prints. */
        if (a && r >= 0)
                json_print(a);
        else
                json_object_put(a);
        X509_free(cert);
        targets_free(t, n);
        return r < 0 ? 1 : 0;
}
