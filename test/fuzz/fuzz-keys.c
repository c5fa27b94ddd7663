/* SPDX-License-Identifier: MIT */
/* Key and certificate files: the PEM private key loader every signing verb uses (RSA only, never a
 * passphrase prompt), the PEM certificate loader of sign/verify, and a PEM public key as pcrsig reads
 * it. The input is the file. */
#include <stdlib.h>

#include <openssl/err.h>

#include "authenticode.h"
#include "fuzz.h"
#include "openssl-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(data, size);
        EVP_PKEY *key = NULL;
        X509 *certificate = NULL;
        char *message = NULL;
        int r;

        r = openssl_load_private_key(path, &key, &message);
        fuzz_assert(r >= 0 ? key != NULL : message != NULL);
        if (r >= 0)
                fuzz_assert(EVP_PKEY_is_a(key, "RSA"));
        EVP_PKEY_free(key);
        free(message);
        message = NULL;

        r = authenticode_certificate_load(path, &certificate, &message);
        fuzz_assert(r >= 0 ? certificate != NULL : message != NULL);
        X509_free(certificate);
        free(message);

        fuzz_file_close();
        ERR_clear_error();
        return 0;
}
