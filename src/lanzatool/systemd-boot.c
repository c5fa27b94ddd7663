/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "fs-util.h"
#include "log.h"
#include "os-release.h"
#include "pe-builder.h"
#include "systemd-boot.h"
#include "util.h"

#define SYSTEMD_BOOT_MAX_SIZE (64u << 20)

/* The version in systemd-boot's LoaderInfo marker, "#### LoaderInfo: systemd-boot 252.39 ####", which is
 * what bootctl reads; NULL without one. */
static char *marker_version(const uint8_t *image, size_t size)
{
        static const char marker[] = "#### LoaderInfo: systemd-boot ", end_marker[] = " ####";
        const uint8_t *start = memmem(image, size, marker, strlen(marker)), *end;

        if (!start)
                return NULL;
        start += strlen(marker);
        end = memmem(start, size - (size_t)(start - image), end_marker, strlen(end_marker));
        if (!end || end == start || end - start > 64)
                return NULL;
        return strndup((const char *)start, (size_t)(end - start));
}

/* VERSION from the .osrel section, else from the LoaderInfo marker (Debian's aa64 build of systemd 252 has
 * no .osrel section); NULL when there is neither or the image is malformed. */
static char *image_version(const uint8_t *image, size_t size)
{
        struct pe_section_copy s = {.name = ".osrel"};
        char *message = NULL, *v = NULL;
        int r = pe_get_sections(image, size, &s, 1, &message);

        if (r >= 0 && s.data)
                v = os_release_get((const char *)s.data, s.size, "VERSION");
        else if (r >= 0)
                v = marker_version(image, size);
        free(message);
        pe_section_copies_free(&s, 1);
        return v;
}

/* A PE image whose .osrel does not say ID=systemd-boot: another boot loader (shim, GRUB, another
 * distribution's), not a copy of ours gone bad. */
static bool is_foreign_loader(const uint8_t *image, size_t size)
{
        struct pe_section_copy s = {.name = ".osrel"};
        _cleanup_free_ char *message = NULL, *id = NULL;
        int r = pe_get_sections(image, size, &s, 1, &message);

        if (r >= 0 && s.data)
                id = os_release_get((const char *)s.data, s.size, "ID");
        pe_section_copies_free(&s, 1);
        return r >= 0 && (!id || strcmp(id, "systemd-boot") != 0);
}

/* Whether the copy at path must be (re)written with a systemd-boot of version new_version. A foreign
 * boot loader at the removable-media path is left alone unless replace_foreign. */
static bool needs_write(const char *path, const char *new_version, X509 *cert, bool removable,
                        bool replace_foreign)
{
        _cleanup_free_ uint8_t *have = NULL;
        _cleanup_free_ char *have_version = NULL, *message = NULL;
        size_t size;

        if (read_file(path, SYSTEMD_BOOT_MAX_SIZE, &have, &size) < 0)
                return true; /* missing or unreadable */
        if (removable && is_foreign_loader(have, size)) {
                if (!replace_foreign)
                        log_info("%s: another boot loader, leaving it alone (--replace-removable replaces "
                                 "it)",
                                 path);
                return replace_foreign;
        }
        have_version = image_version(have, size);
        if (!have_version) {
                log_info("%s: malformed, replacing it", path);
                return true;
        }
        if (strverscmp(have_version, new_version) < 0) {
                log_info("%s: version %s is older than %s, updating it", path, have_version, new_version);
                return true;
        }
        if (authenticode_verify(have, size, cert, &message) < 0) {
                log_info("%s: not signed by our key, re-signing it", path);
                return true;
        }
        return false;
}

static char *loader_conf_text(const struct loader_conf *c)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        fprintf(f, LOADER_CONF_MARKER "; it is rewritten on every install.\n");
        if (c->timeout)
                fprintf(f, "timeout %s\n", c->timeout);
        fprintf(f, "default %s\n", c->default_entry ?: "nixos-*");
        fprintf(f, "editor %s\n", c->editor ? "yes" : "no");
        if (c->console_mode)
                fprintf(f, "console-mode %s\n", c->console_mode);
        if (c->auto_enroll)
                fprintf(f, "secure-boot-enroll force\n");
        return fclose(f) == 0 ? text : (free(text), NULL);
}

static bool file_has(const char *path, const char *text)
{
        _cleanup_free_ uint8_t *have = NULL;
        size_t size;

        return read_file(path, 1 << 20, &have, &size) >= 0 && size == strlen(text) &&
               memcmp(have, text, size) == 0;
}

int systemd_boot_plan(const char *esp, const struct efi_arch *arch, const char *source,
                      const struct pki *pki, const struct loader_conf *conf, struct systemd_boot_plan *ret)
{
        _cleanup_free_ uint8_t *src = NULL;
        _cleanup_free_ char *version = NULL, *message = NULL;
        struct systemd_boot_plan p = {.paths = {arch->systemd_boot_path, arch->removable_path}};
        char path[PATH_MAX];
        size_t size;
        int r;

        source = source ?: arch->systemd_boot_source;
        r = read_file(source, SYSTEMD_BOOT_MAX_SIZE, &src, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read systemd-boot: %s", source, strerror(-r));
        r = efi_arch_check_image(arch, src, size, &message);
        if (r < 0)
                return log_error_errno(r, "%s: %s", source, message ?: strerror(-r));
        version = image_version(src, size);
        if (!version)
                return log_error_errno(-EBADMSG, "%s: not a systemd-boot image (no .osrel VERSION)", source);
        r = authenticode_sign(src, size, &pki->db, &p.image, &p.size, &message);
        if (r < 0)
                return log_error_errno(r, "%s: signing failed: %s", source, message ?: strerror(-r));

        for (size_t i = 0; i < ELEMENTSOF(p.paths); i++) {
                snprintf(path, sizeof(path), "%s/%s", esp, p.paths[i]);
                p.write[i] = needs_write(path, version, pki->db.certificate,
                                         p.paths[i] == arch->removable_path, conf->replace_removable);
        }
        p.loader_conf = loader_conf_text(conf);
        if (!p.loader_conf) {
                systemd_boot_plan_done(&p);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        snprintf(path, sizeof(path), "%s/%s", esp, LOADER_CONF_PATH);
        p.write_loader_conf = !file_has(path, p.loader_conf);
        *ret = p;
        return 0;
}

static int write_at(int esp_fd, const char *path, const void *data, size_t size)
{
        char dir[PATH_MAX];
        const char *name = strrchr(path, '/') + 1;
        _cleanup_close_ int fd = -1;
        int r;

        snprintf(dir, sizeof(dir), "%.*s", (int)(name - 1 - path), path);
        r = mkdir_p_at(esp_fd, dir);
        if (r >= 0) {
                fd = openat(esp_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = fd < 0 ? -errno : write_file_atomic_at(fd, name, data, size);
        }
        return r < 0 ? log_error_errno(r, "%s: cannot write: %s", path, strerror(-r)) : 0;
}

int systemd_boot_install(int esp_fd, const struct systemd_boot_plan *p)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(p->paths); i++)
                if (p->write[i])
                        r = write_at(esp_fd, p->paths[i], p->image, p->size);
        if (r >= 0 && p->write_loader_conf)
                r = write_at(esp_fd, LOADER_CONF_PATH, p->loader_conf, strlen(p->loader_conf));
        return r;
}

void systemd_boot_plan_done(struct systemd_boot_plan *p)
{
        free(p->image);
        free(p->loader_conf);
        *p = (struct systemd_boot_plan){};
}
