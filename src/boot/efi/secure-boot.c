/* SPDX-License-Identifier: MIT */
#include "secure-boot.h"
#include "efivars.h"
#include "util.h"

bool secure_boot_enabled(void)
{
        static const EFI_GUID global = EFI_GLOBAL_VARIABLE_GUID;
        _cleanup_free_ uint8_t *value = NULL;
        size_t size;
        EFI_STATUS err;

        err = efivar_get_raw(&global, u"SecureBoot", sizeof(uint8_t), (void **)&value, &size);
        if (err == EFI_NOT_FOUND)
                return false;
        if (err != EFI_SUCCESS || size != 1 || *value > 1)
                return true;
        return *value == 1;
}
