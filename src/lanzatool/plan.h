/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "pki.h"

/* ESP layout (DESIGN §2): lanzatool owns ESP_NIXOS_DIR entirely and only ENTRY_PREFIX* in
 * ESP_LINUX_DIR. */
#define ESP_NIXOS_DIR "EFI/nixos"
#define ESP_LINUX_DIR "EFI/Linux"
#define ENTRY_PREFIX  "nixos-"
#define NO_PAYLOAD    SIZE_MAX

/* A kernel or initrd file in ESP_NIXOS_DIR, named after its content. */
struct payload {
        char *source; /* the file to copy: a store path, or a private copy with initrd secrets */
        char *name;   /* kernel-<kver>-<B32(sha256)>.efi */
        uint8_t sha256[32];
        uint64_t size;
        bool present; /* already on the ESP with exactly this content */
        bool known;   /* present by the cache: a successful install wrote or checked it (and its kernel) */
        const char *why; /* why it is kept or written, for -v: set by plan_match_esp() */
};

/* A boot entry: one stub in ESP_LINUX_DIR for a generation or one of its specialisations. */
struct entry {
        unsigned generation;
        char *specialisation; /* NULL for the generation itself */
        time_t build_time;
        char *stem;      /* nixos-generation-N[-specialisation-S]-<B32(inputs)> */
        char *file_name; /* stem[+tries].efi, or the name this entry has on the ESP already */
        char *replaces;  /* another name of this entry on the ESP, removed once file_name is in place */
        uint8_t *stub;   /* the signed stub */
        char *osrel;     /* its .osrel text, for the model of systemd-boot's choice */
        size_t stub_size;
        size_t kernel, initrd; /* indices into plan.payloads; initrd NO_PAYLOAD when there is none */
        bool present;          /* on the ESP byte for byte already */
        bool cacheable;        /* inputs is the digest of everything that went into the stub */
        const char *why;       /* why it is kept or written, for -v: set by plan_match_esp() */
        uint8_t inputs[32];
};

struct pcr_signer;

struct plan_inputs {
        const struct pki *pki;
        const uint8_t *stub; /* the unsigned stub binary */
        size_t stub_size;
        const char *stub_path;
        unsigned boot_counting; /* initial tries, 0 = off */
        int esp_fd;             /* the ESP, for entries with initrd secrets installed already; -1: none */
        /* Adds .pcrpkey and .pcrsig to every stub; NULL: neither. */
        struct pcr_signer *pcr_signer;
};

struct hash_cache;

struct plan {
        /* Set by the caller before planning: hashes and stubs known from earlier runs (hash-cache.h),
         * NULL: none; the ESP's path, the key of its files there. */
        struct hash_cache *cache;
        const char *esp_path;
        struct payload *payloads;
        size_t n_payloads;
        struct entry *entries;
        size_t n_entries;
        char *tmpdir; /* private directory for initrds with secrets, removed by plan_done() */
        bool have_signer_id;
        uint8_t signer_id[32]; /* digest of the unsigned stub, certificate and public key */
};

/* Adds the entries of a generation and of its specialisations, hashing kernels and initrds and
 * building their signed stubs. Logs one message naming the file at fault; on failure the plan is as
 * it was before. */
int plan_add_generation(struct plan *p, const struct plan_inputs *in, const struct generation *g);

/* Looks at what is on the ESP: which payloads and stubs are present with the planned content, and
 * which existing names (boot counting suffixes) belong to planned entries. */
int plan_match_esp(struct plan *p, int esp_fd, unsigned boot_counting);

/* Records in p->cache what was just written to (or found byte for byte on) the ESP: nixos_fd is its
 * ESP_NIXOS_DIR, linux_fd its ESP_LINUX_DIR. */
void plan_note_payload(const struct plan *p, int nixos_fd, const struct payload *pl);
void plan_note_entry(const struct plan *p, int linux_fd, const struct entry *e);

void plan_done(struct plan *p);

/* nixos-generation-N[-specialisation-S]-<B32(SHA-256(inputs))>, where inputs is the serde_json text
 * of [["toplevel", bytes], ["public_key", bytes]] exactly as upstream lanzaboote hashes it. */
char *entry_stem(const char *toplevel, const char *public_key, size_t public_key_size, unsigned gen,
                 const char *spec);
