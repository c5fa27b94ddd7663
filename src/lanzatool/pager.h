/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Long output (list, list-enrolled-keys, verify) through a pager, as systemd's tools do: only when
 * stdout is a terminal and enabled is true (not --no-pager, not --json=short); the pager is
 * $SYSTEMD_PAGER, else $PAGER, else "less -FRX" (which exits at once when the output fits the screen);
 * "cat" or "" means none. Failing to start it is not an error: output then goes to the terminal. */
void pager_open(bool enabled);
/* Flushes stdout, ends the pager's input and waits for it. Nothing when no pager runs. */
void pager_close(void);
