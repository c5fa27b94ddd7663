/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/x509.h>

#include "authenticode.h"

/* A PKI bundle in sbctl's layout: DIR/keys/{PK,KEK,db}/{PK,KEK,db}.{key,pem} and DIR/GUID. */
struct pki {
        char *dir;
        struct authenticode_signer db; /* signs systemd-boot and the stubs */
        char *db_cert_pem;             /* the certificate's PEM text: part of every stub's name */
        size_t db_cert_pem_size;
};

/* Loads the db key and certificate, logging one message naming the file at fault. The key is
 * keys/db/db.key, or the key in a PKCS#11 token that keys/db/db.uri names (keysource.h). */
int pki_load(const char *dir, struct pki *ret);
/* Only the db certificate, for verifying (list, verify, remove). */
int pki_load_certificate(const char *dir, X509 **ret);
void pki_done(struct pki *p);
