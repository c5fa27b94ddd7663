/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "enroll.h"
#include "systemd-boot.h"
#include "uki.h"

enum json_mode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
};

/* install's hash cache, unless --state-dir= or $LANZATOOL_STATE_DIR says otherwise. */
#define LANZATOOL_STATE_DIR_DEFAULT "/var/lib/lanzaboote"

/* Command-line state shared by the verbs, as bootctl keeps its arg_* globals. */
#define ESP_PATHS_MAX 8

struct arguments {
        const char *esp_path; /* the first --esp-path, NULL: found as bootctl does */
        const char *esp_paths[ESP_PATHS_MAX];
        size_t n_esp_paths;
        const char *boot_path; /* --boot-path: the XBOOTLDR partition, NULL: /boot when it is one */
        const char *pki_bundle;
        const char *stub;
        const char *systemd_boot;
        unsigned configuration_limit; /* parent generations to keep, 0 = all */
        unsigned boot_counting;       /* initial tries, 0 = off */
        bool no_variables;
        bool boot_order_first;          /* install: put the firmware boot entry first in BootOrder */
        bool allow_untrusted_key;       /* install: sign even when the firmware's db rejects the key */
        const char *default_generation; /* install: the generation to boot next (rollback) */
        bool remove_type1;              /* install: remove plain NixOS systemd-boot's entries (migrate.h) */
        bool dry_run;
        bool quiet;
        bool no_pager;         /* list, list-enrolled-keys, verify: no pager (pager.h) */
        const char *state_dir; /* install: where hash-cache lives (hash-cache.h), NULL: the default */
        enum json_mode json;
        struct loader_conf loader;
        const char *output; /* sign: where the signed image goes, NULL: in place */
        bool rotate_kek;    /* rotate-keys: replace the KEK too */
        const char *rotate_new_keys[_SECURE_BOOT_KEY_MAX]; /* rotate-keys: successors in a token, by URI */
        /* measure, and install's PCR 11 signatures */
        unsigned pcr;                                    /* measure: 11 (default) or 4 */
        unsigned pcr_banks;                              /* PCR_BANK bits, 0: systemd-measure's four */
        char **phases;                                   /* NULL: systemd-measure's default phases */
        const char *section_paths[_UNIFIED_SECTION_MAX]; /* measure --linux= …, by enum unified_section */
        const char *tpm_eventlog;                        /* NULL: the kernel's */
        const char *pcr_private_key, *pcr_public_key;    /* .pcrsig and .pcrpkey */
        unsigned key_size;                               /* create-keys: RSA bits, 0: KEYS_DEFAULT_BITS */
        const char *export_auth;      /* enroll-keys: write DIR/{PK,KEK,db}.auth instead of enrolling */
        struct enroll_options enroll; /* enroll-keys and install --auto-enroll */
};

extern struct arguments arg;

/* The stub to build entries from without --stub or $LANZABOOTE_STUB: next to lanzatool in its build
 * tree (build/src/boot/efi/NAME beside build/src/lanzatool/lanzatool), else the installed one. */
char *default_stub_path(const char *stub_name);

struct json_object;
/* Prints o on stdout as --json asks (pretty or on one line) and frees it. */
void json_print(struct json_object *o);

/* Exit status of a usage error: an unknown option or command, a bad value, a missing required option,
 * the wrong number of arguments. 0 is success and 1 any other failure. */
#define EXIT_USAGE 2

/* The one way to report a usage error, from option parsing or a verb's own checks: logs
 * "lanzatool: <message>, see "lanzatool VERB --help"" and returns EXIT_USAGE. */
int usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

int verb_install(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_verify(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_remove(int argc, char *argv[]);
int verb_sign(int argc, char *argv[]);
int verb_rotate_keys(int argc, char *argv[]);
int verb_measure(int argc, char *argv[]);
int verb_create_keys(int argc, char *argv[]);
int verb_enroll_keys(int argc, char *argv[]);
int verb_list_enrolled_keys(int argc, char *argv[]);
