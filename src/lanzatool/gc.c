/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "entry-name.h"
#include "fs-util.h"
#include "gc.h"
#include "log.h"
#include "pe-builder.h"
#include "plan.h"
#include "util.h"

#define ESP_NIXOS_PREFIX "\\EFI\\nixos\\"

int stub_references(const char *stub_path, char ***ret)
{
        struct pe_section_copy s[] = {{.name = ".linux"}, {.name = ".initrd"}};
        char *message = NULL, **refs = NULL;
        int r;

        r = pe_read_sections(stub_path, s, ELEMENTSOF(s), &message);
        free(message);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(s); i++) {
                const char *p = (const char *)s[i].data;
                if (p && strncmp(p, ESP_NIXOS_PREFIX, strlen(ESP_NIXOS_PREFIX)) == 0 &&
                    strlen(p) == s[i].size)
                        r = strv_extend(&refs, p + strlen(ESP_NIXOS_PREFIX));
        }
        pe_section_copies_free(s, ELEMENTSOF(s));
        if (r < 0) {
                strv_free(refs);
                return r;
        }
        *ret = refs;
        return 0;
}

static uint64_t file_size_at(int dir_fd, const char *name)
{
        struct stat st;
        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)
                       ? (uint64_t)st.st_size
                       : 0;
}

static int is_tmp(const char *name)
{
        return strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
}

/* Keeps what every stub staying in EFI/Linux references (ours that are kept, and any other, such as a
 * hand-made rescue entry): a payload must outlive every stub that points at it. */
static int collect_references(const char *esp, char *const *garbage, char ***keep)
{
        char path[PATH_MAX];
        DIR *d;
        int r = 0;

        snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR, esp);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "%s: %m", path);
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                char file[PATH_MAX + 256], **refs = NULL;
                if (de->d_type == DT_DIR || strv_contains(garbage, de->d_name))
                        continue;
                snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
                if (stub_references(file, &refs) < 0)
                        continue;
                for (size_t j = 0; r >= 0 && refs && refs[j]; j++)
                        r = strv_extend(keep, refs[j]);
                strv_free(refs);
        }
        closedir(d);
        return r;
}

static int scan(const char *esp, const char *dir, int (*is_garbage)(const char *name, void *userdata),
                void *userdata, char ***list, uint64_t *bytes)
{
        char path[PATH_MAX];
        DIR *d;
        int r = 0;

        snprintf(path, sizeof(path), "%s/%s", esp, dir);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "%s: %m", path);
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (de->d_type == DT_DIR || !is_garbage(de->d_name, userdata))
                        continue;
                r = strv_extend(list, de->d_name);
                *bytes += file_size_at(dirfd(d), de->d_name);
        }
        closedir(d);
        return r;
}

/* Only names of our grammar (entry-name.h): a hand-made EFI/Linux/nixos-rescue.efi is not ours.
 * Temporary files are not garbage here: leftovers.c handles them (deleting one is unsafe on FAT). */
static int stub_is_garbage(const char *name, void *keep)
{
        return !is_tmp(name) && entry_name_is_ours(name) && !strv_contains(keep, name);
}

static int payload_is_garbage(const char *name, void *keep)
{
        return !is_tmp(name) && payload_name_is_ours(name) && !strv_contains(keep, name);
}

int gc_plan(const char *esp, char *const *keep_stubs, char *const *keep_payloads, struct gc_plan *ret)
{
        struct gc_plan g = {};
        char **keep = NULL;
        int r = 0;

        for (size_t i = 0; r >= 0 && keep_payloads && keep_payloads[i]; i++)
                r = strv_extend(&keep, keep_payloads[i]);
        if (r >= 0)
                r = scan(esp, ESP_LINUX_DIR, stub_is_garbage, (void *)keep_stubs, &g.stubs, &g.bytes);
        if (r >= 0)
                r = collect_references(esp, g.stubs, &keep);
        if (r >= 0)
                r = scan(esp, ESP_NIXOS_DIR, payload_is_garbage, keep, &g.payloads, &g.bytes);
        strv_free(keep);
        if (r < 0) {
                gc_plan_done(&g);
                return r == -ENOMEM ? log_error_errno(r, "out of memory") : r;
        }
        *ret = g;
        return 0;
}

static int remove_all(const char *esp, const char *dir, char *const *names)
{
        char path[PATH_MAX];
        int fd, r = 0;

        snprintf(path, sizeof(path), "%s/%s", esp, dir);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "%s: %m", path);
        for (size_t i = 0; names && names[i]; i++) {
                int k = unlink_at(fd, names[i]);
                if (k < 0)
                        r = log_error_errno(k, "%s/%s: cannot remove: %s", path, names[i], strerror(-k));
                else
                        log_debug("removed %s/%s", path, names[i]);
        }
        if (names && names[0] && r >= 0)
                r = fsync_dir(fd);
        close(fd);
        return r;
}

int gc_run(const char *esp, const struct gc_plan *g)
{
        int r = remove_all(esp, ESP_LINUX_DIR, g->stubs);
        return r < 0 ? r : remove_all(esp, ESP_NIXOS_DIR, g->payloads);
}

void gc_plan_done(struct gc_plan *g)
{
        strv_free(g->stubs);
        strv_free(g->payloads);
        *g = (struct gc_plan){};
}
