/* SPDX-License-Identifier: MIT */
/* Starts the kernel with our own PE loader rather than the firmware's LoadImage()/StartImage(). The kernel
 * is not signed (the signed stub pins its hash instead), so with Secure Boot on LoadImage() would refuse
 * it, and with Secure Boot off it would measure it into PCR 4. Loading it ourselves keeps PCR 4
 * independent of the Secure Boot state (DESIGN.md §3). */
#include "linux.h"
#include "device-path.h"
#include "initrd.h"
#include "log.h"
#include "memory-attribute.h"
#include "pe-loader.h"
#include "util.h"

/* The first UEFI revision that defines EFI_MEMORY_ATTRIBUTE_PROTOCOL. */
#define EFI_2_10_SYSTEM_TABLE_REVISION ((2U << 16) | 100U)

_Static_assert(PE_LOADER_NX_MIN_SECTION_ALIGNMENT % EFI_PAGE_SIZE == 0, "W^X sections start on pages");

typedef struct {
        MEMMAP_DEVICE_PATH memmap;
        EFI_DEVICE_PATH end;
} __attribute__((packed)) KernelDevicePath;

typedef struct {
        Pages pages;
        uint8_t *base; /* the image, aligned as it asks, inside pages */
        struct pe_loaded info;
        /* Set once memory attributes were changed: they must be undone before the pages are freed. */
        EFI_MEMORY_ATTRIBUTE_PROTOCOL *memory_attribute;
} KernelImage;

static EFI_STATUS pe_error_status(int r)
{
        switch (r) {
        case -PE_EOPNOTSUPP:
                return EFI_UNSUPPORTED;
        case -PE_EINVAL:
                return EFI_INVALID_PARAMETER;
        default:
                return EFI_LOAD_ERROR;
        }
}

EFI_STATUS linux_check(const void *kernel, size_t kernel_size)
{
        const char *reason = NULL;
        int r;

        r = pe_loader_check(kernel, kernel_size, &reason);
        if (r < 0)
                return log_error_status(pe_error_status(r), "Cannot start the kernel: %s.", reason);
        return EFI_SUCCESS;
}

static uint64_t image_address(const KernelImage *k)
{
        return (uint64_t)(uintptr_t)k->base;
}

#if defined(__aarch64__)
/* AArch64 instruction fetches are not coherent with data writes: the freshly copied kernel must be cleaned
 * from the data cache to the point of unification, and stale instruction cache lines invalidated, before
 * it runs (Arm ARM D7.5.9), as the firmware's LoadImage() does. CTR_EL0 gives the smallest line sizes. */
static void sync_instruction_cache(const uint8_t *start, size_t size)
{
        uintptr_t end = (uintptr_t)start + size;
        uint64_t ctr;
        size_t dline, iline;

        __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
        dline = (size_t)4 << ((ctr >> 16) & 0xf);
        iline = (size_t)4 << (ctr & 0xf);
        for (uintptr_t p = (uintptr_t)start & ~(uintptr_t)(dline - 1); p < end; p += dline)
                __asm__ volatile("dc cvau, %0" : : "r"(p) : "memory");
        __asm__ volatile("dsb ish" : : : "memory");
        for (uintptr_t p = (uintptr_t)start & ~(uintptr_t)(iline - 1); p < end; p += iline)
                __asm__ volatile("ic ivau, %0" : : "r"(p) : "memory");
        __asm__ volatile("dsb ish\n\tisb" : : : "memory");
}
#else
/* x86 keeps instruction fetches coherent with stores. */
static void sync_instruction_cache(const uint8_t *start, size_t size)
{
        (void)start, (void)size;
}
#endif

static EFI_STATUS kernel_image_load(const void *kernel, size_t kernel_size, KernelImage *k)
{
        size_t image_size, alignment, alloc_size;
        EFI_PHYSICAL_ADDRESS addr;
        UINTN n_pages;
        EFI_STATUS err;
        int r;

        /* linux_check() accepted it before anything was measured, so this fails only on a broken promise. */
        r = pe_loader_inspect(kernel, kernel_size, &image_size, &alignment);
        if (r < 0)
                return log_error_status(pe_error_status(r), "Cannot load the kernel (error %d).", r);

        /* AllocatePages() only promises page alignment: take enough more to find an aligned start inside.
         * Alignments below a page (Linux 5.10: 0x20) are met by every page. */
        if (alignment < EFI_PAGE_SIZE)
                alignment = EFI_PAGE_SIZE;
        if (__builtin_add_overflow(image_size, alignment - EFI_PAGE_SIZE, &alloc_size) ||
            alloc_size > SIZE_MAX - EFI_PAGE_SIZE)
                return log_error_status(EFI_OUT_OF_RESOURCES, "Kernel image too large.");
        n_pages = EFI_SIZE_TO_PAGES(alloc_size);

        /* Code, not data: firmware that maps data non-executable must still let the kernel run when it does
         * not ask for W^X or when we cannot set attributes. */
        err = BS->AllocatePages(AllocateAnyPages, EfiLoaderCode, n_pages, &addr);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot allocate %zu bytes for the kernel: %s", alloc_size,
                                        efi_status_name(err));
        k->pages = (Pages){.addr = addr, .n_pages = n_pages};
        k->base = (uint8_t *)(uintptr_t)ALIGN_UP(addr, (EFI_PHYSICAL_ADDRESS)alignment);

        r = pe_loader_load(kernel, kernel_size, k->base, image_size, image_address(k), &k->info);
        if (r < 0)
                return log_error_status(pe_error_status(r), "Cannot load the kernel (error %d).", r);
        sync_instruction_cache(k->base, image_size);
        return EFI_SUCCESS;
}

static EFI_MEMORY_ATTRIBUTE_PROTOCOL *find_memory_attribute_protocol(void)
{
        static const EFI_GUID guid = EFI_MEMORY_ATTRIBUTE_PROTOCOL_GUID;
        EFI_MEMORY_ATTRIBUTE_PROTOCOL *proto = NULL;
        EFI_STATUS err;

        err = BS->LocateProtocol(&guid, NULL, (void **)&proto);
        if (err == EFI_SUCCESS && proto)
                return proto;

        /* Older firmware cannot be expected to have it, and then maps everything executable anyway. */
        if (ST->Hdr.Revision >= EFI_2_10_SYSTEM_TABLE_REVISION)
                log_warn("No memory attribute protocol (%s), starting the kernel without W^X.",
                         efi_status_name(err));
        return NULL;
}

/* Read-only first, executable second: no page is ever writable and executable at once, which firmware
 * enforcing W^X may refuse. A code section that is also writable stays writable, or the kernel would fault
 * writing it. */
static EFI_STATUS protect_code(EFI_MEMORY_ATTRIBUTE_PROTOCOL *proto, uint64_t addr, uint64_t size,
                               bool writable)
{
        EFI_STATUS err;

        if (!writable) {
                err = proto->SetMemoryAttributes(proto, addr, size, EFI_MEMORY_RO);
                /* Only hardening is lost: the code still runs. */
                if (err != EFI_SUCCESS)
                        log_warn("Cannot make kernel code read-only, ignoring: %s", efi_status_name(err));
        }

        /* Fatal: the code may still be non-executable, and jumping there would crash instead of returning to
         * the boot menu. */
        err = proto->ClearMemoryAttributes(proto, addr, size, EFI_MEMORY_XP);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot make kernel code executable: %s", efi_status_name(err));
        return EFI_SUCCESS;
}

/* What a kernel with NX_COMPAT asks for (and Microsoft's firmware requirements demand): its code sections
 * read-only and executable, everything else (headers, data, gaps) non-executable. */
static EFI_STATUS kernel_image_protect(KernelImage *k)
{
        EFI_MEMORY_ATTRIBUTE_PROTOCOL *proto = find_memory_attribute_protocol();
        EFI_STATUS err;

        if (!proto)
                return EFI_SUCCESS;
        k->memory_attribute = proto;

        /* Non-executable everywhere first. Code is made executable again below, so a failure here, even a
         * partial one, only leaves data executable. */
        err = proto->SetMemoryAttributes(proto, image_address(k), k->info.image_size, EFI_MEMORY_XP);
        if (err != EFI_SUCCESS)
                log_warn("Cannot make kernel data non-executable, ignoring: %s", efi_status_name(err));

        /* Sections start on page boundaries and do not overlap (pe-loader checks both), so rounding a
         * section's end up to a page never reaches into the next section. */
        for (size_t i = 0; i < k->info.n_sections; i++) {
                const struct pe_loaded_section *s = &k->info.sections[i];

                if (!pe_loader_is_code(s->characteristics) || s->size == 0)
                        continue;
                err = protect_code(proto, image_address(k) + s->rva,
                                   ALIGN_UP((uint64_t)s->size, EFI_PAGE_SIZE),
                                   (s->characteristics & IMAGE_SCN_MEM_WRITE) != 0);
                if (err != EFI_SUCCESS)
                        return err;
        }
        return EFI_SUCCESS;
}

/* EDK2 may fill freed pages with a pattern, so they must be writable again, and as data non-executable,
 * before FreePages(). False when that failed: the pages must then be leaked rather than freed. */
static bool kernel_image_unprotect(KernelImage *k)
{
        EFI_MEMORY_ATTRIBUTE_PROTOCOL *proto = k->memory_attribute;
        EFI_STATUS err;

        (void)proto->SetMemoryAttributes(proto, image_address(k), k->info.image_size, EFI_MEMORY_XP);
        err = proto->ClearMemoryAttributes(proto, image_address(k), k->info.image_size, EFI_MEMORY_RO);
        if (err != EFI_SUCCESS) {
                log_error("Cannot make kernel memory writable again, leaking it: %s", efi_status_name(err));
                return false;
        }
        k->memory_attribute = NULL;
        return true;
}

static void kernel_image_free(KernelImage *k)
{
        if (k->memory_attribute && !kernel_image_unprotect(k))
                return;
        pages_free(&k->pages);
}

/* What the stub changed for the kernel and must put back, whether the kernel returns or calls Exit(). */
typedef struct {
        EFI_HANDLE image_handle;
        EFI_LOADED_IMAGE_PROTOCOL *stub_image;
        EFI_LOADED_IMAGE_PROTOCOL saved;
        EFI_DEVICE_PATH *file_path; /* pool memory: firmware frees FilePath when it unloads an image */
        EFI_HANDLE initrd_handle;
        Devicetree *devicetree;
        KernelImage *kernel;
        EFI_STATUS(EFIAPI *original_exit)(EFI_HANDLE, EFI_STATUS, UINTN, CHAR16 *);
} KernelRun;

/* Only one kernel runs at a time; the Exit() hook finds its state here. */
static KernelRun *current_run;

static void boot_services_set_exit(EFI_STATUS(EFIAPI *exit)(EFI_HANDLE, EFI_STATUS, UINTN, CHAR16 *))
{
        uint32_t crc = 0;

        BS->Exit = exit;
        BS->Hdr.CRC32 = 0;
        if (BS->CalculateCrc32(BS, BS->Hdr.HeaderSize, &crc) == EFI_SUCCESS)
                BS->Hdr.CRC32 = crc;
}

/* Everything back as it was before the kernel ran: the LoadedImage fields (the firmware owns the original
 * FilePath and frees it when the stub is unloaded), the initrd handle (its LoadFile2 code lives in the stub
 * image, which the firmware frees once we are gone), the devicetree table (the next entry must see the
 * firmware's own), the kernel's memory and the Exit() hook. */
static void kernel_run_undo(KernelRun *run)
{
        if (run->original_exit)
                boot_services_set_exit(run->original_exit);
        run->original_exit = NULL;
        *run->stub_image = run->saved;
        free(run->file_path);
        run->file_path = NULL;
        (void)initrd_unregister(run->initrd_handle);
        run->initrd_handle = NULL;
        devicetree_restore(run->devicetree);
        kernel_image_free(run->kernel);
        current_run = NULL;
}

/* A kernel whose EFI stub fails calls Exit() on the handle it was started with, ours: the firmware then
 * unloads the stub and returns to systemd-boot without passing through our code again. Undo everything
 * first, so the next entry finds no stale initrd and the firmware frees only what it allocated. */
static EFI_STATUS EFIAPI exit_hook(EFI_HANDLE image_handle, EFI_STATUS status, UINTN data_size, CHAR16 *data)
{
        KernelRun *run = current_run;
        EFI_STATUS(EFIAPI * original)(EFI_HANDLE, EFI_STATUS, UINTN, CHAR16 *);

        if (!run)
                return EFI_INVALID_PARAMETER;
        original = run->original_exit;
        if (image_handle == run->image_handle)
                kernel_run_undo(run);
        return original(image_handle, status, data_size, data);
}

static EFI_DEVICE_PATH *kernel_device_path(const KernelImage *k)
{
        KernelDevicePath *dp = xmalloc(sizeof(*dp));

        if (!dp)
                return NULL;
        *dp = (KernelDevicePath){
                .memmap.Header.Type = HARDWARE_DEVICE_PATH,
                .memmap.Header.SubType = HW_MEMMAP_DP,
                .memmap.Header.Length = {sizeof(MEMMAP_DEVICE_PATH), 0},
                .memmap.MemoryType = EfiLoaderCode,
                .memmap.StartingAddress = image_address(k),
                /* Inclusive, as EDK2 writes memory-mapped device paths. */
                .memmap.EndingAddress = image_address(k) + k->info.image_size - 1,
                .end = DEVICE_PATH_END_NODE,
        };
        return &dp->memmap.Header;
}

/* The kernel is started on the stub's own image handle, as shim and systemd do: Linux's EFI stub looks up
 * the LoadedImage protocol on the handle it is given to find its command line (LoadOptions) and where it
 * was loaded (ImageBase, ImageSize). A handle of our own would need a LoadedImage the firmware knows
 * nothing about, and firmware may cast that protocol to its larger private structure. So the stub's
 * LoadedImage is patched for the kernel and put back, every field, if the kernel returns or exits. */
static EFI_STATUS start_kernel(KernelRun *run, const CHAR16 *cmdline)
{
        const KernelImage *k = run->kernel;
        /* UTF-16 with its NUL, as the kernel and systemd's PCR predictions expect. */
        size_t options_size = strsize16(cmdline);
        EFI_IMAGE_ENTRY_POINT entry;
        EFI_STATUS err;

        if (options_size > UINT32_MAX)
                return log_error_status(EFI_INVALID_PARAMETER, "Kernel command line too long.");
        run->file_path = kernel_device_path(k);
        if (!run->file_path)
                return log_error_status(EFI_OUT_OF_RESOURCES, "No memory for the kernel's device path.");

        run->saved = *run->stub_image;
        run->stub_image->ImageBase = k->base;
        run->stub_image->ImageSize = k->info.image_size;
        run->stub_image->FilePath = run->file_path;
        /* Also when there is no command line: the kernel must not see the options the stub was started
         * with, which did not pass our command line policy. */
        run->stub_image->LoadOptions = (void *)cmdline;
        run->stub_image->LoadOptionsSize = (uint32_t)options_size;
        run->original_exit = BS->Exit;
        current_run = run;
        boot_services_set_exit(exit_hook);

        entry = (EFI_IMAGE_ENTRY_POINT)(uintptr_t)(image_address(k) + k->info.entry_point);
        err = entry(run->image_handle, ST);

        kernel_run_undo(run);
        return log_error_status(err, "The kernel returned: %s.", efi_status_name(err));
}

EFI_STATUS linux_exec(EFI_HANDLE parent_image, EFI_LOADED_IMAGE_PROTOCOL *stub_image, const CHAR16 *cmdline,
                      const void *kernel, size_t kernel_size, const void *initrd, size_t initrd_size,
                      Devicetree *devicetree)
{
        KernelImage k = {};
        KernelRun run = {.image_handle = parent_image,
                         .stub_image = stub_image,
                         .devicetree = devicetree,
                         .kernel = &k};
        EFI_STATUS err;

        if (!parent_image || !stub_image || !kernel || !cmdline || !devicetree)
                return EFI_INVALID_PARAMETER;

        err = kernel_image_load(kernel, kernel_size, &k);
        if (err == EFI_SUCCESS && k.info.nx_compat)
                err = kernel_image_protect(&k);
        if (err == EFI_SUCCESS)
                err = initrd_register(initrd, initrd_size, &run.initrd_handle);
        if (err != EFI_SUCCESS) {
                (void)initrd_unregister(run.initrd_handle);
                kernel_image_free(&k);
                return err;
        }
        return start_kernel(&run, cmdline);
}
