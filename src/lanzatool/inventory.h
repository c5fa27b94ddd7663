/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

/* What is installed: the entry stubs on the ESP, each checked. */
struct inventory_entry {
        char *name;           /* file name in EFI/Linux */
        unsigned generation;  /* 0 when the name has none */
        char *specialisation; /* NULL for a generation itself */
        char *kernel;         /* EFI/nixos names the stub pins, NULL when absent */
        char *initrd;
        char *sort_key;       /* .osrel ID */
        char *pretty_name;    /* .osrel PRETTY_NAME */
        int signature;        /* 1 signed by the db key, 0 not, -1 not checked (no certificate) */
        char *problem;        /* NULL when the stub and what it pins are sound */
        uint64_t stub_size;   /* the stub's own bytes */
        uint64_t pinned_size; /* the kernel and initrd it pins, which other entries may share */
        bool bad_pin;         /* a pinned file is missing, unpinned or does not match its hash */
        bool booted;          /* LoaderEntrySelected names it (counter and case aside) */
        bool is_default;      /* systemd-boot boots it next (boot-choice.h) */
};

struct inventory {
        struct inventory_entry *entries; /* sorted by generation, then name */
        size_t n_entries;
};

/* esp: where the stubs and payloads are (the XBOOTLDR partition when there is one); loader_esp: where
 * loader.conf is, NULL: esp. */
int inventory_load(const char *esp, const char *loader_esp, X509 *cert, struct inventory *ret);
void inventory_done(struct inventory *inv);
