/* SPDX-License-Identifier: MIT */
/* The initrd handed over the way Linux's EFI stub asks for it since 5.8: it locates the handle whose
 * device path is the LINUX_INITRD_MEDIA vendor node and calls LoadFile2 on it, first with no buffer
 * to learn the size, then with a buffer of that size. */
#include "initrd.h"
#include "device-path.h"
#include "load-file.h"
#include "log.h"
#include "util.h"

#define LINUX_INITRD_MEDIA_GUID                                                                             \
        GUID_DEF(0x5568e427, 0x68fc, 0x4f3d, 0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68)

static const EFI_GUID device_path_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;
static const EFI_GUID load_file2_guid = EFI_LOAD_FILE2_PROTOCOL_GUID;

static const struct {
        VENDOR_DEVICE_PATH vendor;
        EFI_DEVICE_PATH end;
} __attribute__((packed)) initrd_device_path = {
        .vendor.Header.Type = MEDIA_DEVICE_PATH,
        .vendor.Header.SubType = MEDIA_VENDOR_DP,
        .vendor.Header.Length = {sizeof(VENDOR_DEVICE_PATH), 0},
        .vendor.Guid = LINUX_INITRD_MEDIA_GUID,
        .end = DEVICE_PATH_END_NODE,
};

/* The protocol comes first, so the This pointer the kernel passes back is the whole object. */
typedef struct {
        EFI_LOAD_FILE2_PROTOCOL load_file;
        const void *data;
        size_t size;
} InitrdLoader;

static EFI_STATUS EFIAPI initrd_load_file(EFI_LOAD_FILE2_PROTOCOL *this, EFI_DEVICE_PATH *file_path,
                                          BOOLEAN boot_policy, UINTN *buffer_size, void *buffer)
{
        const InitrdLoader *loader = (const InitrdLoader *)this;

        if (!this || !buffer_size || !file_path)
                return EFI_INVALID_PARAMETER;
        /* LoadFile2 never loads boot options (UEFI 2.10 §13.2). */
        if (boot_policy)
                return EFI_UNSUPPORTED;
        if (loader->size == 0)
                return EFI_NOT_FOUND;
        if (!buffer || *buffer_size < loader->size) {
                *buffer_size = loader->size;
                return EFI_BUFFER_TOO_SMALL;
        }

        memcpy(buffer, loader->data, loader->size);
        *buffer_size = loader->size;
        return EFI_SUCCESS;
}

/* LocateDevicePath() finds the handle with the longest device path that is a prefix of ours, where
 * InstallMultipleProtocolInterfaces() only refuses an identical one. The kernel uses the former to
 * find its initrd, so whatever it would find other than us means someone else answers already. */
EFI_STATUS initrd_check_none_registered(void)
{
        EFI_DEVICE_PATH *dp = (EFI_DEVICE_PATH *)&initrd_device_path;
        EFI_HANDLE handle;
        EFI_STATUS err;

        err = BS->LocateDevicePath(&load_file2_guid, &dp, &handle);
        if (err == EFI_NOT_FOUND)
                return EFI_SUCCESS;
        return log_error_status(
                EFI_SECURITY_VIOLATION,
                "An initrd this boot entry does not pin is already offered to the kernel\n"
                "  (a LINUX_INITRD_MEDIA LoadFile2 handle, e.g. a boot loader's \"initrd\" line: %s).",
                efi_status_name(err));
}

EFI_STATUS initrd_register(const void *initrd, size_t size, EFI_HANDLE *ret_handle)
{
        _cleanup_free_ InitrdLoader *loader = NULL;
        EFI_HANDLE handle = NULL;
        EFI_STATUS err;

        if (!ret_handle || (!initrd && size > 0))
                return EFI_INVALID_PARAMETER;

        /* Checked again here, whatever the size: nothing foreign may have appeared since the stub checked.
         */
        err = initrd_check_none_registered();
        if (err != EFI_SUCCESS)
                return err;
        if (size == 0) {
                *ret_handle = NULL;
                return EFI_SUCCESS;
        }

        loader = xmalloc(sizeof(*loader));
        if (!loader)
                return log_error_status(EFI_OUT_OF_RESOURCES, "Out of memory for the initrd loader.");
        *loader = (InitrdLoader){
                .load_file.LoadFile = initrd_load_file,
                .data = initrd,
                .size = size,
        };

        err = BS->InstallMultipleProtocolInterfaces(&handle, &device_path_guid, (void *)&initrd_device_path,
                                                    &load_file2_guid, (void *)loader, NULL);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot install the initrd LoadFile2 protocol: %s",
                                        efi_status_name(err));

        TAKE_PTR(loader);
        *ret_handle = handle;
        return EFI_SUCCESS;
}

EFI_STATUS initrd_unregister(EFI_HANDLE handle)
{
        InitrdLoader *loader;
        EFI_STATUS err;

        if (!handle)
                return EFI_SUCCESS;

        err = BS->HandleProtocol(handle, &load_file2_guid, (void **)&loader);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot find the initrd LoadFile2 protocol: %s",
                                        efi_status_name(err));

        /* The handle disappears with its last protocol. */
        err = BS->UninstallMultipleProtocolInterfaces(handle, &device_path_guid, (void *)&initrd_device_path,
                                                      &load_file2_guid, (void *)loader, NULL);
        if (err != EFI_SUCCESS)
                /* Still installed: the firmware may call it, so it must not be freed. */
                return log_error_status(err, "Cannot uninstall the initrd LoadFile2 protocol: %s",
                                        efi_status_name(err));

        free(loader);
        return EFI_SUCCESS;
}
