/* SPDX-License-Identifier: MIT */
/* PE images to sign and to verify (stubs, kernels, systemd-boot, EFI binaries handed to `lanzatool
 * sign`): the Authenticode digest, the PCR 4 digests, the certificate table and its PKCS#7 signatures
 * (authenticode_verify), and signing, whose result must verify with the signer's certificate. */
#include <stdlib.h>

#include <openssl/err.h>

#include "authenticode.h"
#include "fuzz.h"
#include "pcr.h"
#include "pcr4.h"

static struct authenticode_signer signer;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char *message = NULL;

        (void)argc, (void)argv;
        if (authenticode_signer_load(FUZZ_KEY, FUZZ_CERTIFICATE, &signer, &message) < 0)
                fuzz_fail(__FILE__, __LINE__, message ? message : "authenticode_signer_load");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        struct pcr_digests digests;
        uint8_t *signed_image = NULL;
        size_t signed_size = 0;
        char *message = NULL;
        int r, is_signed;

        r = authenticode_digest(data, size, digest, &message);
        free(message);
        message = NULL;
        is_signed = authenticode_is_signed(data, size);
        (void)pcr4_authenticode_digests(data, size, &digests, &message);
        free(message);
        message = NULL;

        r = authenticode_verify(data, size, signer.certificate, &message);
        fuzz_assert(r != -ENODATA || is_signed == 0);
        free(message);
        message = NULL;

        r = authenticode_sign(data, size, &signer, &signed_image, &signed_size, &message);
        free(message);
        message = NULL;
        if (r >= 0) {
                r = authenticode_verify(signed_image, signed_size, signer.certificate, &message);
                if (r < 0)
                        fuzz_fail(__FILE__, __LINE__, message ? message : "our signature does not verify");
                fuzz_assert(authenticode_is_signed(signed_image, signed_size) == 1);
                free(signed_image);
        }
        ERR_clear_error();
        return 0;
}
