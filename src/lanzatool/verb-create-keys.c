/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "keys.h"
#include "lanzatool.h"
#include "log.h"

int verb_create_keys(int argc, char *argv[])
{
        unsigned bits = arg.key_size ?: KEYS_DEFAULT_BITS;

        (void)argc, (void)argv;
        if (keys_create(arg.pki_bundle, bits) < 0)
                return 1;
        log_info("%s: created PK, KEK and db (RSA-%u, self-signed) in sbctl's layout", arg.pki_bundle, bits);
        return 0;
}
