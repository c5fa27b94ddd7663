/* SPDX-License-Identifier: MIT */
#include "measure.h"
#include "tcg2.h"
#include "util.h"

/* Some firmware answers the TCG2 GetCapability call with the TPM 1.2 era structure (version 1.0),
 * whose TPMPresentFlag sits at another offset; systemd-stub honours that flag, so do we. */
typedef struct {
        uint8_t Size;
        uint8_t StructureVersion[4];
        uint8_t ProtocolSpecVersion[4];
        uint8_t HashAlgorithmBitmap;
        BOOLEAN TPMPresentFlag;
        BOOLEAN TPMDeactivatedFlag;
} __attribute__((packed)) TCG_BOOT_SERVICE_CAPABILITY_1_0;

static EFI_TCG2_PROTOCOL *tcg2_find(void)
{
        static const EFI_GUID guid = EFI_TCG2_PROTOCOL_GUID;
        EFI_TCG2_BOOT_SERVICE_CAPABILITY caps = {.Size = sizeof(caps)};
        EFI_TCG2_PROTOCOL *tcg;

        if (BS->LocateProtocol(&guid, NULL, (void **)&tcg) != EFI_SUCCESS || !tcg)
                return NULL;
        if (tcg->GetCapability(tcg, &caps) != EFI_SUCCESS)
                return NULL;

        if (caps.StructureVersion.Major == 1 && caps.StructureVersion.Minor == 0) {
                TCG_BOOT_SERVICE_CAPABILITY_1_0 caps_1_0;
                memcpy(&caps_1_0, &caps, sizeof(caps_1_0));
                if (caps_1_0.TPMPresentFlag)
                        return tcg;
        }
        return caps.TPMPresentFlag ? tcg : NULL;
}

static EFI_CC_MEASUREMENT_PROTOCOL *cc_find(void)
{
        static const EFI_GUID guid = EFI_CC_MEASUREMENT_PROTOCOL_GUID;
        EFI_CC_BOOT_SERVICE_CAPABILITY caps = {.Size = sizeof(caps)};
        EFI_CC_MEASUREMENT_PROTOCOL *cc;

        if (BS->LocateProtocol(&guid, NULL, (void **)&cc) != EFI_SUCCESS || !cc)
                return NULL;
        if (cc->GetCapability(cc, &caps) != EFI_SUCCESS)
                return NULL;
        /* Only the crypto-agile log format can carry our events. */
        if (!(caps.SupportedEventLogs & EFI_CC_EVENT_LOG_FORMAT_TCG_2))
                return NULL;
        return cc;
}

bool tpm_present(void)
{
        return tcg2_find() != NULL;
}

/* Event data is the description with its NUL; the whole event, header included, must fit the
 * 32-bit Size field of both event structures. */
static EFI_STATUS event_size(size_t header_size, const CHAR16 *description, size_t *ret_desc_size,
                             uint32_t *ret_size)
{
        size_t desc_size = strsize16(description);

        if (desc_size > UINT32_MAX - header_size)
                return EFI_INVALID_PARAMETER;
        *ret_desc_size = desc_size;
        *ret_size = (uint32_t)(header_size + desc_size);
        return EFI_SUCCESS;
}

static EFI_STATUS tcg2_log_ipl(EFI_TCG2_PROTOCOL *tcg, uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer,
                               size_t size, const CHAR16 *description)
{
        _cleanup_free_ EFI_TCG2_EVENT *event = NULL;
        size_t desc_size;
        uint32_t total;
        EFI_STATUS err;

        err = event_size(offsetof(EFI_TCG2_EVENT, Event), description, &desc_size, &total);
        if (err != EFI_SUCCESS)
                return err;
        event = xmalloc(total);
        if (!event)
                return EFI_OUT_OF_RESOURCES;
        *event = (EFI_TCG2_EVENT){
                .Size = total,
                .Header.HeaderSize = sizeof(EFI_TCG2_EVENT_HEADER),
                .Header.HeaderVersion = EFI_TCG2_EVENT_HEADER_VERSION,
                .Header.PCRIndex = pcr,
                .Header.EventType = EV_IPL,
        };
        memcpy(event->Event, description, desc_size);

        /* Flags 0: the firmware hashes the raw bytes with every active bank, extends and logs. */
        return tcg->HashLogExtendEvent(tcg, 0, buffer, size, event);
}

static EFI_STATUS cc_log_ipl(EFI_CC_MEASUREMENT_PROTOCOL *cc, uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer,
                             size_t size, const CHAR16 *description)
{
        _cleanup_free_ EFI_CC_EVENT *event = NULL;
        size_t desc_size;
        uint32_t total, mr;
        EFI_STATUS err;

        /* The vendor decides which measurement register stands in for which PCR. */
        if (cc->MapPcrToMrIndex(cc, pcr, &mr) != EFI_SUCCESS)
                return EFI_NOT_FOUND;

        err = event_size(offsetof(EFI_CC_EVENT, Event), description, &desc_size, &total);
        if (err != EFI_SUCCESS)
                return err;
        event = xmalloc(total);
        if (!event)
                return EFI_OUT_OF_RESOURCES;
        *event = (EFI_CC_EVENT){
                .Size = total,
                .Header.HeaderSize = sizeof(EFI_CC_EVENT_HEADER),
                .Header.HeaderVersion = EFI_CC_EVENT_HEADER_VERSION,
                .Header.MrIndex = mr,
                .Header.EventType = EV_IPL,
        };
        memcpy(event->Event, description, desc_size);

        return cc->HashLogExtendEvent(cc, 0, buffer, size, event);
}

EFI_STATUS tpm_log_ipl_event16(uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer, size_t size,
                               const CHAR16 *description, bool *ret_measured)
{
        EFI_CC_MEASUREMENT_PROTOCOL *cc;
        EFI_TCG2_PROTOCOL *tcg;
        EFI_STATUS err;

        if (!description || (buffer == 0 && size > 0))
                return EFI_INVALID_PARAMETER;

        /* Measure into both when both exist, so that neither can be left holding a stale chain (the
         * CVE-2021-42299 class of problems). CC goes first, as in systemd. */
        cc = cc_find();
        if (cc) {
                err = cc_log_ipl(cc, pcr, buffer, size, description);
                if (err != EFI_SUCCESS)
                        return err;
        }

        tcg = tcg2_find();
        if (tcg) {
                err = tcg2_log_ipl(tcg, pcr, buffer, size, description);
                if (err != EFI_SUCCESS)
                        return err;
        }

        if (ret_measured)
                *ret_measured = cc || tcg;
        return EFI_SUCCESS;
}

EFI_STATUS tpm_log_ipl_event(uint32_t pcr, EFI_PHYSICAL_ADDRESS buffer, size_t size, const char *description,
                             bool *ret_measured)
{
        _cleanup_free_ CHAR16 *description16 = NULL;
        size_t n = 0;

        if (!description)
                return EFI_INVALID_PARAMETER;
        while (description[n])
                n++;
        description16 = xstrn8_to_16(description, n, /* strict= */ false);
        if (!description16)
                return EFI_OUT_OF_RESOURCES;
        return tpm_log_ipl_event16(pcr, buffer, size, description16, ret_measured);
}

EFI_STATUS tpm_log_load_options(const CHAR16 *cmdline, bool *ret_measured)
{
        if (!cmdline)
                return EFI_INVALID_PARAMETER;
        /* The hashed data includes the NUL: every sd-stub version hashes strsize16(), whatever
         * TPM2_PCR_MEASUREMENTS.md says. */
        return tpm_log_ipl_event16(TPM2_PCR_KERNEL_CONFIG, (EFI_PHYSICAL_ADDRESS)(uintptr_t)cmdline,
                                   strsize16(cmdline), cmdline, ret_measured);
}

void combine_measured_flag(int *flag, bool measured)
{
        *flag = *flag < 0 ? measured : (*flag && measured);
}
