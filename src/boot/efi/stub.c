/* SPDX-License-Identifier: MIT */
/* The lanzaboote stub: a systemd-stub-compatible UKI stub that can also boot a kernel and initrd
 * stored on the ESP ("external mode", selected by a .linuxh section), pinned by SHA-256. */
#include "cmdline.h"
#include "companions.h"
#include "devicetree.h"
#include "efivars.h"
#include "file.h"
#include "initrd.h"
#include "linux.h"
#include "loaded-image.h"
#include "log.h"
#include "measure.h"
#include "sections.h"
#include "secure-boot.h"
#include "sha256.h"
#include "util.h"

EFI_SYSTEM_TABLE *ST;
EFI_BOOT_SERVICES *BS;
EFI_RUNTIME_SERVICES *RT;

/* The kernel and the initrd: in embedded mode views into our own image, in external mode the
 * verified file contents, read once and then measured and booted from the same memory. */
typedef struct {
        const uint8_t *data;
        size_t size;
        Pages pages;
} Payload;

static void payload_free(Payload *p)
{
        pages_free(&p->pages);
        *p = (Payload){};
}

/* Kernels and initrds beyond this are refused rather than exhausting firmware memory. */
#define PAYLOAD_MAX_SIZE (UINT64_C(1) << 31)

static void hex_digest(const uint8_t digest[SHA256_DIGEST_SIZE], char ret[SHA256_DIGEST_SIZE * 2 + 1])
{
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
                ret[2 * i] = hex[digest[i] >> 4];
                ret[2 * i + 1] = hex[digest[i] & 15];
        }
        ret[SHA256_DIGEST_SIZE * 2] = 0;
}

/* Reads the file named by a path section (UTF-8 bytes, backslashes, leading '\') and checks it
 * against the pinned hash. Anything but a perfect match is refused, whatever the Secure Boot
 * state: the hash is what makes the signature on this stub cover the kernel. */
static EFI_STATUS load_external(EFI_FILE *root, const char *what, const Section *path, const Section *hash,
                                Payload *ret)
{
        _cleanup_(file_closep) EFI_FILE *f = NULL;
        _cleanup_free_ CHAR16 *path16 = NULL;
        uint8_t digest[SHA256_DIGEST_SIZE];
        char expected[SHA256_DIGEST_SIZE * 2 + 1], actual[SHA256_DIGEST_SIZE * 2 + 1];
        struct sha256_ctx ctx;
        Payload p = {};
        uint64_t size;
        EFI_STATUS err;

        if (hash->size != SHA256_DIGEST_SIZE)
                return log_error_status(EFI_INVALID_PARAMETER, "The %s hash section is %zu bytes, not %u.",
                                        what, hash->size, SHA256_DIGEST_SIZE);
        if (!uki_esp_path_valid((const char *)path->data, path->size))
                return log_error_status(EFI_INVALID_PARAMETER,
                                        "The %s path section is not a plain absolute ESP path.", what);
        path16 = xstrn8_to_16((const char *)path->data, path->size, true);
        if (!path16)
                return log_error_status(EFI_OUT_OF_RESOURCES, "No memory for the %s path.", what);
        hex_digest(hash->data, expected);

        err = file_open(root, path16, &f);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot open the %s %ls: %s.", what, path16,
                                        efi_status_name(err));
        err = file_size(f, &size);
        if (err != EFI_SUCCESS || size == 0 || size > PAYLOAD_MAX_SIZE)
                return log_error_status(err != EFI_SUCCESS ? err : EFI_LOAD_ERROR,
                                        "The %s %ls is not a regular file of a sane size.", what, path16);
        err = pages_alloc(AllocateAnyPages, 0, size, &p.pages);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot allocate %llu bytes for the %s.",
                                        (unsigned long long)size, what);
        p.data = pages_ptr(&p.pages);
        p.size = size;

        sha256_init(&ctx);
        err = file_read_exact(f, pages_ptr(&p.pages), p.size, &ctx);
        if (err != EFI_SUCCESS) {
                payload_free(&p);
                return log_error_status(err, "Cannot read the %s %ls: %s.", what, path16,
                                        efi_status_name(err));
        }
        sha256_final(&ctx, digest);
        if (memcmp(digest, hash->data, sizeof(digest)) != 0) {
                hex_digest(digest, actual);
                payload_free(&p);
                return log_error_status(EFI_SECURITY_VIOLATION,
                                        "The %s %ls does not match this boot entry.\n"
                                        "  expected SHA-256 %s\n  actual   SHA-256 %s",
                                        what, path16, expected, actual);
        }
        *ret = p;
        return EFI_SUCCESS;
}

static EFI_STATUS load_payloads(EFI_LOADED_IMAGE_PROTOCOL *image, const StubSections *s, Payload *ret_kernel,
                                Payload *ret_initrd)
{
        _cleanup_(file_closep) EFI_FILE *root = NULL;
        Payload kernel = {}, initrd = {};
        EFI_STATUS err;

        if (!s->external) {
                *ret_kernel = (Payload){.data = s->unified[UNIFIED_SECTION_LINUX].data,
                                        .size = s->unified[UNIFIED_SECTION_LINUX].size};
                *ret_initrd = (Payload){.data = s->unified[UNIFIED_SECTION_INITRD].data,
                                        .size = s->unified[UNIFIED_SECTION_INITRD].size};
                return EFI_SUCCESS;
        }

        err = file_open_root(image->DeviceHandle, &root);
        if (err != EFI_SUCCESS)
                return log_error_status(err,
                                        "Cannot open the file system this boot entry was loaded from: %s.",
                                        efi_status_name(err));
        err = load_external(root, "kernel", &s->unified[UNIFIED_SECTION_LINUX], &s->linux_hash, &kernel);
        if (err != EFI_SUCCESS)
                return err;
        if (s->unified[UNIFIED_SECTION_INITRD].size > 0) {
                err = load_external(root, "initrd", &s->unified[UNIFIED_SECTION_INITRD], &s->initrd_hash,
                                    &initrd);
                if (err != EFI_SUCCESS) {
                        payload_free(&kernel);
                        return err;
                }
        }
        *ret_kernel = kernel;
        *ret_initrd = initrd;
        return EFI_SUCCESS;
}

static void measure_one(uint32_t pcr, const void *data, size_t size, const char *description, int *flag)
{
        bool measured = false;

        (void)tpm_log_ipl_event(pcr, (EFI_PHYSICAL_ADDRESS)(uintptr_t)data, size, description, &measured);
        combine_measured_flag(flag, measured);
}

/* PCR 11: every UKI section present, in systemd's canonical order, as a name event and a data
 * event; in external mode the verified kernel and initrd bytes stand in for the path sections,
 * so that systemd-measure predicts the value from the same files. .splash is measured like every
 * other section, as sd-stub does, but never shown: the measurement does not depend on display. */
static void measure_sections(const StubSections *s, const Payload *kernel, const Payload *initrd)
{
        int measured = -1;

        for (enum unified_section i = 0; i < _UNIFIED_SECTION_MAX; i++) {
                const char *name = unified_sections[i];
                const uint8_t *data = s->unified[i].data;
                size_t size = s->unified[i].size;

                if (size == 0)
                        continue;
                if (i == UNIFIED_SECTION_LINUX)
                        data = kernel->data, size = kernel->size;
                else if (i == UNIFIED_SECTION_INITRD)
                        data = initrd->data, size = initrd->size;

                measure_one(TPM2_PCR_KERNEL_BOOT, name, strlen(name) + 1, name, &measured);
                measure_one(TPM2_PCR_KERNEL_BOOT, data, size, name, &measured);
        }
        if (measured > 0)
                (void)efivar_set_uint_string(&(EFI_GUID)LOADER_GUID, u"StubPcrKernelImage",
                                             TPM2_PCR_KERNEL_BOOT);
}

/* The embedded .cmdline, unless the loader passed one and the rules of cmdline.h let it win (never
 * with Secure Boot on and a .cmdline present; never a line that is whitespace only). Nothing is
 * measured here: see measure_command_line(). */
static EFI_STATUS settle_command_line(const EFI_LOADED_IMAGE_PROTOCOL *image, const Section *embedded,
                                      CHAR16 **ret, bool *ret_from_loader)
{
        _cleanup_free_ CHAR16 *buf = NULL;
        size_t units, len = 0;
        int r;

        if (cmdline_use_load_options(secure_boot_enabled(), embedded->size > 0, false, image->LoadOptions,
                                     image->LoadOptionsSize)) {
                units = cmdline_load_options_units(image->LoadOptionsSize);
                if (units == 0 || !(buf = xmalloc(units * sizeof(CHAR16))))
                        return log_error_status(EFI_OUT_OF_RESOURCES, "No memory for the command line.");
                r = cmdline_from_load_options(image->LoadOptions, image->LoadOptionsSize, buf, units, &len);
                if (r < 0)
                        return log_error_status(EFI_INVALID_PARAMETER,
                                                "Cannot convert the loader's command line (error %d).", r);
                if (len > 0) {
                        *ret = TAKE_PTR(buf);
                        *ret_from_loader = true;
                        return EFI_SUCCESS;
                }
                free(TAKE_PTR(buf));
        }

        units = cmdline_utf8_units(embedded->size);
        if (units == 0 || !(buf = xmalloc(units * sizeof(CHAR16))))
                return log_error_status(EFI_OUT_OF_RESOURCES, "No memory for the command line.");
        r = cmdline_from_utf8((const char *)embedded->data, embedded->size, buf, units, &len);
        if (r < 0)
                return log_error_status(EFI_INVALID_PARAMETER, "Cannot convert the command line (error %d).",
                                        r);
        *ret = TAKE_PTR(buf);
        *ret_from_loader = false;
        return EFI_SUCCESS;
}

/* Only a loader's command line is measured, into PCR 12: the embedded one is part of PCR 11. */
static void measure_command_line(const CHAR16 *cmdline, bool from_loader, int *ret_measured)
{
        bool measured = false;

        if (!from_loader)
                return;
        (void)tpm_log_load_options(cmdline, &measured);
        *ret_measured = measured;
}

/* The initrd the kernel gets, each piece zero-padded to 4 bytes, in sd-stub's order (v256+): .ucode
 * first, because the kernel looks for early microcode only in the first cpio, then ours, then the
 * companion archives. A single piece is passed in place. */
static EFI_STATUS combine_initrds(const StubSections *s, const Payload *initrd, const Companions *c,
                                  Payload *ret)
{
        const Section *ucode = &s->unified[UNIFIED_SECTION_UCODE];
        Section pieces[2 + _COMPANION_MAX] = {
                {ucode->data, ucode->size},
                {initrd->data, initrd->size},
        };
        size_t size = 0, n = 0, last = 0;
        uint8_t *p;
        EFI_STATUS err;

        for (CompanionType t = 0; t < _COMPANION_MAX; t++)
                pieces[2 + t] = (Section){(const uint8_t *)c->archives[t].data, c->archives[t].size};
        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                if (pieces[i].size == 0)
                        continue;
                n++, last = i;
                if (__builtin_add_overflow(size, ALIGN_UP(pieces[i].size, 4), &size) ||
                    ALIGN_UP(pieces[i].size, 4) < pieces[i].size)
                        return log_error_status(EFI_OUT_OF_RESOURCES, "The combined initrd is too large.");
        }
        if (n <= 1) {
                *ret = (Payload){.data = pieces[last].data, .size = pieces[last].size};
                return EFI_SUCCESS;
        }

        Payload combined = {.size = size};
        err = pages_alloc(AllocateAnyPages, 0, size, &combined.pages);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "No memory for the combined initrd.");
        p = pages_ptr(&combined.pages);
        combined.data = p;
        memset(p, 0, size);
        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                if (pieces[i].size > 0)
                        memcpy(p, pieces[i].data, pieces[i].size);
                p += ALIGN_UP(pieces[i].size, 4);
        }
        *ret = combined;
        return EFI_SUCCESS;
}

static void export_pcr_variables(const Companions *c)
{
        static const EFI_GUID loader_guid = LOADER_GUID;

        if (c->parameters_measured > 0)
                (void)efivar_set_uint_string(&loader_guid, u"StubPcrKernelParameters",
                                             TPM2_PCR_KERNEL_CONFIG);
        if (c->sysext_measured > 0)
                (void)efivar_set_uint_string(&loader_guid, u"StubPcrInitRDSysExts", TPM2_PCR_SYSEXTS);
        if (c->confext_measured > 0)
                (void)efivar_set_uint_string(&loader_guid, u"StubPcrInitRDConfExts", TPM2_PCR_KERNEL_CONFIG);
}

/* What must hold before anything is measured: the kernel is one our loader can start, and no initrd
 * that this entry did not pin is offered to it. Checked for every entry, with or without an initrd of
 * its own: a Type #1 entry's "initrd" line registers one before we run. */
static EFI_STATUS check_boot_preconditions(const Payload *kernel)
{
        EFI_STATUS err;

        err = linux_check(kernel->data, kernel->size);
        if (err != EFI_SUCCESS)
                return err;
        return initrd_check_none_registered();
}

static EFI_STATUS boot(EFI_HANDLE image_handle, EFI_LOADED_IMAGE_PROTOCOL *image, const StubSections *s,
                       const CHAR16 *cmdline, const Payload *kernel, const Payload *initrd)
{
        const Section *dtb = &s->unified[UNIFIED_SECTION_DTB];
        Devicetree devicetree = {};
        EFI_STATUS err;

        if (dtb->size > 0) {
                err = devicetree_install(dtb->data, dtb->size, &devicetree);
                if (err != EFI_SUCCESS)
                        return err;
        }
        /* linux_exec() puts the firmware's devicetree back when the kernel returns or calls Exit(); here
         * only when the kernel never started. */
        err = linux_exec(image_handle, image, cmdline, kernel->data, kernel->size, initrd->data,
                         initrd->size, &devicetree);
        devicetree_restore(&devicetree);
        return err;
}

/* The checklist: read and verify everything, then measure, then boot. Nothing is measured before every
 * check passed, so a refused entry leaves PCR 11, 12 and 13 as they were and the fallback entry still
 * unseals. */
static EFI_STATUS run(EFI_HANDLE image_handle)
{
        static const EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
        _cleanup_(companions_free) Companions companions = {};
        _cleanup_(payload_free) Payload kernel = {}, initrd = {}, initrd_all = {};
        _cleanup_free_ CHAR16 *cmdline = NULL;
        EFI_LOADED_IMAGE_PROTOCOL *image;
        StubSections sections;
        bool cmdline_from_loader;
        int cmdline_measured = -1;
        EFI_STATUS err;

        /* 1. Read and verify: our sections, the kernel and initrd they pin, the command line. */
        err = BS->HandleProtocol(image_handle, &loaded_image_guid, (void **)&image);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot get our own loaded image: %s.", efi_status_name(err));
        err = sections_find(image->ImageBase, image->ImageSize, &sections);
        if (err != EFI_SUCCESS)
                return err;
        err = load_payloads(image, &sections, &kernel, &initrd);
        if (err != EFI_SUCCESS)
                return err;
        err = devicetree_check(sections.unified[UNIFIED_SECTION_DTB].data,
                               sections.unified[UNIFIED_SECTION_DTB].size);
        if (err != EFI_SUCCESS)
                return err;
        err = settle_command_line(image, &sections.unified[UNIFIED_SECTION_CMDLINE], &cmdline,
                                  &cmdline_from_loader);
        if (err != EFI_SUCCESS)
                return err;

        /* 2. Check that the kernel can start, with no initrd but ours. */
        err = check_boot_preconditions(&kernel);
        if (err != EFI_SUCCESS)
                return err;

        /* 3. Measure: PCR 11, then PCR 12 (command line, credentials, confexts) and 13 (sysexts). */
        measure_sections(&sections, &kernel, &initrd);
        export_loader_variables(image->DeviceHandle, image->FilePath);
        export_stub_variables();
        measure_command_line(cmdline, cmdline_from_loader, &cmdline_measured);
        (void)companions_load(image, &companions);
        if (cmdline_measured >= 0)
                combine_measured_flag(&companions.parameters_measured, cmdline_measured > 0);
        companions_add_pcr_policy(&companions, sections.pcrsig.data, sections.pcrsig.size,
                                  sections.unified[UNIFIED_SECTION_PCRPKEY].data,
                                  sections.unified[UNIFIED_SECTION_PCRPKEY].size);
        export_pcr_variables(&companions);

        /* 4. Boot. */
        err = combine_initrds(&sections, &initrd, &companions, &initrd_all);
        if (err != EFI_SUCCESS)
                return err;
        return boot(image_handle, image, &sections, cmdline, &kernel, &initrd_all);
}

/* Tell the user what to do, give them time to read it, and hand the error back to the boot menu:
 * never hang, never power off, so another entry can be picked. Keys typed before the message appeared
 * (meant for the boot menu, or repeated) are dropped first, so only a key pressed after reading it
 * ends the wait early. */
#define ERROR_SCREEN_WAIT_STEPS 100
#define ERROR_SCREEN_STEP_USEC  (100 * 1000)

static void error_screen(void)
{
        log_error("This boot entry cannot be started. Pick another entry in the boot menu; once\n"
                  "the system is up, run 'lanzatool verify' and reinstall with 'lanzatool install'.");
        if (ST->ConIn)
                (void)ST->ConIn->Reset(ST->ConIn, false);
        for (unsigned i = 0; i < ERROR_SCREEN_WAIT_STEPS; i++) {
                EFI_INPUT_KEY key;
                if (ST->ConIn && ST->ConIn->ReadKeyStroke(ST->ConIn, &key) == EFI_SUCCESS)
                        break;
                (void)BS->Stall(ERROR_SCREEN_STEP_USEC);
        }
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
        EFI_STATUS err;

        ST = system_table;
        BS = system_table->BootServices;
        RT = system_table->RuntimeServices;

        err = run(image);
        if (err != EFI_SUCCESS)
                error_screen();
        return err;
}
