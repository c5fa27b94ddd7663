/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* A NixOS bootspec v1 document (RFC 0125, the namespaced form nixpkgs writes), validated field by
 * field the way cryptsetup validates LUKS2 metadata: every type and value checked before use. */

struct bootspec;

struct bootspec_specialisation {
        char *name; /* a single file-name-safe word: [A-Za-z0-9_.+-], no leading '.' */
        struct bootspec *bootspec;
};

struct bootspec {
        char *system;         /* a system efi_arch_from_system() knows: "x86_64-linux", "aarch64-linux" */
        char *init;           /* absolute path */
        char *kernel;         /* absolute path */
        char *initrd;         /* absolute path, or NULL when absent */
        char *initrd_secrets; /* absolute path of the appender, or NULL */
        char **kernel_params; /* NULL-terminated */
        char *label;
        char *toplevel; /* absolute path */
        char *sort_key; /* org.nix-community.lanzaboote.sort_key, default "lanzaboote" */
        struct bootspec_specialisation *specialisations;
        size_t n_specialisations;
};

/* Parses a boot.json document; path only names the file in messages. Each problem is logged as
 * "lanzatool: PATH: what is wrong" and the result is -EINVAL (or -ENOMEM). Absolute paths must be
 * free of NUL, "..", "." components and empty components. */
int bootspec_parse(const char *text, size_t size, const char *path, struct bootspec **ret);

/* Reads and parses a boot.json file (at most 1 MiB). */
int bootspec_load(const char *path, struct bootspec **ret);

void bootspec_free(struct bootspec *b);

/* The command line as lanzaboote writes it into .cmdline: "init=<init> <kernelParams joined by
 * single spaces>". A fresh string, NULL on allocation failure. */
char *bootspec_cmdline(const struct bootspec *b);
