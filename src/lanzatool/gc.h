/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* What lanzatool may delete on the ESP: entry stubs in EFI/Linux whose names follow our entry grammar
 * (entry-name.h) and are not kept, payloads in EFI/nixos with our payload names that no kept stub
 * references, and our own temporary files in both.
 * Nothing else on the ESP is ever looked at. */
struct gc_plan {
        char **stubs;    /* names in EFI/Linux */
        char **payloads; /* names in EFI/nixos */
        uint64_t bytes;  /* what deleting them frees */
};

/* keep_stubs: entry file names in EFI/Linux to keep; what every stub that stays references is kept too;
 * keep_payloads: further names in EFI/nixos to keep (payloads of stubs not written yet). */
int gc_plan(const char *esp, char *const *keep_stubs, char *const *keep_payloads, struct gc_plan *ret);

/* Deletes the stubs first, then the payloads, so no stub ever points at a deleted file. */
int gc_run(const char *esp, const struct gc_plan *g);

void gc_plan_done(struct gc_plan *g);

/* The EFI/nixos names that an entry stub references through .linux and .initrd (paths of the form
 * \EFI\nixos\NAME); other references are ignored. */
int stub_references(const char *stub_path, char ***ret);
