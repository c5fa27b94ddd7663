/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct esp;

#define EFI_GLOBAL_GUID_STR "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define EFI_LOADER_GUID_STR "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

/* efivarfs, or $LANZATOOL_EFIVARFS (tests); NULL when this system was not booted through UEFI. */
const char *efivarfs_path(void);

/* The data of NAME-GUID without its 4 attribute bytes; -ENOENT when absent. */
int efivar_read(const char *name, const char *guid, void **ret_data, size_t *ret_size);
/* A UTF-16LE variable (NUL-terminated or not) as UTF-8. */
int efivar_read_string(const char *name, const char *guid, char **ret);
/* Writes attributes + data. Clears the immutable flag of an existing file first, only for this
 * file, and says so at debug level. */
int efivar_write(const char *name, const char *guid, uint32_t attributes, const void *data, size_t size);

/* 1 enabled, 0 disabled, negative errno when unknown. */
int efi_secure_boot(void);
int efi_setup_mode(void);

/* Like `bootctl update`: a "Linux Boot Manager" Boot#### entry whose device path is the ESP's GPT
 * partition (HD node) plus loader_path (e.g. "\EFI\systemd\systemd-bootx64.efi"), created only when no
 * Boot#### boots that path yet, and added to the end of BootOrder when BootOrder lacks it; BootOrder is
 * not reordered unless first (`bootctl install`): then it is put first. Writes nothing when all is so. */
int efi_boot_entry_ensure(const struct esp *esp, const char *loader_path, const char *title, bool first);
