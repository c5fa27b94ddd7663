/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/x509.h>
#include <stddef.h>

#include "esp.h"

/* Where one install goes: systemd-boot, loader.conf and the auto-enrollment keys on the ESP; stubs and
 * their payloads together on the boot partition (DESIGN §2: a stub reads its kernel and initrd from
 * its own volume), which is the XBOOTLDR partition when there is one, else the ESP. */
struct target {
        struct esp esp;
        struct esp xbootldr;    /* path NULL: none */
        const struct esp *boot; /* &xbootldr or &esp */
};

/* Every ESP given (--esp-path, repeatable), or the one found as bootctl finds it; each with its
 * XBOOTLDR partition (--boot-path, only with one ESP). Logs the failure. */
int targets_find(struct target **ret, size_t *ret_n);
/* The same, and the db certificate of --pki-bundle (NULL without one), which the verbs that read what
 * is installed check signatures against. */
int targets_find_certificate(struct target **ret, size_t *ret_n, X509 **ret_cert);
void targets_free(struct target *t, size_t n);

/* "ESP" or "ESP (XBOOTLDR X)", for messages. */
const char *target_name(const struct target *t, char *buf, size_t size);
