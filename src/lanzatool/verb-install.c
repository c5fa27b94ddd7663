/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "boot-choice.h"
#include "db-trust.h"
#include "efivars.h"
#include "entry-name.h"
#include "esp.h"
#include "fs-util.h"
#include "gc.h"
#include "generation.h"
#include "hash-cache.h"
#include "kernel-check.h"
#include "lanzatool.h"
#include "leftovers.h"
#include "log.h"
#include "migrate.h"
#include "pcrsig.h"
#include "plan.h"
#include "progress.h"
#include "targets.h"
#include "util.h"

#define STUB_MAX_SIZE (16u << 20)

/* The install on one target (targets.h); several targets are each planned and checked before any is
 * written. */
struct install {
        const struct target *t;
        struct pki pki;
        const struct efi_arch *arch; /* of every generation given */
        char *stub_path;
        uint8_t *stub;
        size_t stub_size;
        struct generation **generations;
        size_t n_generations;
        unsigned *skipped; /* numbers of broken generations: their entries on the ESP stay */
        size_t n_skipped;
        unsigned newest;                      /* the highest generation number given */
        const struct generation *default_gen; /* --default-generation */
        struct plan plan;
        struct systemd_boot_plan sdboot;
        struct enroll_esp_plan auto_enroll;
        struct migration migration; /* what the ESP held before: upstream's or plain systemd-boot's files */
        char **keep;                /* entry names that survive: the planned ones and the booted one */
        char **keep_payloads;       /* payload names of the planned entries */
        char *previous_default;     /* what systemd-boot boots now */
        char *default_pattern;      /* loader.conf's default for --default-generation */
        struct gc_plan space_gc;    /* what ensure_space() found must go first to make room */
        unsigned files_written;
        struct json_object *files; /* --json: what was (with --dry-run: would be) written, kept, removed */
        unsigned limit_floor;      /* generations below this are beyond --configuration-limit; 0: none */
        struct hash_cache *cache;  /* NULL: none (--state-dir=) */
};

static void install_done(struct install *c)
{
        for (size_t i = 0; i < c->n_generations; i++)
                generation_free(c->generations[i]);
        free(c->generations);
        free(c->skipped);
        plan_done(&c->plan);
        json_object_put(c->files);
        systemd_boot_plan_done(&c->sdboot);
        enroll_esp_plan_done(&c->auto_enroll);
        migration_done(&c->migration);
        strv_free(c->keep);
        strv_free(c->keep_payloads);
        free(c->previous_default);
        free(c->default_pattern);
        free(c->stub_path);
        free(c->stub);
        gc_plan_done(&c->space_gc);
        hash_cache_free(c->cache);
        pki_done(&c->pki);
}

/* The same file or directory, symbolic links followed. */
static bool same_file(const char *a, const char *b)
{
        struct stat x, y;

        return a && b && stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
               x.st_ino == y.st_ino;
}

/* Never brick: with Secure Boot enforcing, the firmware's db must trust what we sign with. */
static int check_firmware_trust(const struct install *c)
{
        _cleanup_free_ char *summary = NULL;
        char *subject;
        int r = firmware_trusts_certificate(c->pki.db.certificate, &summary);

        if (r != 0)
                return 0; /* trusted, not enforcing, or unknown (no efivarfs) */
        subject = X509_NAME_oneline(X509_get_subject_name(c->pki.db.certificate), NULL, 0);
        if (arg.allow_untrusted_key)
                log_warning("the firmware's db does not trust %s (db holds: %s); signing with it anyway "
                            "(--allow-untrusted-key): the next boot will fail Secure Boot",
                            subject ?: "?", summary ?: "?");
        else
                r = log_error_errno(-EKEYREJECTED,
                                    "%s/keys/db/db.pem: the firmware's db does not trust %s (db holds: %s); "
                                    "nothing was changed (wrong or regenerated --pki-bundle? "
                                    "--allow-untrusted-key overrides)",
                                    arg.pki_bundle, subject ?: "?", summary ?: "?");
        OPENSSL_free(subject);
        return r;
}

/* error: what loading or planning the generation gave, logged already. Fatal for the newest and the
 * default generation. */
static int skip_generation(struct install *c, unsigned number, const char *path, int error)
{
        unsigned *n;

        if (number == c->newest || (arg.default_generation && same_file(path, arg.default_generation)))
                return error;
        log_warning("%s: skipped, its entries on the ESP stay as they are", path);
        n = reallocarray(c->skipped, c->n_skipped + 1, sizeof(*n));
        if (!n)
                return log_error_errno(-ENOMEM, "out of memory");
        c->skipped = n;
        c->skipped[c->n_skipped++] = number;
        return 0;
}

/* A generation that cannot be loaded is skipped with a warning, unless it is the newest or the
 * default one. */
static int load_generations(struct install *c, int argc, char *argv[])
{
        c->generations = calloc((size_t)argc, sizeof(*c->generations));
        if (!c->generations)
                return log_error_errno(-ENOMEM, "out of memory");
        for (int i = 0; i < argc; i++) {
                unsigned n;
                int r = generation_number(argv[i], &n);
                if (r < 0)
                        return r;
                c->newest = n > c->newest ? n : c->newest;
        }
        for (int i = 0; i < argc; i++) {
                unsigned n = 0;
                int error = generation_load(argv[i], &c->generations[c->n_generations]), r;
                if (error >= 0)
                        c->n_generations++;
                else if ((r = generation_number(argv[i], &n)) < 0 ||
                         (r = skip_generation(c, n, argv[i], error)) < 0)
                        return r;
        }
        generations_sort(c->generations, c->n_generations);
        return 0;
}

/* --default-generation names one of the generations given, by its path or its toplevel. */
static int find_default_generation(struct install *c)
{
        if (!arg.default_generation)
                return 0;
        for (size_t i = 0; i < c->n_generations; i++)
                if (same_file(c->generations[i]->path, arg.default_generation) ||
                    same_file(c->generations[i]->bootspec->toplevel, arg.default_generation)) {
                        c->default_gen = c->generations[i];
                        return 0;
                }
        return log_error_errno(-EINVAL, "--default-generation=%s: not one of the generations given",
                               arg.default_generation);
}

/* The limit counts generations, not entries: specialisations come with their parent. The default
 * generation stays whatever its age. */
static void apply_limit(struct install *c)
{
        size_t drop, kept = 0;

        if (arg.configuration_limit == 0 || c->n_generations <= arg.configuration_limit)
                return;
        drop = c->n_generations - arg.configuration_limit;
        c->limit_floor = c->generations[drop]->number;
        for (size_t i = 0; i < c->n_generations; i++)
                if (i < drop && c->generations[i] != c->default_gen)
                        generation_free(c->generations[i]);
                else
                        c->generations[kept++] = c->generations[i];
        c->n_generations = kept;
}

/* Refused here, before anything is written, rather than by the stub at boot. A kernel the cache knows on
 * the ESP passed this check in the install that wrote it. */
static int check_kernels(const struct plan *p)
{
        for (size_t i = 0; i < p->n_payloads; i++) {
                const char *reason = NULL;

                if (strncmp(p->payloads[i].name, "kernel-", strlen("kernel-")) == 0 &&
                    !p->payloads[i].known && kernel_check_file(p->payloads[i].source, &reason) < 0)
                        return log_error_errno(-ENOEXEC, "%s: the stub cannot boot this kernel: %s",
                                               p->payloads[i].source, reason);
        }
        return 0;
}

/* One decision about one file under part (the ESP or the boot partition): a -v line, and with --json an
 * element of c->files in bootctl's words where they mean the same (id: the file name, path: absolute). */
static void decision(struct install *c, const char *part, const char *type, const char *dir,
                     const char *name, const char *action, const char *why)
{
        const char *id = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        _cleanup_free_ char *path = NULL;
        struct json_object *o;

        log_debug("%s %s%s%s: %s", action, dir ?: "", dir ? "/" : "", name, why);
        if (arg.json == JSON_OFF)
                return;
        if (!c->files && !(c->files = json_object_new_array()))
                return;
        if (asprintf(&path, "%s/%s%s%s", part, dir ?: "", dir ? "/" : "", name) < 0 ||
            !(o = json_object_new_object()))
                return;
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "action", json_object_new_string(action));
        json_object_object_add(o, "reason", json_object_new_string(why));
        json_object_array_add(c->files, o);
}

/* One decision per payload and stub, kept or written, and why (plan_match_esp() decided). */
static void log_decisions(struct install *c)
{
        const struct plan *p = &c->plan;

        for (size_t i = 0; i < p->n_payloads; i++)
                decision(c, c->t->boot->path, "payload", ESP_NIXOS_DIR, p->payloads[i].name,
                         p->payloads[i].present ? "keep" : "write", p->payloads[i].why);
        for (size_t i = 0; i < p->n_entries; i++)
                decision(c, c->t->boot->path, "entry", ESP_LINUX_DIR, p->entries[i].file_name,
                         p->entries[i].present ? "keep" : "write", p->entries[i].why);
}

/* systemd-boot (both of its paths) and loader.conf on the ESP. */
static void log_loader_decisions(struct install *c)
{
        const struct systemd_boot_plan *sd = &c->sdboot;

        for (size_t i = 0; i < 2; i++)
                decision(c, c->t->esp.path, "boot-loader", NULL, sd->paths[i],
                         sd->write[i] ? "write" : "keep",
                         sd->write[i] ? "missing, or not the signed systemd-boot to install" : "up to date");
        decision(c, c->t->esp.path, "loader.conf", NULL, LOADER_CONF_PATH,
                 sd->write_loader_conf ? "write" : "keep",
                 sd->write_loader_conf ? "missing or different" : "up to date");
}

static int build_plan(struct install *c)
{
        struct pcr_signer signer = {};
        const struct plan_inputs in = {
                .pki = &c->pki,
                .stub = c->stub,
                .stub_size = c->stub_size,
                .stub_path = c->stub_path,
                .boot_counting = arg.boot_counting,
                .esp_fd = c->t->boot->fd,
                .pcr_signer = arg.pcr_private_key ? &signer : NULL,
        };
        char *message = NULL;
        int r = 0;

        if (arg.pcr_public_key && !arg.pcr_private_key)
                return log_error_errno(-EINVAL, "--pcr-public-key= needs --pcr-private-key=");
        if (arg.pcr_private_key && (r = pcr_signer_load(arg.pcr_private_key, arg.pcr_public_key,
                                                        arg.pcr_banks, arg.phases, &signer, &message)) < 0) {
                log_error("%s", message ?: strerror(-r));
                free(message);
                return r;
        }
        c->plan.cache = c->cache;
        c->plan.esp_path = c->t->boot->path;
        progress_begin("hashing", 0, 0, arg.quiet);
        for (size_t i = 0; r >= 0 && i < c->n_generations; i++) {
                const struct generation *g = c->generations[i];
                if ((r = plan_add_generation(&c->plan, &in, g)) < 0)
                        r = skip_generation(c, g->number, g->path, r);
        }
        if (r >= 0)
                r = plan_match_esp(&c->plan, c->t->boot->fd, arg.boot_counting);
        if (r >= 0)
                log_decisions(c);
        if (r >= 0)
                r = check_kernels(&c->plan);
        progress_end();
        pcr_signer_done(&signer);
        return r;
}

/* --default-generation: loader.conf's default selects exactly its entry ("<stem>*" matches the name
 * with or without a boot counter, and no other entry: the stem ends in the input hash). */
static int set_default_pattern(struct install *c)
{
        if (!c->default_gen)
                return 0;
        for (size_t i = 0; i < c->plan.n_entries; i++) {
                const struct entry *e = &c->plan.entries[i];
                if (e->generation == c->default_gen->number && !e->specialisation) {
                        if (asprintf(&c->default_pattern, "%s*", e->stem) < 0)
                                return log_error_errno(-ENOMEM, "out of memory");
                        arg.loader.default_entry = c->default_pattern;
                        return 0;
                }
        }
        return log_error_errno(-EINVAL, "%s: no entry planned for the default generation",
                               c->default_gen->path);
}

static int keep_name(char ***keep, const char *name, const char *why)
{
        if (strv_contains(*keep, name))
                return 0;
        if (why) /* NULL: a planned entry, whose decision log_decisions() showed */
                log_debug("keep " ESP_LINUX_DIR "/%s: %s", name, why);
        return strv_extend(keep, name) < 0 ? log_error_errno(-ENOMEM, "out of memory") : 0;
}

/* Turns the menu of now into the menu once the planned entries are written. A kept name (the booted
 * entry: its counter and LoaderBootCountPath live there) is not replaced by a rewrite of its entry;
 * it stays beside the new file until it is no longer needed. */
static int menu_apply_plan(struct install *c, struct boot_menu *m)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->plan.n_entries; i++) {
                struct entry *e = &c->plan.entries[i];
                if (e->replaces && strv_contains(c->keep, e->replaces)) {
                        log_debug("keeping %s beside %s", e->replaces, e->file_name);
                        free(e->replaces);
                        e->replaces = NULL;
                }
                if (e->replaces)
                        boot_menu_remove(m, e->replaces);
                if (e->osrel)
                        r = boot_menu_add(m, e->file_name, e->osrel, strlen(e->osrel));
        }
        boot_menu_sort(m);
        return r;
}

/* The entries systemd-boot was told to boot (LoaderEntrySelected at menu time, LoaderBootCountPath
 * after its rename), whatever counter and case their names have now. */
static int keep_booted(struct install *c, const struct boot_menu *now)
{
        _cleanup_free_ char *selected = NULL, *count_path = NULL;
        const char *count_name = NULL;
        int r = 0;

        (void)efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &selected);
        if (efivar_read_string("LoaderBootCountPath", EFI_LOADER_GUID_STR, &count_path) >= 0)
                count_name = strrchr(count_path, '\\') ? strrchr(count_path, '\\') + 1 : count_path;
        for (size_t i = 0; r >= 0 && i < now->n_entries; i++) {
                const char *f = now->entries[i].file_name;
                if (entry_id_matches_file(selected, f) || entry_id_matches_file(count_name, f))
                        r = keep_name(&c->keep, f, "booted");
        }
        return r;
}

/* With boot counting, the newest of our entries that systemd-bless-boot blessed (no counter). */
static int keep_newest_blessed(struct install *c, const struct boot_menu *now)
{
        const char *best = NULL;
        unsigned best_gen = 0;

        if (arg.boot_counting == 0)
                return 0;
        for (size_t i = 0; i < now->n_entries; i++) {
                struct entry_name n;
                if (entry_name_parse(now->entries[i].file_name, &n) < 0)
                        continue;
                if (n.tries_left < 0 && !n.specialisation && (!best || n.generation > best_gen)) {
                        best = now->entries[i].file_name;
                        best_gen = n.generation;
                }
                entry_name_done(&n);
        }
        return best ? keep_name(&c->keep, best, "the newest known-good entry") : 0;
}

/* The entries of generations skipped as broken keep what they had. */
static int keep_skipped(struct install *c, const struct boot_menu *now)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < now->n_entries; i++) {
                struct entry_name n;
                if (entry_name_parse(now->entries[i].file_name, &n) < 0)
                        continue;
                for (size_t j = 0; r >= 0 && j < c->n_skipped; j++)
                        if (n.generation == c->skipped[j])
                                r = keep_name(&c->keep, now->entries[i].file_name, "skipped generation");
                entry_name_done(&n);
        }
        return r;
}

/* What systemd-boot may choose after this install: LoaderEntryDefault's entry, LoaderEntryOneShot's,
 * and the one it boots next with the new loader.conf. */
static int keep_chosen(struct install *c, const struct boot_menu *after, struct boot_choice_state *state)
{
        ssize_t i;
        int r = 0;

        if ((i = boot_choice_efivar_default(after, state)) >= 0)
                r = keep_name(&c->keep, after->entries[i].file_name, "LoaderEntryDefault");
        if (r >= 0 && (i = boot_menu_find(after, state->oneshot)) >= 0)
                r = keep_name(&c->keep, after->entries[i].file_name, "LoaderEntryOneShot");
        free(state->default_config);
        state->default_config = loader_conf_default(c->sdboot.loader_conf, strlen(c->sdboot.loader_conf));
        if (r >= 0 && (i = boot_choice_default(after, state)) >= 0)
                r = keep_name(&c->keep, after->entries[i].file_name, "the next default");
        if (r >= 0 && i >= 0 && after->entries[i].type1)
                log_warning(
                        "%s/loader/entries/%s: systemd-boot boots this Type #1 entry next, not ours (its "
                        "sort key sorts first; --remove-type1-entries removes it)",
                        c->t->boot->path, after->entries[i].file_name);
        return r;
}

/* What must survive: every planned entry; the booted one; the one systemd-boot boots after this
 * install; LoaderEntryDefault's and LoaderEntryOneShot's; with boot counting, the newest blessed one;
 * those of skipped generations. The one it boots now is kept until the new ones are in place. */
static int collect_keep(struct install *c)
{
        struct boot_menu menu = {};
        struct boot_choice_state state = {};
        ssize_t i;
        int r = 0;

        for (size_t k = 0; r >= 0 && k < c->plan.n_entries; k++)
                r = keep_name(&c->keep, c->plan.entries[k].file_name, NULL);
        for (size_t k = 0; r >= 0 && k < c->plan.n_payloads; k++)
                r = strv_extend(&c->keep_payloads, c->plan.payloads[k].name);
        if (r < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        if ((r = boot_menu_load(c->t->boot->path, &menu)) < 0 ||
            (r = migration_menu(&c->migration, c->t->boot->path, &menu, false)) < 0 ||
            (r = boot_choice_state_load(c->t->esp.path, &state)) < 0)
                goto finish;
        if ((i = boot_choice_default(&menu, &state)) >= 0 &&
            !(c->previous_default = strdup(menu.entries[i].file_name)))
                r = log_error_errno(-ENOMEM, "out of memory");
        if (r >= 0)
                r = keep_booted(c, &menu);
        if (r >= 0)
                r = keep_newest_blessed(c, &menu);
        if (r >= 0)
                r = keep_skipped(c, &menu);
        if (r >= 0)
                r = menu_apply_plan(c, &menu);
        if (r >= 0)
                r = migration_menu(&c->migration, c->t->boot->path, &menu, true);
        if (r >= 0)
                r = keep_chosen(c, &menu, &state);
finish:
        boot_menu_done(&menu);
        boot_choice_state_done(&state);
        return r;
}

/* The kernels, initrds and stubs to write, for the progress line. */
static unsigned files_to_write(const struct install *c, uint64_t *ret_bytes)
{
        unsigned n = 0;

        *ret_bytes = 0;
        for (size_t i = 0; i < c->plan.n_payloads; i++)
                if (!c->plan.payloads[i].present) {
                        n++;
                        *ret_bytes += c->plan.payloads[i].size;
                }
        for (size_t i = 0; i < c->plan.n_entries; i++)
                if (!c->plan.entries[i].present) {
                        n++;
                        *ret_bytes += c->plan.entries[i].stub_size;
                }
        return n;
}

static uint64_t round_up(uint64_t size, uint64_t block)
{
        return block ? (size + block - 1) / block * block : size;
}

/* What the new files need on the boot partition (payloads and stubs: boot) or on the ESP (systemd-boot
 * and the auto-enrollment keys: !boot), or both when they are one. */
static uint64_t bytes_needed(const struct install *c, uint64_t block, bool boot, bool esp)
{
        uint64_t need = 0;

        for (size_t i = 0; boot && i < c->plan.n_payloads; i++)
                if (!c->plan.payloads[i].present)
                        need += round_up(c->plan.payloads[i].size, block);
        for (size_t i = 0; boot && i < c->plan.n_entries; i++)
                if (!c->plan.entries[i].present)
                        need += round_up(c->plan.entries[i].stub_size, block);
        for (size_t i = 0; esp && i < 2; i++)
                if (c->sdboot.write[i])
                        need += round_up(c->sdboot.size, block);
        if (esp)
                need += enroll_esp_bytes(&c->auto_enroll) + enroll_esp_files(&c->auto_enroll) * block;
        /* Directory entries and the loader.conf rewrite. */
        return need + 4 * block;
}

static int free_space(const struct esp *p, uint64_t *ret_block, uint64_t *ret_avail)
{
        struct statvfs sv;

        if (fstatvfs(p->fd, &sv) < 0)
                return log_error_errno(-errno, "%s: %m", p->path);
        *ret_block = sv.f_bsize;
        *ret_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        return 0;
}

/* The ESP of a target with an XBOOTLDR partition holds only systemd-boot, loader.conf and the keys;
 * nothing of ours there can be collected. */
static int ensure_esp_space(const struct install *c)
{
        uint64_t block = 0, need, avail = 0;
        int r = free_space(&c->t->esp, &block, &avail);

        if (r < 0)
                return r;
        need = bytes_needed(c, block, false, true);
        if (need <= avail)
                return 0;
        return log_error_errno(-ENOSPC,
                               "%s: not enough space: systemd-boot and loader.conf need %llu KiB, %llu KiB "
                               "are free; nothing was changed",
                               c->t->esp.path, (unsigned long long)need / 1024,
                               (unsigned long long)avail / 1024);
}

/* Checks free space before anything is written, on the boot partition and (when it is another one) on
 * the ESP. When short on the boot partition, plans to delete first what no entry needs (never the
 * booted entry, nor the current default, nor anything they reference: c->space_gc, run by
 * install_write()); when that is not enough, fails with nothing changed. */
static int ensure_space(struct install *c)
{
        const struct esp *boot = c->t->boot;
        bool split = boot != &c->t->esp;
        uint64_t block = 0, need, avail = 0;
        char **keep = NULL;
        int r;

        if (split && (r = ensure_esp_space(c)) < 0)
                return r;
        r = free_space(boot, &block, &avail);
        if (r < 0)
                return r;
        need = bytes_needed(c, block, true, !split);
        if (need <= avail)
                return 0;

        r = strv_extend(&keep, c->previous_default ?: "");
        for (size_t i = 0; r >= 0 && c->keep[i]; i++)
                r = strv_extend(&keep, c->keep[i]);
        if (r >= 0)
                r = gc_plan(boot->path, keep, c->keep_payloads, &c->space_gc);
        strv_free(keep);
        if (r < 0)
                return r;
        if (need > avail + c->space_gc.bytes)
                return log_error_errno(
                        -ENOSPC,
                        "%s: not enough space: the new files need %llu KiB, %llu KiB are free "
                        "and only %llu KiB could be freed; nothing was changed",
                        boot->path, (unsigned long long)need / 1024, (unsigned long long)avail / 1024,
                        (unsigned long long)c->space_gc.bytes / 1024);
        log_info("%s: short of space, removing %zu unused entries and %zu unused files first", boot->path,
                 strv_length(c->space_gc.stubs), strv_length(c->space_gc.payloads));
        return 0;
}

static int open_dir(int esp_fd, const char *dir)
{
        int r = mkdir_p_at(esp_fd, dir), fd;

        if (r < 0)
                return r;
        fd = openat(esp_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int write_payloads(struct install *c)
{
        const struct esp *boot = c->t->boot;
        _cleanup_close_ int fd = open_dir(boot->fd, ESP_NIXOS_DIR);

        if (fd < 0)
                return log_error_errno(fd, "%s/" ESP_NIXOS_DIR ": %s", boot->path, strerror(-fd));
        for (size_t i = 0; i < c->plan.n_payloads; i++) {
                const struct payload *p = &c->plan.payloads[i];
                int r;

                if (p->present)
                        continue;
                r = copy_file_atomic_at(fd, p->name, p->source, p->sha256);
                if (r == -ESTALE)
                        return log_error_errno(r, "%s: changed while installing", p->source);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_NIXOS_DIR "/%s: cannot write: %s", boot->path,
                                               p->name, strerror(-r));
                plan_note_payload(&c->plan, fd, p);
                progress_add(p->size, 1);
                c->files_written++;
        }
        return 0;
}

/* Newest generation first, its own entry before its specialisations, then plan order. */
static int write_order_compare(const void *a, const void *b)
{
        const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

        if (x->generation != y->generation)
                return x->generation > y->generation ? -1 : 1;
        if (!x->specialisation != !y->specialisation)
                return x->specialisation ? 1 : -1;
        return x < y ? -1 : x > y;
}

/* The stubs go in write_order_compare()'s order: systemd-boot's default ("nixos-*": the highest
 * entry) moves from the previous default to the new one with the first stub written and stays
 * there, so a power cut at any instant boots one of the two, never an entry in between. */
static int write_stubs(struct install *c)
{
        const struct esp *boot = c->t->boot;
        _cleanup_close_ int fd = open_dir(boot->fd, ESP_LINUX_DIR);
        _cleanup_free_ const struct entry **order = NULL;

        if (fd < 0)
                return log_error_errno(fd, "%s/" ESP_LINUX_DIR ": %s", boot->path, strerror(-fd));
        order = calloc(c->plan.n_entries ?: 1, sizeof(*order));
        if (!order)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < c->plan.n_entries; i++)
                order[i] = &c->plan.entries[i];
        qsort(order, c->plan.n_entries, sizeof(*order), write_order_compare);
        for (size_t i = 0; i < c->plan.n_entries; i++) {
                const struct entry *e = order[i];
                int r;

                if (e->present)
                        continue;
                r = write_file_atomic_at(fd, e->file_name, e->stub, e->stub_size);
                /* write_file_atomic_at returned after the device flush that made file_name durable. */
                if (r >= 0 && e->replaces)
                        r = unlink_at(fd, e->replaces);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_LINUX_DIR "/%s: cannot write: %s", boot->path,
                                               e->file_name, strerror(-r));
                plan_note_entry(&c->plan, fd, e);
                progress_add(e->stub_size, 1);
                c->files_written++;
        }
        return 0;
}

static void print_plan(const struct install *c, bool several)
{
        if (several || c->t->boot != &c->t->esp)
                printf("esp   %s\nboot  %s\n", c->t->esp.path, c->t->boot->path);
        for (size_t i = 0; i < c->plan.n_payloads; i++)
                printf("%s " ESP_NIXOS_DIR "/%s\n", c->plan.payloads[i].present ? "keep " : "write",
                       c->plan.payloads[i].name);
        for (size_t i = 0; i < c->plan.n_entries; i++)
                printf("%s " ESP_LINUX_DIR "/%s\n", c->plan.entries[i].present ? "keep " : "write",
                       c->plan.entries[i].file_name);
        printf("%s %s\n%s %s\n%s " LOADER_CONF_PATH "\n", c->sdboot.write[0] ? "write" : "keep ",
               c->sdboot.paths[0], c->sdboot.write[1] ? "write" : "keep ", c->sdboot.paths[1],
               c->sdboot.write_loader_conf ? "write" : "keep ");
        enroll_esp_print(&c->auto_enroll);
}

/* Why each of our files goes. The stubs are not kept (collect_keep()), the payloads are referenced by
 * no stub that stays (gc_plan()). */
static void log_removals(struct install *c, const struct gc_plan *g)
{
        for (size_t i = 0; g->stubs && g->stubs[i]; i++) {
                struct entry_name n;
                bool beyond = false;

                if (entry_name_parse(g->stubs[i], &n) >= 0) {
                        beyond = n.generation < c->limit_floor;
                        entry_name_done(&n);
                }
                decision(c, c->t->boot->path, "entry", ESP_LINUX_DIR, g->stubs[i], "remove",
                         beyond ? "beyond --configuration-limit"
                                : "not referenced: no generation given has this entry (gone, or its "
                                  "toplevel or key changed)");
        }
        for (size_t i = 0; g->payloads && g->payloads[i]; i++)
                decision(c, c->t->boot->path, "payload", ESP_NIXOS_DIR, g->payloads[i], "remove",
                         "not referenced by any stub that stays");
}

static int collect_garbage(struct install *c)
{
        struct gc_plan g;
        int r = gc_plan(c->t->boot->path, c->keep, c->keep_payloads, &g);

        if (r < 0)
                return r;
        log_removals(c, &g);
        if (!arg.dry_run)
                r = gc_run(c->t->boot->path, &g);
        else if (arg.json == JSON_OFF) {
                for (size_t i = 0; g.stubs && g.stubs[i]; i++)
                        printf("remove " ESP_LINUX_DIR "/%s\n", g.stubs[i]);
                for (size_t i = 0; g.payloads && g.payloads[i]; i++)
                        printf("remove " ESP_NIXOS_DIR "/%s\n", g.payloads[i]);
        }
        gc_plan_done(&g);
        return r;
}

static void ensure_boot_entry(const struct install *c)
{
        int r;

        if (arg.no_variables || arg.dry_run || !efivarfs_path())
                return;
        r = efi_boot_entry_ensure(&c->t->esp, c->arch->systemd_boot_efi_path, "Linux Boot Manager",
                                  arg.boot_order_first);
        if (r == -EOPNOTSUPP)
                log_info("%s: no partition information, not creating a firmware boot entry", c->t->esp.path);
        else if (r < 0)
                log_warning("cannot create the firmware boot entry: %s", strerror(-r));
}

/* The architecture comes from the bootspecs, not from this host: one ESP boots one architecture, so every
 * generation (and specialisation) must name the same system. bootspec.c accepted only known systems. */
static int pick_arch(struct install *c)
{
        const struct bootspec *first = c->generations[0]->bootspec;

        c->arch = efi_arch_from_system(first->system);
        for (size_t i = 0; i < c->n_generations; i++) {
                const struct bootspec *b = c->generations[i]->bootspec;

                if (strcmp(b->system, first->system) != 0)
                        return log_error_errno(
                                -EINVAL, "%s: system \"%s\", but %s is \"%s\": one ESP, one system",
                                c->generations[i]->path, b->system, c->generations[0]->path, first->system);
                for (size_t j = 0; j < b->n_specialisations; j++)
                        if (strcmp(b->specialisations[j].bootspec->system, first->system) != 0)
                                return log_error_errno(
                                        -EINVAL, "%s: specialisation %s has system \"%s\", not \"%s\"",
                                        c->generations[i]->path, b->specialisations[j].name,
                                        b->specialisations[j].bootspec->system, first->system);
        }
        return 0;
}

/* --state-dir=, else $LANZATOOL_STATE_DIR, else LANZATOOL_STATE_DIR_DEFAULT; "": no cache. --dry-run
 * reads the cache and never writes it. */
static const char *state_dir(void)
{
        return arg.state_dir ?: getenv("LANZATOOL_STATE_DIR") ?: LANZATOOL_STATE_DIR_DEFAULT;
}

/* --stub, $LANZABOOTE_STUB, or the architecture's stub in lanzaboote's libdir; for that architecture. */
static int load_stub(struct install *c)
{
        _cleanup_free_ char *message = NULL;
        int r;

        if (arg.stub)
                c->stub_path = strdup(arg.stub);
        else
                c->stub_path = default_stub_path(c->arch->stub_name);
        if (!c->stub_path)
                return log_error_errno(-ENOMEM, "out of memory");
        r = read_file(c->stub_path, STUB_MAX_SIZE, &c->stub, &c->stub_size);
        if (r < 0)
                return log_error_errno(
                        r, "%s: cannot read the stub: %s (give --stub=PATH, or \"meson install\" it)",
                        c->stub_path, strerror(-r));
        r = efi_arch_check_image(c->arch, c->stub, c->stub_size, &message);
        if (r < 0)
                return log_error_errno(r, "%s: not a stub for %s: %s", c->stub_path, c->arch->system,
                                       message ?: strerror(-r));
        return 0;
}

/* Everything but writing: inputs, plan, checks (keys, space, the bricking guard). Changes nothing. */
static int install_prepare(struct install *c, const struct target *t, int argc, char *argv[])
{
        int r;

        c->t = t;
        r = pki_load(arg.pki_bundle, &c->pki);
        if (r >= 0)
                r = check_firmware_trust(c);
        if (r >= 0)
                c->cache = hash_cache_load(state_dir());
        if (r >= 0)
                r = load_generations(c, argc, argv);
        if (r >= 0 && c->n_generations == 0)
                r = log_error_errno(-EINVAL, "no generations given");
        if (r >= 0)
                r = find_default_generation(c);
        if (r >= 0)
                r = pick_arch(c);
        if (r >= 0)
                r = load_stub(c);
        if (r >= 0) {
                apply_limit(c);
                r = build_plan(c);
        }
        if (r >= 0)
                r = set_default_pattern(c);
        if (r >= 0)
                r = systemd_boot_plan(t->esp.path, c->arch, arg.systemd_boot, &c->pki, &arg.loader,
                                      &c->sdboot);
        if (r >= 0)
                log_loader_decisions(c);
        /* Includes the bricking guard: before anything is written. */
        if (r >= 0 && arg.loader.auto_enroll)
                r = enroll_esp_plan(t->esp.path, arg.pki_bundle, &arg.enroll, &c->auto_enroll);
        if (r >= 0)
                r = migration_plan(c->t->boot->fd, c->t->boot->path, c->arch, c->stub, c->stub_size,
                                   c->pki.db.certificate, arg.remove_type1, &c->migration);
        if (r >= 0)
                r = collect_keep(c);
        if (r >= 0)
                r = ensure_space(c);
        if (r >= 0)
                migration_report(&c->migration, c->t->boot->path, arg.dry_run);
        return r;
}

static int dry_run(struct install *c, bool several)
{
        int r;

        /* --json: the document install_all() prints says it all (without temporary files and plain
         * systemd-boot's entries, which the text lists). */
        if (arg.json != JSON_OFF)
                return collect_garbage(c);
        print_plan(c, several);
        r = leftovers_handle(c->t->boot->fd, c->t->boot->path, true);
        if (r >= 0)
                r = collect_garbage(c);
        if (r >= 0)
                migration_print(&c->migration);
        return r;
}

/* Makes the boot partition's and the ESP's writes durable (when there were any), then deals with
 * temporaries there. */
static int flush_and_leftovers(const struct install *c, bool flush)
{
        const struct esp *parts[] = {c->t->boot, &c->t->esp};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(parts); i++) {
                if (i > 0 && parts[i] == parts[0])
                        break;
                if (flush && (r = flush_fs(parts[i]->fd)) < 0)
                        log_error("%s: sync failed: %s", parts[i]->path, strerror(-r));
                else
                        r = leftovers_handle(parts[i]->fd, parts[i]->path, false);
        }
        return r;
}

static int install_write(struct install *c)
{
        uint64_t n_bytes;
        unsigned n_files;
        bool wrote;
        int r = 0;

        if (c->space_gc.stubs || c->space_gc.payloads)
                r = gc_run(c->t->boot->path, &c->space_gc);
        /* The order keeps every entry bootable at every instant: payloads, then the stubs that
         * point at them, then the boot loader, then a device flush, and only then removal. Each
         * file is written by the protocol in fs-util.c (commit_tmp_at), which is what makes this
         * hold after a power loss on FAT too; directories are made durable as they are created.
         * With an XBOOTLDR partition, payloads and stubs go there, the rest on the ESP. */
        n_files = files_to_write(c, &n_bytes);
        progress_begin("writing", n_bytes, n_files, arg.quiet);
        if (r >= 0)
                r = write_payloads(c);
        if (r >= 0)
                r = write_stubs(c);
        /* The keys before the loader.conf that tells systemd-boot to enroll them. */
        if (r >= 0)
                r = enroll_esp_write(c->t->esp.fd, c->t->esp.path, &c->auto_enroll);
        if (r >= 0)
                r = systemd_boot_install(c->t->esp.fd, &c->sdboot);
        progress_end();
        /* Nothing written (a warm re-install): nothing to make durable before removing. */
        wrote = n_files || c->sdboot.write[0] || c->sdboot.write[1] || c->sdboot.write_loader_conf ||
                enroll_esp_files(&c->auto_enroll);
        if (r >= 0)
                r = flush_and_leftovers(c, wrote);
        if (r >= 0)
                r = collect_garbage(c);
        /* Plain systemd-boot's entries, only now that ours and loader.conf are durable. */
        if (r >= 0)
                r = migration_remove(c->t->boot->fd, c->t->boot->path, &c->migration);
        if (r < 0)
                return r;
        c->files_written += c->sdboot.write[0] + c->sdboot.write[1] + c->sdboot.write_loader_conf +
                            enroll_esp_files(&c->auto_enroll);
        (void)hash_cache_save(c->cache);
        log_info("%s: %zu entries installed, %u files written", c->t->boot->path, c->plan.n_entries,
                 c->files_written);
        return 0;
}

/* names of targets [from, to), comma-separated, for the message after a failure. */
static void list_targets(const struct target *t, size_t from, size_t to, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = from; i < to && used < size; i++) {
                char name[2 * PATH_MAX + 16];
                int n = snprintf(buf + used, size - used, "%s%s", i > from ? ", " : "",
                                 target_name(&t[i], name, sizeof(name)));
                used += n > 0 ? (size_t)n : 0;
        }
        if (!buf[0])
                snprintf(buf, size, "none");
}

/* Several ESPs: all planned and checked first, so a failing check changes none. A write that fails on
 * one leaves the ones done complete and that one consistent (the install invariant), and says which. */
/* --json: one document for every target, {"dryRun", "targets": [{"esp", "boot", "files": [...]}]}. */
static void print_json(struct install *cs, size_t n)
{
        struct json_object *o, *targets;

        if (arg.json == JSON_OFF)
                return;
        o = json_object_new_object();
        targets = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                struct json_object *t = json_object_new_object();
                json_object_object_add(t, "esp", json_object_new_string(cs[i].t->esp.path));
                json_object_object_add(t, "boot", json_object_new_string(cs[i].t->boot->path));
                json_object_object_add(t, "files", cs[i].files ?: json_object_new_array());
                cs[i].files = NULL;
                json_object_array_add(targets, t);
        }
        json_object_object_add(o, "dryRun", json_object_new_boolean(arg.dry_run));
        json_object_object_add(o, "targets", targets);
        json_print(o);
}

static int install_all(struct install *cs, const struct target *t, size_t n, int argc, char *argv[])
{
        char name[2 * PATH_MAX + 16], done[4096], rest[4096];
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                r = install_prepare(&cs[i], &t[i], argc, argv);
                if (r < 0) {
                        if (n > 1)
                                log_error("%s: cannot install there; no ESP was changed",
                                          target_name(&t[i], name, sizeof(name)));
                        return r;
                }
        }
        for (size_t i = 0; i < n; i++) {
                r = arg.dry_run ? dry_run(&cs[i], n > 1) : install_write(&cs[i]);
                if (r >= 0)
                        continue;
                if (n > 1) {
                        list_targets(t, 0, i, done, sizeof(done));
                        list_targets(t, i + 1, n, rest, sizeof(rest));
                        log_error("%s: install failed there (its previous entries still boot); installed "
                                  "completely: %s; not changed: %s",
                                  target_name(&t[i], name, sizeof(name)), done, rest);
                }
                return r;
        }
        if (!arg.dry_run)
                ensure_boot_entry(&cs[0]);
        print_json(cs, n);
        return 0;
}

int verb_install(int argc, char *argv[])
{
        _cleanup_free_ struct install *cs = NULL;
        struct target *t = NULL;
        size_t n = 0;
        int r;

        if (!arg.pki_bundle)
                return log_error("install needs --pki-bundle=DIR"), 1;
        r = targets_find(&t, &n);
        if (r >= 0 && !(cs = calloc(n, sizeof(*cs))))
                r = log_error_errno(-ENOMEM, "out of memory");
        if (r >= 0)
                r = install_all(cs, t, n, argc - 1, argv + 1);
        progress_end();
        for (size_t i = 0; cs && i < n; i++)
                install_done(&cs[i]);
        targets_free(t, n);
        return r < 0 ? 1 : 0;
}
