/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID                                                                \
        GUID_DEF(0x964e5b22, 0x6459, 0x11d2, 0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b)
#define EFI_FILE_INFO_GUID                                                                                  \
        GUID_DEF(0x09576e92, 0x6d3f, 0x11d2, 0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b)

#define EFI_FILE_MODE_READ UINT64_C(0x0000000000000001)
#define EFI_FILE_DIRECTORY UINT64_C(0x0000000000000010)

typedef struct EFI_FILE_PROTOCOL EFI_FILE;

struct EFI_FILE_PROTOCOL {
        uint64_t Revision;
        EFI_STATUS(EFIAPI *Open)
        (EFI_FILE *This, EFI_FILE **NewHandle, const CHAR16 *FileName, uint64_t OpenMode,
         uint64_t Attributes);
        EFI_STATUS(EFIAPI *Close)(EFI_FILE *This);
        void *Delete;
        EFI_STATUS(EFIAPI *Read)(EFI_FILE *This, UINTN *BufferSize, void *Buffer);
        void *Write;
        void *GetPosition;
        EFI_STATUS(EFIAPI *SetPosition)(EFI_FILE *This, uint64_t Position);
        EFI_STATUS(EFIAPI *GetInfo)
        (EFI_FILE *This, const EFI_GUID *InformationType, UINTN *BufferSize, void *Buffer);
        void *SetInfo;
        void *Flush;
};

typedef struct EFI_SIMPLE_FILE_SYSTEM_PROTOCOL {
        uint64_t Revision;
        EFI_STATUS(EFIAPI *OpenVolume)(struct EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *This, EFI_FILE **Root);
} EFI_SIMPLE_FILE_SYSTEM_PROTOCOL;

typedef struct {
        uint64_t Size;
        uint64_t FileSize;
        uint64_t PhysicalSize;
        EFI_TIME CreateTime;
        EFI_TIME LastAccessTime;
        EFI_TIME ModificationTime;
        uint64_t Attribute;
        CHAR16 FileName[];
} EFI_FILE_INFO;
