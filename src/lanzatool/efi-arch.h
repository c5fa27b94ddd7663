/* SPDX-License-Identifier: MIT */
#pragma once

/* The UEFI architectures lanzatool installs for, and everything that differs between them: the bootspec
 * "system", PE machine type, file names on the ESP and of the inputs. The architecture of an install comes
 * from the bootspec, never from the host, so an x86-64 image builder can install for an aarch64 image. */

#include <stddef.h>
#include <stdint.h>

struct efi_arch {
        const char *system;                /* bootspec "system": "x86_64-linux" */
        const char *name;                  /* for messages: "x86-64" */
        uint16_t machine;                  /* IMAGE_FILE_MACHINE_* of the stub, systemd-boot and kernel */
        const char *systemd_boot_path;     /* on the ESP: "EFI/systemd/systemd-bootx64.efi" */
        const char *systemd_boot_efi_path; /* the same for a firmware boot entry, with backslashes */
        const char *removable_path;        /* "EFI/BOOT/BOOTX64.EFI" (UEFI §3.5.1.1) */
        const char *systemd_boot_source;   /* the distribution's unsigned systemd-boot */
        const char *stub_name;             /* "lanzabootx64.efi.stub", in lanzaboote's libdir */
};

extern const struct efi_arch efi_arches[];
extern const size_t efi_arches_count;

/* NULL when lanzatool does not install for that system. */
const struct efi_arch *efi_arch_from_system(const char *system);

/* "x86_64-linux, aarch64-linux", for messages. */
const char *efi_arch_systems(void);

/* 0 when the size bytes at image are a PE image for arch's machine; otherwise -EBADMSG (not a PE32+
 * image) or -EXDEV (one for another architecture), with a sentence in *ret_message (may be NULL). */
int efi_arch_check_image(const struct efi_arch *arch, const uint8_t *image, size_t size, char **ret_message);
