/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* What install learnt in earlier runs, so that a re-install with nothing to do reads almost nothing
 * (issue 17). One file, STATE_DIR/hash-cache, rewritten atomically when it changed; install only, never
 * verify. Three kinds of record:
 *  - a source file (a kernel or initrd in the store): its SHA-256, trusted only while path, device,
 *    inode, size, mtime and ctime (nanoseconds) are all as recorded;
 *  - an ESP file lanzatool wrote or checked byte for byte: its SHA-256, trusted only while path, device,
 *    size, mtime and ctime are as recorded (not the inode: vfat numbers inodes anew on every mount).
 *    Accepted limit, as for make and rsync: a change that keeps size, mtime and ctime is not seen. On
 *    vfat ctime is the creation time, so "write the same size, then touch -d back" is such a change;
 *    on ext4 and the like, ctime moves with any change and cannot be set back;
 *  - a signed stub: the SHA-256 of the stub that a digest of all its inputs (template, sections,
 *    certificate, key) gave, so that a stub already on the ESP is not rebuilt nor re-signed.
 * A record whose key does not match is ignored; a file that is not ours (owner, mode), truncated,
 * corrupt or of another format is ignored whole, with a warning. A state directory that cannot be
 * written (a read-only image build) means no cache, not an error. */

#define HASH_CACHE_FILE "hash-cache"

struct hash_cache;

/* Loads STATE_DIR/hash-cache; state_dir NULL or "": no cache (every call below then hashes or misses).
 * Never fails: a problem is a warning and an empty cache. */
struct hash_cache *hash_cache_load(const char *state_dir);

/* SHA-256 and size of a file that does not change in place (a store path); from the cache when its key
 * matches, else read, hashed and recorded. Errors as sha256_file_at(). */
int hash_cache_source(struct hash_cache *c, const char *path, uint8_t ret[32], uint64_t *ret_size);

/* Whether dir_fd/name (path: its full name, the record's key) is, by its record, exactly the file whose
 * SHA-256 is sha256. */
bool hash_cache_esp_known(struct hash_cache *c, int dir_fd, const char *name, const char *path,
                          const uint8_t sha256[32]);
/* Records that dir_fd/name (named path) holds content with this SHA-256, as it is now (just written,
 * or just compared byte for byte). */
void hash_cache_esp_note(struct hash_cache *c, int dir_fd, const char *name, const char *path,
                         const uint8_t sha256[32]);

/* The signed stub that the inputs digest gave, and recording it. */
bool hash_cache_stub_get(struct hash_cache *c, const uint8_t inputs[32], uint8_t ret_sha256[32]);
void hash_cache_stub_note(struct hash_cache *c, const uint8_t inputs[32], const uint8_t sha256[32]);

/* Writes the records used or made in this run (the others are dropped) when that differs from what was
 * loaded: a temporary file renamed over it (not fsynced: a torn file fails its checksum). Logs and returns
 * an error only for an I/O failure in a writable directory. */
int hash_cache_save(struct hash_cache *c);
void hash_cache_free(struct hash_cache *c);
