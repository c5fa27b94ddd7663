/* SPDX-License-Identifier: MIT */
#include "file.h"
#include "loaded-image.h"
#include "sha256.h"
#include "util.h"

/* Firmware FAT drivers are known to fail or be slow on very large single reads. */
#define READ_CHUNK_SIZE (UINTN_C(1) << 20)

EFI_STATUS file_open_root(EFI_HANDLE device, EFI_FILE **ret_root)
{
        static const EFI_GUID fs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
        EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs;
        EFI_STATUS err;

        if (!device)
                return EFI_NOT_FOUND;
        err = BS->HandleProtocol(device, &fs_guid, (void **)&fs);
        if (err != EFI_SUCCESS)
                return err;
        return fs->OpenVolume(fs, ret_root);
}

EFI_STATUS file_open(EFI_FILE *dir, const CHAR16 *path, EFI_FILE **ret)
{
        return dir->Open(dir, ret, path, EFI_FILE_MODE_READ, 0);
}

void file_closep(EFI_FILE **f)
{
        if (*f)
                (void)(*f)->Close(*f);
        *f = NULL;
}

static EFI_STATUS file_info(EFI_FILE *f, EFI_FILE_INFO **ret_info)
{
        static const EFI_GUID info_guid = EFI_FILE_INFO_GUID;
        _cleanup_free_ EFI_FILE_INFO *info = NULL;
        UINTN size = sizeof(EFI_FILE_INFO) + 256 * sizeof(CHAR16);
        EFI_STATUS err;

        for (int attempt = 0; attempt < 2; attempt++) {
                info = xmalloc(size);
                if (!info)
                        return EFI_OUT_OF_RESOURCES;
                err = f->GetInfo(f, &info_guid, &size, info);
                if (err != EFI_BUFFER_TOO_SMALL)
                        break;
                free(TAKE_PTR(info));
        }
        if (err != EFI_SUCCESS)
                return err;
        *ret_info = TAKE_PTR(info);
        return EFI_SUCCESS;
}

EFI_STATUS file_size(EFI_FILE *f, uint64_t *ret_size)
{
        _cleanup_free_ EFI_FILE_INFO *info = NULL;
        EFI_STATUS err = file_info(f, &info);

        if (err != EFI_SUCCESS)
                return err;
        if (info->Attribute & EFI_FILE_DIRECTORY)
                return EFI_INVALID_PARAMETER;
        *ret_size = info->FileSize;
        return EFI_SUCCESS;
}

EFI_STATUS file_read_exact(EFI_FILE *f, void *buf, size_t size, struct sha256_ctx *hash)
{
        uint8_t *p = buf;

        while (size > 0) {
                UINTN n = MIN(size, READ_CHUNK_SIZE);
                EFI_STATUS err = f->Read(f, &n, p);
                if (err != EFI_SUCCESS)
                        return err;
                if (n == 0 || n > size)
                        return EFI_END_OF_FILE;
                if (hash)
                        sha256_update(hash, p, n);
                p += n;
                size -= n;
        }
        return EFI_SUCCESS;
}

/* A FAT driver asked for more room than it needed last time is broken; a few retries are plenty. */
#define DIR_READ_RETRIES_MAX 3

EFI_STATUS dir_read_entry(EFI_FILE *dir, EFI_FILE_INFO **info, size_t *info_size)
{
        for (unsigned attempt = 0; attempt <= DIR_READ_RETRIES_MAX; attempt++) {
                UINTN size = *info_size;
                EFI_STATUS err = EFI_BUFFER_TOO_SMALL;

                if (*info)
                        err = dir->Read(dir, &size, *info);
                if (err == EFI_BUFFER_TOO_SMALL) {
                        size = MIN(size, SIZE_MAX / 2) + sizeof(EFI_FILE_INFO) + 256 * sizeof(CHAR16);
                        free(*info);
                        *info = xmalloc(size);
                        *info_size = *info ? size : 0;
                        if (!*info)
                                return EFI_OUT_OF_RESOURCES;
                        continue;
                }
                if (err != EFI_SUCCESS)
                        return err;
                if (size == 0) { /* end of directory */
                        free(*info);
                        *info = NULL;
                        *info_size = 0;
                }
                return EFI_SUCCESS;
        }
        return EFI_BUFFER_TOO_SMALL;
}
