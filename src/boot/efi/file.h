/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"
#include "simple-fs.h"

struct sha256_ctx;

/* The root directory of the file system on a device (the ESP the stub was loaded from). */
EFI_STATUS file_open_root(EFI_HANDLE device, EFI_FILE **ret_root);

EFI_STATUS file_open(EFI_FILE *dir, const CHAR16 *path, EFI_FILE **ret);
void file_closep(EFI_FILE **f);

/* Size of a regular file; EFI_INVALID_PARAMETER for a directory. */
EFI_STATUS file_size(EFI_FILE *f, uint64_t *ret_size);

/* Reads exactly size bytes from the current position in bounded chunks (some firmware fails on
 * big reads), feeding each chunk into hash when given. A short read is EFI_END_OF_FILE. */
EFI_STATUS file_read_exact(EFI_FILE *f, void *buf, size_t size, struct sha256_ctx *hash);

/* Reads the next directory entry into *info (grown as needed); *info is NULL at the end. */
EFI_STATUS dir_read_entry(EFI_FILE *dir, EFI_FILE_INFO **info, size_t *info_size);
