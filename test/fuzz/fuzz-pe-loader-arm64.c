/* SPDX-License-Identifier: MIT */
/* The kernel loader as the aa64 stub compiles it (PE_LOADER_MACHINE ARM64, its own copy of
 * src/shared/pe-loader.c, see meson.build): the same checks as fuzz-pe-loader. */
#include "pe-loader.h"

_Static_assert(PE_LOADER_MACHINE == IMAGE_FILE_MACHINE_ARM64, "built as the aa64 stub's loader");

#include "fuzz-pe-loader.c"
