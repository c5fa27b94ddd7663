/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers the host unit tests share: files, commands, temporary directories, stderr capture and a
 * reproducible random number generator. Only libc: test-util.c links into every test executable. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64: reproducible on every platform, unlike rand(). rng_seed() sets the state; each test seeds
 * it once, with its own seed, before drawing. LANZABOOTE_TEST_SEED=N (tools/test.sh sets and prints it)
 * is mixed into every test's seed; the seed used is printed so that a failing run can be repeated. */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);

/* The lowercase hex of a 32-byte digest. */
void to_hex(const uint8_t digest[32], char out[2 * 32 + 1]);

/* A malloc'd copy of a file's bytes and its size; NULL when it cannot be read or is empty. */
uint8_t *test_read_file(const char *path, size_t *ret_size);

/* Writes (creating or truncating) path with size bytes: true when all were written. */
bool test_write_file(const char *path, const void *data, size_t size);

/* Runs a shell command; returns its exit status (-1 when it did not exit), and its output (stdout and
 * stderr) in *ret_output, to free(). */
__attribute__((format(printf, 2, 3))) int run_command(char **ret_output, const char *format, ...);

/* Runs a command whose output we only want to show on failure: true when it exited with 0. */
__attribute__((format(printf, 1, 2))) bool run_quiet(const char *format, ...);

/* Removes path and everything below it, making directories writable first (as chmod -R u+w && rm -rf):
 * 0 on success, -1 when anything could not be removed. */
int rm_rf(const char *path);

/* stderr is redirected to a temporary file between capture_begin() and capture_end(); capture_end()
 * returns what was written in the meantime (up to 8 KiB), valid until the next capture_end(). */
void capture_begin(void);
const char *capture_end(void);

/* The SHA-256 Authenticode digest of a PE file as pesign computes it (`pesign -h`), in lowercase hex: the
 * expected value for our digest code, from a tool we did not write. False when pesign fails. */
bool pesign_digest(const char *path, char hex[2 * 32 + 1]);
