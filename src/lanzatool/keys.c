/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "keys.h"
#include "keysource.h"
#include "log.h"
#include "openssl-util.h"
#include "util.h"

#define GUID_FILE     "GUID"
#define KEYS_DIR      "keys"
#define GUID_FILE_MAX 64 /* 36 characters and some whitespace */

/* sbctl's modes: nobody but root reads the bundle, and nobody writes a private key once it exists. */
#define BUNDLE_DIR_MODE  0700
#define PRIVATE_KEY_MODE 0400
#define CERTIFICATE_MODE 0644

/* sbctl's choices: five years, and a random positive serial of 127 bits (RFC 5280 allows 20 bytes). */
#define CERTIFICATE_VALIDITY_SECONDS (5L * 365 * 24 * 60 * 60)
#define SERIAL_BYTES                 16

static const char *const key_names[_SECURE_BOOT_KEY_MAX] = {
        [SECURE_BOOT_PK] = "PK",
        [SECURE_BOOT_KEK] = "KEK",
        [SECURE_BOOT_DB] = "db",
};

/* The subjects sbctl gives them. */
static const char *const common_names[_SECURE_BOOT_KEY_MAX] = {
        [SECURE_BOOT_PK] = "Platform Key",
        [SECURE_BOOT_KEK] = "Key Exchange Key",
        [SECURE_BOOT_DB] = "Database Key",
};

const char *secure_boot_key_name(enum secure_boot_key k)
{
        return k < _SECURE_BOOT_KEY_MAX ? key_names[k] : NULL;
}

static int read_guid(const char *dir, struct efi_guid *ret)
{
        _cleanup_free_ uint8_t *text = NULL;
        char path[PATH_MAX];
        size_t size;
        int r;

        snprintf(path, sizeof(path), "%s/" GUID_FILE, dir);
        r = read_file(path, GUID_FILE_MAX, &text, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the owner GUID: %s", path, strerror(-r));
        /* sbctl writes it without a newline, people and shell scripts with one. */
        while (size > 0 && isspace(text[size - 1]))
                text[--size] = 0;
        if (strlen((char *)text) != size || efi_guid_from_string((char *)text, ret) < 0)
                return log_error_errno(-EBADMSG, "%s: not a GUID", path);
        return 0;
}

static void certificate_path(const char *dir, enum secure_boot_key k, char ret[static PATH_MAX])
{
        snprintf(ret, PATH_MAX, "%s/" KEYS_DIR "/%s/%s.pem", dir, key_names[k], key_names[k]);
}

int keys_load_some(const char *dir, unsigned private_keys, struct keys *ret)
{
        struct keys k = {};
        int r;

        r = read_guid(dir, &k.owner);
        for (enum secure_boot_key i = 0; r >= 0 && i < _SECURE_BOOT_KEY_MAX; i++) {
                char certificate[PATH_MAX], *message = NULL, *key_spec = NULL;

                certificate_path(dir, i, certificate);
                if (!(private_keys & KEY_BIT(i)))
                        r = authenticode_certificate_load(certificate, &k.signer[i].certificate, &message);
                /* keys/X/X.uri, when present, names a key in a PKCS#11 token instead of X.key. */
                else if ((r = keysource_bundle_key(dir, key_names[i], &key_spec, &message)) >= 0)
                        r = authenticode_signer_load(key_spec, certificate, &k.signer[i], &message);
                if (r < 0)
                        log_error("%s", message ?: strerror(-r));
                free(key_spec);
                free(message);
        }
        if (r >= 0 && !(k.dir = strdup(dir)))
                r = log_error_errno(-ENOMEM, "out of memory");
        if (r < 0) {
                keys_done(&k);
                return r;
        }
        *ret = k;
        return 0;
}

int keys_load(const char *dir, struct keys *ret)
{
        return keys_load_some(dir, KEYS_ALL, ret);
}

void keys_done(struct keys *k)
{
        for (size_t i = 0; i < _SECURE_BOOT_KEY_MAX; i++)
                authenticode_signer_done(&k->signer[i]);
        free(k->dir);
        *k = (struct keys){};
}

/* A random version 4 UUID (RFC 4122 §4.4), as text. */
static int random_guid(char ret[static EFI_GUID_STRING_SIZE])
{
        uint8_t b[16];

        if (RAND_bytes(b, sizeof(b)) != 1)
                return log_error_errno(-EIO, "cannot get random bytes: %s", openssl_reason());
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant RFC 4122 */
        snprintf(ret, EFI_GUID_STRING_SIZE,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

static bool set_serial(X509 *x)
{
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        uint8_t b[SERIAL_BYTES];

        if (RAND_bytes(b, sizeof(b)) != 1)
                return false;
        b[0] &= 0x7f; /* positive */
        b[0] |= 0x01; /* and never zero */
        bn = BN_bin2bn(b, sizeof(b), NULL);
        return bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
}

static bool add_extension(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

        return e && X509_add_ext(x, e, -1);
}

/* The extensions `openssl req -x509` gives a self-signed certificate, which every firmware and verifier
 * we test with accepts. The subject key identifier comes first: the authority key identifier copies it. */
static bool add_extensions(X509 *x)
{
        X509V3_CTX ctx;

        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        return add_extension(x, &ctx, NID_subject_key_identifier, "hash") &&
               add_extension(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
               add_extension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
}

static int make_certificate(EVP_PKEY *key, const char *common_name, X509 **ret)
{
        _cleanup_(X509_freep) X509 *x = X509_new();
        X509_NAME *name;

        if (!x || !X509_set_version(x, X509_VERSION_3) || !set_serial(x) ||
            !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), CERTIFICATE_VALIDITY_SECONDS) ||
            !(name = X509_get_subject_name(x)) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1,
                                        -1, 0) ||
            !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) || !add_extensions(x) ||
            !X509_sign(x, key, EVP_sha256()))
                return log_error_errno(-EIO, "cannot make the %s certificate: %s", common_name,
                                       openssl_reason());
        *ret = TAKE_PTR(x);
        return 0;
}

/* Creates dir_fd/name with exactly this mode and contents, on disk when this returns. */
static int write_new_file_at(int dir_fd, const char *dir, const char *name, mode_t mode, BIO *contents)
{
        _cleanup_close_ int fd = -1;
        const uint8_t *p;
        long left = BIO_get_mem_data(contents, (char **)&p);

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s/%s: cannot create", dir, name);
        while (left > 0) {
                ssize_t n = write(fd, p, (size_t)left);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return log_errno(LOG_LEVEL_ERROR, n < 0 ? errno : EIO, "%s/%s: cannot write", dir,
                                         name);
                p += n;
                left -= n;
        }
        /* The umask may have taken bits away from a certificate's mode. */
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s/%s: cannot write", dir, name);
        return 0;
}

/* The private key: a new one, or the one a PKCS#11 URI names, which stays in its token. */
static int new_private_key(enum secure_boot_key k, unsigned bits, const char *uri, EVP_PKEY **ret)
{
        _cleanup_free_ char *message = NULL;
        int r;

        if (uri) {
                r = keysource_load_pkcs11(uri, ret, &message);
                return r < 0 ? log_error_errno(r, "%s", message ?: strerror(-r)) : 0;
        }
        *ret = EVP_RSA_gen(bits);
        if (!*ret)
                return log_error_errno(-EIO, "cannot generate the %s key: %s", key_names[k],
                                       openssl_reason());
        return 0;
}

/* dir_fd/NAME/NAME.pem and NAME.key, or NAME.uri when uri names the key in a token. */
static int create_key(int dir_fd, const char *dir, enum secure_boot_key k, unsigned bits, const char *uri)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *certificate = NULL;
        _cleanup_(BIO_freep) BIO *key_pem = BIO_new(BIO_s_mem()), *certificate_pem = BIO_new(BIO_s_mem());
        _cleanup_close_ int fd = -1;
        char sub[PATH_MAX], file[NAME_MAX + 1];
        int r;

        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, key_names[k]) >= sizeof(sub))
                return log_error_errno(-ENAMETOOLONG, "%s: path too long", dir);
        if (mkdirat(dir_fd, key_names[k], BUNDLE_DIR_MODE) < 0 ||
            (fd = openat(dir_fd, key_names[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot create", sub);

        r = new_private_key(k, bits, uri, &key);
        if (r < 0)
                return r;
        r = make_certificate(key, common_names[k], &certificate);
        if (r < 0)
                return r;
        if (!key_pem || !certificate_pem ||
            !(uri ? BIO_printf(key_pem, "%s\n", uri) > 0
                  : PEM_write_bio_PrivateKey(key_pem, key, NULL, NULL, 0, NULL, NULL)) ||
            !PEM_write_bio_X509(certificate_pem, certificate))
                return log_error_errno(-EIO, "cannot encode the %s key: %s", key_names[k], openssl_reason());

        snprintf(file, sizeof(file), "%s.%s", key_names[k], uri ? "uri" : "key");
        r = write_new_file_at(fd, sub, file, PRIVATE_KEY_MODE, key_pem);
        if (r < 0)
                return r;
        snprintf(file, sizeof(file), "%s.pem", key_names[k]);
        r = write_new_file_at(fd, sub, file, CERTIFICATE_MODE, certificate_pem);
        if (r < 0)
                return r;
        return fsync_dir(fd) < 0 ? log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot sync", sub) : 0;
}

/* Removes what create_key() may have left in the temporary directory after a failure. */
static void remove_temporary(int dir_fd, const char *name)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        for (size_t k = 0; fd >= 0 && k < _SECURE_BOOT_KEY_MAX; k++) {
                char file[NAME_MAX + 1];

                for (size_t i = 0; i < 3; i++) {
                        snprintf(file, sizeof(file), "%s/%s.%s", key_names[k], key_names[k],
                                 (const char *[]){"key", "uri", "pem"}[i]);
                        (void)unlinkat(fd, file, 0);
                }
                (void)unlinkat(fd, key_names[k], AT_REMOVEDIR);
        }
        (void)unlinkat(dir_fd, name, AT_REMOVEDIR);
}

static int open_bundle_dir(const char *dir)
{
        int fd;

        if (mkdir(dir, BUNDLE_DIR_MODE) < 0 && errno != EEXIST)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot create", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", dir);
        return fd;
}

/* The owner GUID: DIR/GUID when it exists, otherwise a new one, written now. */
static int ensure_guid(int dir_fd, const char *dir)
{
        char text[EFI_GUID_STRING_SIZE];
        struct efi_guid guid;
        int r;

        if (faccessat(dir_fd, GUID_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                r = read_guid(dir, &guid);
                if (r >= 0)
                        log_info("%s/" GUID_FILE ": keeping the existing owner GUID", dir);
                return r;
        }
        r = random_guid(text);
        if (r >= 0 && (r = write_file_atomic_at(dir_fd, GUID_FILE, text, strlen(text))) < 0)
                log_error("%s/" GUID_FILE ": cannot write: %s", dir, strerror(-r));
        return r;
}

int keys_create(const char *dir, unsigned bits)
{
        return keys_create_with(dir, bits, (const char *[_SECURE_BOOT_KEY_MAX]){});
}

int keys_create_with(const char *dir, unsigned bits,
                     const char *const token_keys[static _SECURE_BOOT_KEY_MAX])
{
        _cleanup_close_ int dir_fd = -1, tmp_fd = -1;
        char tmp[PATH_MAX], *tmp_name;
        int r = 0;

        if (bits != 2048 && bits != 3072 && bits != 4096)
                return log_error_errno(-EINVAL, "%u-bit keys: use 2048, 3072 or 4096", bits);
        dir_fd = open_bundle_dir(dir);
        if (dir_fd < 0)
                return dir_fd;
        if (faccessat(dir_fd, KEYS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return log_error_errno(-EEXIST,
                                       "%s/" KEYS_DIR ": exists; refusing to overwrite a PKI bundle", dir);
        r = ensure_guid(dir_fd, dir);
        if (r < 0)
                return r;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "keys.XXXXXX", dir) >= sizeof(tmp))
                return log_error_errno(-ENAMETOOLONG, "%s: path too long", dir);
        if (!mkdtemp(tmp) || (tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot create", tmp);
        tmp_name = strrchr(tmp, '/') + 1;

        for (enum secure_boot_key k = 0; r >= 0 && k < _SECURE_BOOT_KEY_MAX; k++)
                r = create_key(tmp_fd, tmp, k, bits, token_keys[k]);
        if (r >= 0 && fsync_dir(tmp_fd) < 0)
                r = log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot sync", tmp);
        /* RENAME_NOREPLACE: a bundle that appeared meanwhile stays as it is. */
        if (r >= 0 && renameat2(dir_fd, tmp_name, dir_fd, KEYS_DIR, RENAME_NOREPLACE) < 0)
                r = log_errno(LOG_LEVEL_ERROR, errno, "%s/" KEYS_DIR ": cannot rename %s to it", dir, tmp);
        if (r < 0) {
                remove_temporary(dir_fd, tmp_name);
                return r;
        }
        if (fsync_dir(dir_fd) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot sync", dir);
        return 0;
}
