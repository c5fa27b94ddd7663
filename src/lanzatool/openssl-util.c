/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>

#include "keysource.h"
#include "openssl-util.h"
#include "util.h"

const char *openssl_reason(void)
{
        const char *reason = ERR_reason_error_string(ERR_peek_last_error());

        ERR_clear_error();
        return reason ? reason : "unknown error";
}

int openssl_refuse_passphrase(char *buf, int size, int rwflag, void *userdata)
{
        (void)buf, (void)size, (void)rwflag, (void)userdata;
        return -1;
}

int openssl_load_private_key(const char *spec, EVP_PKEY **ret, char **reterr_message)
{
        _cleanup_(fclosep) FILE *f = NULL;
        EVP_PKEY *key;

        if (keysource_is_pkcs11_uri(spec))
                return keysource_load_pkcs11(spec, ret, reterr_message);
        f = fopen(spec, "re");
        if (!f)
                return set_error_message(reterr_message, -errno, "%s: cannot open private key: %m", spec);
        keysource_warn_exposed(fileno(f), spec, "private key");
        key = PEM_read_PrivateKey(f, NULL, openssl_refuse_passphrase, NULL);
        if (!key)
                return set_error_message(reterr_message, -EBADMSG,
                                         "%s: not an unencrypted PEM private key (%s)", spec,
                                         openssl_reason());
        if (!EVP_PKEY_is_a(key, "RSA")) {
                EVP_PKEY_free(key);
                return set_error_message(reterr_message, -EOPNOTSUPP, "%s: not an RSA key", spec);
        }
        *ret = key;
        return 0;
}
