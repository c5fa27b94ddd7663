/* SPDX-License-Identifier: MIT */
#pragma once

/* Enrolling the bundle's keys: what goes into PK, KEK and db, the guard against enrolling a db that would
 * refuse the machine's own option ROMs, and the three ways the payloads leave lanzatool: written to
 * efivarfs (setup mode), exported as PK.auth/KEK.auth/db.auth, or put on the ESP for systemd-boot's
 * `secure-boot-enroll force`.
 *
 * Who signs what (formats.md §3.8): PK by PK, KEK by PK, db by KEK; that works in setup mode and is what a
 * firmware in user mode demands too. Every message is logged here, naming the file or variable at fault. */

#include <stdbool.h>
#include <stddef.h>

#include "authvar.h"
#include "keys.h"

/* systemd-boot enrolls from this directory on its own, in setup mode, when loader.conf says
 * `secure-boot-enroll force`; other names become menu entries (vm-test-recipe.md, pitfall 5). */
#define ESP_AUTO_ENROLL_DIR "loader/keys/auto"

#define ENROLL_EXTRA_CERTS_MAX 16

/* Test knob: "YYYY-MM-DD HH:MM:SS" instead of the current time in new payloads, so that they can be
 * compared byte for byte with sign-efi-sig-list -t. */
#define ENROLL_TIMESTAMP_ENV "LANZATOOL_AUTH_TIMESTAMP"

/* Where --microsoft looks first without a directory: DIR/KEK/ and DIR/db/ hold Microsoft's certificates
 * (PEM or DER), as a package may ship them; lanzaboote does not ship them itself. Without it,
 * python3-virt-firmware's certificates are taken (enroll.c). */
#ifndef ENROLL_MICROSOFT_DIR_DEFAULT
#define ENROLL_MICROSOFT_DIR_DEFAULT "/usr/share/lanzaboote/microsoft"
#endif

/* Test knob: a directory standing in for / where --microsoft without DIR looks
 * (ENROLL_MICROSOFT_DIR_DEFAULT, then python3-virt-firmware's certificates). */
#define ENROLL_MICROSOFT_ROOT_ENV "LANZATOOL_MICROSOFT_ROOT"

struct enroll_options {
        bool append;               /* keep what db and KEK hold now */
        bool firmware_builtin;     /* add dbDefault and KEKDefault */
        const char *microsoft_dir; /* --microsoft: add DIR/KEK/ and DIR/db/; NULL: not */
        const char *add_db_certs[ENROLL_EXTRA_CERTS_MAX];
        size_t n_add_db_certs;
        const char *add_kek_certs[ENROLL_EXTRA_CERTS_MAX];
        size_t n_add_kek_certs;
        const char *tpm_eventlog_path; /* NULL: the kernel's, TCG_EVENT_LOG_PATH */
        bool tpm_eventlog; /* add the logged option ROMs' digests to db (sbctl's --tpm-eventlog) */
        bool allow_brick;  /* --yes-this-might-brick-my-machine */
};

/* The variables' new values (signature lists) and their signed update payloads. */
struct enroll_set {
        struct blob esl[_SECURE_BOOT_KEY_MAX];
        struct blob auth[_SECURE_BOOT_KEY_MAX];
};

/* The timestamp of new payloads: $LANZATOOL_AUTH_TIMESTAMP or now. */
int enroll_timestamp(struct efi_time *ret);

/* The new values: each variable holds the bundle's certificate of that name, then the extra certificates,
 * then Microsoft's, then the logged option ROM digests (db), then dbDefault/KEKDefault, then what the
 * firmware holds now (with append), without duplicates. PK always
 * holds the PK certificate alone: [EDK2] accepts no more than one. */
int enroll_build_lists(const struct keys *k, const struct enroll_options *o,
                       struct blob ret[static _SECURE_BOOT_KEY_MAX]);

/* The payload updating variable v to esl, with timestamp and the right signer. */
int enroll_sign(const struct keys *k, enum secure_boot_key v, const struct blob *esl,
                const struct efi_time *timestamp, struct blob *ret);

/* enroll_build_lists() and enroll_sign() for all three, with enroll_timestamp(). */
int enroll_set_build(const struct keys *k, const struct enroll_options *o, struct enroll_set *ret);
void enroll_set_done(struct enroll_set *s);

/* The bricking guard: refuses (-EPERM, with the ways out explained) when the TPM event log shows option ROM
 * drivers and db could not verify them (option_roms_cover()), unless db keeps the firmware's built-in
 * dbDefault or the user said --yes-this-might-brick-my-machine; without an event log it can only warn. */
int enroll_guard(const struct blob *db, const struct enroll_options *o);

/* Writes one payload to efivarfs. The immutable flag is cleared on that variable's file only, and said so;
 * firmware refusals are explained. For rotate-keys as much as for enrolling. */
int enroll_write_variable(enum secure_boot_key v, const struct blob *auth);

/* Fails, saying why, unless this system has EFI variables and the firmware is in setup mode. */
int enroll_require_setup_mode(void);

/* Live enrollment: requires setup mode, then writes db, KEK and PK, in that order: PK last, because
 * enrolling it ends setup mode. */
int enroll_live(const struct enroll_set *s);

/* DIR/PK.auth, DIR/KEK.auth, DIR/db.auth (created, mode 0755, when missing). */
int enroll_export(const struct enroll_set *s, const char *dir);

/* install --auto-enroll: the three payloads for ESP/loader/keys/auto/. A file that is already there, sets
 * the signature list we would set and is signed by the bundle certificate that must sign it
 * (authvar_verify()) is kept as it is: installing twice writes nothing, and needs no private key, so PK's
 * and KEK's may be offline. Only the keys that sign what is to be written are loaded, after the guard has
 * run. In user mode (the keys are enrolled) nothing is planned and the files stay as they are. */
struct enroll_esp_plan {
        struct blob auth[_SECURE_BOOT_KEY_MAX];
        bool write[_SECURE_BOOT_KEY_MAX];
};

int enroll_esp_plan(const char *esp, const char *pki_dir, const struct enroll_options *o,
                    struct enroll_esp_plan *ret);
/* Writes the planned files, each atomically (fs-util.h). */
int enroll_esp_write(int esp_fd, const char *esp, const struct enroll_esp_plan *p);
/* "write"/"keep" lines for --dry-run. */
void enroll_esp_print(const struct enroll_esp_plan *p);
size_t enroll_esp_bytes(const struct enroll_esp_plan *p);
unsigned enroll_esp_files(const struct enroll_esp_plan *p);
void enroll_esp_plan_done(struct enroll_esp_plan *p);
