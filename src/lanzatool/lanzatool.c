/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <libfdisk.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "keysource.h"
#include "lanzatool.h"
#include "log.h"
#include "pager.h"
#include "pcr.h"
#include "sha256.h"
#include "util.h"

struct arguments arg = {
        .loader = {.default_entry = "nixos-*"},
};

enum verb_id {
        VERB_INSTALL,
        VERB_LIST,
        VERB_VERIFY,
        VERB_STATUS,
        VERB_REMOVE,
        VERB_CREATE_KEYS,
        VERB_ENROLL_KEYS,
        VERB_LIST_ENROLLED_KEYS,
        VERB_SIGN,
        VERB_ROTATE_KEYS,
        VERB_MEASURE,
        _VERB_MAX,
};

static const struct verb {
        const char *name;
        const char *synopsis;   /* the arguments after the name */
        const char *summary;    /* lines of the help text, '\n' between them */
        int min_args, max_args; /* the verb name included; -1: any */
        int (*run)(int argc, char *argv[]);
        bool many_esps;        /* takes --esp-path more than once */
        bool needs_pki_bundle; /* --pki-bundle=DIR is required */
} verbs[_VERB_MAX] = {
        [VERB_INSTALL] = {"install", "GENERATION...",
                          "Install generations (profile links or directories holding boot.json)\n"
                          "onto the ESP with signed stubs and systemd-boot",
                          2, -1, verb_install, true, true},
        [VERB_LIST] = {"list", "", "List the installed entries", 1, 1, verb_list, true, false},
        [VERB_VERIFY] = {"verify", "", "Check every signature and every pinned hash on the ESP", 1, 1,
                         verb_verify, true, true},
        [VERB_STATUS] = {"status", "", "Show the firmware, Secure Boot, TPM and ESP state", 1, 1,
                         verb_status, false, false},
        [VERB_REMOVE] = {"remove", "", "Remove everything lanzatool installed", 1, 1, verb_remove, true,
                         false},
        [VERB_CREATE_KEYS] = {"create-keys", "",
                              "Create PK, KEK and db keys in --pki-bundle=DIR (sbctl's layout)", 1, 1,
                              verb_create_keys, false, true},
        [VERB_ENROLL_KEYS] = {"enroll-keys", "",
                              "Enroll the bundle's keys into the firmware (setup mode), or\n"
                              "write them as .auth files with --export-auth=DIR",
                              1, 1, verb_enroll_keys, false, true},
        [VERB_LIST_ENROLLED_KEYS] = {"list-enrolled-keys", "",
                                     "Show PK, KEK, db and dbx: subjects, issuers, SHA-256 fingerprints", 1,
                                     1, verb_list_enrolled_keys, false, false},
        [VERB_SIGN] = {"sign", "IMAGE",
                       "Sign any PE image (e.g. fwupd's) with the db key, replacing\n"
                       "its signatures; reproducible",
                       2, 2, verb_sign, false, true},
        [VERB_ROTATE_KEYS] = {"rotate-keys", "GENERATION...",
                              "Enroll a new db key (and KEK with --kek) with the current ones,\n"
                              "re-sign everything as install does, then retire the old keys",
                              2, -1, verb_rotate_keys, true, true},
        [VERB_MEASURE] = {"measure", "[STUB]",
                          "Predict PCR 11 of a stub, or of --linux= … section files, per bank\n"
                          "and boot phase as systemd-measure does; sign it with --pcr-private-key.\n"
                          "With --pcr=4: PCR 4 of the next boot of STUB, from this boot's event log",
                          1, 2, verb_measure, false, false},
};

/* Which verbs an option applies to, as a set of (1 << enum verb_id). */
#define V(v)      (1u << (v))
#define V_ALL     ((1u << _VERB_MAX) - 1)
#define V_INSTALL (V(VERB_INSTALL) | V(VERB_ROTATE_KEYS)) /* rotate-keys re-installs every generation */
#define V_ENROLL  (V(VERB_ENROLL_KEYS) | V_INSTALL)       /* install --auto-enroll builds the same set */
#define V_PCRSIG  (V(VERB_MEASURE) | V_INSTALL)           /* .pcrsig: install signs what measure predicts */
#define V_ESP     (V_INSTALL | V(VERB_LIST) | V(VERB_VERIFY) | V(VERB_STATUS) | V(VERB_REMOVE) | V(VERB_MEASURE))
#define V_BUNDLE                                                                                            \
        (V_INSTALL | V(VERB_LIST) | V(VERB_VERIFY) | V(VERB_STATUS) | V(VERB_REMOVE) | V(VERB_SIGN) |       \
         V(VERB_CREATE_KEYS) | V(VERB_ENROLL_KEYS))
/* The verbs whose output can be long: through a pager on a terminal (pager.h). */
#define V_PAGER (V(VERB_LIST) | V(VERB_LIST_ENROLLED_KEYS) | V(VERB_VERIFY))
#define V_JSON                                                                                              \
        (V(VERB_INSTALL) | V(VERB_LIST) | V(VERB_VERIFY) | V(VERB_STATUS) | V(VERB_REMOVE) |                \
         V(VERB_MEASURE) | V(VERB_LIST_ENROLLED_KEYS))

enum {
        ARG_VERSION = 0x100,
        ARG_ESP_PATH,
        ARG_BOOT_PATH,
        ARG_STATE_DIR,
        ARG_NO_ESP_CHECKS,
        ARG_PKI_BUNDLE,
        ARG_STUB,
        ARG_SYSTEMD_BOOT,
        ARG_CONFIGURATION_LIMIT,
        ARG_BOOT_COUNTING,
        ARG_TIMEOUT,
        ARG_DEFAULT,
        ARG_EDITOR,
        ARG_CONSOLE_MODE,
        ARG_NO_VARIABLES,
        ARG_DEFAULT_GENERATION,
        ARG_ALLOW_UNTRUSTED_KEY,
        ARG_BOOT_ORDER_FIRST,
        ARG_REPLACE_REMOVABLE,
        ARG_REMOVE_TYPE1_ENTRIES,
        ARG_DRY_RUN,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_KEY_SIZE,
        ARG_EXPORT_AUTH,
        ARG_AUTO_ENROLL,
        ARG_APPEND,
        ARG_FIRMWARE_BUILTIN,
        ARG_ADD_DB_CERT,
        ARG_ADD_KEK_CERT,
        ARG_YES_BRICK,
        ARG_KEK,
        ARG_NEW_DB_KEY,
        ARG_NEW_KEK_KEY,
        ARG_PCR,
        ARG_BANK,
        ARG_PHASE,
        ARG_TPM_EVENTLOG,
        ARG_TPM_EVENTLOG_PATH,
        ARG_MICROSOFT,
        ARG_PCR_PRIVATE_KEY,
        ARG_PCR_PUBLIC_KEY,
        ARG_SECTION_FIRST, /* measure --linux= …: one per enum unified_section */
        ARG_SECTION_LAST = ARG_SECTION_FIRST + _UNIFIED_SECTION_MAX - 1,
};

#define SECTION_OPTION(name, section)                                                                       \
        {                                                                                                   \
                {name, required_argument, NULL, ARG_SECTION_FIRST + (section)}, "PATH", V(VERB_MEASURE),    \
                        "The contents of the ." name " section"                                             \
        }

/* Every option once: getopt's table, each verb's --help and the man page test are made from it. */
static const struct option_doc {
        struct option o;
        const char *value; /* the value's name in --help, NULL: takes none */
        unsigned verbs;    /* V(…) of the verbs it applies to */
        const char *help;  /* lines, '\n' between them */
} option_docs[] = {
        {{"help", no_argument, NULL, 'h'}, NULL, V_ALL, "Show this help"},
        {{"version", no_argument, NULL, ARG_VERSION}, NULL, V_ALL, "Show the version"},
        {{"quiet", no_argument, NULL, 'q'}, NULL, V_ALL, "Print errors only"},
        {{"verbose", no_argument, NULL, 'v'}, NULL, V_ALL, "Print debug messages"},
        {{"esp-path", required_argument, NULL, ARG_ESP_PATH},
         "PATH",
         V_ESP,
         "The ESP (default: the first of /efi, /boot, /boot/efi);\n"
         "repeatable: install, list, verify, remove and\n"
         "rotate-keys cover every ESP given"},
        {{"boot-path", required_argument, NULL, ARG_BOOT_PATH},
         "PATH",
         V_INSTALL | V(VERB_LIST) | V(VERB_VERIFY) | V(VERB_STATUS) | V(VERB_REMOVE),
         "The XBOOTLDR partition for stubs, kernels and initrds\n"
         "(default: /boot when it is one; one ESP only)"},
        {{"no-esp-checks", no_argument, NULL, ARG_NO_ESP_CHECKS},
         NULL,
         V_ESP,
         "Accept any directory as the ESP (an image being built, a copy),\n"
         "with a warning; as LANZATOOL_RELAX_ESP_CHECKS=1"},
        {{"pki-bundle", required_argument, NULL, ARG_PKI_BUNDLE},
         "DIR",
         V_BUNDLE,
         "Keys in sbctl's layout (keys/db/db.{key,pem}); a pkcs11: URI\n"
         "in keys/db/db.uri names a db key in a PKCS#11 token instead"},
        {{"stub", required_argument, NULL, ARG_STUB},
         "PATH",
         V_INSTALL,
         "The unsigned stub (default: $LANZABOOTE_STUB, else by the\n"
         "bootspec's system lanzaboot{x64,aa64}.efi.stub next to\n"
         "lanzatool in its build tree, else in " LANZABOOTE_STUB_DIR ")"},
        {{"state-dir", required_argument, NULL, ARG_STATE_DIR},
         "DIR",
         V_INSTALL,
         "Keep install's hash cache in DIR (default: " LANZATOOL_STATE_DIR_DEFAULT ";\n"
         "empty: no cache)"},
        {{"systemd-boot", required_argument, NULL, ARG_SYSTEMD_BOOT},
         "PATH",
         V_INSTALL,
         "systemd-boot to install (default: /usr/lib/systemd/boot/efi/\n"
         "systemd-boot{x64,aa64}.efi, by the bootspec's system)"},
        {{"configuration-limit", required_argument, NULL, ARG_CONFIGURATION_LIMIT},
         "N",
         V_INSTALL,
         "Keep at most N generations (default: all)"},
        {{"boot-counting", required_argument, NULL, ARG_BOOT_COUNTING},
         "TRIES",
         V_INSTALL,
         "Give new entries TRIES boot attempts"},
        {{"timeout", required_argument, NULL, ARG_TIMEOUT},
         "SEC|menu-force|menu-hidden|menu-disabled",
         V_INSTALL,
         "loader.conf: menu timeout in seconds; or show the menu always,\n"
         "only on a key press, or never"},
        {{"default", required_argument, NULL, ARG_DEFAULT},
         "PATTERN",
         V_INSTALL,
         "loader.conf: default entry (default: nixos-*)"},
        {{"editor", required_argument, NULL, ARG_EDITOR},
         "yes|no",
         V_INSTALL,
         "loader.conf: allow editing the command line (default: no)"},
        {{"console-mode", required_argument, NULL, ARG_CONSOLE_MODE},
         "N|auto|max|keep",
         V_INSTALL,
         "loader.conf: console mode"},
        {{"default-generation", required_argument, NULL, ARG_DEFAULT_GENERATION},
         "GEN",
         V_INSTALL,
         "Boot GEN next (one of the generations given, or its\n"
         "toplevel), even when newer ones exist: rollback"},
        {{"allow-untrusted-key", no_argument, NULL, ARG_ALLOW_UNTRUSTED_KEY},
         NULL,
         V_INSTALL,
         "Sign even when the firmware's db does not trust the\n"
         "bundle's db certificate (the next boot will fail)"},
        {{"no-variables", no_argument, NULL, ARG_NO_VARIABLES},
         NULL,
         V_INSTALL,
         "Do not create a firmware boot entry"},
        {{"boot-order-first", no_argument, NULL, ARG_BOOT_ORDER_FIRST},
         NULL,
         V_INSTALL,
         "Put the firmware boot entry first in BootOrder"},
        {{"replace-removable", no_argument, NULL, ARG_REPLACE_REMOVABLE},
         NULL,
         V_INSTALL,
         "Overwrite a foreign EFI/BOOT/BOOTX64.EFI"},
        {{"remove-type1-entries", no_argument, NULL, ARG_REMOVE_TYPE1_ENTRIES},
         NULL,
         V_INSTALL,
         "Remove plain NixOS systemd-boot's loader/entries/nixos-*.conf\n"
         "and their kernels and initrds once ours are installed"},
        {{"dry-run", no_argument, NULL, ARG_DRY_RUN},
         NULL,
         V(VERB_INSTALL) | V(VERB_REMOVE) | V(VERB_SIGN),
         "Print what would be done, change nothing"},
        {{"json", required_argument, NULL, ARG_JSON},
         "pretty|short|off",
         V_JSON,
         "JSON output (default: off)"},
        {{"no-pager", no_argument, NULL, ARG_NO_PAGER},
         NULL,
         V_PAGER,
         "Do not pipe long output into a pager"},
        {{"output", required_argument, NULL, 'o'},
         "PATH",
         V(VERB_SIGN),
         "Write the signed image there (default: in place)"},
        {{"kek", no_argument, NULL, ARG_KEK}, NULL, V(VERB_ROTATE_KEYS), "Replace the KEK too"},
        {{"new-db-key", required_argument, NULL, ARG_NEW_DB_KEY},
         "URI",
         V(VERB_ROTATE_KEYS),
         "The successor of a db key held in a PKCS#11 token,\n"
         "created beforehand in the same token"},
        {{"new-kek-key", required_argument, NULL, ARG_NEW_KEK_KEY},
         "URI",
         V(VERB_ROTATE_KEYS),
         "The same for the KEK (with --kek)"},
        {{"key-size", required_argument, NULL, ARG_KEY_SIZE},
         "BITS",
         V(VERB_CREATE_KEYS) | V(VERB_ROTATE_KEYS),
         "RSA key size: 2048, 3072 or 4096 (create-keys default: 4096,\n"
         "rotate-keys default: the size of the key replaced)"},
        {{"pcr-private-key", required_argument, NULL, ARG_PCR_PRIVATE_KEY},
         "KEY",
         V_PCRSIG,
         "Sign PCR 11 policies with this RSA key (PEM);\n"
         "install adds .pcrpkey and .pcrsig to every stub"},
        {{"pcr-public-key", required_argument, NULL, ARG_PCR_PUBLIC_KEY},
         "PEM",
         V_PCRSIG,
         "Check that the PCR public key matches KEY"},
        {{"bank", required_argument, NULL, ARG_BANK},
         "DIGEST[,...]",
         V_PCRSIG,
         "sha1, sha256, sha384, sha512 (default: all)"},
        {{"phase", required_argument, NULL, ARG_PHASE},
         "PHASE",
         V_PCRSIG,
         "A boot phase path, e.g. enter-initrd:leave-initrd; repeatable\n"
         "(default: systemd's four; --phase= alone: before any phase)"},
        {{"pcr", required_argument, NULL, ARG_PCR}, "11|4", V(VERB_MEASURE), "Which PCR (default: 11)"},
        SECTION_OPTION("linux", UNIFIED_SECTION_LINUX),
        SECTION_OPTION("osrel", UNIFIED_SECTION_OSREL),
        SECTION_OPTION("cmdline", UNIFIED_SECTION_CMDLINE),
        SECTION_OPTION("initrd", UNIFIED_SECTION_INITRD),
        SECTION_OPTION("ucode", UNIFIED_SECTION_UCODE),
        SECTION_OPTION("splash", UNIFIED_SECTION_SPLASH),
        SECTION_OPTION("dtb", UNIFIED_SECTION_DTB),
        SECTION_OPTION("uname", UNIFIED_SECTION_UNAME),
        SECTION_OPTION("sbat", UNIFIED_SECTION_SBAT),
        SECTION_OPTION("pcrpkey", UNIFIED_SECTION_PCRPKEY),
        {{"tpm-eventlog-path", required_argument, NULL, ARG_TPM_EVENTLOG_PATH},
         "PATH",
         V(VERB_MEASURE) | V_ENROLL,
         "The TPM event log (default: the kernel's)"},
        {{"export-auth", required_argument, NULL, ARG_EXPORT_AUTH},
         "DIR",
         V(VERB_ENROLL_KEYS),
         "Write PK.auth, KEK.auth, db.auth there instead of enrolling"},
        {{"auto-enroll", no_argument, NULL, ARG_AUTO_ENROLL},
         NULL,
         V_INSTALL,
         "Also write the .auth files to ESP/loader/keys/auto,\n"
         "for systemd-boot to enroll in setup mode"},
        {{"append", no_argument, NULL, ARG_APPEND},
         NULL,
         V_ENROLL,
         "Keep the db and KEK entries enrolled now"},
        {{"firmware-builtin", no_argument, NULL, ARG_FIRMWARE_BUILTIN},
         NULL,
         V_ENROLL,
         "Add the firmware's dbDefault and KEKDefault"},
        {{"add-db-cert", required_argument, NULL, ARG_ADD_DB_CERT},
         "FILE",
         V_ENROLL,
         "Add a certificate (PEM or DER) to db; repeatable"},
        {{"add-kek-cert", required_argument, NULL, ARG_ADD_KEK_CERT},
         "FILE",
         V_ENROLL,
         "Add a certificate (PEM or DER) to KEK; repeatable"},
        {{"microsoft", optional_argument, NULL, ARG_MICROSOFT},
         "DIR",
         V_ENROLL,
         "Add Microsoft's certificates from DIR/KEK and DIR/db\n"
         "(default: " ENROLL_MICROSOFT_DIR_DEFAULT ", else\n"
         "python3-virt-firmware's)"},
        {{"tpm-eventlog", no_argument, NULL, ARG_TPM_EVENTLOG},
         NULL,
         V_ENROLL,
         "Add the digests of the option ROMs in the event log to db"},
        {{"yes-this-might-brick-my-machine", no_argument, NULL, ARG_YES_BRICK},
         NULL,
         V_ENROLL,
         "Enroll even when the event log shows option ROMs that db\n"
         "could not verify"},
};

#define HELP_COLUMN 30

/* "  -h --help", "     --esp-path=PATH", "     --microsoft[=DIR]", then the help text's lines. */
static void print_option(const struct option_doc *d)
{
        char left[80];
        int n;

        n = snprintf(left, sizeof(left), "  %c%c%c--%s%s%s%s", d->o.val < 0x100 ? '-' : ' ',
                     d->o.val < 0x100 ? d->o.val : ' ', ' ', d->o.name,
                     !d->value                           ? ""
                     : d->o.has_arg == optional_argument ? "[="
                                                         : "=",
                     d->value ?: "", d->o.has_arg == optional_argument ? "]" : "");
        fputs(left, stdout);
        if (n >= HELP_COLUMN - 1)
                printf("\n%*s", HELP_COLUMN, "");
        else
                printf("%*s", HELP_COLUMN - n, "");
        for (const char *p = d->help; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                        printf("%*s", HELP_COLUMN, "");
        }
        putchar('\n');
}

static void print_summary(const char *summary, int indent)
{
        for (const char *p = summary; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                        printf("%*s", indent, "");
        }
        putchar('\n');
}

/* lanzatool --help: every command and every option; lanzatool VERB --help: that verb's own options. */
static int help(const struct verb *v)
{
        unsigned mask = v ? V(v - verbs) : V_ALL;

        if (v) {
                printf("lanzatool [OPTIONS...] %s%s%s\n\n", v->name, v->synopsis[0] ? " " : "", v->synopsis);
                print_summary(v->summary, 0);
                if (v->needs_pki_bundle)
                        puts("Needs --pki-bundle=DIR.");
        } else {
                printf("lanzatool [OPTIONS...] COMMAND ...\n\n"
                       "Secure Boot and measured boot for NixOS generations.\n\n"
                       "Commands:\n");
                for (size_t i = 0; i < _VERB_MAX; i++) {
                        char left[64];
                        int n = snprintf(left, sizeof(left), "  %s%s%s", verbs[i].name,
                                         verbs[i].synopsis[0] ? " " : "", verbs[i].synopsis);
                        printf("%s", left);
                        if (n >= HELP_COLUMN - 1)
                                printf("\n%*s", HELP_COLUMN, "");
                        else
                                printf("%*s", HELP_COLUMN - n, "");
                        print_summary(verbs[i].summary, HELP_COLUMN);
                }
        }
        puts("\nOptions:");
        for (size_t i = 0; i < ELEMENTSOF(option_docs); i++)
                if (option_docs[i].verbs & mask)
                        print_option(&option_docs[i]);
        if (!v)
                puts("\n\"lanzatool COMMAND --help\" shows the options of one command.");
        puts("\nExit status: 0 success, 1 failure, 2 usage error.");
        return 0;
}

char *default_stub_path(const char *stub_name)
{
        char exe[PATH_MAX], *path = NULL;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n > 0 && (exe[n] = 0, strrchr(exe, '/'))) {
                *strrchr(exe, '/') = 0;
                if (asprintf(&path, "%s/../boot/efi/%s", exe, stub_name) < 0)
                        path = NULL;
                else if (access(path, F_OK) == 0)
                        return path;
                free(path);
        }
        return asprintf(&path, "%s/%s", LANZABOOTE_STUB_DIR, stub_name) < 0 ? NULL : path;
}

void json_print(struct json_object *o)
{
        puts(json_object_to_json_string_ext(o, arg.json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY
                                                                       : JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
}

static const struct verb *verb_find(const char *name)
{
        for (size_t i = 0; i < _VERB_MAX; i++)
                if (strcmp(name, verbs[i].name) == 0)
                        return &verbs[i];
        return NULL;
}

static bool no_esp_checks;
static const char *verb_running; /* for usage_error(): the verb dispatched, NULL before */

int usage_error(const char *format, ...)
{
        char message[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        log_error("%s, see \"lanzatool %s%s--help\"", message, verb_running ?: "", verb_running ? " " : "");
        return EXIT_USAGE;
}

static int version(void)
{
        printf("lanzatool %s (%s, json-c %s, libfdisk %s, sha256 %s)\n", LANZABOOTE_VERSION,
               OpenSSL_version(OPENSSL_VERSION), json_c_version(), LIBFDISK_VERSION,
               sha256_impl_name(sha256_best_impl()));
        return 0;
}

/* A usage error in an option's value: what was given and what is accepted. */
static int bad_value(const char *option, const char *value, const char *accepted)
{
        usage_error("invalid value for %s: \"%s\" (%s)", option, value, accepted);
        return -EINVAL;
}

static int parse_unsigned(const char *option, const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > UINT_MAX || s[0] == '-')
                return bad_value(option, s, "a decimal number");
        *ret = (unsigned)v;
        return 0;
}

/* A loader.conf value: a decimal number or one of words, as systemd-boot reads it (loader.conf(5)). */
static int parse_loader_value(const char *option, const char *s, const char *const *words,
                              const char *accepted, const char **ret)
{
        for (; *words; words++)
                if (strcmp(s, *words) == 0) {
                        *ret = s;
                        return 0;
                }
        if (s[0] < '0' || s[0] > '9' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
                return bad_value(option, s, accepted);
        *ret = s;
        return 0;
}

static int parse_bool(const char *option, const char *s, bool *ret)
{
        if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
                *ret = true;
        else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
                *ret = false;
        else
                return bad_value(option, s, "yes or no");
        return 0;
}

static int parse_json(const char *s)
{
        static const char *const modes[] = {
                [JSON_OFF] = "off", [JSON_SHORT] = "short", [JSON_PRETTY] = "pretty"};

        for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                if (strcmp(s, modes[i]) == 0) {
                        arg.json = (enum json_mode)i;
                        return 0;
                }
        return bad_value("--json", s, "pretty, short or off");
}

static int add_certificate_option(const char *option, const char *path, const char **list, size_t *n)
{
        if (*n >= ENROLL_EXTRA_CERTS_MAX)
                return usage_error("%s: at most %d certificates", option, ENROLL_EXTRA_CERTS_MAX), -E2BIG;
        list[(*n)++] = path;
        return 0;
}

/* --esp-path, repeatable: arg.esp_path is the first, which the verbs that take one ESP use. */
static int add_esp_path(const char *path)
{
        if (arg.n_esp_paths >= ESP_PATHS_MAX)
                return usage_error("--esp-path: at most %d ESPs", ESP_PATHS_MAX), -E2BIG;
        arg.esp_paths[arg.n_esp_paths++] = path;
        arg.esp_path = arg.esp_paths[0];
        return 0;
}

/* 1: go on with a verb, 0: done (help, version), negative: usage error. */
static int parse_argv(int argc, char *argv[])
{
        struct option options[ELEMENTSOF(option_docs) + 1] = {};
        bool want_help = false;
        int c, r = 0;

        arg.stub = getenv("LANZABOOTE_STUB");
        if (arg.stub && !arg.stub[0])
                arg.stub = NULL; /* set but empty: the architecture's default */
        for (size_t i = 0; i < ELEMENTSOF(option_docs); i++)
                options[i] = option_docs[i].o;
        opterr = 0; /* reported below, with what to do next */
        while (r >= 0 && (c = getopt_long(argc, argv, ":hqvo:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        want_help = true;
                        break;
                case ARG_VERSION:
                        return version();
                case ARG_ESP_PATH:
                        r = add_esp_path(optarg);
                        break;
                case ARG_BOOT_PATH:
                        arg.boot_path = optarg;
                        break;
                case ARG_NO_ESP_CHECKS:
                        no_esp_checks = true;
                        break;
                case ARG_PKI_BUNDLE:
                        arg.pki_bundle = optarg;
                        break;
                case ARG_STUB:
                        arg.stub = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg.state_dir = optarg;
                        break;
                case ARG_SYSTEMD_BOOT:
                        arg.systemd_boot = optarg;
                        break;
                case ARG_CONFIGURATION_LIMIT:
                        r = parse_unsigned("--configuration-limit", optarg, &arg.configuration_limit);
                        break;
                case ARG_BOOT_COUNTING:
                        r = parse_unsigned("--boot-counting", optarg, &arg.boot_counting);
                        break;
                case ARG_TIMEOUT:
                        r = parse_loader_value(
                                "--timeout", optarg,
                                (const char *const[]){"menu-force", "menu-hidden", "menu-disabled", NULL},
                                "seconds, menu-force, menu-hidden or menu-disabled", &arg.loader.timeout);
                        break;
                case ARG_DEFAULT:
                        arg.loader.default_entry = optarg;
                        break;
                case ARG_EDITOR:
                        r = parse_bool("--editor", optarg, &arg.loader.editor);
                        break;
                case ARG_CONSOLE_MODE:
                        r = parse_loader_value("--console-mode", optarg,
                                               (const char *const[]){"auto", "max", "keep", NULL},
                                               "a mode number, auto, max or keep", &arg.loader.console_mode);
                        break;
                case ARG_DEFAULT_GENERATION:
                        arg.default_generation = optarg;
                        break;
                case ARG_ALLOW_UNTRUSTED_KEY:
                        arg.allow_untrusted_key = true;
                        break;
                case ARG_BOOT_ORDER_FIRST:
                        arg.boot_order_first = true;
                        break;
                case ARG_REPLACE_REMOVABLE:
                        arg.loader.replace_removable = true;
                        break;
                case ARG_REMOVE_TYPE1_ENTRIES:
                        arg.remove_type1 = true;
                        break;
                case ARG_NO_VARIABLES:
                        arg.no_variables = true;
                        break;
                case ARG_DRY_RUN:
                        arg.dry_run = true;
                        break;
                case ARG_JSON:
                        r = parse_json(optarg);
                        break;
                case ARG_NO_PAGER:
                        arg.no_pager = true;
                        break;
                case ARG_KEY_SIZE:
                        r = parse_unsigned("--key-size", optarg, &arg.key_size);
                        if (r >= 0 && arg.key_size != 2048 && arg.key_size != 3072 && arg.key_size != 4096)
                                r = bad_value("--key-size", optarg, "2048, 3072 or 4096");
                        break;
                case ARG_EXPORT_AUTH:
                        arg.export_auth = optarg;
                        break;
                case ARG_AUTO_ENROLL:
                        arg.loader.auto_enroll = true;
                        break;
                case ARG_APPEND:
                        arg.enroll.append = true;
                        break;
                case ARG_FIRMWARE_BUILTIN:
                        arg.enroll.firmware_builtin = true;
                        break;
                case ARG_ADD_DB_CERT:
                        r = add_certificate_option("--add-db-cert", optarg, arg.enroll.add_db_certs,
                                                   &arg.enroll.n_add_db_certs);
                        break;
                case ARG_ADD_KEK_CERT:
                        r = add_certificate_option("--add-kek-cert", optarg, arg.enroll.add_kek_certs,
                                                   &arg.enroll.n_add_kek_certs);
                        break;
                case ARG_YES_BRICK:
                        arg.enroll.allow_brick = true;
                        break;
                case 'o':
                        arg.output = optarg;
                        break;
                case ARG_KEK:
                        arg.rotate_kek = true;
                        break;
                case ARG_NEW_DB_KEY:
                        arg.rotate_new_keys[SECURE_BOOT_DB] = optarg;
                        break;
                case ARG_NEW_KEK_KEY:
                        arg.rotate_new_keys[SECURE_BOOT_KEK] = optarg;
                        break;
                case ARG_PCR:
                        r = parse_unsigned("--pcr", optarg, &arg.pcr);
                        if (r >= 0 && arg.pcr != TPM2_PCR_KERNEL_BOOT &&
                            arg.pcr != TPM2_PCR_BOOT_LOADER_CODE)
                                r = bad_value("--pcr", optarg, "11 or 4: only those can be predicted");
                        break;
                case ARG_BANK:
                        if (pcr_banks_parse(optarg, &arg.pcr_banks) < 0)
                                r = bad_value("--bank", optarg,
                                              "sha1, sha256, sha384, sha512, comma-separated");
                        break;
                case ARG_PHASE:
                        r = strv_extend(&arg.phases, optarg);
                        break;
                case ARG_TPM_EVENTLOG:
                        arg.enroll.tpm_eventlog = true;
                        break;
                case ARG_TPM_EVENTLOG_PATH:
                        arg.tpm_eventlog = optarg;
                        arg.enroll.tpm_eventlog_path = optarg;
                        break;
                case ARG_MICROSOFT:
                        arg.enroll.microsoft_dir = optarg ?: ENROLL_MICROSOFT_DIR_DEFAULT;
                        break;
                case ARG_PCR_PRIVATE_KEY:
                        arg.pcr_private_key = optarg;
                        break;
                case ARG_PCR_PUBLIC_KEY:
                        arg.pcr_public_key = optarg;
                        break;
                case ARG_SECTION_FIRST ... ARG_SECTION_LAST:
                        arg.section_paths[c - ARG_SECTION_FIRST] = optarg;
                        break;
                case 'q':
                        arg.quiet = true;
                        log_max_level = LOG_LEVEL_ERROR;
                        break;
                case 'v':
                        log_max_level = LOG_LEVEL_DEBUG;
                        break;
                case ':':
                        return usage_error("%s needs a value", argv[optind - 1]), -EINVAL;
                default:
                        return usage_error("unknown option %s", argv[optind - 1]), -EINVAL;
                }
        }
        if (r < 0)
                return r;
        if (want_help) {
                const struct verb *v = optind < argc ? verb_find(argv[optind]) : NULL;
                if (optind < argc && !v)
                        return usage_error("unknown command \"%s\"", argv[optind]), -EINVAL;
                return help(v);
        }
        return 1;
}

static int dispatch(int argc, char *argv[])
{
        const struct verb *v;
        int r;

        if (argc < 1)
                return usage_error("no command given");
        v = verb_find(argv[0]);
        if (!v)
                return usage_error("unknown command \"%s\"", argv[0]);
        verb_running = v->name;
        if (argc < v->min_args || (v->max_args >= 0 && argc > v->max_args))
                return usage_error("%s: wrong number of arguments", v->name);
        if (arg.n_esp_paths > 1 && !v->many_esps)
                return usage_error("%s: takes one --esp-path", v->name);
        if (v->needs_pki_bundle && !arg.pki_bundle)
                return usage_error("%s needs --pki-bundle=DIR (create one with \"lanzatool create-keys\")",
                                   v->name);
        if (no_esp_checks) {
                /* esp.c's one switch for plain directories; the option documents it and warns. */
                if (setenv("LANZATOOL_RELAX_ESP_CHECKS", "1", 1) < 0)
                        return log_error("--no-esp-checks: %s", strerror(errno)), 1;
                log_warning("--no-esp-checks: %s is used as the ESP without checking that it is a mounted "
                            "EFI System Partition",
                            arg.esp_path ?: "the first of /efi, /boot, /boot/efi");
        }
        pager_open((V_PAGER & V(v - verbs)) && !arg.no_pager && arg.json != JSON_SHORT);
        r = v->run(argc, argv);
        pager_close();
        return r;
}

int main(int argc, char *argv[])
{
        int r = parse_argv(argc, argv);

        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        r = dispatch(argc - optind, argv + optind);
        keysource_release(); /* the verb has freed its keys */
        return r;
}
