/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db-trust.h"
#include "efivars.h"
#include "esp.h"
#include "inventory.h"
#include "lanzatool.h"
#include "log.h"
#include "pki.h"
#include "util.h"

struct status {
        bool uefi;
        char *firmware, *firmware_type, *stub, *booted, *loader_part_uuid;
        int secure_boot, setup_mode; /* 1, 0, or negative when unknown */
        bool tpm, measured_uki;
        struct esp esp;
        struct esp xbootldr; /* path NULL: none */
        bool esp_found;
        char *pki_subject;
        int db_trusted;   /* firmware_trusts_certificate(), -ENOENT without a bundle */
        char *db_summary; /* what db holds, when it does not trust the bundle */
        size_t n_entries, n_problems;
        const char *default_entry;
};

static void status_done(struct status *s)
{
        free(s->firmware);
        free(s->firmware_type);
        free(s->stub);
        free(s->booted);
        free(s->loader_part_uuid);
        free(s->pki_subject);
        free(s->db_summary);
        esp_done(&s->xbootldr);
        esp_done(&s->esp);
}

static void gather(struct status *s, struct inventory *inv)
{
        _cleanup_free_ char *pcr = NULL;
        X509 *cert = NULL;

        s->uefi = efivarfs_path() != NULL;
        (void)efivar_read_string("LoaderFirmwareInfo", EFI_LOADER_GUID_STR, &s->firmware);
        (void)efivar_read_string("LoaderFirmwareType", EFI_LOADER_GUID_STR, &s->firmware_type);
        (void)efivar_read_string("StubInfo", EFI_LOADER_GUID_STR, &s->stub);
        (void)efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &s->booted);
        (void)efivar_read_string("LoaderDevicePartUUID", EFI_LOADER_GUID_STR, &s->loader_part_uuid);
        s->measured_uki = efivar_read_string("StubPcrKernelImage", EFI_LOADER_GUID_STR, &pcr) >= 0 &&
                          strcmp(pcr, "11") == 0;
        s->secure_boot = efi_secure_boot();
        s->setup_mode = efi_setup_mode();
        s->tpm = access("/sys/class/tpm/tpm0", F_OK) == 0;
        s->esp_found = esp_find(arg.esp_path, &s->esp) >= 0 &&
                       xbootldr_find(arg.boot_path, &s->esp, &s->xbootldr) >= 0;
        s->db_trusted = -ENOENT;
        if (arg.pki_bundle && pki_load_certificate(arg.pki_bundle, &cert) >= 0) {
                s->pki_subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
                s->db_trusted = firmware_trusts_certificate(cert, &s->db_summary);
        }
        if (s->esp_found && inventory_load(s->xbootldr.path ?: s->esp.path, s->esp.path, cert, inv) >= 0) {
                s->n_entries = inv->n_entries;
                for (size_t i = 0; i < inv->n_entries; i++) {
                        s->n_problems += inv->entries[i].problem != NULL;
                        if (inv->entries[i].is_default)
                                s->default_entry = inv->entries[i].name;
                }
        }
        X509_free(cert);
}

/* Unknown: efivarfs has no such variable (not booted with UEFI, or efivarfs not mounted). */
static const char *tri(int v, const char *yes, const char *no)
{
        return v > 0 ? yes : v == 0 ? no : "unknown (variable not readable in efivarfs)";
}

static bool part_uuid_matches(const struct status *s)
{
        return s->loader_part_uuid && s->esp_found && strcasecmp(s->loader_part_uuid, s->esp.part_uuid) == 0;
}

/* Every label right-aligned to the longest, as bootctl status does. */
#define LABEL "%12s: "

static void print_text(const struct status *s)
{
        printf(LABEL "%s%s%s%s\n", "Firmware", s->uefi ? "UEFI" : "not booted with UEFI",
               s->firmware_type ? " (" : "", s->firmware_type ?: "", s->firmware_type ? ")" : "");
        if (s->firmware)
                printf(LABEL "%s\n", "", s->firmware);
        printf(LABEL "%s\n", "Secure Boot", tri(s->secure_boot, "enabled", "disabled (or not enforcing)"));
        printf(LABEL "%s\n", "Setup mode",
               tri(s->setup_mode, "setup mode (keys can be enrolled)", "user mode"));
        printf(LABEL "%s\n", "TPM", s->tpm ? "present" : "absent");
        printf(LABEL "%s\n", "Measured UKI", s->measured_uki ? "yes (StubPcrKernelImage=11)" : "no");
        printf(LABEL "%s\n", "Stub",
               s->stub ?: "- (StubInfo not set: not booted through a lanzaboote stub)");
        printf(LABEL "%s\n", "Booted", s->booted ?: "- (LoaderEntrySelected not set)");
        if (s->esp_found)
                printf(LABEL "%s (PARTUUID %s%s)\n", "ESP", s->esp.path,
                       s->esp.part_uuid[0] ? s->esp.part_uuid : "unknown: not a partition",
                       !s->loader_part_uuid   ? ""
                       : part_uuid_matches(s) ? ", matches LoaderDevicePartUUID"
                                              : ", does NOT match LoaderDevicePartUUID");
        else
                printf(LABEL "not found (give --esp-path=DIR)\n", "ESP");
        if (s->xbootldr.path)
                printf(LABEL "%s (PARTUUID %s)\n", "XBOOTLDR", s->xbootldr.path,
                       s->xbootldr.part_uuid[0] ? s->xbootldr.part_uuid : "unknown");
        printf(LABEL "%s%s%s%s\n", "PKI bundle", arg.pki_bundle ?: "- (give --pki-bundle=DIR)",
               s->pki_subject ? " (db " : "", s->pki_subject ?: "", s->pki_subject ? ")" : "");
        if (s->db_trusted == 0)
                printf(LABEL "NOT TRUSTED: the firmware's db holds %s; the next boot will fail\n",
                       "db trust", s->db_summary ?: "?");
        else if (s->db_trusted > 0)
                printf(LABEL "the firmware trusts the bundle's db certificate (or does not enforce)\n",
                       "db trust");
        printf(LABEL "%zu installed, %zu with problems%s%s\n", "Entries", s->n_entries, s->n_problems,
               s->default_entry ? ", default " : "", s->default_entry ?: "");
}

static struct json_object *str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *tri_json(int v)
{
        return v < 0 ? NULL : json_object_new_boolean(v);
}

static void print_json(const struct status *s)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "uefi", json_object_new_boolean(s->uefi));
        json_object_object_add(o, "firmware", str_or_null(s->firmware));
        json_object_object_add(o, "firmwareType", str_or_null(s->firmware_type));
        json_object_object_add(o, "secureBoot", tri_json(s->secure_boot));
        json_object_object_add(o, "setupMode", tri_json(s->setup_mode));
        json_object_object_add(o, "tpm", json_object_new_boolean(s->tpm));
        json_object_object_add(o, "measuredUki", json_object_new_boolean(s->measured_uki));
        json_object_object_add(o, "stub", str_or_null(s->stub));
        json_object_object_add(o, "booted", str_or_null(s->booted));
        json_object_object_add(o, "espPath", str_or_null(s->esp_found ? s->esp.path : NULL));
        json_object_object_add(o, "espPartUuid",
                               str_or_null(s->esp_found && s->esp.part_uuid[0] ? s->esp.part_uuid : NULL));
        json_object_object_add(o, "xbootldrPath", str_or_null(s->xbootldr.path));
        json_object_object_add(o, "loaderDevicePartUuid", str_or_null(s->loader_part_uuid));
        json_object_object_add(o, "espMatchesLoader",
                               s->loader_part_uuid ? json_object_new_boolean(part_uuid_matches(s)) : NULL);
        json_object_object_add(o, "pkiBundle", str_or_null(arg.pki_bundle));
        json_object_object_add(o, "firmwareTrustsPkiBundle",
                               s->db_trusted < 0 ? NULL : json_object_new_boolean(s->db_trusted > 0));
        json_object_object_add(o, "entries", json_object_new_int64((int64_t)s->n_entries));
        json_object_object_add(o, "entriesWithProblems", json_object_new_int64((int64_t)s->n_problems));
        json_object_object_add(o, "defaultEntry", str_or_null(s->default_entry));
        json_print(o);
}

int verb_status(int argc, char *argv[])
{
        struct status s = {.esp.fd = -1};
        struct inventory inv = {};

        (void)argc, (void)argv;
        gather(&s, &inv);
        if (arg.json != JSON_OFF)
                print_json(&s);
        else
                print_text(&s);
        inventory_done(&inv);
        status_done(&s);
        return 0;
}
