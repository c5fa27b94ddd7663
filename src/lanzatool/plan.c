/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authenticode.h"
#include "base32.h"
#include "entry-name.h"
#include "fs-util.h"
#include "gc.h"
#include "hash-cache.h"
#include "log.h"
#include "os-release.h"
#include "pcrsig.h"
#include "pe-builder.h"
#include "plan.h"
#include "sha256.h"
#include "util.h"

#define B32_SHA256_LEN 52

static void b32_sha256(const uint8_t digest[32], char ret[B32_SHA256_LEN + 1])
{
        base32_encode(digest, 32, ret);
}

/* The kernel version as upstream lanzaboote takes it: what follows the last '-' in the name of
 * the kernel's directory (/nix/store/…-linux-6.6.1/bzImage gives 6.6.1). Anything but a plain
 * version string is replaced, since it becomes part of a file name. */
static char *kernel_version(const char *kernel)
{
        char buf[PATH_MAX], *dir, *v;

        snprintf(buf, sizeof(buf), "%s", kernel);
        dir = basename(dirname(buf));
        v = strrchr(dir, '-');
        v = strdup(v && v[1] ? v + 1 : "unknown");
        for (char *c = v; c && *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("._+", *c))
                        *c = '_';
        return v;
}

/* A private copy (initrd secrets) is new every time: not cached. */
static int payload_add(struct plan *p, const char *kind, const char *kver, const char *source, bool private,
                       size_t *ret_index)
{
        char b32[B32_SHA256_LEN + 1], *name;
        struct payload pl = {};
        int r;

        r = private ? sha256_file_at(AT_FDCWD, source, pl.sha256, &pl.size)
                    : hash_cache_source(p->cache, source, pl.sha256, &pl.size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the %s: %s", source, kind, strerror(-r));
        b32_sha256(pl.sha256, b32);
        if (asprintf(&name, "%s-%s-%s.efi", kind, kver, b32) < 0)
                return log_error_errno(-ENOMEM, "out of memory");

        /* Content-addressed: generations sharing a kernel share the file. */
        for (size_t i = 0; i < p->n_payloads; i++)
                if (strcmp(p->payloads[i].name, name) == 0) {
                        free(name);
                        *ret_index = i;
                        return 0;
                }
        pl.name = name;
        pl.source = strdup(source);
        struct payload *n = reallocarray(p->payloads, p->n_payloads + 1, sizeof(*n));
        if (!pl.source || !n) {
                free(pl.name);
                free(pl.source);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        p->payloads = n;
        p->payloads[p->n_payloads] = pl;
        *ret_index = p->n_payloads++;
        return 0;
}

static int run_appender(const char *appender, const char *file)
{
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execl(appender, appender, file, (char *)NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(-EPROTO, "%s: initrd secrets appender failed (status %d)", appender,
                                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}

/* initrdSecrets: the appender adds a cpio of host secrets to a private copy of the initrd; what
 * gets hashed and installed is that copy. */
static int initrd_with_secrets(struct plan *p, const struct bootspec *b, char **ret_path)
{
        static unsigned counter;
        uint8_t *data = NULL;
        size_t size;
        char *path;
        int r, fd;

        if (!p->tmpdir) {
                char tmpl[] = "/tmp/lanzatool-XXXXXX";
                if (!mkdtemp(tmpl) || !(p->tmpdir = strdup(tmpl)))
                        return log_error_errno(-errno, "cannot create a private directory: %m");
        }
        r = read_file(b->initrd, SIZE_MAX / 2, &data, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the initrd: %s", b->initrd, strerror(-r));
        if (asprintf(&path, "%s/initrd-%u", p->tmpdir, counter++) < 0) {
                free(data);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        r = fd < 0 || write(fd, data, size) != (ssize_t)size ? -errno : 0;
        if (fd >= 0)
                close(fd);
        free(data);
        if (r == 0)
                r = run_appender(b->initrd_secrets, path);
        else
                log_error("%s: %s", path, strerror(-r));
        if (r < 0) {
                free(path);
                return r;
        }
        *ret_path = path;
        return 0;
}

/* The entry's name hashes its inputs exactly as upstream lanzaboote does (serde_json of
 * [["toplevel", bytes], ["public_key", bytes]]), so a reused generation number or a new key gives
 * a new name, and upstream's stubs are recognised. */
char *entry_stem(const char *toplevel, const char *public_key, size_t public_key_size, unsigned gen,
                 const char *spec)
{
        struct sha256_ctx ctx;
        uint8_t digest[32];
        char b32[B32_SHA256_LEN + 1], *stem, num[8];
        const struct {
                const char *key;
                const uint8_t *data;
                size_t size;
        } items[] = {
                {"toplevel", (const uint8_t *)toplevel, strlen(toplevel)},
                {"public_key", (const uint8_t *)public_key, public_key_size},
        };

        sha256_init(&ctx);
        sha256_update(&ctx, "[", 1);
        for (size_t i = 0; i < 2; i++) {
                sha256_update(&ctx, i ? ",[\"" : "[\"", i ? 3 : 2);
                sha256_update(&ctx, items[i].key, strlen(items[i].key));
                sha256_update(&ctx, "\",[", 3);
                for (size_t j = 0; j < items[i].size; j++) {
                        int n = snprintf(num, sizeof(num), j ? ",%u" : "%u", items[i].data[j]);
                        sha256_update(&ctx, num, (size_t)n);
                }
                sha256_update(&ctx, "]]", 2);
        }
        sha256_update(&ctx, "]", 1);
        sha256_final(&ctx, digest);
        b32_sha256(digest, b32);

        if ((spec ? asprintf(&stem, ENTRY_PREFIX "generation-%u-specialisation-%s-%s", gen, spec, b32)
                  : asprintf(&stem, ENTRY_PREFIX "generation-%u-%s", gen, b32)) < 0)
                return NULL;
        return stem;
}

static char *esp_path_of(const char *name)
{
        char *s;
        return asprintf(&s, "\\EFI\\nixos\\%s", name) < 0 ? NULL : s;
}

/* What every stub of this run has in common: the unsigned stub, the certificate and the public key. */
static int signer_id(struct plan *p, const struct plan_inputs *in)
{
        _cleanup_free_ uint8_t *cert = NULL, *key = NULL;
        uint8_t *w;
        struct sha256_ctx ctx;
        int cert_size, key_size;

        if (p->have_signer_id)
                return 0;
        cert_size = i2d_X509(in->pki->db.certificate, NULL);
        key_size = i2d_PUBKEY(in->pki->db.key, NULL);
        if (cert_size <= 0 || key_size <= 0 || !(cert = malloc((size_t)cert_size)) ||
            !(key = malloc((size_t)key_size)))
                return -ENOMEM;
        w = cert;
        i2d_X509(in->pki->db.certificate, &w);
        w = key;
        i2d_PUBKEY(in->pki->db.key, &w);
        sha256_init(&ctx);
        sha256_update(&ctx, "lanzatool stub inputs 1", 24);
        sha256_update(&ctx, &in->stub_size, sizeof(in->stub_size));
        sha256_update(&ctx, in->stub, in->stub_size);
        sha256_update(&ctx, &cert_size, sizeof(cert_size));
        sha256_update(&ctx, cert, (size_t)cert_size);
        sha256_update(&ctx, &key_size, sizeof(key_size));
        sha256_update(&ctx, key, (size_t)key_size);
        sha256_final(&ctx, p->signer_id);
        p->have_signer_id = true;
        return 0;
}

/* The digest of everything that goes into the entry's signed stub; false when there is no cache or the
 * stub has parts not in it (PCR signatures). */
static bool stub_inputs(struct plan *p, const struct plan_inputs *in,
                        const struct pe_builder_section *sections, size_t n, uint8_t ret[32])
{
        struct sha256_ctx ctx;

        if (!p->cache || in->pcr_signer || signer_id(p, in) < 0)
                return false;
        sha256_init(&ctx);
        sha256_update(&ctx, p->signer_id, 32);
        for (size_t i = 0; i < n; i++) {
                uint64_t size = sections[i].size;
                sha256_update(&ctx, sections[i].name, strlen(sections[i].name) + 1);
                sha256_update(&ctx, &size, sizeof(size));
                sha256_update(&ctx, sections[i].data, sections[i].size);
        }
        sha256_final(&ctx, ret);
        return true;
}

/* A stub of the entry's stem on the ESP that the cache knows as the stub these inputs gave. */
static bool stub_known(const struct plan *p, const struct plan_inputs *in, struct entry *e)
{
        uint8_t sha[32];
        _cleanup_close_ int fd = -1;
        DIR *d;
        bool found = false;

        if (!e->cacheable || in->esp_fd < 0 || !hash_cache_stub_get(p->cache, e->inputs, sha) ||
            (fd = openat(in->esp_fd, ESP_LINUX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            !(d = fdopendir(dup(fd))))
                return false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                struct entry_name n;
                char *path;
                if (entry_name_parse(de->d_name, &n) < 0)
                        continue;
                if (strcmp(n.stem, e->stem) == 0 &&
                    asprintf(&path, "%s/" ESP_LINUX_DIR "/%s", p->esp_path, de->d_name) >= 0) {
                        if (hash_cache_esp_known(p->cache, fd, de->d_name, path, sha)) {
                                char *name = strdup(de->d_name);
                                if (name) {
                                        free(e->file_name);
                                        e->file_name = name;
                                        found = e->present = true;
                                }
                        }
                        free(path);
                }
                entry_name_done(&n);
        }
        closedir(d);
        if (found)
                e->why = "cached: on the ESP unchanged since this install wrote it, not rebuilt";
        return found;
}

static int build_stub(struct plan *p, const struct plan_inputs *in, const struct bootspec *b,
                      struct entry *e)
{
        const struct payload *k = &p->payloads[e->kernel];
        const struct payload *i = e->initrd == NO_PAYLOAD ? NULL : &p->payloads[e->initrd];
        char *osrel =
                os_release_build(b->sort_key, b->label, e->generation, e->specialisation, e->build_time);
        char *cmdline = bootspec_cmdline(b), *kpath = esp_path_of(k->name),
             *ipath = i ? esp_path_of(i->name) : NULL;
        uint8_t *unsigned_stub = NULL;
        size_t unsigned_size;
        char *message = NULL;
        int r = -ENOMEM;

        if (osrel && cmdline && kpath && (!i || ipath)) {
                const struct pe_builder_section sections[] = {
                        {".osrel", osrel, strlen(osrel)},
                        {".cmdline", cmdline, strlen(cmdline)},
                        {".linux", kpath, strlen(kpath)},
                        {".linuxh", k->sha256, 32},
                        {".initrd", ipath, i ? strlen(ipath) : 0},
                        {".initrdh", i ? i->sha256 : NULL, i ? 32 : 0},
                };
                e->cacheable = stub_inputs(p, in, sections, i ? 6 : 4, e->inputs);
                if (stub_known(p, in, e)) {
                        e->osrel = osrel;
                        free(cmdline);
                        free(kpath);
                        free(ipath);
                        return 0;
                }
                r = pe_builder_add_sections(in->stub, in->stub_size, sections, i ? 6 : 4, &unsigned_stub,
                                            &unsigned_size, &message);
                if (r < 0)
                        log_error("%s: %s", in->stub_path, message ?: strerror(-r));
                else if (in->pcr_signer)
                        r = pcr_signer_add_sections(in->pcr_signer, &unsigned_stub, &unsigned_size,
                                                    k->source, i ? i->source : NULL);
                if (r >= 0) {
                        r = authenticode_sign(unsigned_stub, unsigned_size, &in->pki->db, &e->stub,
                                              &e->stub_size, &message);
                        if (r < 0)
                                log_error("%s: signing failed: %s", in->stub_path, message ?: strerror(-r));
                }
        } else
                log_error("out of memory");
        free(message);
        free(unsigned_stub);
        e->osrel = osrel;
        free(cmdline);
        free(kpath);
        free(ipath);
        return r;
}

/* Whether the stub dir_fd/name is signed by our key and everything it references is in EFI/nixos. */
static bool entry_intact(int esp_fd, int dir_fd, const char *name, X509 *cert)
{
        _cleanup_free_ uint8_t *image = NULL;
        _cleanup_free_ char *message = NULL;
        char path[PATH_MAX], **refs = NULL;
        size_t size;
        bool ok;

        if (read_file_at(dir_fd, name, 64u << 20, &image, &size) < 0 ||
            authenticode_verify(image, size, cert, &message) < 0)
                return false;
        snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir_fd, name);
        ok = stub_references(path, &refs) >= 0 && refs;
        for (size_t i = 0; ok && refs[i]; i++) {
                char ref[PATH_MAX];
                snprintf(ref, sizeof(ref), ESP_NIXOS_DIR "/%s", refs[i]);
                ok = faccessat(esp_fd, ref, F_OK, 0) == 0;
        }
        strv_free(refs);
        return ok;
}

/* An entry with initrd secrets whose stem (toplevel and key) is on the ESP, intact, stays as it is:
 * its appender does not run again. */
static bool reuse_secrets_entry(const struct plan_inputs *in, struct entry *e)
{
        _cleanup_close_ int fd =
                in->esp_fd < 0 ? -1 : openat(in->esp_fd, ESP_LINUX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(dup(fd));
        bool found = false;

        for (struct dirent *de; d && !found && (de = readdir(d));) {
                struct entry_name n;
                if (entry_name_parse(de->d_name, &n) < 0)
                        continue;
                if (strcmp(n.stem, e->stem) == 0 &&
                    entry_intact(in->esp_fd, fd, de->d_name, in->pki->db.certificate) &&
                    (e->file_name = strdup(de->d_name))) {
                        found = e->present = true;
                        e->why = "intact entry with initrd secrets, not rebuilt";
                }
                entry_name_done(&n);
        }
        if (d)
                closedir(d);
        return found;
}

static void entry_free(struct entry *e)
{
        free(e->specialisation);
        free(e->stem);
        free(e->file_name);
        free(e->replaces);
        free(e->stub);
        free(e->osrel);
}

/* Hashes the entry's kernel and initrd (running the secrets appender) and builds its signed stub. */
static int plan_new_entry(struct plan *p, const struct plan_inputs *in, const struct bootspec *b,
                          struct entry *e)
{
        _cleanup_free_ char *kver = kernel_version(b->kernel), *secrets_copy = NULL;
        int r;

        if (!kver)
                return log_error_errno(-ENOMEM, "out of memory");
        r = payload_add(p, "kernel", kver, b->kernel, false, &e->kernel);
        if (r >= 0 && b->initrd && b->initrd_secrets)
                r = initrd_with_secrets(p, b, &secrets_copy);
        if (r >= 0 && b->initrd)
                r = payload_add(p, "initrd", kver, secrets_copy ?: b->initrd, secrets_copy != NULL,
                                &e->initrd);
        if (r < 0)
                return r;
        if ((in->boot_counting ? asprintf(&e->file_name, "%s+%u.efi", e->stem, in->boot_counting)
                               : asprintf(&e->file_name, "%s.efi", e->stem)) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        return build_stub(p, in, b, e);
}

static int plan_add_entry(struct plan *p, const struct plan_inputs *in, const struct generation *g,
                          const struct bootspec *b, const char *spec)
{
        struct entry e = {.generation = g->number, .build_time = g->build_time, .initrd = NO_PAYLOAD};
        struct entry *n = NULL;
        int r = 0;

        e.specialisation = spec ? strdup(spec) : NULL;
        e.stem = entry_stem(b->toplevel, in->pki->db_cert_pem, in->pki->db_cert_pem_size, g->number, spec);
        if (!e.stem || (spec && !e.specialisation))
                r = log_error_errno(-ENOMEM, "out of memory");
        else if (b->initrd_secrets && reuse_secrets_entry(in, &e))
                e.kernel = NO_PAYLOAD;
        else
                r = plan_new_entry(p, in, b, &e);
        if (r >= 0 && !(n = reallocarray(p->entries, p->n_entries + 1, sizeof(*n))))
                r = log_error_errno(-ENOMEM, "out of memory");
        if (r < 0) {
                entry_free(&e);
                return r;
        }
        p->entries = n;
        p->entries[p->n_entries++] = e;
        return 0;
}

int plan_add_generation(struct plan *p, const struct plan_inputs *in, const struct generation *g)
{
        const struct bootspec *b = g->bootspec;
        size_t n_payloads = p->n_payloads, n_entries = p->n_entries;
        int r = plan_add_entry(p, in, g, b, NULL);

        for (size_t i = 0; r >= 0 && i < b->n_specialisations; i++)
                r = plan_add_entry(p, in, g, b->specialisations[i].bootspec, b->specialisations[i].name);
        if (r < 0) {
                /* All of the generation or nothing: the caller may go on without it. */
                for (size_t i = n_payloads; i < p->n_payloads; i++) {
                        free(p->payloads[i].source);
                        free(p->payloads[i].name);
                }
                for (size_t i = n_entries; i < p->n_entries; i++)
                        entry_free(&p->entries[i]);
                p->n_payloads = n_payloads;
                p->n_entries = n_entries;
        }
        return r;
}

static bool file_equals_at(int dir_fd, const char *name, const uint8_t *data, size_t size)
{
        uint8_t *have = NULL;
        size_t have_size;
        bool eq;

        if (read_file_at(dir_fd, name, size, &have, &have_size) < 0)
                return false;
        eq = have_size == size && memcmp(have, data, size) == 0;
        free(have);
        return eq;
}

static char *esp_file_path(const struct plan *p, const char *dir, const char *name)
{
        char *path;
        return asprintf(&path, "%s/%s/%s", p->esp_path ?: ".", dir, name) < 0 ? NULL : path;
}

void plan_note_payload(const struct plan *p, int nixos_fd, const struct payload *pl)
{
        _cleanup_free_ char *path = p->cache ? esp_file_path(p, ESP_NIXOS_DIR, pl->name) : NULL;

        if (path)
                hash_cache_esp_note(p->cache, nixos_fd, pl->name, path, pl->sha256);
}

void plan_note_entry(const struct plan *p, int linux_fd, const struct entry *e)
{
        _cleanup_free_ char *path = p->cache ? esp_file_path(p, ESP_LINUX_DIR, e->file_name) : NULL;
        uint8_t sha[32];

        if (!path || !e->stub)
                return;
        sha256_digest(e->stub, e->stub_size, sha);
        hash_cache_esp_note(p->cache, linux_fd, e->file_name, path, sha);
        if (e->cacheable)
                hash_cache_stub_note(p->cache, e->inputs, sha);
}

static void match_entry(const struct plan *p, struct entry *e, int linux_fd, const char *existing,
                        const char *stem)
{
        if (strcmp(stem, e->stem) != 0 || !e->stub) /* no stub: found on the ESP by the cache */
                return;
        if (file_equals_at(linux_fd, existing, e->stub, e->stub_size)) {
                /* Keep the name, and with it the boot counters systemd-boot keeps there. */
                char *keep = strdup(existing);
                if (keep) {
                        free(e->file_name);
                        e->file_name = keep;
                        free(e->replaces);
                        e->replaces = NULL;
                        e->present = true;
                        e->why = "hash match: the same stub is on the ESP";
                        plan_note_entry(p, linux_fd, e);
                }
                return;
        }
        if (!e->present)
                e->why = "changed: same toplevel and key, different stub bytes (stub, its inputs or the "
                         "signature)";
        if (!e->present && strcmp(existing, e->file_name) != 0 && !e->replaces)
                e->replaces = strdup(existing);
}

/* A payload is on the ESP when the cache knows the file there as this content, or when it hashes so. */
static bool payload_present(const struct plan *p, int nixos_fd, struct payload *pl)
{
        _cleanup_free_ char *path = p->cache ? esp_file_path(p, ESP_NIXOS_DIR, pl->name) : NULL;
        uint8_t digest[32];
        uint64_t size;

        if (path && hash_cache_esp_known(p->cache, nixos_fd, pl->name, path, pl->sha256)) {
                pl->why = "cached: on the ESP unchanged since written";
                return pl->known = true;
        }
        if (sha256_file_at(nixos_fd, pl->name, digest, &size) < 0) {
                pl->why = "new";
                return false;
        }
        if (memcmp(digest, pl->sha256, 32) != 0) {
                pl->why = "changed: the file on the ESP does not hash to its name";
                return false;
        }
        pl->why = "hash match";
        plan_note_payload(p, nixos_fd, pl);
        return true;
}

int plan_match_esp(struct plan *p, int esp_fd, unsigned boot_counting)
{
        int nixos_fd = openat(esp_fd, ESP_NIXOS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int linux_fd = openat(esp_fd, ESP_LINUX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;

        (void)boot_counting;
        for (size_t i = 0; nixos_fd >= 0 && i < p->n_payloads; i++)
                p->payloads[i].present = payload_present(p, nixos_fd, &p->payloads[i]);
        if (linux_fd >= 0 && (d = fdopendir(dup(linux_fd)))) {
                for (struct dirent *de; (de = readdir(d));) {
                        struct entry_name n;
                        if (entry_name_parse(de->d_name, &n) < 0)
                                continue;
                        for (size_t i = 0; i < p->n_entries; i++)
                                match_entry(p, &p->entries[i], linux_fd, de->d_name, n.stem);
                        entry_name_done(&n);
                }
                closedir(d);
        }
        for (size_t i = 0; i < p->n_payloads; i++)
                if (!p->payloads[i].why)
                        p->payloads[i].why = "new";
        for (size_t i = 0; i < p->n_entries; i++)
                if (!p->entries[i].why)
                        p->entries[i].why = "new: no entry of this toplevel and key on the ESP";
        if (nixos_fd >= 0)
                close(nixos_fd);
        if (linux_fd >= 0)
                close(linux_fd);
        return 0;
}

void plan_done(struct plan *p)
{
        for (size_t i = 0; i < p->n_payloads; i++) {
                free(p->payloads[i].source);
                free(p->payloads[i].name);
        }
        for (size_t i = 0; i < p->n_entries; i++)
                entry_free(&p->entries[i]);
        if (p->tmpdir) {
                char cmd[PATH_MAX + 16];
                DIR *d = opendir(p->tmpdir);
                for (struct dirent *de; d && (de = readdir(d));)
                        if (de->d_name[0] != '.') {
                                snprintf(cmd, sizeof(cmd), "%s/%s", p->tmpdir, de->d_name);
                                (void)unlink(cmd);
                        }
                if (d)
                        closedir(d);
                (void)rmdir(p->tmpdir);
        }
        free(p->payloads);
        free(p->entries);
        free(p->tmpdir);
        *p = (struct plan){};
}
