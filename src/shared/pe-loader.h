/* SPDX-License-Identifier: MIT */
#pragma once

/* Loads a Linux kernel's PE image into memory the way a UEFI firmware's LoadImage() would: headers and
 * sections at their RVAs, base relocations applied. Pure: it never allocates, so it runs (and is tested) on
 * the host as well as in the stub. Every field of the file is treated as hostile. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pe.h"

/* Kernels are started on their own architecture only. The aa64 stub's build defines IMAGE_FILE_MACHINE_ARM64
 * here (and PE_LOADER_MACHINE_NAME "arm64"); everything else uses x86-64, fixed rather than taken from the
 * host, so host tools and tests agree with the x64 stub. The machine type is checked in one place,
 * check_kernel_type() in pe-loader.c. */
#ifndef PE_LOADER_MACHINE
#define PE_LOADER_MACHINE IMAGE_FILE_MACHINE_AMD64
#endif
#ifndef PE_LOADER_MACHINE_NAME
#if PE_LOADER_MACHINE == IMAGE_FILE_MACHINE_ARM64
#define PE_LOADER_MACHINE_NAME "arm64"
#else
#define PE_LOADER_MACHINE_NAME "x86-64"
#endif
#endif

/* A kernel that sets NX_COMPAT gets W^X, applied per page, so its sections must start on page boundaries
 * (Linux ≥ 6.7 and 6.1.y use 4 KiB). Kernels without it (Linux 5.10, 5.15: SectionAlignment 0x20) are
 * loaded with any power-of-two alignment and run without W^X, as EDK2's LoadImage() runs them. The upper
 * bound keeps the over-allocation for alignment reasonable. */
#define PE_LOADER_NX_MIN_SECTION_ALIGNMENT UINT32_C(0x1000)
#define PE_LOADER_MAX_SECTION_ALIGNMENT    UINT32_C(0x200000)

/* No kernel comes near it (a distribution kernel needs ~60 MiB); it bounds what a hostile header asks for.
 */
#define PE_LOADER_MAX_IMAGE_SIZE UINT32_C(0x40000000)

/* The Linux EFI stub sets MajorImageVersion to 1 since 5.8 ("stub 1.0") to say it loads its initrd
 * through LoadFile2 on the LINUX_INITRD_MEDIA device path, the only way we hand it over. */
#define PE_LOADER_MIN_MAJOR_IMAGE_VERSION 1

struct pe_loaded_section {
        uint32_t rva;             /* VirtualAddress, a multiple of the section alignment */
        uint32_t size;            /* VirtualSize: bytes in memory from rva, zero-filled past the file data */
        uint32_t characteristics; /* IMAGE_SCN_* */
};

struct pe_loaded {
        size_t image_size;    /* bytes from the load address: SizeOfImage rounded up to the alignment */
        uint32_t entry_point; /* RVA, inside an executable section */
        bool nx_compat;    /* the kernel runs with its code read-only and everything else non-executable */
        size_t n_sections; /* in the order of the section table; they never overlap */
        struct pe_loaded_section sections[PE_MAX_SECTIONS];
};

/* Whether a section with these IMAGE_SCN_* characteristics is executed: marked as code or as executable,
 * as firmware loaders decide it. */
static inline bool pe_loader_is_code(uint32_t characteristics)
{
        return (characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE)) != 0;
}

/* The one kernel loadability check (DESIGN.md §4), used by the stub before it measures anything and by
 * lanzatool install/verify before a kernel is installed: 0 when the stub's loader can start the kernel,
 * else a negative PE_E* value and, in *ret_reason (may be NULL), a static sentence naming the requirement
 * that is not met, e.g. "the kernel sets NX_COMPAT but its SectionAlignment is below 4 KiB, ...". */
int pe_loader_check(const uint8_t *file, size_t file_size, const char **ret_reason);

/* Validates the kernel image and returns how much memory it needs (ret_image_size bytes starting at a
 * multiple of ret_alignment). Errors are negative PE_E* values: -PE_ENOEXEC not a PE image,
 * -PE_EOPNOTSUPP not a kernel we can start (machine, PE32+, subsystem, MajorImageVersion, NX_COMPAT with a
 * sub-page SectionAlignment, a SectionAlignment above 2 MiB, a base relocation type other than DIR64),
 * -PE_EBADMSG malformed, -PE_EINVAL bad arguments. */
int pe_loader_inspect(const uint8_t *file, size_t file_size, size_t *ret_image_size, size_t *ret_alignment);

/* Validates as pe_loader_inspect(), then zeroes the first image_size bytes of dest, copies the headers and
 * every section's file data there, and applies the base relocations for an image that will run at
 * load_address, a multiple of the alignment. dest is where the bytes are written: the same memory in the
 * stub, any buffer in tests. dest_size must be at least the image size; nothing beyond it is written. All
 * checks come before the first write, so on error dest is untouched. -PE_EOPNOTSUPP also for an image
 * marked IMAGE_FILE_RELOCS_STRIPPED whose load_address is not its ImageBase. */
int pe_loader_load(const uint8_t *file, size_t file_size, uint8_t *dest, size_t dest_size,
                   uint64_t load_address, struct pe_loaded *ret);
