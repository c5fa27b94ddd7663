/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

/* EFI_SECURITY_VIOLATION, with a message, when a LoadFile2 handle on the LINUX_INITRD_MEDIA device path
 * (or a prefix of it) exists already: a boot loader registered an initrd this entry did not pin, and the
 * kernel would load it. Checked for every entry, with or without an initrd of its own. */
EFI_STATUS initrd_check_none_registered(void);

/* Offers the initrd to the kernel through a LoadFile2 protocol on a fresh handle carrying the
 * LINUX_INITRD_MEDIA vendor device path, which the Linux EFI stub (5.8+) looks up. The bytes are not
 * copied: they must stay valid until initrd_unregister(). An empty initrd registers nothing and
 * returns a NULL handle. Fails as initrd_check_none_registered() when another initrd is registered. */
EFI_STATUS initrd_register(const void *initrd, size_t size, EFI_HANDLE *ret_handle);

/* Removes what initrd_register() installed; a NULL handle is a no-op. */
EFI_STATUS initrd_unregister(EFI_HANDLE handle);

static inline void initrd_unregisterp(EFI_HANDLE *handle)
{
        (void)initrd_unregister(*handle);
}
