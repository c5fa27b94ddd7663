/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define EFI_DEVICE_PATH_PROTOCOL_GUID                                                                       \
        GUID_DEF(0x09576e91, 0x6d3f, 0x11d2, 0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b)
#define EFI_DEVICE_PATH_TO_TEXT_PROTOCOL_GUID                                                               \
        GUID_DEF(0x8b843e20, 0x8132, 0x4852, 0x90, 0xcc, 0x55, 0x1a, 0x4e, 0x4a, 0x7f, 0x1c)

enum {
        HARDWARE_DEVICE_PATH = 0x01,
        MEDIA_DEVICE_PATH = 0x04,
        END_DEVICE_PATH_TYPE = 0x7f,
};

enum {
        HW_MEMMAP_DP = 0x03,
        MEDIA_HARDDRIVE_DP = 0x01,
        MEDIA_VENDOR_DP = 0x03,
        MEDIA_FILEPATH_DP = 0x04,
        END_ENTIRE_DEVICE_PATH_SUBTYPE = 0xff,
};

#define SIGNATURE_TYPE_GUID 0x02

typedef struct {
        EFI_DEVICE_PATH Header;
        uint32_t PartitionNumber;
        uint64_t PartitionStart;
        uint64_t PartitionSize;
        uint8_t Signature[16];
        uint8_t MBRType;
        uint8_t SignatureType;
} __attribute__((packed)) HARDDRIVE_DEVICE_PATH;

typedef struct {
        EFI_DEVICE_PATH Header;
        EFI_GUID Guid;
} __attribute__((packed)) VENDOR_DEVICE_PATH;

typedef struct {
        EFI_DEVICE_PATH Header;
        uint32_t MemoryType;
        EFI_PHYSICAL_ADDRESS StartingAddress;
        EFI_PHYSICAL_ADDRESS EndingAddress;
} __attribute__((packed)) MEMMAP_DEVICE_PATH;

typedef struct {
        EFI_DEVICE_PATH Header;
        CHAR16 PathName[];
} __attribute__((packed)) FILEPATH_DEVICE_PATH;

typedef struct {
        void *ConvertDeviceNodeToText;
        CHAR16 *(EFIAPI *ConvertDevicePathToText)(const EFI_DEVICE_PATH *DevicePath, BOOLEAN DisplayOnly,
                                                  BOOLEAN AllowShortcuts);
} EFI_DEVICE_PATH_TO_TEXT_PROTOCOL;

static inline uint16_t device_path_node_length(const EFI_DEVICE_PATH *dp)
{
        return (uint16_t)(dp->Length[0] | (dp->Length[1] << 8));
}

static inline bool device_path_is_end(const EFI_DEVICE_PATH *dp)
{
        return dp->Type == END_DEVICE_PATH_TYPE;
}

static inline const EFI_DEVICE_PATH *device_path_next_node(const EFI_DEVICE_PATH *dp)
{
        return (const EFI_DEVICE_PATH *)((const uint8_t *)dp + device_path_node_length(dp));
}

#define DEVICE_PATH_END_NODE                                                                                \
        {                                                                                                   \
                .Type = END_DEVICE_PATH_TYPE, .SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE,                    \
                .Length = {sizeof(EFI_DEVICE_PATH), 0},                                                     \
        }
