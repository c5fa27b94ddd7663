/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

/* The .osrel section of a stub, as upstream lanzaboote writes it (sorted unquoted KEY=value lines):
 *   ID=<sort key>
 *   PRETTY_NAME=<label> (Generation <N>[, specialisation <S>], <YYYY-MM-DD>)
 *   VERSION_ID=Generation <N>[, specialisation <S>], <YYYY-MM-DD>
 * PRETTY_NAME is unique per entry, so systemd-boot shows it as is. The date is build_time in UTC.
 * Values are sanitized: control characters (newlines included) become spaces. NULL on ENOMEM. */
char *os_release_build(const char *sort_key, const char *label, unsigned generation,
                       const char *specialisation, time_t build_time);

/* Parses os-release text (quotes and backslash escapes as os-release(5) allows; a trailing NUL or
 * missing final newline tolerated) and returns a fresh copy of KEY's value, or NULL when absent or
 * malformed. Used to read systemd-boot's VERSION and our stubs' fields. */
char *os_release_get(const char *text, size_t size, const char *key);
