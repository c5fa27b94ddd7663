/* SPDX-License-Identifier: MIT */
/* TCG EFI Protocol Specification (TCG2) and the UEFI CC measurement protocol. */
#pragma once

#include "efi.h"

#define EFI_TCG2_PROTOCOL_GUID                                                                              \
        GUID_DEF(0x607f766c, 0x7455, 0x42be, 0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f)
#define EFI_CC_MEASUREMENT_PROTOCOL_GUID                                                                    \
        GUID_DEF(0x96751a3d, 0x72f4, 0x41a6, 0xa7, 0x94, 0xed, 0x5d, 0x0e, 0x67, 0xae, 0x6b)

#define EFI_TCG2_EVENT_HEADER_VERSION   1
#define EFI_CC_EVENT_HEADER_VERSION     1
#define EFI_TCG2_EVENT_LOG_FORMAT_TCG_2 UINT32_C(0x00000002)
#define EFI_CC_EVENT_LOG_FORMAT_TCG_2   UINT32_C(0x00000002)

/* TCG PC Client Platform Firmware Profile, event types */
#define EV_IPL UINT32_C(0x0000000d)

typedef struct {
        uint8_t Major;
        uint8_t Minor;
} EFI_TCG2_VERSION;

typedef struct {
        uint8_t Size;
        EFI_TCG2_VERSION StructureVersion;
        EFI_TCG2_VERSION ProtocolVersion;
        uint32_t HashAlgorithmBitmap;
        uint32_t SupportedEventLogs;
        BOOLEAN TPMPresentFlag;
        uint16_t MaxCommandSize;
        uint16_t MaxResponseSize;
        uint32_t ManufacturerID;
        uint32_t NumberOfPCRBanks;
        uint32_t ActivePcrBanks;
} EFI_TCG2_BOOT_SERVICE_CAPABILITY; /* natural alignment, unlike the event structures */

typedef struct {
        uint32_t HeaderSize;
        uint16_t HeaderVersion;
        uint32_t PCRIndex;
        uint32_t EventType;
} __attribute__((packed)) EFI_TCG2_EVENT_HEADER;

typedef struct {
        uint32_t Size;
        EFI_TCG2_EVENT_HEADER Header;
        uint8_t Event[];
} __attribute__((packed)) EFI_TCG2_EVENT;

typedef struct EFI_TCG2_PROTOCOL {
        EFI_STATUS(EFIAPI *GetCapability)
        (struct EFI_TCG2_PROTOCOL *This, EFI_TCG2_BOOT_SERVICE_CAPABILITY *ProtocolCapability);
        void *GetEventLog;
        EFI_STATUS(EFIAPI *HashLogExtendEvent)
        (struct EFI_TCG2_PROTOCOL *This, uint64_t Flags, EFI_PHYSICAL_ADDRESS DataToHash,
         uint64_t DataToHashLen, EFI_TCG2_EVENT *EfiTcgEvent);
        void *SubmitCommand;
        void *GetActivePcrBanks;
        void *SetActivePcrBanks;
        void *GetResultOfSetActivePcrBanks;
} EFI_TCG2_PROTOCOL;

typedef struct {
        uint8_t Type;
        uint8_t SubType;
} EFI_CC_TYPE;

typedef struct {
        uint8_t Size;
        EFI_TCG2_VERSION StructureVersion;
        EFI_TCG2_VERSION ProtocolVersion;
        uint32_t HashAlgorithmBitmap;
        uint32_t SupportedEventLogs;
        EFI_CC_TYPE CcType;
} EFI_CC_BOOT_SERVICE_CAPABILITY;

typedef struct {
        uint32_t HeaderSize;
        uint16_t HeaderVersion;
        uint32_t MrIndex;
        uint32_t EventType;
} __attribute__((packed)) EFI_CC_EVENT_HEADER;

typedef struct {
        uint32_t Size;
        EFI_CC_EVENT_HEADER Header;
        uint8_t Event[];
} __attribute__((packed)) EFI_CC_EVENT;

typedef struct EFI_CC_MEASUREMENT_PROTOCOL {
        EFI_STATUS(EFIAPI *GetCapability)
        (struct EFI_CC_MEASUREMENT_PROTOCOL *This, EFI_CC_BOOT_SERVICE_CAPABILITY *ProtocolCapability);
        void *GetEventLog;
        EFI_STATUS(EFIAPI *HashLogExtendEvent)
        (struct EFI_CC_MEASUREMENT_PROTOCOL *This, uint64_t Flags, EFI_PHYSICAL_ADDRESS DataToHash,
         uint64_t DataToHashLen, EFI_CC_EVENT *EfiCcEvent);
        EFI_STATUS(EFIAPI *MapPcrToMrIndex)
        (struct EFI_CC_MEASUREMENT_PROTOCOL *This, uint32_t PcrIndex, uint32_t *MrIndex);
} EFI_CC_MEASUREMENT_PROTOCOL;
