/* SPDX-License-Identifier: MIT */
#pragma once

/* Writes "newc" cpio archives (magic 070701) byte for byte as systemd-stub builds its companion
 * initrds (credentials, system extensions). The archive is hashed into a PCR, so every byte is
 * part of the measurement: field order, lowercase hex, padding, inode numbers and the trailer all
 * follow sd-stub exactly. Built for the host and for UEFI: no libc, no allocation. */

#include <stddef.h>
#include <stdint.h>

/* One regular file, placed at "<target_dir>/<name>". */
struct cpio_file {
        const char *name; /* ASCII, not empty, no '/' */
        const void *data; /* may be NULL when size is 0 */
        size_t size;
};

enum {
        CPIO_OK = 0,
        CPIO_ERR_INVALID = -1, /* a NULL pointer, a bad name or mode */
        CPIO_ERR_TOO_BIG = -2, /* a size, name length or inode number does not fit its field or size_t */
        CPIO_ERR_BUFFER = -3,  /* the buffer is smaller than cpio_size() said */
};

/* Every archive ends with this fixed entry (sd-stub writes the name size with a capital B). */
#define CPIO_TRAILER_SIZE 124

/* The exact size of the archive holding files in this order under target_dir: one directory entry
 * per prefix of target_dir, then the files, then the trailer. Always a multiple of 4. */
int cpio_size(const char *target_dir, const struct cpio_file *files, size_t n_files, size_t *ret_size);

/* Writes that archive to buf. Directory entries get mode 0555, except the last component of
 * target_dir, which gets dir_mode; files get file_mode. Owner 0:0, mtime 0, inodes from 1.
 * Writes exactly cpio_size() bytes and nothing past them. */
int cpio_write(const char *target_dir, uint32_t dir_mode, uint32_t file_mode, const struct cpio_file *files,
               size_t n_files, void *buf, size_t buf_size);
