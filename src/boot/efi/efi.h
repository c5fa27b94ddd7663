/* SPDX-License-Identifier: MIT */
/* Our own UEFI definitions (UEFI Specification 2.10): only what the stub uses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* UEFI uses the Microsoft x64 calling convention on x86-64 and the standard AAPCS64 on AArch64. */
#if defined(__x86_64__)
#define EFIAPI __attribute__((ms_abi))
#else
#define EFIAPI
#endif

typedef uint8_t BOOLEAN;
typedef uint16_t CHAR16;
typedef uint64_t UINTN;
typedef uint64_t EFI_STATUS;
typedef uint64_t EFI_PHYSICAL_ADDRESS;
typedef void *EFI_HANDLE;
typedef void *EFI_EVENT;

typedef struct {
        uint32_t Data1;
        uint16_t Data2;
        uint16_t Data3;
        uint8_t Data4[8];
} EFI_GUID;

#define GUID_DEF(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                                   \
        {                                                                                                   \
                a, b, c,                                                                                    \
                {                                                                                           \
                        d0, d1, d2, d3, d4, d5, d6, d7                                                      \
                }                                                                                           \
        }

#define EFI_ERROR_MASK (UINT64_C(1) << 63)
#define EFI_ERR(n)     (EFI_ERROR_MASK | (n))
#define EFI_ERROR(s)   (((s)&EFI_ERROR_MASK) != 0)

#define EFI_SUCCESS              UINT64_C(0)
#define EFI_LOAD_ERROR           EFI_ERR(1)
#define EFI_INVALID_PARAMETER    EFI_ERR(2)
#define EFI_UNSUPPORTED          EFI_ERR(3)
#define EFI_BAD_BUFFER_SIZE      EFI_ERR(4)
#define EFI_BUFFER_TOO_SMALL     EFI_ERR(5)
#define EFI_NOT_READY            EFI_ERR(6)
#define EFI_DEVICE_ERROR         EFI_ERR(7)
#define EFI_WRITE_PROTECTED      EFI_ERR(8)
#define EFI_OUT_OF_RESOURCES     EFI_ERR(9)
#define EFI_VOLUME_CORRUPTED     EFI_ERR(10)
#define EFI_VOLUME_FULL          EFI_ERR(11)
#define EFI_NO_MEDIA             EFI_ERR(12)
#define EFI_MEDIA_CHANGED        EFI_ERR(13)
#define EFI_NOT_FOUND            EFI_ERR(14)
#define EFI_ACCESS_DENIED        EFI_ERR(15)
#define EFI_TIMEOUT              EFI_ERR(18)
#define EFI_ALREADY_STARTED      EFI_ERR(20)
#define EFI_ABORTED              EFI_ERR(21)
#define EFI_PROTOCOL_ERROR       EFI_ERR(24)
#define EFI_INCOMPATIBLE_VERSION EFI_ERR(25)
#define EFI_SECURITY_VIOLATION   EFI_ERR(26)
#define EFI_END_OF_FILE          EFI_ERR(31)

typedef enum {
        EfiReservedMemoryType,
        EfiLoaderCode,
        EfiLoaderData,
        EfiBootServicesCode,
        EfiBootServicesData,
        EfiRuntimeServicesCode,
        EfiRuntimeServicesData,
        EfiConventionalMemory,
        EfiUnusableMemory,
        EfiACPIReclaimMemory,
        _EfiMaxMemoryType = 0x7fffffff,
} EFI_MEMORY_TYPE;

typedef enum {
        AllocateAnyPages,
        AllocateMaxAddress,
        AllocateAddress,
} EFI_ALLOCATE_TYPE;

typedef enum {
        EFI_NATIVE_INTERFACE,
} EFI_INTERFACE_TYPE;

typedef enum {
        AllHandles,
        ByRegisterNotify,
        ByProtocol,
} EFI_LOCATE_SEARCH_TYPE;

#define EFI_PAGE_SIZE        UINTN_C(4096)
#define UINTN_C(x)           UINT64_C(x)
#define EFI_SIZE_TO_PAGES(s) (((s) + EFI_PAGE_SIZE - 1) / EFI_PAGE_SIZE)

#define EFI_VARIABLE_NON_VOLATILE       UINT32_C(0x01)
#define EFI_VARIABLE_BOOTSERVICE_ACCESS UINT32_C(0x02)
#define EFI_VARIABLE_RUNTIME_ACCESS     UINT32_C(0x04)

typedef struct {
        uint64_t Signature;
        uint32_t Revision;
        uint32_t HeaderSize;
        uint32_t CRC32;
        uint32_t Reserved;
} EFI_TABLE_HEADER;

typedef struct {
        uint16_t Year;
        uint8_t Month;
        uint8_t Day;
        uint8_t Hour;
        uint8_t Minute;
        uint8_t Second;
        uint8_t Pad1;
        uint32_t Nanosecond;
        int16_t TimeZone;
        uint8_t Daylight;
        uint8_t Pad2;
} EFI_TIME;

typedef struct {
        uint8_t Type;
        uint8_t SubType;
        uint8_t Length[2];
} EFI_DEVICE_PATH;

typedef struct {
        uint16_t ScanCode;
        CHAR16 UnicodeChar;
} EFI_INPUT_KEY;

typedef struct EFI_SIMPLE_TEXT_INPUT_PROTOCOL {
        EFI_STATUS(EFIAPI *Reset)(struct EFI_SIMPLE_TEXT_INPUT_PROTOCOL *This, BOOLEAN ExtendedVerification);
        EFI_STATUS(EFIAPI *ReadKeyStroke)(struct EFI_SIMPLE_TEXT_INPUT_PROTOCOL *This, EFI_INPUT_KEY *Key);
        EFI_EVENT WaitForKey;
} EFI_SIMPLE_TEXT_INPUT_PROTOCOL;

typedef struct EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL {
        void *Reset;
        EFI_STATUS(EFIAPI *OutputString)(struct EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL *This, const CHAR16 *String);
        void *TestString;
        void *QueryMode;
        void *SetMode;
        EFI_STATUS(EFIAPI *SetAttribute)(struct EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL *This, UINTN Attribute);
        void *ClearScreen;
        void *SetCursorPosition;
        void *EnableCursor;
        void *Mode;
} EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL;

#define EFI_LIGHTGRAY 0x07
#define EFI_LIGHTRED  0x0C
#define EFI_YELLOW    0x0E
#define EFI_WHITE     0x0F

typedef enum {
        EfiResetCold,
        EfiResetWarm,
        EfiResetShutdown,
} EFI_RESET_TYPE;

typedef struct {
        EFI_TABLE_HEADER Hdr;
        void *GetTime;
        void *SetTime;
        void *GetWakeupTime;
        void *SetWakeupTime;
        void *SetVirtualAddressMap;
        void *ConvertPointer;
        EFI_STATUS(EFIAPI *GetVariable)
        (const CHAR16 *VariableName, const EFI_GUID *VendorGuid, uint32_t *Attributes, UINTN *DataSize,
         void *Data);
        void *GetNextVariableName;
        EFI_STATUS(EFIAPI *SetVariable)
        (const CHAR16 *VariableName, const EFI_GUID *VendorGuid, uint32_t Attributes, UINTN DataSize,
         const void *Data);
        void *GetNextHighMonotonicCount;
        void *ResetSystem;
        void *UpdateCapsule;
        void *QueryCapsuleCapabilities;
        void *QueryVariableInfo;
} EFI_RUNTIME_SERVICES;

typedef struct {
        EFI_TABLE_HEADER Hdr;
        void *RaiseTPL;
        void *RestoreTPL;
        EFI_STATUS(EFIAPI *AllocatePages)
        (EFI_ALLOCATE_TYPE Type, EFI_MEMORY_TYPE MemoryType, UINTN Pages, EFI_PHYSICAL_ADDRESS *Memory);
        EFI_STATUS(EFIAPI *FreePages)(EFI_PHYSICAL_ADDRESS Memory, UINTN Pages);
        void *GetMemoryMap;
        EFI_STATUS(EFIAPI *AllocatePool)(EFI_MEMORY_TYPE PoolType, UINTN Size, void **Buffer);
        EFI_STATUS(EFIAPI *FreePool)(void *Buffer);
        void *CreateEvent;
        void *SetTimer;
        EFI_STATUS(EFIAPI *WaitForEvent)(UINTN NumberOfEvents, EFI_EVENT *Event, UINTN *Index);
        void *SignalEvent;
        void *CloseEvent;
        void *CheckEvent;
        void *InstallProtocolInterface;
        void *ReinstallProtocolInterface;
        void *UninstallProtocolInterface;
        EFI_STATUS(EFIAPI *HandleProtocol)(EFI_HANDLE Handle, const EFI_GUID *Protocol, void **Interface);
        void *Reserved;
        void *RegisterProtocolNotify;
        void *LocateHandle;
        EFI_STATUS(EFIAPI *LocateDevicePath)
        (const EFI_GUID *Protocol, EFI_DEVICE_PATH **DevicePath, EFI_HANDLE *Device);
        EFI_STATUS(EFIAPI *InstallConfigurationTable)(const EFI_GUID *Guid, void *Table);
        void *LoadImage;
        void *StartImage;
        EFI_STATUS(EFIAPI *Exit)
        (EFI_HANDLE ImageHandle, EFI_STATUS ExitStatus, UINTN ExitDataSize, CHAR16 *ExitData);
        void *UnloadImage;
        void *ExitBootServices;
        void *GetNextMonotonicCount;
        EFI_STATUS(EFIAPI *Stall)(UINTN Microseconds);
        void *SetWatchdogTimer;
        void *ConnectController;
        void *DisconnectController;
        void *OpenProtocol;
        void *CloseProtocol;
        void *OpenProtocolInformation;
        void *ProtocolsPerHandle;
        EFI_STATUS(EFIAPI *LocateHandleBuffer)
        (EFI_LOCATE_SEARCH_TYPE SearchType, const EFI_GUID *Protocol, void *SearchKey, UINTN *NoHandles,
         EFI_HANDLE **Buffer);
        EFI_STATUS(EFIAPI *LocateProtocol)(const EFI_GUID *Protocol, void *Registration, void **Interface);
        EFI_STATUS(EFIAPI *InstallMultipleProtocolInterfaces)(EFI_HANDLE *Handle, ...);
        EFI_STATUS(EFIAPI *UninstallMultipleProtocolInterfaces)(EFI_HANDLE Handle, ...);
        EFI_STATUS(EFIAPI *CalculateCrc32)(const void *Data, UINTN DataSize, uint32_t *Crc32);
        void *CopyMem;
        void *SetMem;
        void *CreateEventEx;
} EFI_BOOT_SERVICES;

typedef struct {
        EFI_GUID VendorGuid;
        void *VendorTable;
} EFI_CONFIGURATION_TABLE;

typedef struct {
        EFI_TABLE_HEADER Hdr;
        CHAR16 *FirmwareVendor;
        uint32_t FirmwareRevision;
        EFI_HANDLE ConsoleInHandle;
        EFI_SIMPLE_TEXT_INPUT_PROTOCOL *ConIn;
        EFI_HANDLE ConsoleOutHandle;
        EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL *ConOut;
        EFI_HANDLE StandardErrorHandle;
        EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL *StdErr;
        EFI_RUNTIME_SERVICES *RuntimeServices;
        EFI_BOOT_SERVICES *BootServices;
        UINTN NumberOfTableEntries;
        EFI_CONFIGURATION_TABLE *ConfigurationTable;
} EFI_SYSTEM_TABLE;

/* Set once in efi_main(). */
extern EFI_SYSTEM_TABLE *ST;
extern EFI_BOOT_SERVICES *BS;
extern EFI_RUNTIME_SERVICES *RT;
