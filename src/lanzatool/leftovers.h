/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Temporary files (TMP_PREFIX) that an interrupted install left in the directories it writes.
 *
 * On FAT they are reported and left in place: after a power loss a temporary file's slot can be
 * torn (pointing at clusters the FAT marks free) or, if a writeback raced the rename, share its
 * clusters with the live file it became. Deleting it would then free clusters a live file uses,
 * or make vfat detect the bad chain and remount the ESP read-only. Only fsck.fat, on the unmounted
 * file system, can tell. Elsewhere (a directory ESP on ext4 or tmpfs) they are removed. */
int leftovers_handle(int esp_fd, const char *esp_path, bool dry_run);
