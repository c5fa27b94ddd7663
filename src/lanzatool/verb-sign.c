/* SPDX-License-Identifier: MIT */

/* lanzatool sign IMAGE [--output=OUT]: signs a PE32+ image lanzatool did not build (fwupd's EFI
 * binary, a shell, a driver) with the db key, exactly as the stubs are signed: the same image and
 * key always give the same bytes, and any signature the image carries is replaced. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "fs-util.h"
#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "util.h"

/* Far above any EFI binary; Authenticode itself stops at 4 GiB. */
#define SIGN_MAX_SIZE (512u << 20)

struct image {
        uint8_t *data;
        size_t size;
};

static void image_done(struct image *i)
{
        free(i->data);
        *i = (struct image){};
}

/* Reads the image, refusing anything that is not a PE32+ image before any key is touched. */
static int read_image(const char *path, struct image *ret)
{
        struct image i = {};
        int r;

        r = read_file(path, SIGN_MAX_SIZE, &i.data, &i.size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read: %s", path, strerror(-r));
        r = authenticode_is_signed(i.data, i.size);
        if (r < 0) {
                image_done(&i);
                return log_error_errno(r, "%s: not a PE32+ image (or a malformed one), refusing to sign it",
                                       path);
        }
        if (r > 0)
                log_debug("%s: signed already; its signatures are replaced", path);
        *ret = i;
        return 0;
}

/* Atomically, in the output's own directory: a crash leaves the old file or the new one. */
static int write_image(const char *path, const struct image *i)
{
        _cleanup_free_ char *dir_copy = strdup(path), *name_copy = strdup(path);
        _cleanup_close_ int dir_fd = -1;
        const char *dir, *name;
        int r;

        if (!dir_copy || !name_copy)
                return log_error_errno(-ENOMEM, "out of memory");
        dir = dirname(dir_copy);
        name = basename(name_copy);
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open its directory %s", path, dir);
        r = write_file_atomic_at(dir_fd, name, i->data, i->size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write: %s", path, strerror(-r));
        return 0;
}

static int sign_image(const char *in, const char *out)
{
        _cleanup_(image_done) struct image unsigned_image = {}, signed_image = {};
        _cleanup_(pki_done) struct pki pki = {};
        _cleanup_free_ char *message = NULL;
        int r;

        r = read_image(in, &unsigned_image);
        if (r < 0)
                return r;
        r = pki_load(arg.pki_bundle, &pki);
        if (r < 0)
                return r;
        r = authenticode_sign(unsigned_image.data, unsigned_image.size, &pki.db, &signed_image.data,
                              &signed_image.size, &message);
        if (r < 0)
                return log_error_errno(r, "%s: cannot sign: %s", in, message ?: strerror(-r));

        if (arg.dry_run) {
                printf("write %s\n", out);
                return 0;
        }
        r = write_image(out, &signed_image);
        if (r < 0)
                return r;
        log_info("%s: signed with %s/keys/db", out, arg.pki_bundle);
        return 0;
}

int verb_sign(int argc, char *argv[])
{
        (void)argc;
        return sign_image(argv[1], arg.output ?: argv[1]) < 0 ? 1 : 0;
}
