/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "keysource.h"
#include "log.h"
#include "pki.h"
#include "util.h"

static void db_paths(const char *dir, char key[PATH_MAX], char cert[PATH_MAX])
{
        snprintf(key, PATH_MAX, "%s/keys/db/db.key", dir);
        snprintf(cert, PATH_MAX, "%s/keys/db/db.pem", dir);
}

int pki_load(const char *dir, struct pki *ret)
{
        char key[PATH_MAX], cert[PATH_MAX], *message = NULL;
        _cleanup_free_ char *key_spec = NULL;
        struct pki p = {};
        int r;

        db_paths(dir, key, cert);
        /* keys/db/db.uri, when present, names a key in a PKCS#11 token instead of db.key. */
        r = keysource_bundle_key(dir, "db", &key_spec, &message);
        if (r >= 0)
                r = authenticode_signer_load(key_spec, cert, &p.db, &message);
        if (r < 0) {
                log_error("%s", message ?: strerror(-r));
                free(message);
                return r;
        }
        r = read_file(cert, 1 << 20, (uint8_t **)&p.db_cert_pem, &p.db_cert_pem_size);
        if (r < 0) {
                authenticode_signer_done(&p.db);
                return log_error_errno(r, "%s: %s", cert, strerror(-r));
        }
        p.dir = strdup(dir);
        if (!p.dir) {
                pki_done(&p);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        *ret = p;
        return 0;
}

int pki_load_certificate(const char *dir, X509 **ret)
{
        char key[PATH_MAX], cert[PATH_MAX], *message = NULL;
        int r;

        db_paths(dir, key, cert);
        r = authenticode_certificate_load(cert, ret, &message);
        if (r < 0) {
                log_error("%s", message ?: strerror(-r));
                free(message);
        }
        return r;
}

void pki_done(struct pki *p)
{
        authenticode_signer_done(&p->db);
        free(p->db_cert_pem);
        free(p->dir);
        *p = (struct pki){};
}
