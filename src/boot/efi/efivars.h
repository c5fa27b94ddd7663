/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

/* The Boot Loader Interface vendor GUID shared with systemd-boot and sd-stub. */
#define LOADER_GUID GUID_DEF(0x4a67b082, 0x0a4c, 0x41cf, 0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f)
#define EFI_GLOBAL_VARIABLE_GUID                                                                            \
        GUID_DEF(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c)

/* What the stub exports lives only until the next reboot. */
#define EFI_VARIABLE_VOLATILE_BS_RT (EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS)

/* Reads a variable into a fresh pool buffer of at most max_size bytes. */
EFI_STATUS efivar_get_raw(const EFI_GUID *vendor, const CHAR16 *name, size_t max_size, void **ret_data,
                          size_t *ret_size);
bool efivar_exists(const EFI_GUID *vendor, const CHAR16 *name);

EFI_STATUS efivar_set_raw(const EFI_GUID *vendor, const CHAR16 *name, const void *data, size_t size);
/* UTF-16 with its NUL, as systemd writes strings. */
EFI_STATUS efivar_set_str16(const EFI_GUID *vendor, const CHAR16 *name, const CHAR16 *value);
/* A number as a UTF-16 decimal string with its NUL ("11"), as systemd's StubPcr* variables. */
EFI_STATUS efivar_set_uint_string(const EFI_GUID *vendor, const CHAR16 *name, uint64_t value);
/* A number as 8 little-endian bytes (StubFeatures). */
EFI_STATUS efivar_set_uint64_le(const EFI_GUID *vendor, const CHAR16 *name, uint64_t value);

/* The Boot Loader Interface variables describing how we were booted (LoaderDevicePartUUID,
 * LoaderImageIdentifier, LoaderFirmwareInfo, LoaderFirmwareType), each only when systemd-boot
 * has not set it already. */
void export_loader_variables(EFI_HANDLE device, const EFI_DEVICE_PATH *file_path);

/* StubInfo and StubFeatures. */
void export_stub_variables(void);
