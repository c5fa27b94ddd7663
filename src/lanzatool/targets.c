/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "targets.h"

/* with_xbootldr: false for several ESPs, whose disks /boot cannot all be on. */
static int target_find(const char *esp_path, bool with_xbootldr, struct target *t)
{
        int r = esp_find(esp_path, &t->esp);

        if (r < 0)
                return r;
        t->boot = &t->esp;
        if (!with_xbootldr)
                return 0;
        r = xbootldr_find(arg.boot_path, &t->esp, &t->xbootldr);
        if (r < 0)
                return r;
        t->boot = t->xbootldr.path ? &t->xbootldr : &t->esp;
        if (t->xbootldr.path)
                log_debug("%s: stubs and payloads on the XBOOTLDR partition %s", t->esp.path,
                          t->xbootldr.path);
        return 0;
}

int targets_find(struct target **ret, size_t *ret_n)
{
        size_t n = arg.n_esp_paths ?: 1;
        struct target *t;
        int r = 0;

        /* One XBOOTLDR partition serves the ESP on its disk; several ESPs are several disks. */
        if (n > 1 && arg.boot_path)
                return log_error_errno(-EINVAL, "--boot-path: with one --esp-path only");
        t = calloc(n, sizeof(*t));
        if (!t)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                t[i].esp.fd = t[i].xbootldr.fd = -EBADF;
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = target_find(arg.n_esp_paths ? arg.esp_paths[i] : NULL, n == 1, &t[i]);
        if (r < 0) {
                targets_free(t, n);
                return r;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

int targets_find_certificate(struct target **ret, size_t *ret_n, X509 **ret_cert)
{
        int r = targets_find(ret, ret_n);

        *ret_cert = NULL;
        if (r < 0 || !arg.pki_bundle)
                return r;
        r = pki_load_certificate(arg.pki_bundle, ret_cert);
        if (r < 0) {
                targets_free(*ret, *ret_n);
                *ret = NULL;
                *ret_n = 0;
        }
        return r;
}

void targets_free(struct target *t, size_t n)
{
        for (size_t i = 0; t && i < n; i++) {
                esp_done(&t[i].xbootldr);
                esp_done(&t[i].esp);
        }
        free(t);
}

const char *target_name(const struct target *t, char *buf, size_t size)
{
        if (t->xbootldr.path)
                snprintf(buf, size, "%s (XBOOTLDR %s)", t->esp.path, t->xbootldr.path);
        else
                snprintf(buf, size, "%s", t->esp.path);
        return buf;
}
