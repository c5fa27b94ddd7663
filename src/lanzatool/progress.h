/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Progress of a long step on stderr, in the style of systemd's: one line, rewritten in place with "\r"
 * and cleared at the end, e.g. "lanzatool: writing 45% 300.0M/672.0M, 20/44 files". Shown only when
 * stderr is a terminal, not when quiet, and only once the step has more than PROGRESS_MIN_BYTES to do
 * (or has done that much, when the total is not known in advance). */
#define PROGRESS_MIN_BYTES (4u << 20)

/* Starts a step; total_bytes 0: not known in advance. Ends the previous step. */
void progress_begin(const char *what, uint64_t total_bytes, unsigned total_files, bool quiet);
/* Bytes and files done since the last call; nothing outside a step. */
void progress_add(uint64_t bytes, unsigned files);
/* Clears the line, if one was shown. */
void progress_end(void);
