/* SPDX-License-Identifier: MIT */
#pragma once

/* The kernel command line rules of current systemd-stub (systemd main as of v258: src/boot/stub.c
 * process_arguments() and settle_command_line(); the mangling is v255's, unchanged since): which command
 * line is used, how it is copied from the loader's LoadOptions or converted from the embedded .cmdline,
 * and how it is cleaned up ("mangled"). The mangled loader command line is what gets measured into PCR 12,
 * so these rules decide the PCR value. Built for the host and for UEFI: UTF-16 units as uint16_t,
 * caller-provided buffers, no allocation.
 *
 * Not covered here: when the UEFI Shell starts the stub, sd-stub joins the shell's Argv[1..]
 * instead of using LoadOptions; a stub started by systemd-boot never sees that case. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
        CMDLINE_OK = 0,
        CMDLINE_ERR_INVALID = -1, /* a NULL pointer */
        CMDLINE_ERR_BUFFER = -3,  /* the buffer is smaller than the *_units() helper said */
};

/* Whether the loader's LoadOptions may replace the embedded .cmdline:
 * - never with Secure Boot on and an embedded .cmdline, nor with Secure Boot on in a confidential
 *   VM (v255): the signed command line is the policy then;
 * - never when LoadOptions is shorter than one UTF-16 unit or holds a control character (<= 0x1F)
 *   anywhere before its first NUL (systemd ≥ 257 checks the whole string, v255 only the first
 *   unit): firmware boot entries carry binary data there.
 * A line that is empty once mangled (whitespace only) is then ignored too, and the embedded one used:
 * the caller checks that with cmdline_from_load_options()'s length.
 * load_options is read as UTF-16LE bytes and need not be aligned. */
bool cmdline_use_load_options(bool secure_boot, bool have_embedded_cmdline, bool confidential_vm,
                              const void *load_options, size_t load_options_size);

/* Units (uint16_t, including the NUL) a buffer needs for the conversions below; 0 when that many
 * bytes would not fit in size_t. */
size_t cmdline_load_options_units(size_t load_options_size);
size_t cmdline_utf8_units(size_t n);

/* Copies at most load_options_size / 2 units from LoadOptions, stopping at the first NUL, then
 * mangles the copy. *ret_len is the result's length in units, without the NUL. */
int cmdline_from_load_options(const void *load_options, size_t load_options_size, uint16_t *buf,
                              size_t buf_units, size_t *ret_len);

/* Converts n bytes of the embedded .cmdline (UTF-8, stopping at a NUL) to UTF-16 as sd-stub's
 * xstrn8_to_16() does, then mangles it. Invalid or truncated sequences and characters outside
 * the BMP are dropped; overlong forms are decoded as they come (an overlong NUL ends the string). */
int cmdline_from_utf8(const char *s, size_t n, uint16_t *buf, size_t buf_units, size_t *ret_len);

/* v255's mangle_stub_cmdline(), in place: leading whitespace (<= 0x20 or 0x7F) is skipped, inner
 * control characters become spaces, trailing whitespace is cut. Returns the new length. */
size_t cmdline_mangle(uint16_t *s);
