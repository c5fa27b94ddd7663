/* SPDX-License-Identifier: MIT */
#pragma once

/* Whether the stub can start a kernel file, decided by the stub's own check (pe_loader_check() in
 * src/shared), so that an unbootable kernel is refused at install time and reported by verify instead
 * of failing at boot. */

/* The largest kernel file read; the stub refuses payloads of 2 GiB and more, no kernel comes close. */
#define KERNEL_CHECK_MAX_SIZE (UINT32_C(1) << 30)

/* 0 when bootable (arm64 kernels are not judged: always 0). Otherwise a negative errno and *ret_reason (may
 * be NULL) a static sentence: the requirement the kernel does not meet, or why it could not be read. */
int kernel_check_file(const char *path, const char **ret_reason);
