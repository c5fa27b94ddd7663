/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"
#include "loaded-image.h"

/* Loads the kernel PE image (already verified, read into memory) with our own loader and calls its EFI
 * entry point with the stub's image handle, parent_image, whose LoadedImage protocol is stub_image: the
 * kernel finds its command line (cmdline, may be NULL for none) and its image there. The initrd must be
 * registered before. Returns only if the kernel does, with its status, everything restored and freed. */
EFI_STATUS linux_exec(EFI_HANDLE parent_image, EFI_LOADED_IMAGE_PROTOCOL *stub_image, const CHAR16 *cmdline,
                      const void *kernel, size_t kernel_size);
