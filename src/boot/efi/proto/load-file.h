/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define EFI_LOAD_FILE2_PROTOCOL_GUID                                                                        \
        GUID_DEF(0x4006c0c1, 0xfcb3, 0x403e, 0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d)

typedef struct EFI_LOAD_FILE2_PROTOCOL {
        EFI_STATUS(EFIAPI *LoadFile)
        (struct EFI_LOAD_FILE2_PROTOCOL *This, EFI_DEVICE_PATH *FilePath, BOOLEAN BootPolicy,
         UINTN *BufferSize, void *Buffer);
} EFI_LOAD_FILE2_PROTOCOL;
