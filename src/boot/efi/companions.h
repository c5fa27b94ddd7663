/* SPDX-License-Identifier: MIT */
/* Companion files picked up from the ESP as systemd-stub does: credentials, system and configuration
 * extension images, each set packed into a cpio archive, measured as a whole and passed as extra
 * initrds. */
#pragma once

#include "efi.h"
#include "loaded-image.h"

/* In the order sd-stub appends them after the main initrd. */
typedef enum {
        COMPANION_CREDENTIALS,        /* <image>.extra.d\*.cred  -> /.extra/credentials/, PCR 12 */
        COMPANION_GLOBAL_CREDENTIALS, /* \loader\credentials\*.cred -> /.extra/global_credentials/, PCR 12 */
        COMPANION_SYSEXT,  /* <image>.extra.d\*.raw but *.confext.raw -> /.extra/sysext/, PCR 13 */
        COMPANION_CONFEXT, /* <image>.extra.d\*.confext.raw -> /.extra/confext/, PCR 12 */
        COMPANION_PCRSIG,  /* .pcrsig section  -> /.extra/tpm2-pcr-signature.json, not measured */
        COMPANION_PCRPKEY, /* .pcrpkey section -> /.extra/tpm2-pcr-public-key.pem, not measured */
        _COMPANION_MAX,
} CompanionType;

typedef struct {
        void *data;  /* pool memory; NULL when there is no such archive */
        size_t size; /* a multiple of 4, so archives can be concatenated as they are */
} CompanionArchive;

typedef struct {
        CompanionArchive archives[_COMPANION_MAX];
        /* Tri-states as combine_measured_flag() keeps them, for StubPcrKernelParameters (PCR 12),
         * StubPcrInitRDSysExts (PCR 13) and StubPcrInitRDConfExts (PCR 12). An archive that does not
         * exist leaves its flag alone. */
        int parameters_measured;
        int sysext_measured;
        int confext_measured;
} Companions;

/* Builds and measures every archive for which matching files exist on the volume the image was
 * loaded from. Problems with one archive (an unreadable directory, too much data, a failed
 * measurement) are logged and leave that archive out: a companion that was not measured is never
 * passed on. Fails only for invalid arguments. */
EFI_STATUS companions_load(const EFI_LOADED_IMAGE_PROTOCOL *image, Companions *ret);

/* Wraps a signed PCR policy (.pcrsig, may be empty) and its public key (.pcrpkey, may be empty) for
 * the OS, where systemd-cryptsetup looks for them: never measured, since .pcrsig holds signatures of
 * the measurements and .pcrpkey is in PCR 11 already. */
void companions_add_pcr_policy(Companions *c, const void *pcrsig, size_t pcrsig_size, const void *pcrpkey,
                               size_t pcrpkey_size);

void companions_free(Companions *c);
