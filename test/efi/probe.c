/* SPDX-License-Identifier: MIT */
/* A boot option for VM tests, run after an entry whose kernel called Exit() (exit-kernel.c): it prints what
 * that left behind in the firmware, and returns an error so that the firmware goes on with its next boot
 * option. What it reports is what the stub's Exit() hook must undo:
 *   "LoadFile2 handles N"       handles with a LoadFile2 protocol (the stub's initrd handle, if left behind;
 *                               counted in the handle database, whatever became of the freed stub's memory);
 *   "Exit is the firmware's"    BootServices->Exit lies in the loaded image that holds AllocatePool, i.e.
 *                               the firmware's core, not in a hook inside a freed stub ("Exit is not ...");
 *   "devicetree table absent"   no EFI_DTB_TABLE_GUID configuration table (x86-64 firmware has none). */
#include "efi.h"
#include "load-file.h"
#include "loaded-image.h"

#define EFI_DTB_TABLE_GUID                                                                                  \
        GUID_DEF(0xb1b621d5, 0xf19c, 0x41a5, 0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0)

static EFI_SYSTEM_TABLE *ST;
static EFI_BOOT_SERVICES *BS;

static void print(const CHAR16 *s)
{
        ST->ConOut->OutputString(ST->ConOut, (CHAR16 *)s);
}

static void print_uint(UINTN n)
{
        CHAR16 buf[24];
        size_t i = sizeof(buf) / sizeof(buf[0]) - 1;

        buf[i] = 0;
        do
                buf[--i] = u'0' + n % 10;
        while ((n /= 10) > 0 && i > 0);
        print(&buf[i]);
}

static bool guid_eq(const EFI_GUID *a, const EFI_GUID *b)
{
        const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;

        for (size_t i = 0; i < sizeof(EFI_GUID); i++)
                if (x[i] != y[i])
                        return false;
        return true;
}

static UINTN count_handles(const EFI_GUID *protocol)
{
        EFI_HANDLE *handles = NULL;
        UINTN n = 0;

        if (BS->LocateHandleBuffer(ByProtocol, protocol, NULL, &n, &handles) != EFI_SUCCESS)
                return 0;
        (void)BS->FreePool(handles);
        return n;
}

/* The loaded image whose memory holds ADDR, or NULL. */
static EFI_LOADED_IMAGE_PROTOCOL *image_holding(uintptr_t addr)
{
        static const EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
        EFI_LOADED_IMAGE_PROTOCOL *found = NULL;
        EFI_HANDLE *handles = NULL;
        UINTN n = 0;

        if (BS->LocateHandleBuffer(ByProtocol, &loaded_image_guid, NULL, &n, &handles) != EFI_SUCCESS)
                return NULL;
        for (UINTN i = 0; i < n && !found; i++) {
                EFI_LOADED_IMAGE_PROTOCOL *image;
                uintptr_t base;

                if (BS->HandleProtocol(handles[i], &loaded_image_guid, (void **)&image) != EFI_SUCCESS)
                        continue;
                base = (uintptr_t)image->ImageBase;
                if (addr >= base && addr - base < image->ImageSize)
                        found = image;
        }
        (void)BS->FreePool(handles);
        return found;
}

static bool has_table(const EFI_GUID *guid)
{
        for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
                if (guid_eq(&ST->ConfigurationTable[i].VendorGuid, guid))
                        return true;
        return false;
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
        static const EFI_GUID load_file2_guid = EFI_LOAD_FILE2_PROTOCOL_GUID;
        static const EFI_GUID dtb_guid = EFI_DTB_TABLE_GUID;
        EFI_LOADED_IMAGE_PROTOCOL *core;

        (void)image;
        ST = system_table;
        BS = system_table->BootServices;

        print(u"lzbt probe: LoadFile2 handles ");
        print_uint(count_handles(&load_file2_guid));
        print(u"\r\n");

        core = image_holding((uintptr_t)BS->AllocatePool);
        if (core && image_holding((uintptr_t)BS->Exit) == core)
                print(u"lzbt probe: Exit is the firmware's\r\n");
        else
                print(u"lzbt probe: Exit is not in the firmware's image\r\n");

        print(has_table(&dtb_guid) ? u"lzbt probe: devicetree table present\r\n"
                                   : u"lzbt probe: devicetree table absent\r\n");
        return EFI_NOT_FOUND;
}
