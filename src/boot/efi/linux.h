/* SPDX-License-Identifier: MIT */
#pragma once

#include "devicetree.h"
#include "efi.h"
#include "loaded-image.h"

/* The stub's part of the kernel loadability check, before anything is measured: pe_loader_check() with
 * its reason on the console. EFI_UNSUPPORTED for a kernel we cannot start, EFI_LOAD_ERROR if malformed. */
EFI_STATUS linux_check(const void *kernel, size_t kernel_size);

/* Loads the kernel PE image (already verified, read into memory) with our own loader, registers the initrd
 * (may be empty) on the LINUX_INITRD_MEDIA device path and calls the kernel's EFI entry point with the
 * stub's image handle, parent_image, whose LoadedImage protocol is stub_image: the kernel finds its
 * command line there. devicetree (never NULL; maybe not installed) is the devicetree installed for the
 * kernel. Returns only if the kernel does, with its status, everything restored and freed, the devicetree
 * too; if the kernel calls Exit() instead, the same is undone before the firmware unloads the stub. */
EFI_STATUS linux_exec(EFI_HANDLE parent_image, EFI_LOADED_IMAGE_PROTOCOL *stub_image, const CHAR16 *cmdline,
                      const void *kernel, size_t kernel_size, const void *initrd, size_t initrd_size,
                      Devicetree *devicetree);
