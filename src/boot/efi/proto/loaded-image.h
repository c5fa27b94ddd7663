/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define EFI_LOADED_IMAGE_PROTOCOL_GUID                                                                      \
        GUID_DEF(0x5b1b31a1, 0x9562, 0x11d2, 0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b)

typedef struct {
        uint32_t Revision;
        EFI_HANDLE ParentHandle;
        EFI_SYSTEM_TABLE *SystemTable;
        EFI_HANDLE DeviceHandle;
        EFI_DEVICE_PATH *FilePath;
        void *Reserved;
        uint32_t LoadOptionsSize;
        void *LoadOptions;
        void *ImageBase;
        uint64_t ImageSize;
        EFI_MEMORY_TYPE ImageCodeType;
        EFI_MEMORY_TYPE ImageDataType;
        void *Unload;
} EFI_LOADED_IMAGE_PROTOCOL;

typedef EFI_STATUS(EFIAPI *EFI_IMAGE_ENTRY_POINT)(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable);
