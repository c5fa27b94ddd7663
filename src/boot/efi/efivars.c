/* SPDX-License-Identifier: MIT */
#include "efivars.h"
#include "device-path.h"
#include "log.h"
#include "util.h"

EFI_STATUS efivar_get_raw(const EFI_GUID *vendor, const CHAR16 *name, size_t max_size, void **ret_data,
                          size_t *ret_size)
{
        _cleanup_free_ void *data = NULL;
        UINTN size = 0;
        EFI_STATUS err;

        err = RT->GetVariable(name, vendor, NULL, &size, NULL);
        if (err != EFI_BUFFER_TOO_SMALL)
                return err == EFI_SUCCESS ? EFI_INVALID_PARAMETER : err;
        if (size > max_size)
                return EFI_BAD_BUFFER_SIZE;
        data = xmalloc(size + sizeof(CHAR16));
        if (!data)
                return EFI_OUT_OF_RESOURCES;
        err = RT->GetVariable(name, vendor, NULL, &size, data);
        if (err != EFI_SUCCESS)
                return err;
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return EFI_SUCCESS;
}

bool efivar_exists(const EFI_GUID *vendor, const CHAR16 *name)
{
        UINTN size = 0;
        return RT->GetVariable(name, vendor, NULL, &size, NULL) == EFI_BUFFER_TOO_SMALL;
}

EFI_STATUS efivar_set_raw(const EFI_GUID *vendor, const CHAR16 *name, const void *data, size_t size)
{
        return RT->SetVariable(name, vendor, EFI_VARIABLE_VOLATILE_BS_RT, size, data);
}

EFI_STATUS efivar_set_str16(const EFI_GUID *vendor, const CHAR16 *name, const CHAR16 *value)
{
        return efivar_set_raw(vendor, name, value, strsize16(value));
}

EFI_STATUS efivar_set_uint_string(const EFI_GUID *vendor, const CHAR16 *name, uint64_t value)
{
        CHAR16 buf[21], *p = buf + ELEMENTSOF(buf) - 1;

        *p = 0;
        do
                *--p = (CHAR16)('0' + value % 10);
        while ((value /= 10) > 0);
        return efivar_set_str16(vendor, name, p);
}

EFI_STATUS efivar_set_uint64_le(const EFI_GUID *vendor, const CHAR16 *name, uint64_t value)
{
        uint8_t buf[sizeof(uint64_t)];

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(value >> (8 * i));
        return efivar_set_raw(vendor, name, buf, sizeof(buf));
}

/* StubFeatures bits (systemd's efivars-fundamental.h): only what this stub really does. */
enum {
        STUB_FEATURE_REPORT_BOOT_PARTITION = 1 << 0,
        STUB_FEATURE_PICK_UP_CREDENTIALS = 1 << 1,
        STUB_FEATURE_PICK_UP_SYSEXTS = 1 << 2,
        STUB_FEATURE_THREE_PCRS = 1 << 3,
        STUB_FEATURE_PICK_UP_CONFEXTS = 1 << 8,
};

static const EFI_GUID loader_guid = LOADER_GUID;

static void set_if_absent(const CHAR16 *name, const CHAR16 *value)
{
        if (value && value[0] && !efivar_exists(&loader_guid, name))
                (void)efivar_set_str16(&loader_guid, name, value);
}

/* The GPT partition GUID of the partition we were loaded from, as text. */
static bool device_part_uuid(EFI_HANDLE device, CHAR16 ret[37])
{
        static const EFI_GUID dp_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;
        const EFI_DEVICE_PATH *dp;

        if (!device || BS->HandleProtocol(device, &dp_guid, (void **)&dp) != EFI_SUCCESS)
                return false;
        for (; !device_path_is_end(dp); dp = device_path_next_node(dp)) {
                const HARDDRIVE_DEVICE_PATH *hd = (const HARDDRIVE_DEVICE_PATH *)dp;
                const uint8_t *g;

                if (device_path_node_length(dp) < sizeof(EFI_DEVICE_PATH))
                        return false;
                if (dp->Type != MEDIA_DEVICE_PATH || dp->SubType != MEDIA_HARDDRIVE_DP ||
                    device_path_node_length(dp) < sizeof(*hd) || hd->SignatureType != SIGNATURE_TYPE_GUID)
                        continue;
                /* The first three fields of an EFI GUID are little-endian. */
                g = hd->Signature;
                snprintf16(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                           g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
                           g[13], g[14], g[15]);
                return true;
        }
        return false;
}

void export_loader_variables(EFI_HANDLE device, const EFI_DEVICE_PATH *file_path)
{
        static const EFI_GUID to_text_guid = EFI_DEVICE_PATH_TO_TEXT_PROTOCOL_GUID;
        EFI_DEVICE_PATH_TO_TEXT_PROTOCOL *to_text;
        CHAR16 buf[128];

        if (device_part_uuid(device, buf))
                set_if_absent(u"LoaderDevicePartUUID", buf);

        if (file_path && BS->LocateProtocol(&to_text_guid, NULL, (void **)&to_text) == EFI_SUCCESS) {
                _cleanup_free_ CHAR16 *text = to_text->ConvertDevicePathToText(file_path, false, false);
                set_if_absent(u"LoaderImageIdentifier", text);
        }

        snprintf16(buf, ELEMENTSOF(buf), "%ls %u.%02u", ST->FirmwareVendor ?: u"Unknown",
                   ST->FirmwareRevision >> 16, ST->FirmwareRevision & 0xffff);
        set_if_absent(u"LoaderFirmwareInfo", buf);

        snprintf16(buf, ELEMENTSOF(buf), "UEFI %u.%02u", ST->Hdr.Revision >> 16, ST->Hdr.Revision & 0xffff);
        set_if_absent(u"LoaderFirmwareType", buf);
}

void export_stub_variables(void)
{
        (void)efivar_set_str16(&loader_guid, u"StubInfo", u"lanzaboote " LANZABOOTE_VERSION);
        (void)efivar_set_uint64_le(&loader_guid, u"StubFeatures",
                                   STUB_FEATURE_REPORT_BOOT_PARTITION | STUB_FEATURE_PICK_UP_CREDENTIALS |
                                           STUB_FEATURE_PICK_UP_SYSEXTS | STUB_FEATURE_THREE_PCRS |
                                           STUB_FEATURE_PICK_UP_CONFEXTS);
}
