/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#define IO_CHUNK (1u << 20)

void crash_point(void)
{
#ifdef LANZATOOL_CRASH_HOOKS
        static unsigned long count;
        const char *at = getenv("LANZATOOL_CRASH_AT"), *record = getenv("LANZATOOL_CRASH_COUNT");

        count++;
        if (record) {
                FILE *f = fopen(record, "we");
                if (f) {
                        fprintf(f, "%lu\n", count);
                        fclose(f);
                }
        }
        if (at && strtoul(at, NULL, 10) == count)
                raise(SIGKILL);
#endif
}

int open_regular_at(int dir_fd, const char *path, struct stat *ret_st)
{
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

        if (fd < 0)
                return -errno;
        if (fstat(fd, ret_st) < 0)
                r = -errno;
        else if (S_ISDIR(ret_st->st_mode))
                r = -EISDIR;
        else if (!S_ISREG(ret_st->st_mode))
                r = -EBADFD;
        else
                return fd;
        close(fd);
        return r;
}

int read_file_at(int dir_fd, const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size)
{
        struct stat st;
        _cleanup_close_ int fd = open_regular_at(dir_fd, path, &st);
        uint8_t *data = NULL;
        size_t size = 0;

        if (fd < 0)
                return fd;
        if ((uint64_t)st.st_size > max_size)
                return -EFBIG;
        data = malloc((size_t)st.st_size + 1);
        if (!data)
                return -ENOMEM;
        while (size < (size_t)st.st_size) {
                ssize_t n = read(fd, data + size, (size_t)st.st_size - size);
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        free(data);
                        return r;
                }
                size += (size_t)n;
        }
        data[size] = 0; /* convenient for text; not counted */
        *ret_data = data;
        *ret_size = size;
        return 0;
}

int read_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size)
{
        return read_file_at(AT_FDCWD, path, max_size, ret_data, ret_size);
}

static int write_all(int fd, const void *data, size_t size)
{
        const uint8_t *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size < IO_CHUNK ? size : IO_CHUNK);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

/* Opens a fresh temporary file next to name; ret_tmp receives its name. The name is random, so a
 * leftover of an interrupted run is never reused and never has to be deleted first (on FAT,
 * deleting it can be unsafe: see leftovers.c). */
static int open_tmp_at(int dir_fd, const char *name, char ret_tmp[NAME_MAX + 1])
{
        uint32_t nonce;
        int fd;

        if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
                return -errno;
        if ((size_t)snprintf(ret_tmp, NAME_MAX + 1, TMP_PREFIX "%08" PRIx32 "-%s", nonce, name) > NAME_MAX)
                return -ENAMETOOLONG;
        crash_point();
        fd = openat(dir_fd, ret_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
        return fd < 0 ? -errno : fd;
}

/* Puts the complete, unnamed-yet content of fd (written to the temporary tmp) under name, so that
 * after a power loss at any instant name is either absent, the old file, the new file, or (only
 * when name is new) an empty file; never a name pointing at freed or foreign clusters. The
 * argument, step by step, against Linux vfat (../shared/reference/fat-durability.md):
 *
 * 1. fsync(tmp): the data, tmp's directory slot and the FAT chain of its clusters reach the disk,
 *    then a device flush. From here on the new clusters are allocated on disk.
 * 2. Open the old name, if any, and hold it open. vfat frees a replaced file's clusters when its
 *    inode is evicted (fat_evict_inode), and an open file is not evicted. Without this, rename()
 *    would free the old clusters in the in-memory FAT at once, and any writeback before step 5
 *    could persist that FAT while the slot of name still points at them: a dangling name.
 * 3. rename(tmp, name): in memory, tmp's slot is deleted; a replaced name keeps its slot with the
 *    OLD start cluster and size; a new name gets a slot with start cluster 0 and size 0. The new
 *    start cluster and size reach that slot only when the moved inode is written (step 5).
 * 4. fsync(dir): writes the directory's buffers as in step 3 and flushes. Durable now: tmp gone;
 *    name = the old file (its clusters still allocated, step 2) or, when new, an empty file,
 *    which systemd-boot skips (no PE sections) and the next install rewrites. Doing step 5 first
 *    instead could persist name's updated slot while tmp's slot (maybe in another sector) still
 *    points at the same clusters: a cross-link, which fsck.fat may "repair" by truncating name.
 * 5. fsync(file): fat_write_inode writes name's slot with the new start cluster and size; the
 *    chain is already durable (step 1); then a device flush. name is the new file.
 * 6. Close the old file: only now are its clusters freed, in memory; whether or not that FAT
 *    change reaches the disk, no durable slot points at them any more (at worst a lost chain,
 *    which fsck.fat reclaims). A freed cluster reused by the next file cannot be under a live
 *    slot either.
 * Every call ends with a device flush (step 5), so two calls are separate flush epochs: the two
 * systemd-boot copies are never in flight together, and a later removal sees this file durable.
 * On other file systems the same steps are the usual write-fsync-rename-fsync. */
static int commit_tmp_at(int dir_fd, int fd, const char *tmp, const char *name, int r)
{
        _cleanup_close_ int old = -1;

        if (r >= 0 && fsync(fd) < 0) /* 1 */
                r = -errno;
        if (r >= 0) {
                old = openat(dir_fd, name,
                             O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK); /* 2 */
                if (old < 0 && errno != ENOENT)
                        r = -errno;
        }
        if (r >= 0) {
                crash_point();
                if (renameat(dir_fd, tmp, dir_fd, name) < 0) /* 3 */
                        r = -errno;
        }
        if (r < 0) {
                (void)unlinkat(dir_fd, tmp, 0); /* not renamed: tmp's clusters are its own */
                return r;
        }
        r = fsync_dir(dir_fd);       /* 4 */
        if (r >= 0 && fsync(fd) < 0) /* 5 */
                r = -errno;
        return r; /* 6: old is closed on return */
}

int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t size)
{
        char tmp[NAME_MAX + 1];
        _cleanup_close_ int fd = open_tmp_at(dir_fd, name, tmp);
        int r;

        if (fd < 0)
                return fd;
        crash_point();
        r = write_all(fd, data, size);
        return commit_tmp_at(dir_fd, fd, tmp, name, r);
}

static int copy_hashed(int from, int to, struct sha256_ctx *ctx)
{
        static uint8_t buf[IO_CHUNK];

        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                sha256_update(ctx, buf, (size_t)n);
                crash_point();
                r = write_all(to, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

int copy_file_atomic_at(int dir_fd, const char *name, const char *src_path,
                        const uint8_t expected_sha256[32])
{
        _cleanup_close_ int src = open(src_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char tmp[NAME_MAX + 1];
        _cleanup_close_ int fd = -1;
        struct sha256_ctx ctx;
        uint8_t digest[32];
        int r;

        if (src < 0)
                return -errno;
        fd = open_tmp_at(dir_fd, name, tmp);
        if (fd < 0)
                return fd;
        sha256_init(&ctx);
        r = copy_hashed(src, fd, &ctx);
        if (r >= 0) {
                sha256_final(&ctx, digest);
                if (memcmp(digest, expected_sha256, sizeof(digest)) != 0)
                        r = -ESTALE;
        }
        return commit_tmp_at(dir_fd, fd, tmp, name, r);
}

int unlink_at(int dir_fd, const char *name)
{
        crash_point();
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Makes the entry of a directory just created in its parent durable: on vfat, nothing else writes
 * the parent's buffers before writeback, and a file written inside would be unreachable after a
 * power loss. fat_file_fsync on the parent writes its buffers (which hold the new directory's
 * first cluster too), the FAT, and flushes the device. */
static int sync_parent_at(int dir_fd, char *path)
{
        char *slash = strrchr(path, '/');
        _cleanup_close_ int fd = -1;

        if (!slash)
                return fsync_dir(dir_fd);
        *slash = 0;
        fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
        return fd < 0 ? -errno : fsync_dir(fd);
}

int mkdir_p_at(int dir_fd, const char *path)
{
        char buf[PATH_MAX];

        if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf;; p++) {
                bool end = *p == 0;
                if (*p != '/' && !end)
                        continue;
                *p = 0;
                if (buf[0] && faccessat(dir_fd, buf, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                        int r;

                        crash_point();
                        if (mkdirat(dir_fd, buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        r = sync_parent_at(dir_fd, buf);
                        if (r < 0)
                                return r;
                }
                if (end)
                        return 0;
                *p = '/';
        }
}

int fsync_dir(int dir_fd)
{
        return fsync(dir_fd) < 0 ? -errno : 0;
}

/* syncfs() writes every dirty inode and buffer, but vfat has no ->sync_fs and so sends no device
 * cache flush: a drive without power-loss protection could still persist a later removal before
 * the writes. fsync() of a directory on the volume (fat_file_fsync) issues the flush. */
int flush_fs(int fd)
{
        if (syncfs(fd) < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int sha256_fd(int fd, uint8_t ret[32], uint64_t *ret_size)
{
        static uint8_t buf[IO_CHUNK];
        struct sha256_ctx ctx;
        uint64_t size = 0;

        sha256_init(&ctx);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                sha256_update(&ctx, buf, (size_t)n);
                size += (uint64_t)n;
        }
        sha256_final(&ctx, ret);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int sha256_file_at(int dir_fd, const char *path, uint8_t ret[32], uint64_t *ret_size)
{
        struct stat st;
        _cleanup_close_ int fd = open_regular_at(dir_fd, path, &st);

        return fd < 0 ? fd : sha256_fd(fd, ret, ret_size);
}

/* The first guess is the file's size (one byte more, to see the end), later ones double; all are capped
 * at max + 1, and a file that fills that is too big. */
static size_t next_allocation(size_t allocated, off_t file_size, size_t max)
{
        size_t want;

        if (allocated > 0)
                want = allocated * 2;
        else if (file_size > 0 && (uint64_t)file_size < max)
                want = (size_t)file_size + 1;
        else
                want = 4096;
        return want < max + 1 ? want : max + 1;
}

/* The whole file, at most max bytes. efivarfs sizes may be stale, so st_size is only a first guess. */
int read_fd_bounded(int fd, const char *path, size_t max, uint8_t **ret, size_t *ret_size)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot stat", path);
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        uint8_t *p;

                        if (allocated > max)
                                return log_error_errno(-EFBIG, "%s: larger than %zu bytes", path, max);
                        allocated = next_allocation(allocated, st.st_size, max);
                        p = realloc(buf, allocated);
                        if (!p)
                                return log_error_errno(-ENOMEM, "%s: out of memory", path);
                        buf = p;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot read", path);
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        *ret = buf;
        buf = NULL;
        *ret_size = size;
        return 0;
}
