/* SPDX-License-Identifier: MIT */

/* lanzatool rotate-keys [--kek] GENERATION...: replaces the db key (and with --kek the KEK) of the PKI
 * bundle and of the firmware, with the existing authority (PK signs KEK updates, KEK signs db updates,
 * formats.md §3.8), and re-signs everything on the ESP through the install path.
 *
 * The invariant: at every instant, a crash at any point included, every boot file on the ESP verifies
 * with a certificate that db holds at that instant. Old and new keys overlap until nothing needs the
 * old one. The order, and why:
 *
 *   1. New keys, made by keys_create() in DIR/rotate-keys (its PK is not used), as big as the db key
 *      they replace unless --key-size says otherwise. A key held in a PKCS#11 token is succeeded by a
 *      key in the same token (--new-db-key, --new-kek-key), never by a key file. Only the keys that
 *      sign updates are loaded: KEK's for db, PK's with --kek; the old db key is not needed. The new
 *      certificates are recorded as DIR/rotate-keys/new-{db,KEK}.pem before anything else happens:
 *      from then on every step can tell the new key from the old one, whichever directory each is in.
 *   2. Append: with --kek the new KEK certificate is appended to KEK (signed by PK), then the new db
 *      certificate to db (signed by the bundle's KEK). APPEND_WRITE with a zero timestamp, which the
 *      firmware does not order, so the later replacement's timestamp "now" is still the newest. db now
 *      holds old and new; the ESP, signed with the old key, boots. The variables are read back: nothing
 *      is signed with a key the firmware does not show.
 *   3. Switch the bundle: DIR/keys/K and DIR/rotate-keys/keys/K trade places in one renameat2
 *      (RENAME_EXCHANGE), KEK first. From now on every install, this one or nixos-rebuild's, signs with
 *      the new key, which db already trusts.
 *   4. Re-sign through the install path with the given generations: stubs (their names hash the
 *      certificate, so they are new files) and systemd-boot; old stubs are collected. Then every .efi on
 *      the ESP that only the old key verifies (the booted entry install keeps, images signed with
 *      `lanzatool sign`) is re-signed in place, atomically: the old key's signature is replaced, any
 *      other signature kept. With --esp-path given more than once, every ESP goes through this step
 *      before the next one retires anything. After this pass no file needs the old key.
 *   5. Retire: db is rewritten without the old certificate, keeping everything else it holds (another
 *      vendor's CA, option ROM hashes), signed by the bundle's KEK (with --kek the new one, enrolled in
 *      step 2), timestamped now; with --kek, KEK likewise (signed by PK). db first: it is what boots;
 *      KEK only authorises updates. Only now does the old key stop counting, and nothing on the ESP
 *      uses it.
 *   6. DIR/rotate-keys, with the old keys, is renamed away in one step and then removed.
 *
 * Each step learns from the files and the variables whether it is done already, so that running
 * rotate-keys again after a crash or a failure finishes the rotation that DIR/rotate-keys holds rather
 * than starting another. test/vm/test-rotate-keys-crash.sh kills it at every change it makes and checks
 * the invariant in each state it leaves behind. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authenticode.h"
#include "authvar.h"
#include "efivars.h"
#include "enroll.h"
#include "esp.h"
#include "fs-util.h"
#include "keys.h"
#include "keysource.h"
#include "lanzatool.h"
#include "log.h"
#include "plan.h"
#include "targets.h"
#include "util.h"

#define ROTATION_DIR       "rotate-keys"                 /* in the PKI bundle: the rotation in progress */
#define ROTATION_DONE_DIR  TMP_PREFIX "rotate-keys.done" /* what finish() is removing */
#define ROTATION_RECORD    "new-%s.pem"                  /* in ROTATION_DIR: the new certificate of a key */
#define ROTATED_MAX        2                             /* KEK and db */
#define ESP_IMAGE_MAX_SIZE (512u << 20)
#define ESP_WALK_DEPTH     8
#define PEM_MAX_SIZE       (1u << 20)

/* One key being replaced. */
struct rotated {
        enum secure_boot_key key;
        X509 *old, *new; /* new is NULL until the new keys exist */
        bool switched;   /* DIR/keys/K holds the new key */
};

struct rotation {
        const char *bundle; /* DIR */
        char *dir;          /* DIR/rotate-keys */
        struct keys keys;   /* DIR's keys as they are now */
        struct rotated rotated[ROTATED_MAX];
        size_t n_rotated;
};

static void rotation_done(struct rotation *r)
{
        for (size_t i = 0; i < r->n_rotated; i++) {
                X509_free(r->rotated[i].old);
                X509_free(r->rotated[i].new);
        }
        keys_done(&r->keys);
        free(r->dir);
        *r = (struct rotation){};
}

/* Where the variable holding key k lives, and whose key signs its updates (formats.md §3.8). */
static const struct efi_guid *variable_vendor(enum secure_boot_key k)
{
        return k == SECURE_BOOT_DB ? &efi_image_security_database_guid : &efi_global_variable_guid;
}

static enum secure_boot_key variable_signer(enum secure_boot_key k)
{
        return k == SECURE_BOOT_DB ? SECURE_BOOT_KEK : SECURE_BOOT_PK;
}

static int read_variable(enum secure_boot_key k, struct blob *ret)
{
        char guid[EFI_GUID_STRING_SIZE];
        void *data = NULL;
        size_t size = 0;
        int r;

        efi_guid_to_string(variable_vendor(k), guid);
        r = efivar_read(secure_boot_key_name(k), guid, &data, &size);
        if (r == -ENOENT) {
                *ret = (struct blob){};
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s-%s: cannot read: %s", secure_boot_key_name(k), guid,
                                       strerror(-r));
        *ret = (struct blob){.data = data, .size = size};
        return 0;
}

/* 1 when the signature lists hold an X.509 entry that is certificate, whoever owns it; 0 when not. */
static int esl_holds(const struct blob *esl, X509 *certificate, char **reterr_message)
{
        _cleanup_free_ struct esl_entry *entries = NULL;
        uint8_t *der = NULL;
        size_t n;
        int size, r;

        r = esl_parse(esl->data, esl->size, &entries, &n, reterr_message);
        if (r < 0)
                return r;
        size = i2d_X509(certificate, &der);
        if (size <= 0)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        r = 0;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = efi_guid_equal(&entries[i].type, &efi_cert_x509_guid) &&
                    entries[i].size == (size_t)size && memcmp(entries[i].data, der, entries[i].size) == 0;
        OPENSSL_free(der);
        return r;
}

/* 1 when variable k holds certificate, 0 when not. */
static int variable_has(enum secure_boot_key k, X509 *certificate)
{
        _cleanup_(blob_done) struct blob value = {};
        _cleanup_free_ char *message = NULL;
        int r = read_variable(k, &value);

        if (r < 0)
                return r;
        r = esl_holds(&value, certificate, &message);
        if (r < 0)
                return log_error_errno(r, "%s: %s", secure_boot_key_name(k), message ?: strerror(-r));
        return r;
}

static int load_certificate(const char *path, X509 **ret)
{
        _cleanup_free_ char *message = NULL;
        int r = authenticode_certificate_load(path, ret, &message);

        return r < 0 ? log_error_errno(r, "%s", message ?: strerror(-r)) : 0;
}

/* DIR/keys/K */
static char *bundle_path(const char *dir, enum secure_boot_key k)
{
        char *p;
        return asprintf(&p, "%s/keys/%s", dir, secure_boot_key_name(k)) < 0 ? NULL : p;
}

static char *record_path(const struct rotation *r, enum secure_boot_key k)
{
        char name[NAME_MAX], *p;

        snprintf(name, sizeof(name), ROTATION_RECORD, secure_boot_key_name(k));
        return asprintf(&p, "%s/%s", r->dir, name) < 0 ? NULL : p;
}

static bool rotation_started(const struct rotation *r)
{
        _cleanup_free_ char *keys = NULL;
        return asprintf(&keys, "%s/keys", r->dir) >= 0 && access(keys, F_OK) == 0;
}

/* Which keys this rotation replaces: db, and KEK with --kek or when an interrupted rotation began
 * replacing it. KEK comes first: its new certificate may sign db's retirement. */
static int choose_keys(struct rotation *r)
{
        _cleanup_free_ char *kek_record = record_path(r, SECURE_BOOT_KEK);

        if (!kek_record)
                return log_error_errno(-ENOMEM, "out of memory");
        if (!arg.rotate_kek && access(kek_record, F_OK) == 0) {
                log_info("%s: the interrupted rotation replaces KEK too; so does this one", r->dir);
                arg.rotate_kek = true;
        }
        if (arg.rotate_kek)
                r->rotated[r->n_rotated++] = (struct rotated){.key = SECURE_BOOT_KEK};
        r->rotated[r->n_rotated++] = (struct rotated){.key = SECURE_BOOT_DB};
        return 0;
}

/* For each rotated key: the new certificate (once recorded), whether the bundle holds it already, and
 * so where the old one is. */
static int load_state(struct rotation *r)
{
        for (size_t i = 0; i < r->n_rotated; i++) {
                struct rotated *k = &r->rotated[i];
                X509 *bundle_cert = r->keys.signer[k->key].certificate;
                _cleanup_free_ char *record = record_path(r, k->key), *parked = NULL;
                int rc;

                if (!record || asprintf(&parked, "%s/keys/%s/%s.pem", r->dir, secure_boot_key_name(k->key),
                                        secure_boot_key_name(k->key)) < 0)
                        return log_error_errno(-ENOMEM, "out of memory");
                X509_free(k->old);
                X509_free(k->new);
                k->old = k->new = NULL;
                if (access(record, F_OK) == 0 && (rc = load_certificate(record, &k->new)) < 0)
                        return rc;
                k->switched = k->new &&X509_cmp(bundle_cert, k->new) == 0;
                if (k->switched)
                        rc = load_certificate(parked, &k->old);
                else
                        rc = (k->old = X509_dup(bundle_cert)) ? 0
                                                              : log_error_errno(-ENOMEM, "out of memory");
                if (rc < 0)
                        return rc;
        }
        return 0;
}

/* The keys that sign updates must be the enrolled ones, and each rotated variable must hold the old or
 * the new certificate: rotate-keys replaces enrolled keys, it does not enroll. */
static int check_firmware(const struct rotation *r)
{
        int rc;

        if (!efivarfs_path())
                return log_error_errno(-EOPNOTSUPP,
                                       "no EFI variables: this system was not booted through UEFI");
        rc = efi_setup_mode();
        if (rc < 0)
                return log_error_errno(rc, "cannot tell whether the firmware is in setup mode");
        if (rc > 0)
                return log_error_errno(-EPERM,
                                       "the firmware is in setup mode: no keys are enforced, there is "
                                       "nothing to rotate; enroll-keys enrolls keys");

        for (size_t i = 0; i < r->n_rotated; i++) {
                const struct rotated *k = &r->rotated[i];
                enum secure_boot_key signer = variable_signer(k->key);
                int has_old = variable_has(k->key, k->old),
                    has_new = k->new ? variable_has(k->key, k->new) : 0;

                if (has_old < 0 || has_new < 0)
                        return has_old < 0 ? has_old : has_new;
                if (!has_old && !has_new)
                        return log_error_errno(
                                -ENOKEY,
                                "%s does not hold the bundle's certificate %s/keys/%s/%s.pem: "
                                "rotate-keys replaces enrolled keys; enroll-keys enrolls",
                                secure_boot_key_name(k->key), r->bundle, secure_boot_key_name(k->key),
                                secure_boot_key_name(k->key));
                /* Whoever signs this variable's updates must be enrolled where the firmware looks. */
                rc = variable_has(signer, r->keys.signer[signer].certificate);
                if (rc < 0)
                        return rc;
                if (rc == 0)
                        return log_error_errno(-ENOKEY,
                                               "%s does not hold %s/keys/%s/%s.pem, which must sign updates "
                                               "of %s",
                                               secure_boot_key_name(signer), r->bundle,
                                               secure_boot_key_name(signer), secure_boot_key_name(signer),
                                               secure_boot_key_name(k->key));
        }
        return 0;
}

/* The option naming the successor of key k (KEK or db) in a token. */
static const char *new_key_option(enum secure_boot_key k)
{
        return k == SECURE_BOOT_KEK ? "--new-kek-key" : "--new-db-key";
}

/* Step 1, for one key: its successor's URI when it must come from a token, else NULL in *ret. A key held in
 * a PKCS#11 token is never succeeded by a key file: the user creates the new key in the same token (with the
 * token's own tool) and names it with --new-KEY-key. */
static int choose_successor(const struct rotation *r, enum secure_boot_key k, const char **ret)
{
        const char *name = secure_boot_key_name(k), *new = arg.rotate_new_keys[k];
        _cleanup_free_ char *spec = NULL, *message = NULL;
        int rc;

        rc = keysource_bundle_key(r->bundle, name, &spec, &message);
        if (rc < 0)
                return log_error_errno(rc, "%s", message ?: strerror(-rc));
        if (new && !keysource_is_pkcs11_uri(new))
                return log_error_errno(-EINVAL, "%s=%s: not a " PKCS11_URI_SCHEME " URI", new_key_option(k),
                                       new);
        if (keysource_is_pkcs11_uri(spec) && !new)
                return log_error_errno(
                        -EPERM,
                        "%s/keys/%s/%s.uri: the %s key is in a PKCS#11 token, and rotate-keys "
                        "never replaces it with a key file; create its successor in the same "
                        "token and name it with %s=" PKCS11_URI_SCHEME "…",
                        r->bundle, name, name, name, new_key_option(k));
        if (keysource_is_pkcs11_uri(spec) && !keysource_same_token(spec, new))
                return log_error_errno(-EPERM, "%s=%s: not in the token of %s/keys/%s/%s.uri",
                                       new_key_option(k), new, r->bundle, name, name);
        if (new &&strcmp(new, spec) == 0)
                return log_error_errno(-EINVAL, "%s=%s: that is the current key", new_key_option(k), new);
        *ret = new;
        return 0;
}

/* Step 1: the new keys, as big as the db key they replace unless --key-size says otherwise; those that
 * succeed a token's key from that token. */
static int create_new_keys(struct rotation *r)
{
        EVP_PKEY *public_key = X509_get0_pubkey(r->keys.signer[SECURE_BOOT_DB].certificate);
        unsigned bits = arg.key_size
                                ?: public_key ? (unsigned)EVP_PKEY_get_bits(public_key)
                                              : KEYS_DEFAULT_BITS;
        const char *token_keys[_SECURE_BOOT_KEY_MAX] = {};

        if (rotation_started(r)) {
                log_info("%s: finishing the rotation begun there", r->dir);
                return 0;
        }
        for (size_t i = 0; i < r->n_rotated; i++) {
                int rc = choose_successor(r, r->rotated[i].key, &token_keys[r->rotated[i].key]);
                if (rc < 0)
                        return rc;
        }
        log_info("%s: creating new %u-bit keys", r->dir, bits);
        return keys_create_with(r->dir, bits, token_keys);
}

static int record_new_certificate(const struct rotation *r, enum secure_boot_key k)
{
        _cleanup_free_ char *record = record_path(r, k), *source = NULL;
        _cleanup_free_ uint8_t *pem = NULL;
        _cleanup_close_ int dir_fd = -1;
        size_t size;
        int rc;

        if (!record || asprintf(&source, "%s/keys/%s/%s.pem", r->dir, secure_boot_key_name(k),
                                secure_boot_key_name(k)) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        if (access(record, F_OK) == 0)
                return 0;
        rc = read_file(source, PEM_MAX_SIZE, &pem, &size);
        if (rc < 0)
                return log_error_errno(rc, "%s: cannot read: %s", source, strerror(-rc));
        dir_fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", r->dir);
        rc = write_file_atomic_at(dir_fd, strrchr(record, '/') + 1, pem, size);
        return rc < 0 ? log_error_errno(rc, "%s: cannot write: %s", record, strerror(-rc)) : 0;
}

/* Step 2, for one key: append its new certificate unless the variable holds it already. */
static int append_new(const struct rotation *r, const struct rotated *k)
{
        const uint32_t attributes = AUTHVAR_ATTRIBUTES | EFI_VARIABLE_APPEND_WRITE;
        const struct efi_time unordered = {}; /* all zero: appends are not ordered (formats.md §3.5) */
        _cleanup_(blob_done) struct blob esl = {}, auth = {};
        _cleanup_free_ char *message = NULL;
        char guid[EFI_GUID_STRING_SIZE];
        int rc;

        rc = variable_has(k->key, k->new);
        if (rc != 0)
                return rc < 0 ? rc : 0;
        efi_guid_to_string(variable_vendor(k->key), guid);
        rc = esl_append_x509(&esl, &r->keys.owner, k->new);
        if (rc >= 0)
                rc = authvar_build(secure_boot_key_name(k->key), variable_vendor(k->key), attributes,
                                   &unordered, esl.data, esl.size, &r->keys.signer[variable_signer(k->key)],
                                   &auth, &message);
        if (rc < 0)
                return log_error_errno(rc, "%s: cannot sign the update: %s", secure_boot_key_name(k->key),
                                       message ?: strerror(-rc));
        crash_point();
        rc = efivar_write(secure_boot_key_name(k->key), guid, attributes, auth.data, auth.size);
        if (rc < 0)
                return log_error_errno(rc, "%s-%s: the firmware refused to append the new certificate: %s",
                                       secure_boot_key_name(k->key), guid, strerror(-rc));
        rc = variable_has(k->key, k->new);
        if (rc <= 0)
                return rc < 0 ? rc
                              : log_error_errno(-EIO,
                                                "%s-%s: written, but the firmware does not show the new "
                                                "certificate",
                                                secure_boot_key_name(k->key), guid);
        log_info("%s: appended the new certificate; it trusts the old and the new key",
                 secure_boot_key_name(k->key));
        return 0;
}

/* Step 3, for one key: DIR/keys/K and DIR/rotate-keys/keys/K trade places, atomically. */
static int switch_bundle(const struct rotation *r, struct rotated *k)
{
        _cleanup_free_ char *live = bundle_path(r->bundle, k->key), *parked = NULL;
        _cleanup_free_ char *live_parent = NULL, *parked_parent = NULL;

        if (k->switched)
                return 0;
        if (!live || asprintf(&live_parent, "%s/keys", r->bundle) < 0 ||
            asprintf(&parked, "%s/keys/%s", r->dir, secure_boot_key_name(k->key)) < 0 ||
            asprintf(&parked_parent, "%s/keys", r->dir) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        crash_point();
        if (renameat2(AT_FDCWD, parked, AT_FDCWD, live, RENAME_EXCHANGE) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot exchange it with %s", live, parked);
        k->switched = true;
        for (const char *dir = live_parent; dir; dir = dir == live_parent ? parked_parent : NULL) {
                _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fsync_dir(fd) < 0)
                        return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot sync", dir);
        }
        log_info("%s: the new key is in place; the old one waits in %s until the firmware forgets it", live,
                 parked);
        return 0;
}

/* Step 4, after the install: one file, re-signed when only the old key verifies it. */
static int resign_file(int dir_fd, const char *path, const char *name, X509 *old,
                       const struct authenticode_signer *new, unsigned *count)
{
        _cleanup_free_ uint8_t *image = NULL, *signed_image = NULL;
        _cleanup_free_ char *message = NULL;
        size_t size, signed_size;
        int rc;

        rc = read_file_at(dir_fd, name, ESP_IMAGE_MAX_SIZE, &image, &size);
        if (rc < 0)
                return log_error_errno(rc, "%s: cannot read: %s", path, strerror(-rc));
        if (authenticode_verify(image, size, new->certificate, NULL) == 0 ||
            authenticode_verify(image, size, old, NULL) != 0)
                return 0;
        /* Only our signature is replaced: a vendor's (fwupd's, say) stays. */
        rc = authenticode_resign(image, size, old, new, &signed_image, &signed_size, &message);
        if (rc >= 0)
                rc = write_file_atomic_at(dir_fd, name, signed_image, signed_size);
        if (rc < 0)
                return log_error_errno(rc, "%s: cannot re-sign it: %s", path, message ?: strerror(-rc));
        log_info("%s: re-signed with the new db key", path);
        (*count)++;
        return 0;
}

static bool is_efi_name(const char *name)
{
        size_t n = strlen(name);
        return n > 4 && strcasecmp(name + n - 4, ".efi") == 0 &&
               strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0;
}

/* Walks the ESP directory dir_fd (path on the host, rel on the ESP) for .efi files. Kernels and initrds
 * (ESP_NIXOS_DIR) are never signed: they are pinned by hash. */
static int resign_tree(int dir_fd, const char *path, const char *rel, unsigned depth, X509 *old,
                       const struct authenticode_signer *new, unsigned *count)
{
        DIR *d;
        int rc = 0;

        if (depth > ESP_WALK_DEPTH)
                return 0;
        d = fdopendir(dup(dir_fd));
        if (!d)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot read", path);
        for (struct dirent *de; rc >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *child = NULL, *child_rel = NULL;
                _cleanup_close_ int fd = -1;
                struct stat st;

                if (de->d_name[0] == '.' || fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (asprintf(&child, "%s/%s", path, de->d_name) < 0 ||
                    asprintf(&child_rel, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
                        rc = log_error_errno(-ENOMEM, "out of memory");
                        break;
                }
                if (S_ISREG(st.st_mode) && is_efi_name(de->d_name))
                        rc = resign_file(dir_fd, child, de->d_name, old, new, count);
                if (!S_ISDIR(st.st_mode) || strcasecmp(child_rel, ESP_NIXOS_DIR) == 0)
                        continue;
                fd = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                rc = fd < 0 ? log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", child)
                            : resign_tree(fd, child, child_rel, depth + 1, old, new, count);
        }
        closedir(d);
        return rc;
}

static const struct rotated *rotated_db(const struct rotation *r)
{
        for (size_t i = 0; i < r->n_rotated; i++)
                if (r->rotated[i].key == SECURE_BOOT_DB)
                        return &r->rotated[i];
        return NULL; /* choose_keys() always adds db */
}

/* One partition of a target: the ESP, or its XBOOTLDR partition with the stubs. */
static int resign_partition(const struct rotation *r, const struct esp *p)
{
        const struct rotated *db = rotated_db(r);
        unsigned count = 0;
        int rc = resign_tree(p->fd, p->path, "", 0, db->old, &r->keys.signer[SECURE_BOOT_DB], &count);

        if (rc >= 0 && count > 0 && (rc = flush_fs(p->fd)) < 0)
                log_error("%s: sync failed: %s", p->path, strerror(-rc));
        if (rc >= 0)
                log_info("%s: nothing on it needs the old db key any more (%u files re-signed after the "
                         "install)",
                         p->path, count);
        return rc;
}

/* What variable k holds, without the old certificate and with the new one first. esl_merge() appends
 * what its destination does not hold yet: merging into [old][new] drops both from the rest. */
static int retired_value(const struct rotation *r, const struct rotated *k, const struct blob *current,
                         struct blob *ret)
{
        _cleanup_(blob_done) struct blob merged = {};
        _cleanup_free_ char *message = NULL;
        size_t skip;
        int rc;

        rc = esl_append_x509(&merged, &r->keys.owner, k->old);
        skip = merged.size;
        if (rc >= 0)
                rc = esl_append_x509(&merged, &r->keys.owner, k->new);
        if (rc >= 0)
                rc = esl_merge(&merged, current->data, current->size, &message);
        if (rc >= 0)
                rc = blob_append(ret, merged.data + skip, merged.size - skip);
        return rc < 0 ? log_error_errno(rc, "%s: %s", secure_boot_key_name(k->key), message ?: strerror(-rc))
                      : 0;
}

/* Step 5, for one key: the variable without the old certificate, unless it is so already. */
static int retire_old(const struct rotation *r, const struct rotated *k)
{
        _cleanup_(blob_done) struct blob current = {}, value = {}, auth = {};
        struct efi_time now;
        int rc;

        rc = read_variable(k->key, &current);
        if (rc >= 0)
                rc = retired_value(r, k, &current, &value);
        if (rc < 0)
                return rc;
        if (value.size == current.size && memcmp(value.data, current.data, value.size) == 0)
                return 0;
        rc = enroll_timestamp(&now);
        if (rc >= 0)
                rc = enroll_sign(&r->keys, k->key, &value, &now, &auth);
        if (rc < 0)
                return rc;
        crash_point();
        rc = enroll_write_variable(k->key, &auth);
        if (rc < 0)
                return rc;
        rc = variable_has(k->key, k->old);
        if (rc != 0)
                return rc < 0 ? rc
                              : log_error_errno(-EIO,
                                                "%s: written, but the firmware still shows the old "
                                                "certificate",
                                                secure_boot_key_name(k->key));
        log_info("%s: the old certificate is gone", secure_boot_key_name(k->key));
        return 0;
}

/* Step 6: DIR/rotate-keys holds our files only; depth-limited like the rest of the tree walks. */
static int remove_tree_at(int parent_fd, const char *name, const char *path, unsigned depth)
{
        _cleanup_close_ int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        int rc = 0;

        if (fd < 0 || depth > ESP_WALK_DEPTH || !(d = fdopendir(dup(fd))))
                return log_errno(LOG_LEVEL_ERROR, fd < 0 ? errno : ELOOP, "%s: cannot remove", path);
        for (struct dirent *de; rc >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *child = NULL;
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (asprintf(&child, "%s/%s", path, de->d_name) < 0)
                        rc = log_error_errno(-ENOMEM, "out of memory");
                else if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                        rc = remove_tree_at(fd, de->d_name, child, depth + 1);
                else if (unlinkat(fd, de->d_name, 0) < 0)
                        rc = log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot remove", child);
        }
        closedir(d);
        if (rc >= 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0)
                rc = log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot remove", path);
        return rc;
}

/* A half-removed DIR/rotate-keys would look like a rotation to finish, with the old key taken for the
 * new one. So it is renamed away first, atomically, and only then removed; a crash leaves garbage that
 * the next run removes. */
static int remove_done(const struct rotation *r)
{
        _cleanup_close_ int fd = open(r->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *path = NULL;

        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", r->bundle);
        if (faccessat(fd, ROTATION_DONE_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (asprintf(&path, "%s/" ROTATION_DONE_DIR, r->bundle) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        return remove_tree_at(fd, ROTATION_DONE_DIR, path, 0);
}

static int finish(const struct rotation *r)
{
        _cleanup_close_ int fd = open(r->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", r->bundle);
        crash_point();
        if (renameat(fd, ROTATION_DIR, fd, ROTATION_DONE_DIR) < 0 || fsync_dir(fd) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot retire it", r->dir);
        return remove_done(r);
}

/* The private keys a rotation signs with: KEK signs db's updates, PK KEK's (with --kek). db's own key is
 * needed only once the bundle holds the new one, to re-sign; the old PK, KEK or db key may be offline. */
static unsigned signing_keys(void)
{
        return KEY_BIT(SECURE_BOOT_KEK) | (arg.rotate_kek ? KEY_BIT(SECURE_BOOT_PK) : 0);
}

static int reload_keys(struct rotation *r)
{
        keys_done(&r->keys);
        return keys_load_some(r->bundle, signing_keys() | KEY_BIT(SECURE_BOOT_DB), &r->keys);
}

/* Step 4 on every ESP given (--esp-path, repeatable; one found as install finds it otherwise) and its
 * XBOOTLDR partition, all before step 5 retires the old key: a partition left out would stop booting
 * then. One install covers them all (planned and checked for every ESP before any is written). */
static int resign_every_esp(const struct rotation *r, int argc, char *argv[])
{
        struct target *t = NULL;
        size_t n = 0;
        int rc;

        if (verb_install(argc, argv) != 0)
                return log_error_errno(-EIO,
                                       "install failed; the new keys are in %s and db trusts both "
                                       "the old and the new one; run rotate-keys again to finish",
                                       r->bundle);
        rc = targets_find(&t, &n);
        for (size_t i = 0; rc >= 0 && i < n; i++) {
                rc = resign_partition(r, &t[i].esp);
                if (rc >= 0 && t[i].xbootldr.path)
                        rc = resign_partition(r, &t[i].xbootldr);
        }
        targets_free(t, n);
        return rc;
}

static int rotate(struct rotation *r, int argc, char *argv[])
{
        int rc;

        r->bundle = arg.pki_bundle;
        if (asprintf(&r->dir, "%s/" ROTATION_DIR, r->bundle) < 0)
                return log_error_errno(-ENOMEM, "out of memory");

        rc = remove_done(r);
        if (rc >= 0)
                rc = choose_keys(r);
        if (rc >= 0)
                rc = keys_load_some(r->bundle, signing_keys(), &r->keys);
        for (size_t i = 0; rc >= 0 && i < _SECURE_BOOT_KEY_MAX; i++)
                if (arg.rotate_new_keys[i] &&
                    !(i == SECURE_BOOT_DB || (i == SECURE_BOOT_KEK && arg.rotate_kek)))
                        rc = log_error_errno(-EINVAL, "%s: %s is not rotated (add --kek)", new_key_option(i),
                                             secure_boot_key_name(i));
        if (rc >= 0)
                rc = load_state(r);
        if (rc >= 0)
                rc = check_firmware(r);
        if (rc >= 0)
                rc = create_new_keys(r);
        for (size_t i = 0; rc >= 0 && i < r->n_rotated; i++)
                rc = record_new_certificate(r, r->rotated[i].key);
        if (rc >= 0)
                rc = load_state(r);
        for (size_t i = 0; rc >= 0 && i < r->n_rotated; i++)
                rc = append_new(r, &r->rotated[i]);
        for (size_t i = 0; rc >= 0 && i < r->n_rotated; i++)
                rc = switch_bundle(r, &r->rotated[i]);
        if (rc >= 0)
                rc = reload_keys(r);
        if (rc < 0)
                return rc;

        rc = resign_every_esp(r, argc, argv);
        for (size_t i = r->n_rotated; rc >= 0 && i > 0; i--)
                rc = retire_old(r, &r->rotated[i - 1]);
        if (rc >= 0)
                rc = finish(r);
        if (rc >= 0)
                log_info("rotated %s: the firmware and %s/keys hold only the new keys",
                         arg.rotate_kek ? "db and KEK" : "db", r->bundle);
        return rc;
}

int verb_rotate_keys(int argc, char *argv[])
{
        struct rotation r = {};
        int rc;

        if (arg.dry_run)
                return usage_error("rotate-keys changes firmware variables; it has no --dry-run");
        rc = rotate(&r, argc, argv);

        rotation_done(&r);
        return rc < 0 ? 1 : 0;
}
