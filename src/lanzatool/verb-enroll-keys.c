/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "enroll.h"
#include "keys.h"
#include "lanzatool.h"
#include "log.h"

static int enroll_run(struct keys *k, struct enroll_set *s)
{
        int r;

        /* Before anything else: in user mode there is nothing to check or build. */
        if (!arg.export_auth && (r = enroll_require_setup_mode()) < 0)
                return r;
        r = keys_load(arg.pki_bundle, k);
        if (r >= 0)
                r = enroll_set_build(k, &arg.enroll, s);
        if (r >= 0)
                r = enroll_guard(&s->esl[SECURE_BOOT_DB], &arg.enroll);
        if (r < 0)
                return r;
        return arg.export_auth ? enroll_export(s, arg.export_auth) : enroll_live(s);
}

int verb_enroll_keys(int argc, char *argv[])
{
        struct keys k = {};
        struct enroll_set s = {};
        int r;

        (void)argc, (void)argv;
        r = enroll_run(&k, &s);
        enroll_set_done(&s);
        keys_done(&k);
        return r < 0 ? 1 : 0;
}
