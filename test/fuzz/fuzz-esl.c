/* SPDX-License-Identifier: MIT */
/* EFI signature lists as read from db/KEK/PK and from .esl files: esl_parse(), esl_merge() into a list
 * holding a real certificate, and db_trusts_certificate(), which reads their X.509 entries as DER. */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>

#include "authvar.h"
#include "db-trust.h"
#include "fuzz.h"

static X509 *certificate;
static struct blob base;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        FILE *f = fopen(FUZZ_CERTIFICATE, "re");

        (void)argc, (void)argv;
        certificate = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
                fclose(f);
        if (!certificate || esl_append_x509(&base, &efi_global_variable_guid, certificate) < 0)
                fuzz_fail(__FILE__, __LINE__, "cannot load " FUZZ_CERTIFICATE);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct esl_entry *entries = NULL;
        char *message = NULL, *summary = NULL;
        struct blob merged = {};
        size_t n = 0;
        int r;

        r = esl_parse(data, size, &entries, &n, &message);
        fuzz_assert(r >= 0 || message);
        if (r >= 0) {
                fuzz_assert((n == 0) == (entries == NULL));
                for (size_t i = 0; i < n; i++)
                        fuzz_assert(entries[i].data >= data && entries[i].size <= size &&
                                    (size_t)(entries[i].data - data) <= size - entries[i].size);
        }
        free(entries);
        free(message);
        message = NULL;

        if (blob_append(&merged, base.data, base.size) >= 0) {
                r = esl_merge(&merged, data, size, &message);
                fuzz_assert(r >= 0 || message);
                if (r >= 0) {
                        /* What merge wrote parses again. */
                        fuzz_assert(esl_parse(merged.data, merged.size, &entries, &n, NULL) >= 0);
                        free(entries);
                }
                free(message);
                blob_done(&merged);
        }

        r = db_trusts_certificate(data, size, certificate, &summary);
        free(summary);
        return 0;
}
