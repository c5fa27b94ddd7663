/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "efivars.h"
#include "esp.h"
#include "fs-util.h"
#include "gc.h"
#include "generation.h"
#include "lanzatool.h"
#include "log.h"
#include "pcrsig.h"
#include "plan.h"
#include "util.h"

#define STUB_MAX_SIZE (16u << 20)

struct install {
        struct esp esp;
        struct pki pki;
        const struct efi_arch *arch; /* of every generation given */
        char *stub_path;
        uint8_t *stub;
        size_t stub_size;
        struct generation **generations;
        size_t n_generations;
        struct plan plan;
        struct systemd_boot_plan sdboot;
        struct enroll_esp_plan auto_enroll;
        char **keep;          /* entry names that survive: the planned ones and the booted one */
        char **keep_payloads; /* payload names of the planned entries */
        char *previous_default;
        unsigned files_written;
};

static void install_done(struct install *c)
{
        for (size_t i = 0; i < c->n_generations; i++)
                generation_free(c->generations[i]);
        free(c->generations);
        plan_done(&c->plan);
        systemd_boot_plan_done(&c->sdboot);
        enroll_esp_plan_done(&c->auto_enroll);
        strv_free(c->keep);
        strv_free(c->keep_payloads);
        free(c->previous_default);
        free(c->stub_path);
        free(c->stub);
        pki_done(&c->pki);
        esp_done(&c->esp);
}

static void progress(const char *what, const char *name)
{
        if (arg.quiet || !isatty(STDERR_FILENO))
                return;
        fprintf(stderr, "\r\033[Klanzatool: %s %s", what, name);
        fflush(stderr);
}

static void progress_end(void)
{
        if (!arg.quiet && isatty(STDERR_FILENO))
                fputs("\r\033[K", stderr);
}

static int load_generations(struct install *c, int argc, char *argv[])
{
        c->generations = calloc((size_t)argc, sizeof(*c->generations));
        if (!c->generations)
                return log_error_errno(-ENOMEM, "out of memory");
        for (int i = 0; i < argc; i++) {
                int r = generation_load(argv[i], &c->generations[c->n_generations]);
                if (r < 0)
                        return r;
                c->n_generations++;
        }
        generations_sort(c->generations, c->n_generations);
        /* The limit counts generations, not entries: specialisations come with their parent. */
        if (arg.configuration_limit > 0 && c->n_generations > arg.configuration_limit) {
                size_t drop = c->n_generations - arg.configuration_limit;
                for (size_t i = 0; i < drop; i++)
                        generation_free(c->generations[i]);
                memmove(c->generations, c->generations + drop,
                        arg.configuration_limit * sizeof(*c->generations));
                c->n_generations = arg.configuration_limit;
        }
        return 0;
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
        for (size_t i = 0; r >= 0 && i < c->n_generations; i++)
                r = plan_add_generation(&c->plan, &in, c->generations[i]);
        if (r >= 0)
                r = plan_match_esp(&c->plan, c->esp.fd, arg.boot_counting);
        pcr_signer_done(&signer);
        return r;
}

/* The generation number in an entry name, 0 when it has none. */
static unsigned entry_generation(const char *name)
{
        unsigned n = 0;
        return sscanf(name, ENTRY_PREFIX "generation-%u", &n) == 1 ? n : 0;
}

/* What must survive: every planned entry, the entry we are running from (LoaderEntrySelected),
 * and, until the new entries are in place, the one systemd-boot picks now by default (its
 * "nixos-*" pattern selects the highest generation). */
static int collect_keep(struct install *c)
{
        char path[PATH_MAX], *booted = NULL;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->plan.n_entries; i++)
                r = strv_extend(&c->keep, c->plan.entries[i].file_name);
        for (size_t i = 0; r >= 0 && i < c->plan.n_payloads; i++)
                r = strv_extend(&c->keep_payloads, c->plan.payloads[i].name);
        if (r >= 0 && efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &booted) >= 0 &&
            strncmp(booted, ENTRY_PREFIX, strlen(ENTRY_PREFIX)) == 0 && !strchr(booted, '/')) {
                snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR "/%s", c->esp.path, booted);
                if (access(path, F_OK) == 0 && !strv_contains(c->keep, booted)) {
                        log_debug("keeping the booted entry %s", booted);
                        r = strv_extend(&c->keep, booted);
                }
        }
        free(booted);
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

static int find_previous_default(struct install *c)
{
        struct gc_plan all;
        unsigned best = 0;
        int r = gc_plan(c->esp.path, NULL, NULL, &all);

        if (r < 0)
                return r;
        for (size_t i = 0; all.stubs && all.stubs[i]; i++) {
                unsigned n = entry_generation(all.stubs[i]);
                if (n > best && entry_name_stem_length(all.stubs[i]) > 0) {
                        best = n;
                        free(c->previous_default);
                        c->previous_default = strdup(all.stubs[i]);
                }
        }
        gc_plan_done(&all);
        return 0;
}

static uint64_t round_up(uint64_t size, uint64_t block)
{
        return block ? (size + block - 1) / block * block : size;
}

static uint64_t bytes_needed(const struct install *c, uint64_t block)
{
        uint64_t need = 0;

        for (size_t i = 0; i < c->plan.n_payloads; i++)
                if (!c->plan.payloads[i].present)
                        need += round_up(c->plan.payloads[i].size, block);
        for (size_t i = 0; i < c->plan.n_entries; i++)
                if (!c->plan.entries[i].present)
                        need += round_up(c->plan.entries[i].stub_size, block);
        for (size_t i = 0; i < 2; i++)
                if (c->sdboot.write[i])
                        need += round_up(c->sdboot.size, block);
        need += enroll_esp_bytes(&c->auto_enroll) + enroll_esp_files(&c->auto_enroll) * block;
        /* Directory entries and the loader.conf rewrite. */
        return need + 4 * block;
}

/* Checks free space before anything is written. When short, first deletes what no entry needs
 * (never the booted entry, nor the current default, nor anything they reference); when that is
 * not enough, fails with the ESP untouched. */
static int ensure_space(struct install *c)
{
        struct statvfs sv;
        struct gc_plan g;
        uint64_t need, avail;
        char **keep = NULL;
        int r;

        if (fstatvfs(c->esp.fd, &sv) < 0)
                return log_error_errno(-errno, "%s: %m", c->esp.path);
        need = bytes_needed(c, sv.f_bsize);
        avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        if (need <= avail)
                return 0;

        r = strv_extend(&keep, c->previous_default ?: "");
        for (size_t i = 0; r >= 0 && c->keep[i]; i++)
                r = strv_extend(&keep, c->keep[i]);
        if (r >= 0)
                r = gc_plan(c->esp.path, keep, c->keep_payloads, &g);
        strv_free(keep);
        if (r < 0)
                return r;
        if (need > avail + g.bytes) {
                gc_plan_done(&g);
                return log_error_errno(
                        -ENOSPC,
                        "%s: not enough space: the new files need %llu KiB, %llu KiB are free "
                        "and only %llu KiB could be freed; nothing was changed",
                        c->esp.path, (unsigned long long)need / 1024, (unsigned long long)avail / 1024,
                        (unsigned long long)g.bytes / 1024);
        }
        log_info("%s: short of space, removing %zu unused entries and %zu unused files first", c->esp.path,
                 strv_length(g.stubs), strv_length(g.payloads));
        r = arg.dry_run ? 0 : gc_run(c->esp.path, &g);
        gc_plan_done(&g);
        return r;
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
        _cleanup_close_ int fd = open_dir(c->esp.fd, ESP_NIXOS_DIR);

        if (fd < 0)
                return log_error_errno(fd, "%s/" ESP_NIXOS_DIR ": %s", c->esp.path, strerror(-fd));
        for (size_t i = 0; i < c->plan.n_payloads; i++) {
                const struct payload *p = &c->plan.payloads[i];
                int r;

                if (p->present)
                        continue;
                progress("writing", p->name);
                r = copy_file_atomic_at(fd, p->name, p->source, p->sha256);
                if (r == -ESTALE)
                        return log_error_errno(r, "%s: changed while installing", p->source);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_NIXOS_DIR "/%s: cannot write: %s", c->esp.path,
                                               p->name, strerror(-r));
                c->files_written++;
        }
        return 0;
}

static int write_stubs(struct install *c)
{
        _cleanup_close_ int fd = open_dir(c->esp.fd, ESP_LINUX_DIR);

        if (fd < 0)
                return log_error_errno(fd, "%s/" ESP_LINUX_DIR ": %s", c->esp.path, strerror(-fd));
        for (size_t i = 0; i < c->plan.n_entries; i++) {
                const struct entry *e = &c->plan.entries[i];
                int r;

                if (e->present)
                        continue;
                progress("writing", e->file_name);
                r = write_file_atomic_at(fd, e->file_name, e->stub, e->stub_size);
                if (r >= 0 && e->replaces)
                        r = unlink_at(fd, e->replaces);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_LINUX_DIR "/%s: cannot write: %s", c->esp.path,
                                               e->file_name, strerror(-r));
                c->files_written++;
        }
        return 0;
}

static void print_plan(const struct install *c)
{
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

static int collect_garbage(struct install *c)
{
        struct gc_plan g;
        int r = gc_plan(c->esp.path, c->keep, c->keep_payloads, &g);

        if (r < 0)
                return r;
        if (arg.dry_run) {
                for (size_t i = 0; g.stubs && g.stubs[i]; i++)
                        printf("remove " ESP_LINUX_DIR "/%s\n", g.stubs[i]);
                for (size_t i = 0; g.payloads && g.payloads[i]; i++)
                        printf("remove " ESP_NIXOS_DIR "/%s\n", g.payloads[i]);
        } else
                r = gc_run(c->esp.path, &g);
        gc_plan_done(&g);
        return r;
}

static void ensure_boot_entry(const struct install *c)
{
        int r;

        if (arg.no_variables || arg.dry_run || !efivarfs_path())
                return;
        r = efi_boot_entry_ensure(&c->esp, c->arch->systemd_boot_efi_path, "Linux Boot Manager");
        if (r == -EOPNOTSUPP)
                log_info("%s: no partition information, not creating a firmware boot entry", c->esp.path);
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

/* --stub, $LANZABOOTE_STUB, or the architecture's stub in lanzaboote's libdir; for that architecture. */
static int load_stub(struct install *c)
{
        _cleanup_free_ char *message = NULL;
        int r;

        if (arg.stub)
                c->stub_path = strdup(arg.stub);
        else if (asprintf(&c->stub_path, "%s/%s", LANZABOOTE_STUB_DIR, c->arch->stub_name) < 0)
                c->stub_path = NULL;
        if (!c->stub_path)
                return log_error_errno(-ENOMEM, "out of memory");
        r = read_file(c->stub_path, STUB_MAX_SIZE, &c->stub, &c->stub_size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the stub: %s", c->stub_path, strerror(-r));
        r = efi_arch_check_image(c->arch, c->stub, c->stub_size, &message);
        if (r < 0)
                return log_error_errno(r, "%s: not a stub for %s: %s", c->stub_path, c->arch->system,
                                       message ?: strerror(-r));
        return 0;
}

static int install_run(struct install *c, int argc, char *argv[])
{
        int r;

        if (!arg.pki_bundle)
                return log_error_errno(-EINVAL, "install needs --pki-bundle=DIR");
        r = pki_load(arg.pki_bundle, &c->pki);
        if (r >= 0)
                r = esp_find(arg.esp_path, &c->esp);
        if (r >= 0)
                r = load_generations(c, argc, argv);
        if (r >= 0 && c->n_generations == 0)
                r = log_error_errno(-EINVAL, "no generations given");
        if (r >= 0)
                r = pick_arch(c);
        if (r >= 0)
                r = load_stub(c);
        if (r >= 0)
                r = build_plan(c);
        if (r >= 0)
                r = systemd_boot_plan(c->esp.path, c->arch, arg.systemd_boot, &c->pki, &arg.loader,
                                      &c->sdboot);
        /* Includes the bricking guard: before anything is written. */
        if (r >= 0 && arg.loader.auto_enroll)
                r = enroll_esp_plan(c->esp.path, arg.pki_bundle, &arg.enroll, &c->auto_enroll);
        if (r >= 0)
                r = collect_keep(c);
        if (r >= 0)
                r = find_previous_default(c);
        if (r >= 0)
                r = ensure_space(c);
        if (r < 0)
                return r;
        if (arg.dry_run) {
                print_plan(c);
                return collect_garbage(c);
        }

        /* The order keeps every entry bootable at every instant: payloads, then the stubs that
         * point at them, then the boot loader, then a sync, and only then removal. */
        r = write_payloads(c);
        if (r >= 0)
                r = write_stubs(c);
        /* The keys before the loader.conf that tells systemd-boot to enroll them. */
        if (r >= 0)
                r = enroll_esp_write(c->esp.fd, c->esp.path, &c->auto_enroll);
        if (r >= 0)
                r = systemd_boot_install(c->esp.fd, &c->sdboot);
        progress_end();
        if (r >= 0 && (r = syncfs_fd(c->esp.fd)) < 0)
                log_error("%s: sync failed: %s", c->esp.path, strerror(-r));
        if (r >= 0)
                r = collect_garbage(c);
        if (r < 0)
                return r;
        c->files_written += c->sdboot.write[0] + c->sdboot.write[1] + c->sdboot.write_loader_conf +
                            enroll_esp_files(&c->auto_enroll);
        ensure_boot_entry(c);
        log_info("%s: %zu entries installed, %u files written", c->esp.path, c->plan.n_entries,
                 c->files_written);
        return 0;
}

int verb_install(int argc, char *argv[])
{
        struct install c = {.esp.fd = -1};
        int r = install_run(&c, argc - 1, argv + 1);

        progress_end();
        install_done(&c);
        return r < 0 ? 1 : 0;
}
