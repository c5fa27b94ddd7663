/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <libfdisk.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keysource.h"
#include "lanzatool.h"
#include "log.h"
#include "pcr.h"
#include "sha256.h"
#include "util.h"

struct arguments arg = {
        .loader = {.timeout = -1, .default_entry = "nixos-*"},
};

static int help(void)
{
        printf("lanzatool [OPTIONS...] COMMAND ...\n\n"
               "Secure Boot and measured boot for NixOS generations.\n\n"
               "Commands:\n"
               "  install GENERATION...  Install generations (profile links or directories holding\n"
               "                         boot.json) onto the ESP with signed stubs and systemd-boot\n"
               "  list                   List the installed entries\n"
               "  verify                 Check every signature and every pinned hash on the ESP\n"
               "  status                 Show the firmware, Secure Boot, TPM and ESP state\n"
               "  remove                 Remove everything lanzatool installed\n"
               "  create-keys            Create PK, KEK and db keys in --pki-bundle=DIR (sbctl's layout)\n"
               "  enroll-keys            Enroll the bundle's keys into the firmware (setup mode), or\n"
               "                         write them as .auth files with --export-auth=DIR\n"
               "  list-enrolled-keys     Show PK, KEK, db and dbx: subjects, issuers, SHA-256 fingerprints\n"
               "  sign IMAGE             Sign any PE image (e.g. fwupd's) with the db key, replacing\n"
               "                         its signatures; reproducible\n"
               "  rotate-keys GENERATION...\n"
               "                         Enroll a new db key (and KEK with --kek) with the current ones,\n"
               "                         re-sign everything as install does, then retire the old keys\n"
               "  measure [STUB]         Predict PCR 11 of a stub, or of --linux= … section files, per "
               "bank\n"
               "                         and boot phase as systemd-measure does; sign it with "
               "--pcr-private-key\n"
               "  measure --pcr=4 STUB   Predict PCR 4 of the next boot of STUB from this boot's event "
               "log\n\n"
               "Options:\n"
               "  -h --help                   Show this help\n"
               "     --version                Show the version\n"
               "     --esp-path=PATH          The ESP (default: the first of /efi, /boot, /boot/efi);\n"
               "                              repeatable: install, list, verify, remove and\n"
               "                              rotate-keys cover every ESP given\n"
               "     --boot-path=PATH         The XBOOTLDR partition for stubs, kernels and initrds\n"
               "                              (default: /boot when it is one; one ESP only)\n"
               "     --pki-bundle=DIR         Keys in sbctl's layout (keys/db/db.{key,pem}); a pkcs11: URI\n"
               "                              in keys/db/db.uri names a db key in a PKCS#11 token instead\n"
               "     --stub=PATH              The unsigned stub (default: $LANZABOOTE_STUB or\n"
               "                              %s/lanzaboot{x64,aa64}.efi.stub, by the bootspec's system)\n"
               "     --systemd-boot=PATH      systemd-boot to install (default: /usr/lib/systemd/boot/efi/\n"
               "                              systemd-boot{x64,aa64}.efi, by the bootspec's system)\n"
               "     --configuration-limit=N  Keep at most N generations (default: all)\n"
               "     --boot-counting=TRIES    Give new entries TRIES boot attempts\n"
               "     --timeout=SEC            loader.conf: menu timeout\n"
               "     --default=PATTERN        loader.conf: default entry (default: nixos-*)\n"
               "     --editor=yes|no          loader.conf: allow editing the command line (default: no)\n"
               "     --console-mode=MODE      loader.conf: console mode\n"
               "     --default-generation=GEN Boot GEN next (one of the generations given, or its\n"
               "                              toplevel), even when newer ones exist: rollback\n"
               "     --allow-untrusted-key    Sign even when the firmware's db does not trust the\n"
               "                              bundle's db certificate (the next boot will fail)\n"
               "     --no-variables           Do not create a firmware boot entry\n"
               "     --boot-order-first       Put the firmware boot entry first in BootOrder\n"
               "     --replace-removable      Overwrite a foreign EFI/BOOT/BOOTX64.EFI\n"
               "     --remove-type1-entries   Remove plain NixOS systemd-boot's "
               "loader/entries/nixos-*.conf\n"
               "                              and their kernels and initrds once ours are installed\n"
               "     --dry-run                Print what would be done, change nothing\n"
               "     --state-dir=DIR          install: keep the hash cache in DIR (default: %s;\n"
               "                              empty: no cache)\n"
               "     --json=pretty|short|off  JSON output for list and status\n"
               "  -o --output=PATH            sign: write the signed image there (default: in place)\n"
               "     --kek                    rotate-keys: replace the KEK too\n"
               "     --new-db-key=URI, --new-kek-key=URI\n"
               "                              rotate-keys: the successor of a key held in a PKCS#11 token,\n"
               "                              created beforehand in the same token\n"
               "     --pcr-private-key=KEY    install, measure: sign PCR 11 policies with this RSA key "
               "(PEM);\n"
               "                              install adds .pcrpkey and .pcrsig to every stub\n"
               "     --pcr-public-key=PEM     Check that the PCR public key matches KEY\n"
               "     --bank=DIGEST[,…]        measure, .pcrsig: sha1, sha256, sha384, sha512 (default: "
               "all)\n"
               "     --phase=PHASE            measure, .pcrsig: a boot phase path, e.g. "
               "enter-initrd:leave-initrd\n"
               "                              (default: systemd's four; --phase= alone: before any phase)\n"
               "     --linux=PATH … --pcrpkey=PATH\n"
               "                              measure: section files (--osrel --cmdline --initrd --ucode\n"
               "                              --splash --dtb --uname --sbat too)\n"
               "     --pcr=11|4               measure: which PCR (default: 11)\n"
               "     --tpm-eventlog-path=PATH measure --pcr=4, enroll: the TPM event log (default: the "
               "kernel's)\n"
               "     --key-size=BITS          create-keys: RSA key size: 2048, 3072 or 4096 (default)\n"
               "     --export-auth=DIR        enroll-keys: write PK.auth, KEK.auth, db.auth instead\n"
               "     --auto-enroll            install: also write the .auth files to ESP/loader/keys/auto,\n"
               "                              for systemd-boot to enroll in setup mode\n"
               "     --append                 enroll: keep the db and KEK entries enrolled now\n"
               "     --firmware-builtin       enroll: add the firmware's dbDefault and KEKDefault\n"
               "     --add-db-cert=FILE       enroll: add a certificate (PEM or DER) to db; repeatable\n"
               "     --add-kek-cert=FILE      enroll: add a certificate (PEM or DER) to KEK; repeatable\n"
               "     --microsoft[=DIR]        enroll: add Microsoft's certificates from DIR/KEK and DIR/db\n"
               "                              (default: %s)\n"
               "     --tpm-eventlog           enroll: add the digests of the option ROMs in the event log\n"
               "                              to db\n"
               "     --yes-this-might-brick-my-machine\n"
               "                              enroll: even when the event log shows option ROMs that db\n"
               "                              could not verify\n"
               "  -q --quiet                  Print errors only\n"
               "  -v --verbose                Print debug messages\n\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n",
               LANZABOOTE_STUB_DIR, LANZATOOL_STATE_DIR_DEFAULT, ENROLL_MICROSOFT_DIR_DEFAULT);
        return 0;
}

static int version(void)
{
        printf("lanzatool %s (%s, json-c %s, libfdisk %s, sha256 %s)\n", LANZABOOTE_VERSION,
               OpenSSL_version(OPENSSL_VERSION), json_c_version(), LIBFDISK_VERSION,
               sha256_impl_name(sha256_best_impl()));
        return 0;
}

static int parse_unsigned(const char *option, const char *s, unsigned *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > UINT_MAX || s[0] == '-') {
                log_error("invalid value for %s: %s", option, s);
                return -EINVAL;
        }
        *ret = (unsigned)v;
        return 0;
}

static int parse_bool(const char *option, const char *s, bool *ret)
{
        if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
                *ret = true;
        else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
                *ret = false;
        else
                return log_error_errno(-EINVAL, "invalid value for %s: %s", option, s);
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
        return log_error_errno(-EINVAL, "invalid value for --json: %s", s);
}

static int add_certificate_option(const char *option, const char *path, const char **list, size_t *n)
{
        if (*n >= ENROLL_EXTRA_CERTS_MAX)
                return log_error_errno(-E2BIG, "%s: at most %d certificates", option,
                                       ENROLL_EXTRA_CERTS_MAX);
        list[(*n)++] = path;
        return 0;
}

/* --esp-path, repeatable: arg.esp_path is the first, which the verbs that take one ESP use. */
static int add_esp_path(const char *path)
{
        if (arg.n_esp_paths >= ESP_PATHS_MAX)
                return log_error_errno(-E2BIG, "--esp-path: at most %d ESPs", ESP_PATHS_MAX);
        arg.esp_paths[arg.n_esp_paths++] = path;
        arg.esp_path = arg.esp_paths[0];
        return 0;
}

/* 1: go on with a verb, 0: done (help, version), negative: usage error. */
static int parse_argv(int argc, char *argv[])
{
        enum {
                ARG_VERSION = 0x100,
                ARG_ESP_PATH,
                ARG_BOOT_PATH,
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
                ARG_STATE_DIR,
                ARG_SECTION_FIRST, /* measure --linux= …: one per enum unified_section */
                ARG_SECTION_LAST = ARG_SECTION_FIRST + _UNIFIED_SECTION_MAX - 1,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"esp-path", required_argument, NULL, ARG_ESP_PATH},
                {"boot-path", required_argument, NULL, ARG_BOOT_PATH},
                {"pki-bundle", required_argument, NULL, ARG_PKI_BUNDLE},
                {"stub", required_argument, NULL, ARG_STUB},
                {"state-dir", required_argument, NULL, ARG_STATE_DIR},
                {"systemd-boot", required_argument, NULL, ARG_SYSTEMD_BOOT},
                {"configuration-limit", required_argument, NULL, ARG_CONFIGURATION_LIMIT},
                {"boot-counting", required_argument, NULL, ARG_BOOT_COUNTING},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"default", required_argument, NULL, ARG_DEFAULT},
                {"editor", required_argument, NULL, ARG_EDITOR},
                {"console-mode", required_argument, NULL, ARG_CONSOLE_MODE},
                {"no-variables", no_argument, NULL, ARG_NO_VARIABLES},
                {"default-generation", required_argument, NULL, ARG_DEFAULT_GENERATION},
                {"allow-untrusted-key", no_argument, NULL, ARG_ALLOW_UNTRUSTED_KEY},
                {"boot-order-first", no_argument, NULL, ARG_BOOT_ORDER_FIRST},
                {"replace-removable", no_argument, NULL, ARG_REPLACE_REMOVABLE},
                {"remove-type1-entries", no_argument, NULL, ARG_REMOVE_TYPE1_ENTRIES},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"json", required_argument, NULL, ARG_JSON},
                {"key-size", required_argument, NULL, ARG_KEY_SIZE},
                {"export-auth", required_argument, NULL, ARG_EXPORT_AUTH},
                {"auto-enroll", no_argument, NULL, ARG_AUTO_ENROLL},
                {"append", no_argument, NULL, ARG_APPEND},
                {"firmware-builtin", no_argument, NULL, ARG_FIRMWARE_BUILTIN},
                {"add-db-cert", required_argument, NULL, ARG_ADD_DB_CERT},
                {"add-kek-cert", required_argument, NULL, ARG_ADD_KEK_CERT},
                {"yes-this-might-brick-my-machine", no_argument, NULL, ARG_YES_BRICK},
                {"output", required_argument, NULL, 'o'},
                {"kek", no_argument, NULL, ARG_KEK},
                {"new-db-key", required_argument, NULL, ARG_NEW_DB_KEY},
                {"new-kek-key", required_argument, NULL, ARG_NEW_KEK_KEY},
                {"pcr", required_argument, NULL, ARG_PCR},
                {"bank", required_argument, NULL, ARG_BANK},
                {"phase", required_argument, NULL, ARG_PHASE},
                {"tpm-eventlog", no_argument, NULL, ARG_TPM_EVENTLOG},
                {"tpm-eventlog-path", required_argument, NULL, ARG_TPM_EVENTLOG_PATH},
                {"microsoft", optional_argument, NULL, ARG_MICROSOFT},
                {"pcr-private-key", required_argument, NULL, ARG_PCR_PRIVATE_KEY},
                {"pcr-public-key", required_argument, NULL, ARG_PCR_PUBLIC_KEY},
                {"linux", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_LINUX},
                {"osrel", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_OSREL},
                {"cmdline", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_CMDLINE},
                {"initrd", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_INITRD},
                {"ucode", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_UCODE},
                {"splash", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_SPLASH},
                {"dtb", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_DTB},
                {"uname", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_UNAME},
                {"sbat", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_SBAT},
                {"pcrpkey", required_argument, NULL, ARG_SECTION_FIRST + UNIFIED_SECTION_PCRPKEY},
                {"quiet", no_argument, NULL, 'q'},
                {"verbose", no_argument, NULL, 'v'},
                {},
        };
        unsigned timeout;
        int c, r = 0;

        arg.stub = getenv("LANZABOOTE_STUB");
        if (arg.stub && !arg.stub[0])
                arg.stub = NULL; /* set but empty: the architecture's default */
        while (r >= 0 && (c = getopt_long(argc, argv, "hqvo:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        return version();
                case ARG_ESP_PATH:
                        r = add_esp_path(optarg);
                        break;
                case ARG_BOOT_PATH:
                        arg.boot_path = optarg;
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
                        r = parse_unsigned("--timeout", optarg, &timeout);
                        arg.loader.timeout = r >= 0 && timeout <= INT_MAX ? (int)timeout : -1;
                        break;
                case ARG_DEFAULT:
                        arg.loader.default_entry = optarg;
                        break;
                case ARG_EDITOR:
                        r = parse_bool("--editor", optarg, &arg.loader.editor);
                        break;
                case ARG_CONSOLE_MODE:
                        arg.loader.console_mode = optarg;
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
                case ARG_KEY_SIZE:
                        r = parse_unsigned("--key-size", optarg, &arg.key_size);
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
                                r = log_error_errno(-EINVAL, "--pcr: only PCRs 11 and 4 can be predicted");
                        break;
                case ARG_BANK:
                        r = pcr_banks_parse(optarg, &arg.pcr_banks);
                        if (r < 0)
                                log_error("invalid value for --bank: %s", optarg);
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
                default:
                        return -EINVAL;
                }
        }
        return r < 0 ? r : 1;
}

static const struct verb {
        const char *name;
        int min_args, max_args; /* the verb name included; -1: any */
        int (*run)(int argc, char *argv[]);
        bool many_esps; /* takes --esp-path more than once */
} verbs[] = {
        {"install", 2, -1, verb_install, true},
        {"list", 1, 1, verb_list, true},
        {"verify", 1, 1, verb_verify, true},
        {"status", 1, 1, verb_status, false},
        {"remove", 1, 1, verb_remove, true},
        {"sign", 2, 2, verb_sign, false},
        {"rotate-keys", 2, -1, verb_rotate_keys, true},
        {"measure", 1, 2, verb_measure, false},
        {"create-keys", 1, 1, verb_create_keys, false},
        {"enroll-keys", 1, 1, verb_enroll_keys, false},
        {"list-enrolled-keys", 1, 1, verb_list_enrolled_keys, false},
};

static int dispatch(int argc, char *argv[])
{
        if (argc < 1)
                return log_error("no command given, see --help"), 2;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const struct verb *v = &verbs[i];
                if (strcmp(argv[0], v->name) != 0)
                        continue;
                if (argc < v->min_args || (v->max_args >= 0 && argc > v->max_args))
                        return log_error("%s: wrong number of arguments, see --help", v->name), 2;
                if (arg.n_esp_paths > 1 && !v->many_esps)
                        return log_error("%s: takes one --esp-path", v->name), 2;
                return v->run(argc, argv);
        }
        log_error("unknown command \"%s\", see --help", argv[0]);
        return 2;
}

int main(int argc, char *argv[])
{
        int r = parse_argv(argc, argv);

        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = dispatch(argc - optind, argv + optind);
        keysource_release(); /* the verb has freed its keys */
        return r;
}
