/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "efi-arch.h"
#include "pe.h"
#include "util.h"

/* UEFI's architecture suffixes (UEFI 2.10 §3.5.1.1), in lowercase for systemd's names and uppercase for the
 * removable-media path. */
#define EFI_ARCH(sys, pretty, mach, sfx, SFX)                                                               \
        {                                                                                                   \
                .system = sys, .name = pretty, .machine = mach,                                             \
                .systemd_boot_path = "EFI/systemd/systemd-boot" sfx ".efi",                                 \
                .systemd_boot_efi_path = "\\EFI\\systemd\\systemd-boot" sfx ".efi",                         \
                .removable_path = "EFI/BOOT/BOOT" SFX ".EFI",                                               \
                .systemd_boot_source = "/usr/lib/systemd/boot/efi/systemd-boot" sfx ".efi",                 \
                .stub_name = "lanzaboot" sfx ".efi.stub",                                                   \
        }

const struct efi_arch efi_arches[] = {
        EFI_ARCH("x86_64-linux", "x86-64", IMAGE_FILE_MACHINE_AMD64, "x64", "X64"),
        EFI_ARCH("aarch64-linux", "AArch64", IMAGE_FILE_MACHINE_ARM64, "aa64", "AA64"),
};
const size_t efi_arches_count = sizeof(efi_arches) / sizeof(efi_arches[0]);

const struct efi_arch *efi_arch_from_system(const char *system)
{
        for (size_t i = 0; system && i < efi_arches_count; i++)
                if (strcmp(efi_arches[i].system, system) == 0)
                        return &efi_arches[i];
        return NULL;
}

const char *efi_arch_systems(void)
{
        static char text[64];

        if (!text[0])
                for (size_t i = 0; i < efi_arches_count; i++) {
                        if (i > 0)
                                strncat(text, ", ", sizeof(text) - strlen(text) - 1);
                        strncat(text, efi_arches[i].system, sizeof(text) - strlen(text) - 1);
                }
        return text;
}

int efi_arch_check_image(const struct efi_arch *arch, const uint8_t *image, size_t size, char **ret_message)
{
        struct pe_image pe;

        if (pe_parse(image, size, PE_LAYOUT_FILE, &pe) < 0)
                return set_error_message(ret_message, -EBADMSG, "not a PE32+ image for x86-64 or AArch64");
        if (pe.file_header->Machine == arch->machine)
                return 0;
        for (size_t i = 0; i < efi_arches_count; i++)
                if (pe.file_header->Machine == efi_arches[i].machine)
                        return set_error_message(ret_message, -EXDEV, "an image for %s, not %s",
                                                 efi_arches[i].name, arch->name);
        return set_error_message(ret_message, -EXDEV, "machine type 0x%04x, not %s", pe.file_header->Machine,
                                 arch->name);
}
