/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "hash-cache.h"
#include "log.h"
#include "progress.h"
#include "sha256.h"
#include "util.h"

#define HEADER        "lanzatool hash-cache 1\n"
#define TRAILER       "end "
#define TRAILER_SIZE  (sizeof(TRAILER) - 1 + 64 + 1)
#define MAX_FILE_SIZE (16u << 20)

enum kind {
        KIND_SOURCE = 'F',
        KIND_ESP = 'E',
        KIND_STUB = 'S',
};

/* One line: "K <sha256 hex> <size> <dev> <ino> <mtime ns> <ctime ns> <key>", key to the end of the line:
 * a path, or a stub's inputs digest in hex. */
struct record {
        char kind;
        uint8_t sha256[32];
        uint64_t size, dev, ino;
        int64_t mtime_ns, ctime_ns;
        char *key;
        bool used; /* written back by hash_cache_save() */
};

struct hash_cache {
        char *dir;
        char *path; /* STATE_DIR/hash-cache */
        struct record *records;
        size_t n_records;
        char *loaded; /* the file as read, to see whether saving would change it */
        size_t loaded_size;
};

static void hex(const uint8_t *data, size_t size, char *ret)
{
        for (size_t i = 0; i < size; i++)
                sprintf(ret + 2 * i, "%02x", data[i]);
}

static int unhex(const char *s, uint8_t *ret, size_t size)
{
        for (size_t i = 0; i < size; i++) {
                unsigned v;
                if (!strchr("0123456789abcdef", s[2 * i]) || !strchr("0123456789abcdef", s[2 * i + 1]) ||
                    !s[2 * i] || !s[2 * i + 1] || sscanf(s + 2 * i, "%2x", &v) != 1)
                        return -EBADMSG;
                ret[i] = (uint8_t)v;
        }
        return 0;
}

static int64_t ns(struct timespec t)
{
        return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void records_free(struct hash_cache *c)
{
        for (size_t i = 0; i < c->n_records; i++)
                free(c->records[i].key);
        free(c->records);
        c->records = NULL;
        c->n_records = 0;
}

static int add_record(struct hash_cache *c, const struct record *r)
{
        struct record *n = reallocarray(c->records, c->n_records + 1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        c->records = n;
        c->records[c->n_records] = *r;
        if (!(c->records[c->n_records].key = strdup(r->key)))
                return -ENOMEM;
        c->n_records++;
        return 0;
}

static int parse_line(struct hash_cache *c, const char *line, size_t len)
{
        struct record r = {};
        char sha[65], *text = strndup(line, len);
        int key_at = -1, e;

        if (!text)
                return -ENOMEM;
        e = sscanf(text, "%c %64s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %n", &r.kind,
                   sha, &r.size, &r.dev, &r.ino, &r.mtime_ns, &r.ctime_ns, &key_at);
        if (e != 7 || key_at < 0 || !text[key_at] || !strchr("FES", r.kind) || strlen(sha) != 64 ||
            unhex(sha, r.sha256, 32) < 0) {
                free(text);
                return -EBADMSG;
        }
        r.key = text + key_at;
        e = add_record(c, &r);
        free(text);
        return e;
}

/* Whole file or nothing: header, records, then "end <SHA-256 of everything before it>". */
static int parse(struct hash_cache *c, const char *data, size_t size, const char **reason)
{
        uint8_t want[32], have[32];
        const char *end, *p;

        if (size < strlen(HEADER) || memcmp(data, HEADER, strlen(HEADER)) != 0)
                return *reason = "not a lanzatool hash-cache 1 file", -EBADMSG;
        if (memchr(data, 0, size))
                return *reason = "holds a NUL byte", -EBADMSG;
        if (size < strlen(HEADER) + TRAILER_SIZE || data[size - 1] != '\n')
                return *reason = "truncated", -EBADMSG;
        end = data + size - TRAILER_SIZE;
        if ((end != data && end[-1] != '\n') || memcmp(end, TRAILER, strlen(TRAILER)) != 0 ||
            unhex(end + strlen(TRAILER), want, 32) < 0)
                return *reason = "truncated (no end line)", -EBADMSG;
        sha256_digest(data, (size_t)(end - data), have);
        if (memcmp(want, have, 32) != 0)
                return *reason = "checksum mismatch", -EBADMSG;
        for (p = data + strlen(HEADER); p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                int r = parse_line(c, p, (size_t)(nl - p));
                if (r < 0)
                        return *reason = r == -ENOMEM ? "out of memory" : "malformed record", r;
                p = nl + 1;
        }
        return 0;
}

struct hash_cache *hash_cache_load(const char *state_dir)
{
        struct hash_cache *c;
        _cleanup_close_ int fd = -1;
        const char *reason = NULL;
        uint8_t *data = NULL;
        struct stat st;
        size_t size;
        int r;

        if (!state_dir || !*state_dir)
                return NULL;
        c = calloc(1, sizeof(*c));
        if (!c || !(c->dir = strdup(state_dir)) ||
            asprintf(&c->path, "%s/" HASH_CACHE_FILE, state_dir) < 0) {
                if (c)
                        free(c->dir);
                free(c);
                log_warning("out of memory: no hash cache");
                return NULL;
        }
        fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        log_warning("%s: ignored, hashing everything: %m", c->path);
                return c;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                reason = "not a regular file";
        else if (st.st_uid != geteuid() || (st.st_mode & 022))
                reason = "not owned by us, or writable by others";
        else if ((r = read_fd_bounded(fd, c->path, MAX_FILE_SIZE, &data, &size)) < 0)
                reason = "cannot be read";
        else if (parse(c, (const char *)data, size, &reason) >= 0) {
                c->loaded = (char *)data;
                c->loaded_size = size;
                return c;
        }
        free(data);
        records_free(c);
        log_warning("%s: ignored, hashing everything: %s", c->path, reason);
        return c;
}

static struct record *find(struct hash_cache *c, char kind, const char *key)
{
        for (size_t i = 0; c && i < c->n_records; i++)
                if (c->records[i].kind == kind && strcmp(c->records[i].key, key) == 0)
                        return &c->records[i];
        return NULL;
}

/* Replaces the record of that kind and key, or adds it; keys with a newline are not recorded. */
static void note(struct hash_cache *c, const struct record *r)
{
        struct record *old;

        if (!c || strchr(r->key, '\n'))
                return;
        if ((old = find(c, r->kind, r->key))) {
                char *key = old->key;
                *old = *r;
                old->key = key;
                old->used = true;
        } else {
                struct record n = *r;
                n.used = true;
                if (add_record(c, &n) < 0)
                        log_warning("out of memory: not caching %s", r->key);
        }
}

static struct record from_stat(char kind, const struct stat *st, const uint8_t sha256[32], const char *key)
{
        struct record r = {
                .kind = kind,
                .size = (uint64_t)st->st_size,
                .dev = (uint64_t)st->st_dev,
                .ino = kind == KIND_SOURCE ? (uint64_t)st->st_ino : 0,
                .mtime_ns = ns(st->st_mtim),
                .ctime_ns = ns(st->st_ctim),
                .key = (char *)key,
        };

        memcpy(r.sha256, sha256, 32);
        return r;
}

static bool matches(const struct record *r, const struct record *now)
{
        return r && r->size == now->size && r->dev == now->dev && r->ino == now->ino &&
               r->mtime_ns == now->mtime_ns && r->ctime_ns == now->ctime_ns;
}

int hash_cache_source(struct hash_cache *c, const char *path, uint8_t ret[32], uint64_t *ret_size)
{
        struct stat before, after;
        _cleanup_close_ int fd = open_regular_at(AT_FDCWD, path, &before);
        struct record *r, now;
        int e;

        if (fd < 0)
                return fd;
        now = from_stat(KIND_SOURCE, &before, ret, path);
        if (matches(r = find(c, KIND_SOURCE, path), &now)) {
                memcpy(ret, r->sha256, 32);
                *ret_size = r->size;
                r->used = true;
                log_debug("%s: hash from the cache", path);
                return 0;
        }
        e = sha256_fd(fd, ret, ret_size);
        if (e < 0)
                return e;
        progress_add(*ret_size, 1);
        log_debug("%s: hashed (%s)", path, c ? "not in the cache, or changed since" : "no cache");
        /* Recorded only when it did not change while being read. */
        if (fstat(fd, &after) == 0 && *ret_size == (uint64_t)after.st_size) {
                struct record then = from_stat(KIND_SOURCE, &after, ret, path);
                now = from_stat(KIND_SOURCE, &before, ret, path);
                if (matches(&now, &then))
                        note(c, &now);
        }
        return 0;
}

bool hash_cache_esp_known(struct hash_cache *c, int dir_fd, const char *name, const char *path,
                          const uint8_t sha256[32])
{
        struct record *r = find(c, KIND_ESP, path);
        struct stat st;

        if (!r || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            memcmp(r->sha256, sha256, 32) != 0 ||
            !matches(r, &(struct record){.size = (uint64_t)st.st_size,
                                         .dev = (uint64_t)st.st_dev,
                                         .mtime_ns = ns(st.st_mtim),
                                         .ctime_ns = ns(st.st_ctim)}))
                return false;
        r->used = true;
        return true;
}

void hash_cache_esp_note(struct hash_cache *c, int dir_fd, const char *name, const char *path,
                         const uint8_t sha256[32])
{
        struct stat st;
        struct record r;

        if (!c || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return;
        r = from_stat(KIND_ESP, &st, sha256, path);
        note(c, &r);
}

bool hash_cache_stub_get(struct hash_cache *c, const uint8_t inputs[32], uint8_t ret_sha256[32])
{
        char key[65];
        struct record *r;

        hex(inputs, 32, key);
        if (!(r = find(c, KIND_STUB, key)))
                return false;
        memcpy(ret_sha256, r->sha256, 32);
        r->used = true;
        return true;
}

void hash_cache_stub_note(struct hash_cache *c, const uint8_t inputs[32], const uint8_t sha256[32])
{
        char key[65];
        struct record r = {.kind = KIND_STUB, .key = key};

        hex(inputs, 32, key);
        memcpy(r.sha256, sha256, 32);
        note(c, &r);
}

static char *serialize(const struct hash_cache *c, size_t *ret_size)
{
        char *text = NULL, sha[65];
        size_t size = 0;
        uint8_t digest[32];
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        fputs(HEADER, f);
        for (size_t i = 0; i < c->n_records; i++) {
                const struct record *r = &c->records[i];
                if (!r->used)
                        continue;
                hex(r->sha256, 32, sha);
                fprintf(f, "%c %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s\n", r->kind,
                        sha, r->size, r->dev, r->ino, r->mtime_ns, r->ctime_ns, r->key);
        }
        if (fflush(f) != 0) {
                fclose(f);
                free(text);
                return NULL;
        }
        sha256_digest(text, size, digest);
        hex(digest, 32, sha);
        fprintf(f, TRAILER "%s\n", sha);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        *ret_size = size;
        return text;
}

int hash_cache_save(struct hash_cache *c)
{
        _cleanup_free_ char *text = NULL, *tmp = NULL;
        size_t size, done = 0;
        int fd, r = 0;

        if (!c)
                return 0;
        if (!(text = serialize(c, &size)))
                return log_error_errno(-ENOMEM, "out of memory");
        if (c->loaded && size == c->loaded_size && memcmp(text, c->loaded, size) == 0)
                return 0;
        if (asprintf(&tmp, "%s.XXXXXX", c->path) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        (void)mkdir(c->dir, 0700); /* one level: /var/lib exists on any system that has a state */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                /* A read-only state directory (an image build): no cache, as documented. */
                if (errno == EROFS || errno == EACCES || errno == EPERM || errno == ENOENT)
                        log_debug("%s: not saved: %m", c->path);
                else
                        r = log_errno(LOG_LEVEL_WARNING, errno, "%s: not saved", c->path);
                return r;
        }
        while (r == 0 && done < size) {
                ssize_t n = write(fd, text + done, size - done);
                if (n < 0 && errno != EINTR)
                        r = -errno;
                else if (n > 0)
                        done += (size_t)n;
        }
        /* No fsync: after a crash a torn or empty file fails its checksum and is ignored, and a lost one
         * only costs the next install its speed, not a journal commit on every install now. */
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, c->path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                log_warning("%s: not saved: %s", c->path, strerror(-r));
        }
        return r;
}

void hash_cache_free(struct hash_cache *c)
{
        if (!c)
                return;
        records_free(c);
        free(c->loaded);
        free(c->dir);
        free(c->path);
        free(c);
}
