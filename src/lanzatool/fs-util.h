/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* File-system helpers for writing to the ESP so that a crash or power loss at any point leaves
 * either the old or the new file under a name, never a partial one, also on FAT as Linux's vfat
 * really behaves: write to a temporary name in the same directory, fsync it, rename it over the
 * name while holding the old file open, fsync the directory, fsync the file (the argument is in
 * fs-util.c, beside commit_tmp_at()). Directories created are made durable in their parent.
 *
 * Every call here that changes the file system first passes a crash point. In a build with
 * -Dcrash-hooks=true, LANZATOOL_CRASH_AT=N kills the process (SIGKILL) at the Nth such call, and
 * LANZATOOL_CRASH_COUNT=FILE records how many there were; the crash-safety tests use both. */

/* Temporary files carry this prefix and a random part; anything with it in our directories is a
 * leftover of an interrupted run (leftovers.c decides what to do with it). */
#define TMP_PREFIX ".lzbt-"

/* Opens a regular file for reading (fstat's result in *ret_st): the fd, or -EISDIR, -EBADFD (not a regular
 * file) or the error of openat/fstat. */
int open_regular_at(int dir_fd, const char *path, struct stat *ret_st);

/* Reads a whole file (at most max_size bytes) relative to dir_fd (AT_FDCWD for paths). */
int read_file_at(int dir_fd, const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size);
int read_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size);

/* Reads fd (named path in messages) to its end, at most max bytes, without trusting st_size: efivarfs
 * sizes may be stale and securityfs says 0. Logs what went wrong. */
int read_fd_bounded(int fd, const char *path, size_t max, uint8_t **ret_data, size_t *ret_size);

/* Atomically replaces dir_fd/name with data (mode 0644), as described above. Returns after a
 * device flush that made the new file durable under name. */
int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t size);

/* Same for a file copied from src_path, hashing it on the way; the copy is refused when the source
 * does not hash to expected_sha256 (it changed since it was planned). */
int copy_file_atomic_at(int dir_fd, const char *name, const char *src_path,
                        const uint8_t expected_sha256[32]);

int unlink_at(int dir_fd, const char *name);
int mkdir_p_at(int dir_fd, const char *path);
int fsync_dir(int dir_fd);
/* Writes everything dirty on fd's file system and flushes the device's cache (syncfs alone does
 * not on vfat). Call it before removing anything that the new files replace. */
int flush_fs(int fd);

/* SHA-256 of a file's contents; sha256_fd() reads fd from where it is to its end. */
int sha256_fd(int fd, uint8_t ret[32], uint64_t *ret_size);
int sha256_file_at(int dir_fd, const char *path, uint8_t ret[32], uint64_t *ret_size);

void crash_point(void);
