/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "efivars.h"
#include "enroll.h"
#include "eventlog.h"
#include "fs-util.h"
#include "log.h"
#include "openssl-util.h"
#include "option-roms.h"
#include "util.h"

/* Certificates are a few KiB; signature lists and their payloads stay far below the firmware's variable
 * store, which is some hundred KiB. */
#define CERTIFICATE_FILE_MAX (1u << 20)
#define AUTH_FILE_MAX        (1u << 20)

/* An efivarfs file starts with the variable's attributes (u32 LE). */
#define EFIVAR_ATTRIBUTES_SIZE 4u

/* formats.md §3.4 and §3.8: where each variable lives and whose key signs its updates. */
static const struct variable {
        const char *name;
        const struct efi_guid *vendor;
        enum secure_boot_key signer;
        const char *default_name; /* the firmware's built-in value, NULL for PK: never taken */
} variables[_SECURE_BOOT_KEY_MAX] = {
        [SECURE_BOOT_PK] = {"PK", &efi_global_variable_guid, SECURE_BOOT_PK, NULL},
        [SECURE_BOOT_KEK] = {"KEK", &efi_global_variable_guid, SECURE_BOOT_PK, "KEKDefault"},
        [SECURE_BOOT_DB] = {"db", &efi_image_security_database_guid, SECURE_BOOT_KEK, "dbDefault"},
};

/* Live writes go in this order: PK last, since it ends setup mode. */
static const enum secure_boot_key write_order[_SECURE_BOOT_KEY_MAX] = {SECURE_BOOT_DB, SECURE_BOOT_KEK,
                                                                       SECURE_BOOT_PK};

int enroll_timestamp(struct efi_time *ret)
{
        const char *e = getenv(ENROLL_TIMESTAMP_ENV);
        int r;

        if (e && *e) {
                if (efi_time_parse(e, ret) < 0)
                        return log_error_errno(
                                -EINVAL, "$" ENROLL_TIMESTAMP_ENV ": \"%s\" is not YYYY-MM-DD HH:MM:SS", e);
                return 0;
        }
        r = efi_time_now(ret);
        return r < 0 ? log_error_errno(r, "cannot read the clock: %s", strerror(-r)) : 0;
}

/* A certificate file as Microsoft and vendors hand them out: DER, or PEM. */
static int load_certificate_file(const char *path, X509 **ret)
{
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_(BIO_freep) BIO *bio = NULL;
        X509 *x;
        size_t size;
        int r;

        r = read_file(path, CERTIFICATE_FILE_MAX, &data, &size);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read: %s", path, strerror(-r));
        bio = BIO_new_mem_buf(data, (int)size); /* size is bounded by CERTIFICATE_FILE_MAX */
        x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (!x) {
                const uint8_t *p = data;
                x = d2i_X509(NULL, &p, (long)size);
        }
        ERR_clear_error();
        if (!x)
                return log_error_errno(-EBADMSG, "%s: neither a PEM nor a DER X.509 certificate", path);
        *ret = x;
        return 0;
}

/* Adds a one-certificate list for each file, owned by the bundle's GUID, unless esl holds it already. */
static int add_certificate_files(const struct keys *k, const char *const *paths, size_t n, struct blob *esl)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_(X509_freep) X509 *x = NULL;
                _cleanup_free_ char *message = NULL;
                struct blob one = {};
                int r;

                r = load_certificate_file(paths[i], &x);
                if (r < 0)
                        return r;
                r = esl_append_x509(&one, &k->owner, x);
                if (r >= 0)
                        r = esl_merge(esl, one.data, one.size, &message);
                blob_done(&one);
                if (r < 0)
                        return log_error_errno(r, "%s: %s", paths[i], message ?: strerror(-r));
        }
        return 0;
}

/* [UEFI] Microsoft's owner GUID, which sbctl gives Microsoft's certificates too. */
static const struct efi_guid microsoft_owner =
        EFI_GUID_INIT(0x77fa9abd, 0x0359, 0x4d32, 0xbd, 0x60, 0x28, 0xf4, 0xe7, 0x8f, 0x78, 0x4b);

static int is_certificate_name(const struct dirent *de)
{
        static const char *const suffixes[] = {".der", ".pem", ".crt", ".cer"};
        size_t n = strlen(de->d_name);

        for (size_t i = 0; de->d_name[0] != '.' && i < ELEMENTSOF(suffixes); i++)
                if (n > 4 && strcasecmp(de->d_name + n - 4, suffixes[i]) == 0)
                        return 1;
        return 0;
}

/* One of Microsoft's certificate files, as a list of its own owned by Microsoft's GUID. */
static int add_microsoft_file(const char *file, struct blob *esl)
{
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_free_ char *message = NULL;
        struct blob one = {};
        int r;

        r = load_certificate_file(file, &x); /* logs */
        if (r >= 0 && (r = esl_append_x509(&one, &microsoft_owner, x)) >= 0)
                r = esl_merge(esl, one.data, one.size, &message);
        if (r < 0 && x)
                log_error("%s: %s", file, message ?: strerror(-r));
        blob_done(&one);
        return r;
}

/* --microsoft=DIR: every certificate file in DIR/SUB (KEK or db), in name order. */
static int add_microsoft(const char *dir, const char *sub, struct blob *esl)
{
        struct dirent **names = NULL;
        char path[PATH_MAX];
        int n, r = 0;

        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        n = scandir(path, &names, is_certificate_name, alphasort);
        if (n < 0)
                return log_errno(LOG_LEVEL_ERROR, errno,
                                 "%s: cannot read Microsoft's certificates (--microsoft)", path);
        if (n == 0)
                r = log_error_errno(-ENOENT,
                                    "%s: no certificate files (*.der, *.pem, *.crt, *.cer) for --microsoft",
                                    path);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *file = NULL;

                if (r >= 0 && asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
                        r = log_error_errno(-ENOMEM, "out of memory");
                if (r >= 0)
                        r = add_microsoft_file(file, esl);
                free(names[i]);
        }
        free(names);
        return r;
}

/* --microsoft without DIR, when no package installed ENROLL_MICROSOFT_DIR_DEFAULT: Debian's
 * python3-virt-firmware (26.x) keeps Microsoft's certificates here, one PEM file each: the set sbctl
 * embeds, the 2011 ones and their 2023 successors. */
#define VIRT_FIRMWARE_MICROSOFT_DIR "/usr/lib/python3/dist-packages/virt/firmware/certs/microsoft.com"
static const struct microsoft_file {
        const char *name;
        enum secure_boot_key variable;
} virt_firmware_files[] = {
        {"ms-kek-2011.pem", SECURE_BOOT_KEK},     /* Microsoft Corporation KEK CA 2011 */
        {"ms-kek-2023.pem", SECURE_BOOT_KEK},     /* Microsoft Corporation KEK 2K CA 2023 */
        {"ms-uefi-2011.pem", SECURE_BOOT_DB},     /* Microsoft Corporation UEFI CA 2011 */
        {"ms-uefi-2023.pem", SECURE_BOOT_DB},     /* Microsoft UEFI CA 2023 */
        {"ms-uefi-rom-2023.pem", SECURE_BOOT_DB}, /* Microsoft Option ROM UEFI CA 2023 */
        {"windows-2011.pem", SECURE_BOOT_DB},     /* Microsoft Windows Production PCA 2011 */
        {"windows-2023.pem", SECURE_BOOT_DB},     /* Windows UEFI CA 2023 */
};

static int add_microsoft_virt_firmware(const char *dir, enum secure_boot_key v, struct blob *esl)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(virt_firmware_files); i++) {
                _cleanup_free_ char *file = NULL;

                if (virt_firmware_files[i].variable != v)
                        continue;
                if (asprintf(&file, "%s/%s", dir, virt_firmware_files[i].name) < 0)
                        return log_error_errno(-ENOMEM, "out of memory");
                r = add_microsoft_file(file, esl);
        }
        return r;
}

/* --microsoft[=DIR]: DIR as given; the default directory when a package installed it, or else
 * python3-virt-firmware's; or a refusal that names the files to supply. */
static int add_microsoft_certificates(const char *dir, enum secure_boot_key v, struct blob *esl)
{
        const char *root = getenv(ENROLL_MICROSOFT_ROOT_ENV) ?: "";
        char packaged[PATH_MAX], virt[PATH_MAX];

        if (strcmp(dir, ENROLL_MICROSOFT_DIR_DEFAULT) != 0)
                return add_microsoft(dir, variables[v].name, esl);
        snprintf(packaged, sizeof(packaged), "%s%s", root, ENROLL_MICROSOFT_DIR_DEFAULT);
        if (access(packaged, F_OK) == 0)
                return add_microsoft(packaged, variables[v].name, esl);
        snprintf(virt, sizeof(virt), "%s%s", root, VIRT_FIRMWARE_MICROSOFT_DIR);
        if (access(virt, F_OK) == 0)
                return add_microsoft_virt_firmware(virt, v, esl);
        return log_error_errno(
                -ENOENT,
                "--microsoft: neither %s nor %s (python3-virt-firmware) exists; give --microsoft=DIR with "
                "Microsoft's certificates, PEM or DER: in DIR/KEK/ Microsoft Corporation KEK CA 2011 and "
                "Microsoft Corporation KEK 2K CA 2023, in DIR/db/ Microsoft Corporation UEFI CA 2011, "
                "Microsoft UEFI CA 2023, Microsoft Option ROM UEFI CA 2023, Microsoft Windows Production "
                "PCA "
                "2011 and Windows UEFI CA 2023",
                packaged, virt);
}

/* --tpm-eventlog: the Authenticode digests of the option ROMs this boot ran, each allowed on its own. */
static int add_option_rom_digests(const struct keys *k, const struct enroll_options *o, struct blob *esl)
{
        const char *path = o->tpm_eventlog_path ?: TCG_EVENT_LOG_PATH;
        _cleanup_free_ char *message = NULL;
        struct option_roms roms = {};
        struct blob digests = {};
        int r;

        r = option_roms_load(path, &roms);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: no TPM event log, so no option ROM digests (--tpm-eventlog)",
                                       path);
        if (r < 0)
                return r;
        if (roms.n > 0 && !roms.sha256)
                r = log_error_errno(-EOPNOTSUPP, "%s: no SHA-256 digests in the log (--tpm-eventlog)", path);
        if (r >= 0)
                r = esl_append_sha256(&digests, &k->owner, roms.sha256, roms.n);
        if (r >= 0)
                r = esl_merge(esl, digests.data, digests.size, &message);
        if (r >= 0)
                log_info("%s: %zu option ROM digest%s for db", path, roms.n, roms.n == 1 ? "" : "s");
        else if (r != -EOPNOTSUPP)
                log_error("%s: %s", path, message ?: strerror(-r));
        blob_done(&digests);
        option_roms_done(&roms);
        return r;
}

static void variable_path(const char *name, const struct efi_guid *vendor, char ret[static PATH_MAX])
{
        char guid[EFI_GUID_STRING_SIZE];

        efi_guid_to_string(vendor, guid);
        snprintf(ret, PATH_MAX, "%s/%s-%s", efivarfs_path() ?: "", name, guid);
}

/* The firmware's defaults are volatile: it sets them at every boot from its own image. A non-volatile one
 * was written by someone, perhaps by anyone with root, and is no default of the firmware's. */
static int check_volatile(const char *name, const struct efi_guid *vendor)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        uint8_t b[EFIVAR_ATTRIBUTES_SIZE];

        variable_path(name, vendor, path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
                return log_errno(LOG_LEVEL_ERROR, fd < 0 ? errno : EIO, "%s: cannot read its attributes",
                                 path);
        if (b[0] & EFI_VARIABLE_NON_VOLATILE)
                return log_error_errno(
                        -EPERM,
                        "%s: non-volatile, so not set by the firmware itself; refusing to trust "
                        "it as the firmware's built-in keys",
                        path);
        return 0;
}

/* Merges the signature lists the firmware holds in name into esl. */
static int add_firmware_list(const char *name, const struct efi_guid *vendor, bool is_default,
                             struct blob *esl)
{
        _cleanup_free_ void *data = NULL;
        _cleanup_free_ char *message = NULL;
        char guid[EFI_GUID_STRING_SIZE];
        size_t size = 0;
        int r;

        efi_guid_to_string(vendor, guid);
        if (!efivarfs_path())
                return log_error_errno(-EOPNOTSUPP,
                                       "%s-%s: no EFI variables, this system was not booted through UEFI",
                                       name, guid);
        r = efivar_read(name, guid, &data, &size);
        if (r == -ENOENT && is_default)
                return log_error_errno(r, "%s-%s: the firmware has no built-in keys of this kind", name,
                                       guid);
        if (r == -ENOENT) {
                log_info("%s-%s: empty, nothing to keep", name, guid);
                return 0;
        }
        if (r < 0)
                return r;
        if (is_default && (r = check_volatile(name, vendor)) < 0)
                return r;
        r = esl_merge(esl, data, size, &message);
        if (r < 0)
                return log_error_errno(r, "%s-%s: not a valid signature list: %s", name, guid,
                                       message ?: strerror(-r));
        return 0;
}

static int build_list(const struct keys *k, const struct enroll_options *o, enum secure_boot_key v,
                      struct blob *ret)
{
        const struct variable *var = &variables[v];
        struct blob esl = {};
        int r;

        r = esl_append_x509(&esl, &k->owner, k->signer[v].certificate);
        if (r < 0)
                r = log_error_errno(r, "%s/keys/%s: cannot encode the certificate", k->dir, var->name);
        if (r >= 0 && v == SECURE_BOOT_KEK)
                r = add_certificate_files(k, o->add_kek_certs, o->n_add_kek_certs, &esl);
        if (r >= 0 && v == SECURE_BOOT_DB)
                r = add_certificate_files(k, o->add_db_certs, o->n_add_db_certs, &esl);
        if (r >= 0 && v != SECURE_BOOT_PK && o->microsoft_dir)
                r = add_microsoft_certificates(o->microsoft_dir, v, &esl);
        if (r >= 0 && v == SECURE_BOOT_DB && o->tpm_eventlog)
                r = add_option_rom_digests(k, o, &esl);
        if (r >= 0 && var->default_name && o->firmware_builtin)
                r = add_firmware_list(var->default_name, &efi_global_variable_guid, true, &esl);
        if (r >= 0 && var->default_name && o->append)
                r = add_firmware_list(var->name, var->vendor, false, &esl);
        if (r < 0) {
                blob_done(&esl);
                return r;
        }
        *ret = esl;
        return 0;
}

int enroll_build_lists(const struct keys *k, const struct enroll_options *o,
                       struct blob ret[static _SECURE_BOOT_KEY_MAX])
{
        struct blob esl[_SECURE_BOOT_KEY_MAX] = {};
        int r = 0;

        for (enum secure_boot_key v = 0; r >= 0 && v < _SECURE_BOOT_KEY_MAX; v++)
                r = build_list(k, o, v, &esl[v]);
        if (r < 0) {
                for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                        blob_done(&esl[v]);
                return r;
        }
        memcpy(ret, esl, sizeof(esl));
        return 0;
}

int enroll_sign(const struct keys *k, enum secure_boot_key v, const struct blob *esl,
                const struct efi_time *timestamp, struct blob *ret)
{
        const struct variable *var = &variables[v];
        _cleanup_free_ char *message = NULL;
        int r;

        r = authvar_build(var->name, var->vendor, AUTHVAR_ATTRIBUTES, timestamp, esl->data, esl->size,
                          &k->signer[var->signer], ret, &message);
        if (r < 0)
                return log_error_errno(r, "%s: cannot sign the update with %s/keys/%s: %s", var->name,
                                       k->dir, variables[var->signer].name, message ?: strerror(-r));
        return 0;
}

void enroll_set_done(struct enroll_set *s)
{
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++) {
                blob_done(&s->esl[v]);
                blob_done(&s->auth[v]);
        }
}

int enroll_set_build(const struct keys *k, const struct enroll_options *o, struct enroll_set *ret)
{
        struct enroll_set s = {};
        struct efi_time now;
        int r;

        r = enroll_timestamp(&now);
        if (r >= 0)
                r = enroll_build_lists(k, o, s.esl);
        for (enum secure_boot_key v = 0; r >= 0 && v < _SECURE_BOOT_KEY_MAX; v++)
                r = enroll_sign(k, v, &s.esl[v], &now, &s.auth[v]);
        if (r < 0) {
                enroll_set_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static void explain_choices(void)
{
        log_error("refusing; keep db able to verify them with one of:\n"
                  "  --microsoft[=DIR]                  add Microsoft's UEFI CAs, which sign option ROMs\n"
                  "  --tpm-eventlog                     add the logged option ROMs' own digests\n"
                  "  --firmware-builtin                 keep the firmware's built-in dbDefault and "
                  "KEKDefault\n"
                  "  --append                           keep what db holds now, if that holds such a CA\n"
                  "or, when you know that nothing needs them, --yes-this-might-brick-my-machine");
}

/* What option_roms_cover() decides, said where the user sees it; -EPERM when db cannot verify them. */
static int judge_cover(const struct option_roms *roms, const struct blob *db, const char *path)
{
        const char *ca = NULL;
        int r = option_roms_cover(roms, db->data, db->size, &ca);

        if (r < 0)
                return log_error_errno(r, "db: malformed signature list");
        if (roms->n == 0) {
                log_debug("%s: no option ROM drivers", path);
                return 0;
        }
        if (r == OPTION_ROMS_BY_DIGEST) {
                log_info("db allows the %zu logged option ROM%s by digest", roms->n,
                         roms->n == 1 ? "" : "s");
                return 0;
        }
        log_error(
                "%s: the firmware ran %zu option ROM driver%s (EV_EFI_BOOT_SERVICES_DRIVER events) in this "
                "boot",
                path, roms->n, roms->n == 1 ? "" : "s");
        log_error(
                "db would hold no CA that signs option ROMs (Microsoft Corporation UEFI CA 2011, Microsoft "
                "Option ROM UEFI CA 2023) and not %s digest%s: Secure Boot would refuse %s from the next "
                "boot on: no display, no disk, perhaps no way into the firmware setup",
                roms->n == 1 ? "its" : "their", roms->n == 1 ? "" : "s", roms->n == 1 ? "it" : "them");
        explain_choices();
        return -EPERM;
}

/* db holds one of the two CAs that sign option ROMs: a logged ROM signed by the other would not run. */
static void warn_missing_ca(const struct blob *db, const char *path)
{
        const char *missing = option_roms_ca_missing(db->data, db->size);
        struct option_roms roms = {};

        if (!missing || option_roms_load(path, &roms) < 0)
                return;
        if (roms.n > 0)
                log_warning("%s: the firmware ran %zu option ROM driver%s; db lacks %s, so one signed by it "
                            "would not run (add it with --microsoft or --add-db-cert)",
                            path, roms.n, roms.n == 1 ? "" : "s", missing);
        option_roms_done(&roms);
}

int enroll_guard(const struct blob *db, const struct enroll_options *o)
{
        const char *path = o->tpm_eventlog_path ?: TCG_EVENT_LOG_PATH, *ca = NULL;
        struct option_roms roms = {};
        int r;

        r = option_roms_cover(&roms, db->data, db->size, &ca);
        if (r < 0)
                return log_error_errno(r, "db: malformed signature list");
        if (r == OPTION_ROMS_BY_CA) {
                log_debug("db holds %s, which signs option ROMs", ca);
                warn_missing_ca(db, path);
                return 0;
        }
        if (o->firmware_builtin) {
                log_debug("db keeps the firmware's built-in dbDefault");
                return 0;
        }
        if (o->allow_brick) {
                log_warning("db holds no CA that signs option ROMs, and option ROMs are not checked for "
                            "(--yes-this-might-brick-my-machine)");
                return 0;
        }
        r = option_roms_load(path, &roms);
        if (r == -ENOENT && !o->tpm_eventlog_path) {
                log_warning(
                        "%s: no TPM event log, so whether the firmware runs option ROMs is unknown; if it "
                        "does (a graphics card, a RAID or network controller), db needs the certificate "
                        "that signs them as well (--microsoft, --firmware-builtin, --add-db-cert)",
                        path);
                return 0;
        }
        if (r == -ENOENT)
                return log_error_errno(r, "%s: no such file", path);
        if (r < 0) {
                log_error("cannot tell whether the firmware runs option ROMs");
                explain_choices();
                return r;
        }
        r = judge_cover(&roms, db, path);
        option_roms_done(&roms);
        return r;
}

/* efivar_write() clears the immutable flag that efivarfs puts on these files, on this file only, and sets
 * it again afterwards; this says so where the user sees it. */
static void announce_immutable(const char *name, const struct efi_guid *vendor)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        int flags;

        variable_path(name, vendor, path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL))
                log_info("%s: clearing its immutable flag to write it, and setting it again afterwards",
                         path);
}

static void explain_write_error(const char *name, const char *guid, int r)
{
        /* [LNX] efi_status_to_err(), formats.md §3.9. */
        switch (-r) {
        case EACCES:
                log_error(
                        "%s-%s: the firmware refused the update (security violation): it is not signed by a "
                        "key the firmware accepts for %s, or its timestamp is not later than the current "
                        "one",
                        name, guid, name);
                break;
        case EINVAL:
                log_error("%s-%s: the firmware found the update malformed (invalid parameter)", name, guid);
                break;
        case ENOSPC:
                log_error("%s-%s: the firmware's variable store is full", name, guid);
                break;
        case EROFS:
                log_error("%s-%s: the firmware does not let the operating system write it (write protected)",
                          name, guid);
                break;
        default:
                break;
        }
}

int enroll_write_variable(enum secure_boot_key v, const struct blob *auth)
{
        const struct variable *var = &variables[v];
        char guid[EFI_GUID_STRING_SIZE];
        int r;

        efi_guid_to_string(var->vendor, guid);
        announce_immutable(var->name, var->vendor);
        r = efivar_write(var->name, guid, AUTHVAR_ATTRIBUTES, auth->data, auth->size);
        if (r < 0)
                explain_write_error(var->name, guid, r);
        return r;
}

int enroll_require_setup_mode(void)
{
        int r;

        if (!efivarfs_path())
                return log_error_errno(-EOPNOTSUPP,
                                       "no EFI variables: this system was not booted through UEFI");
        r = efi_setup_mode();
        if (r < 0)
                return log_error_errno(r, "cannot tell whether the firmware is in setup mode");
        if (r == 0)
                return log_error_errno(
                        -EPERM, "the firmware is in user mode, a PK is enrolled: keys are enrolled only "
                                "in setup mode; clear the Secure Boot keys in the firmware setup first, "
                                "or use --export-auth=DIR");
        return 0;
}

int enroll_live(const struct enroll_set *s)
{
        int r;

        r = enroll_require_setup_mode();
        if (r < 0)
                return r;
        for (size_t i = 0; i < _SECURE_BOOT_KEY_MAX; i++) {
                enum secure_boot_key v = write_order[i];

                log_info("enrolling %s (%zu bytes)", variables[v].name, s->esl[v].size);
                r = enroll_write_variable(v, &s->auth[v]);
                if (r < 0) {
                        if (i > 0)
                                log_error("the firmware is still in setup mode: running enroll-keys again "
                                          "starts over");
                        return r;
                }
        }
        r = efi_setup_mode();
        if (r == 0)
                log_info("enrolled db, KEK and PK; the firmware is in user mode, Secure Boot is enforced "
                         "from "
                         "the next boot on");
        else
                log_warning("enrolled db, KEK and PK, but the firmware does not report user mode "
                            "(SetupMode: %s)",
                            r > 0 ? "1" : "unreadable");
        return 0;
}

int enroll_export(const struct enroll_set *s, const char *dir)
{
        _cleanup_close_ int fd = -1;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot create", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", dir);
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++) {
                char name[NAME_MAX + 1];
                int r;

                snprintf(name, sizeof(name), "%s.auth", variables[v].name);
                r = write_file_atomic_at(fd, name, s->auth[v].data, s->auth[v].size);
                if (r < 0)
                        return log_error_errno(r, "%s/%s: cannot write: %s", dir, name, strerror(-r));
        }
        log_info("%s: wrote PK.auth, KEK.auth and db.auth", dir);
        return 0;
}

/* Whether ESP/loader/keys/auto/NAME.auth already sets what we would set: the same signature list, signed by
 * the certificate that must sign it (checked as the firmware checks it). Then it is kept, its bytes in
 * *ret, and no private key is needed: PK and KEK may be offline once their payloads exist. */
static int keep_existing(const char *esp, const struct keys *k, enum secure_boot_key v,
                         const struct blob *esl, struct blob *ret)
{
        const struct variable *var = &variables[v];
        _cleanup_free_ uint8_t *have = NULL;
        _cleanup_free_ char *message = NULL;
        struct efi_time timestamp;
        char path[PATH_MAX];
        size_t size, offset;
        int r;

        snprintf(path, sizeof(path), "%s/" ESP_AUTO_ENROLL_DIR "/%s.auth", esp, var->name);
        if (read_file(path, AUTH_FILE_MAX, &have, &size) < 0)
                return 0;
        if (authvar_parse(have, size, &timestamp, &offset, &message) < 0) {
                log_info("%s: %s, replacing it", path, message ?: "malformed");
                return 0;
        }
        if (size - offset != esl->size || memcmp(have + offset, esl->data, esl->size) != 0) {
                log_info("%s: other keys, replacing it", path);
                return 0;
        }
        r = authvar_verify(var->name, var->vendor, AUTHVAR_ATTRIBUTES, have, size,
                           k->signer[var->signer].certificate, &message);
        if (r < 0) {
                log_info("%s: %s by %s/keys/%s, replacing it", path, message ?: strerror(-r), k->dir,
                         variables[var->signer].name);
                return 0;
        }
        *ret = (struct blob){.data = TAKE_PTR(have), .size = size};
        return 1;
}

/* Signs the payloads that are to be written, loading only the private keys that sign them. */
static int sign_missing(const char *pki_dir, const struct blob esl[static _SECURE_BOOT_KEY_MAX],
                        struct enroll_esp_plan *p)
{
        struct keys signers = {};
        unsigned needed = 0;
        struct efi_time now;
        int r;

        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                if (p->write[v])
                        needed |= KEY_BIT(variables[v].signer);
        r = keys_load_some(pki_dir, needed, &signers);
        if (r >= 0)
                r = enroll_timestamp(&now);
        for (enum secure_boot_key v = 0; r >= 0 && v < _SECURE_BOOT_KEY_MAX; v++)
                if (p->write[v])
                        r = enroll_sign(&signers, v, &esl[v], &now, &p->auth[v]);
        keys_done(&signers);
        return r;
}

static int plan_files(const char *esp, const char *pki_dir, const struct enroll_options *o,
                      struct enroll_esp_plan *p)
{
        struct blob esl[_SECURE_BOOT_KEY_MAX] = {};
        struct keys k = {};
        bool any = false;
        int r;

        r = keys_load_some(pki_dir, 0, &k);
        if (r >= 0)
                r = enroll_build_lists(&k, o, esl);
        for (enum secure_boot_key v = 0; r >= 0 && v < _SECURE_BOOT_KEY_MAX; v++) {
                r = keep_existing(esp, &k, v, &esl[v], &p->auth[v]);
                if (r == 0)
                        p->write[v] = any = true;
        }
        if (r >= 0 && any)
                r = enroll_guard(&esl[SECURE_BOOT_DB], o);
        if (r >= 0 && any)
                r = sign_missing(pki_dir, esl, p);
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                blob_done(&esl[v]);
        keys_done(&k);
        return r;
}

int enroll_esp_plan(const char *esp, const char *pki_dir, const struct enroll_options *o,
                    struct enroll_esp_plan *ret)
{
        struct enroll_esp_plan p = {};
        int r;

        /* systemd-boot enrolls only in setup mode; in user mode the keys are enrolled already, and
         * whatever is on the ESP stays as it is. */
        if (efi_setup_mode() == 0) {
                log_info("the firmware is in user mode: skipping auto-enrollment, " ESP_AUTO_ENROLL_DIR
                         " stays as it is");
                *ret = p;
                return 0;
        }
        r = plan_files(esp, pki_dir, o, &p);
        if (r < 0) {
                enroll_esp_plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int enroll_esp_write(int esp_fd, const char *esp, const struct enroll_esp_plan *p)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (enroll_esp_files(p) == 0)
                return 0;
        r = mkdir_p_at(esp_fd, ESP_AUTO_ENROLL_DIR);
        if (r >= 0 && (fd = openat(esp_fd, ESP_AUTO_ENROLL_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "%s/" ESP_AUTO_ENROLL_DIR ": %s", esp, strerror(-r));
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++) {
                char name[NAME_MAX + 1];

                if (!p->write[v])
                        continue;
                snprintf(name, sizeof(name), "%s.auth", variables[v].name);
                r = write_file_atomic_at(fd, name, p->auth[v].data, p->auth[v].size);
                if (r < 0)
                        return log_error_errno(r, "%s/" ESP_AUTO_ENROLL_DIR "/%s: cannot write: %s", esp,
                                               name, strerror(-r));
        }
        return 0;
}

void enroll_esp_print(const struct enroll_esp_plan *p)
{
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                if (p->auth[v].data)
                        printf("%s " ESP_AUTO_ENROLL_DIR "/%s.auth\n", p->write[v] ? "write" : "keep ",
                               variables[v].name);
}

size_t enroll_esp_bytes(const struct enroll_esp_plan *p)
{
        size_t bytes = 0;

        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                if (p->write[v])
                        bytes += p->auth[v].size;
        return bytes;
}

unsigned enroll_esp_files(const struct enroll_esp_plan *p)
{
        unsigned n = 0;

        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                n += p->write[v];
        return n;
}

void enroll_esp_plan_done(struct enroll_esp_plan *p)
{
        for (size_t v = 0; v < _SECURE_BOOT_KEY_MAX; v++)
                blob_done(&p->auth[v]);
        *p = (struct enroll_esp_plan){};
}
