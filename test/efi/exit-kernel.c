/* SPDX-License-Identifier: MIT */
/* A stand-in kernel for VM tests that fails the way Linux's EFI stub does when it cannot start: it calls
 * Exit() on the image handle it was started with (the stub's) instead of returning. It has what the stub's
 * loadability check asks for (x86-64 EFI application, MajorImageVersion 1, DIR64 relocations). */
#include "efi.h"

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
        system_table->ConOut->OutputString(system_table->ConOut, u"lzbt exit-kernel: calling Exit()\r\n");
        return system_table->BootServices->Exit(image, EFI_LOAD_ERROR, 0, NULL);
}
