/* SPDX-License-Identifier: MIT */
#include "devicetree.h"
#include "log.h"

/* The Devicetree Specification v0.4 §5.2: a big-endian header whose second word is the blob's size. */
#define FDT_MAGIC       UINT32_C(0xd00dfeed)
#define FDT_HEADER_SIZE 40
/* UEFI 2.10 §4.6.1.3 (EFI_DTB_TABLE_GUID). */
#define EFI_DTB_TABLE_GUID                                                                                  \
        GUID_DEF(0xb1b621d5, 0xf19c, 0x41a5, 0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0)

static const EFI_GUID dtb_table_guid = EFI_DTB_TABLE_GUID;

static uint32_t load_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

EFI_STATUS devicetree_check(const void *dtb, size_t size)
{
        uint32_t total;

        if (size == 0)
                return EFI_SUCCESS;
        if (size < FDT_HEADER_SIZE || load_be32(dtb) != FDT_MAGIC)
                return log_error_status(EFI_LOAD_ERROR, "The .dtb section is not a flattened devicetree.");
        total = load_be32((const uint8_t *)dtb + 4);
        if (total < FDT_HEADER_SIZE || total > size)
                return log_error_status(EFI_LOAD_ERROR,
                                        "The .dtb section's devicetree size %u is wrong (%zu bytes).", total,
                                        size);
        return EFI_SUCCESS;
}

static void *find_table(const EFI_GUID *guid)
{
        for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
                if (guid_equal(&ST->ConfigurationTable[i].VendorGuid, guid))
                        return ST->ConfigurationTable[i].VendorTable;
        return NULL;
}

EFI_STATUS devicetree_install(const void *dtb, size_t size, Devicetree *ret)
{
        EFI_PHYSICAL_ADDRESS addr;
        UINTN n_pages;
        uint32_t total;
        EFI_STATUS err;

        *ret = (Devicetree){};
        if (size == 0)
                return EFI_SUCCESS;
        err = devicetree_check(dtb, size);
        if (err != EFI_SUCCESS)
                return err;
        total = load_be32((const uint8_t *)dtb + 4);

        /* ACPI reclaim memory, like the firmware's own tables: the kernel keeps using the blob after
         * ExitBootServices(), which loader data would not guarantee. */
        n_pages = EFI_SIZE_TO_PAGES(total);
        err = BS->AllocatePages(AllocateAnyPages, EfiACPIReclaimMemory, n_pages, &addr);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot allocate memory for the devicetree: %s",
                                        efi_status_name(err));
        memcpy((void *)(uintptr_t)addr, dtb, total);

        ret->previous = find_table(&dtb_table_guid);
        err = BS->InstallConfigurationTable(&dtb_table_guid, (void *)(uintptr_t)addr);
        if (err != EFI_SUCCESS) {
                (void)BS->FreePages(addr, n_pages);
                return log_error_status(err, "Cannot install the devicetree: %s", efi_status_name(err));
        }
        ret->pages = (Pages){.addr = addr, .n_pages = n_pages};
        ret->installed = true;
        return EFI_SUCCESS;
}

void devicetree_restore(Devicetree *dt)
{
        if (!dt->installed)
                return;
        /* A NULL table removes the entry: exactly the state before, when the firmware had none. */
        (void)BS->InstallConfigurationTable(&dtb_table_guid, dt->previous);
        pages_free(&dt->pages);
        dt->installed = false;
}
