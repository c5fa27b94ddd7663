/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "authvar.h"
#include "db-trust.h"
#include "efivars.h"
#include "log.h"
#include "util.h"

static char *subject_of(X509 *c)
{
        return X509_NAME_oneline(X509_get_subject_name(c), NULL, 0);
}

/* Whether anchor is certificate itself or, through the certificates db holds, an issuer above it. */
static bool anchors(X509 *anchor, X509 *certificate, STACK_OF(X509) * untrusted)
{
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        bool ok = false;

        if (X509_cmp(anchor, certificate) == 0) {
                X509_STORE_free(store);
                X509_STORE_CTX_free(ctx);
                return true;
        }
        if (store && ctx && X509_STORE_add_cert(store, anchor) == 1 &&
            X509_STORE_CTX_init(ctx, store, certificate, untrusted) == 1) {
                /* As EDK2: no validity dates, no purpose; a partial chain to this anchor is enough. */
                X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
                X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
                X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_ANY);
                ok = X509_verify_cert(ctx) == 1;
        }
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return ok;
}

int db_trusts_certificate(const uint8_t *db, size_t size, X509 *certificate, char **ret_summary)
{
        struct esl_entry *entries = NULL;
        STACK_OF(X509) *certs = sk_X509_new_null();
        char *message = NULL, *summary = NULL;
        size_t n = 0, summary_size = 0;
        FILE *f = open_memstream(&summary, &summary_size);
        int r, trusted = 0;

        r = esl_parse(db, size, &entries, &n, &message);
        if (r < 0)
                log_error("db: %s", message ?: strerror(-r));
        else if (!certs || !f)
                r = log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const unsigned char *p = entries[i].data;
                X509 *c;
                if (!efi_guid_equal(&entries[i].type, &efi_cert_x509_guid) ||
                    !(c = d2i_X509(NULL, &p, (long)entries[i].size)))
                        continue;
                char *s = subject_of(c);
                fprintf(f, "%s%s", ftell(f) > 0 ? ", " : "", s ?: "?");
                OPENSSL_free(s);
                if (!sk_X509_push(certs, c))
                        X509_free(c);
        }
        for (int i = 0; r >= 0 && !trusted && i < sk_X509_num(certs); i++)
                trusted = anchors(sk_X509_value(certs, i), certificate, certs);
        if (f && ftell(f) == 0)
                fputs("no X.509 certificate", f);
        if (f)
                fclose(f);
        sk_X509_pop_free(certs, X509_free);
        free(entries);
        free(message);
        if (r >= 0 && ret_summary)
                *ret_summary = TAKE_PTR(summary);
        free(summary);
        return r < 0 ? r : trusted;
}

int firmware_trusts_certificate(X509 *certificate, char **ret_summary)
{
        _cleanup_free_ void *db = NULL;
        size_t size = 0;
        int r;

        if (!efivarfs_path())
                return -EOPNOTSUPP;
        if (efi_secure_boot() <= 0 || efi_setup_mode() != 0)
                return 1;
        r = efivar_read("db", EFI_IMAGE_SECURITY_DATABASE_GUID_STR, &db, &size);
        if (r == -ENOENT)
                size = 0;
        else if (r < 0)
                return r;
        return db_trusts_certificate(db, size, certificate, ret_summary);
}
