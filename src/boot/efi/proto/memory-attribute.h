/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID                                                                  \
        GUID_DEF(0xf4560cf6, 0x40ec, 0x4b4a, 0xa1, 0x92, 0xbf, 0x1d, 0x57, 0xd0, 0xb1, 0x89)

#define EFI_MEMORY_RP UINT64_C(0x0000000000002000)
#define EFI_MEMORY_XP UINT64_C(0x0000000000004000)
#define EFI_MEMORY_RO UINT64_C(0x0000000000020000)

typedef struct EFI_MEMORY_ATTRIBUTE_PROTOCOL {
        EFI_STATUS(EFIAPI *GetMemoryAttributes)
        (struct EFI_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress, uint64_t Length,
         uint64_t *Attributes);
        EFI_STATUS(EFIAPI *SetMemoryAttributes)
        (struct EFI_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress, uint64_t Length,
         uint64_t Attributes);
        EFI_STATUS(EFIAPI *ClearMemoryAttributes)
        (struct EFI_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress, uint64_t Length,
         uint64_t Attributes);
} EFI_MEMORY_ATTRIBUTE_PROTOCOL;
