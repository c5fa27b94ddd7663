/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The one parser of the names lanzatool gives files on the ESP (DESIGN §2):
 *   EFI/Linux/nixos-generation-<N>[-specialisation-<S>]-<B32>[+<LEFT>[-<DONE>]].efi
 *   EFI/nixos/{kernel,initrd}-<kver>-<B32>.efi
 * B32 is 52 characters of lowercase unpadded base32. The boot counter is parsed as systemd-boot
 * does: backwards from ".efi", digits, at most one '-', more digits, then the '+' that starts it;
 * anything else means "no counter" (so a '+' inside a specialisation name is never one, since the
 * base32 part always follows it). */

#define ENTRY_NAME_B32_LEN 52

struct entry_name {
        unsigned generation;
        char *specialisation; /* NULL for the generation itself */
        char *stem;           /* the name without its counter and ".efi" */
        int tries_left;       /* -1: no boot counter */
        int tries_done;       /* -1: no boot counter */
};

/* systemd-boot's counter in name (ending in suffix, compared without regard to case): sets
 * *ret_base to the length of name before the counter (before suffix when there is none) and the
 * counts (-1 when there is none). Returns false when name does not end in suffix. */
bool boot_counter_parse(const char *name, const char *suffix, size_t *ret_base, int *ret_left,
                        int *ret_done);

/* 0 and *ret filled when name follows our entry grammar; -EINVAL when it does not (not ours);
 * -ENOMEM. */
int entry_name_parse(const char *name, struct entry_name *ret);
void entry_name_done(struct entry_name *n);

/* Whether a file name in EFI/Linux is an entry lanzatool made. */
bool entry_name_is_ours(const char *name);

/* Whether a file name in EFI/nixos is a payload lanzatool made. */
bool payload_name_is_ours(const char *name);
/* The kernel version in a payload name (kernel-6.1.0-<B32>.efi gives 6.1.0); NULL when not ours. */
char *payload_name_version(const char *name);

/* Whether systemd-boot's id (as in LoaderEntrySelected, LoaderEntryDefault: the file name
 * lower-cased, with the counter it had at menu time, or none in newer versions) names the entry
 * whose file is called file_name now. Both lose their counter and case before comparing. */
bool entry_id_matches_file(const char *id, const char *file_name);
