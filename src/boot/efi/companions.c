/* SPDX-License-Identifier: MIT */
#include "companions.h"
#include "cpio.h"
#include "device-path.h"
#include "file.h"
#include "log.h"
#include "measure.h"
#include "util.h"

/* Linux's NAME_MAX: a longer name could not be unpacked. */
#define COMPANION_NAME_MAX 255
/* sd-stub has no limits here. Ours only refuse what no real ESP holds, and refuse a whole archive
 * rather than leaving files out of it, so an archive is either what sd-stub would build or absent. */
#define COMPANION_FILES_MAX 1024
/* Entries read from one directory, matching or not: a corrupt or cyclic FAT directory ends here. */
#define COMPANION_DIR_ENTRIES_MAX  65536
#define COMPANION_ARCHIVE_SIZE_MAX (UINT64_C(1) << 30)

#define EXTRA_DIR_SUFFIX u".extra.d"

typedef struct {
        const char *section_file; /* set: a file made from one of our sections, not from a directory */
        const CHAR16 *dir;        /* NULL: the image's own "<image path>.extra.d" */
        const CHAR16 *suffix;
        const CHAR16 *exclude_suffix; /* names ending so are left to another archive */
        const char *target_dir;
        uint32_t dir_mode;
        uint32_t file_mode;
        uint32_t pcr;
        const char *description; /* the event log's name for the measurement */
} CompanionSpec;

static const CompanionSpec companion_specs[_COMPANION_MAX] = {
        [COMPANION_CREDENTIALS] =
                {
                        .suffix = u".cred",
                        .target_dir = ".extra/credentials",
                        .dir_mode = 0500,
                        .file_mode = 0400,
                        .pcr = TPM2_PCR_KERNEL_CONFIG,
                        .description = "Credentials initrd",
                },
        [COMPANION_GLOBAL_CREDENTIALS] =
                {
                        .dir = u"\\loader\\credentials",
                        .suffix = u".cred",
                        .target_dir = ".extra/global_credentials",
                        .dir_mode = 0500,
                        .file_mode = 0400,
                        .pcr = TPM2_PCR_KERNEL_CONFIG,
                        .description = "Global credentials initrd",
                },
        /* v255 picked every *.raw here; since v256 *.confext.raw go to their own archive. */
        [COMPANION_SYSEXT] =
                {
                        .suffix = u".raw",
                        .exclude_suffix = u".confext.raw",
                        .target_dir = ".extra/sysext",
                        .dir_mode = 0555,
                        .file_mode = 0444,
                        .pcr = TPM2_PCR_SYSEXTS,
                        .description = "System extension initrd",
                },
        [COMPANION_CONFEXT] =
                {
                        .suffix = u".confext.raw",
                        .target_dir = ".extra/confext",
                        .dir_mode = 0555,
                        .file_mode = 0444,
                        .pcr = TPM2_PCR_KERNEL_CONFIG,
                        .description = "Configuration extension initrd",
                },
        [COMPANION_PCRSIG] =
                {
                        .section_file = "tpm2-pcr-signature.json",
                        .target_dir = ".extra",
                        .dir_mode = 0555,
                        .file_mode = 0444,
                },
        [COMPANION_PCRPKEY] =
                {
                        .section_file = "tpm2-pcr-public-key.pem",
                        .target_dir = ".extra",
                        .dir_mode = 0555,
                        .file_mode = 0444,
                },
};

/* One matching directory entry. */
typedef struct {
        CHAR16 *name16; /* as on disk: for opening and sorting */
        char *name;     /* the same in ASCII: for the archive */
        void *data;
        size_t size;
        bool read;
} Item;

typedef struct {
        Item *items;
        size_t n;
} ItemList;

static void item_list_free(ItemList *l)
{
        for (size_t i = 0; l->items && i < l->n; i++) {
                free(l->items[i].name16);
                free(l->items[i].name);
                free(l->items[i].data);
        }
        free(l->items);
        *l = (ItemList){};
}

/* ---- the per-image directory ---------------------------------------------------------------- */

/* Firmware's device-path-to-text joins file path nodes with '/', which is no EFI path; sd-stub
 * then turns '/' into '\' and collapses doubled '\'. */
static void convert_efi_path(CHAR16 *path)
{
        size_t fixed = 0;

        for (size_t i = 0;; i++) {
                path[fixed] = path[i] == '/' ? '\\' : path[i];
                if (fixed > 0 && path[fixed - 1] == '\\' && path[fixed] == '\\')
                        continue;
                if (path[i] == 0)
                        break;
                fixed++;
        }
}

/* At least one decimal digit, the value fitting 64 bits, as sd-stub's parse_number16(). */
static bool skip_number(const CHAR16 **p)
{
        const CHAR16 *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned digit = *s - '0';
                if (v > (UINT64_MAX - digit) / 10)
                        return false;
                v = v * 10 + digit;
        }
        *p = s;
        return true;
}

/* Boot counting renames "foo+3-0.efi" as tries are used up; the drop-in directory must not follow
 * it around. Like sd-stub (v255+), only the first '+' in the whole path is considered, and it must
 * be followed by N or N-M and then '.' or the end. */
static void remove_boot_count(CHAR16 *path)
{
        CHAR16 *plus = NULL;
        const CHAR16 *tail;

        for (CHAR16 *p = path; *p && !plus; p++)
                if (*p == '+')
                        plus = p;
        if (!plus)
                return;

        tail = plus + 1;
        if (!skip_number(&tail))
                return;
        if (*tail == '-') {
                tail++;
                if (!skip_number(&tail))
                        return;
        }
        if (*tail != 0 && *tail != '.')
                return;
        memmove(plus, tail, strsize16(tail));
}

/* Text of one file path node: its PathName up to the NUL or the end of the node. */
static size_t file_path_node_units(const EFI_DEVICE_PATH *node)
{
        const FILEPATH_DEVICE_PATH *fp = (const FILEPATH_DEVICE_PATH *)node;
        size_t max = (device_path_node_length(node) - sizeof(EFI_DEVICE_PATH)) / sizeof(CHAR16), n = 0;

        while (n < max && fp->PathName[n] != 0)
                n++;
        return n;
}

/* "<image path>.extra.d", or NULL when the image's path is not made of file path nodes only (then
 * there is no file to put a directory next to). */
static CHAR16 *extra_dir_path(const EFI_DEVICE_PATH *dp)
{
        const size_t suffix_units = ELEMENTSOF(EXTRA_DIR_SUFFIX); /* with the NUL */
        size_t units = 0, n = 0;
        CHAR16 *path;

        if (!dp)
                return NULL;
        for (const EFI_DEVICE_PATH *node = dp; !device_path_is_end(node);
             node = device_path_next_node(node)) {
                if (node->Type != MEDIA_DEVICE_PATH || node->SubType != MEDIA_FILEPATH_DP ||
                    device_path_node_length(node) < sizeof(EFI_DEVICE_PATH))
                        return NULL;
                units += file_path_node_units(node) + 1; /* and a '/' separator or the NUL */
        }
        if (units == 0 || units > SIZE_MAX / sizeof(CHAR16) - suffix_units)
                return NULL;

        path = xmalloc((units + suffix_units) * sizeof(CHAR16));
        if (!path)
                return NULL;
        for (const EFI_DEVICE_PATH *node = dp; !device_path_is_end(node);
             node = device_path_next_node(node)) {
                const FILEPATH_DEVICE_PATH *fp = (const FILEPATH_DEVICE_PATH *)node;
                size_t k = file_path_node_units(node);

                if (n > 0)
                        path[n++] = '/';
                for (size_t i = 0; i < k; i++)
                        path[n++] = fp->PathName[i];
        }
        path[n] = 0;

        convert_efi_path(path);
        remove_boot_count(path);
        n = strlen16(path);
        memcpy(path + n, EXTRA_DIR_SUFFIX, sizeof(EXTRA_DIR_SUFFIX));
        return path;
}

/* ---- picking files ------------------------------------------------------------------------- */

static CHAR16 ascii_tolower(CHAR16 c)
{
        return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool endswith_no_case(const CHAR16 *s, size_t len, const CHAR16 *suffix)
{
        size_t suffix_len = strlen16(suffix);

        if (len < suffix_len)
                return false;
        s += len - suffix_len;
        for (size_t i = 0; i < suffix_len; i++)
                if (ascii_tolower(s[i]) != ascii_tolower(suffix[i]))
                        return false;
        return true;
}

static bool is_ascii16(const CHAR16 *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (s[i] > 0x7f)
                        return false;
        return true;
}

/* sd-stub's filters, in its order; info_size bounds a name the firmware forgot to terminate. */
static bool entry_wanted(const EFI_FILE_INFO *info, size_t info_size, const CompanionSpec *spec,
                         size_t *ret_len)
{
        size_t max, len = 0;

        if (info_size < offsetof(EFI_FILE_INFO, FileName))
                return false;
        max = (info_size - offsetof(EFI_FILE_INFO, FileName)) / sizeof(CHAR16);
        while (len < max && info->FileName[len] != 0)
                len++;
        if (len == max)
                return false;

        if (info->FileName[0] == '.')
                return false;
        if (info->Attribute & EFI_FILE_DIRECTORY)
                return false;
        if (!endswith_no_case(info->FileName, len, spec->suffix))
                return false;
        if (spec->exclude_suffix && endswith_no_case(info->FileName, len, spec->exclude_suffix))
                return false;
        if (!is_ascii16(info->FileName, len))
                return false;
        if (len > COMPANION_NAME_MAX)
                return false;
        *ret_len = len;
        return true;
}

static EFI_STATUS item_init(const CHAR16 *name16, size_t len, Item *ret)
{
        _cleanup_free_ CHAR16 *copy16 = NULL;
        _cleanup_free_ char *copy = NULL;

        copy16 = xmalloc((len + 1) * sizeof(CHAR16));
        copy = xmalloc(len + 1);
        if (!copy16 || !copy)
                return EFI_OUT_OF_RESOURCES;
        for (size_t i = 0; i < len; i++) {
                copy16[i] = name16[i];
                copy[i] = (char)name16[i];
        }
        copy16[len] = 0;
        copy[len] = 0;
        *ret = (Item){.name16 = TAKE_PTR(copy16), .name = TAKE_PTR(copy)};
        return EFI_SUCCESS;
}

/* Not logged here: the caller says once which directory failed. EFI_VOLUME_CORRUPTED after
 * COMPANION_DIR_ENTRIES_MAX entries, EFI_OUT_OF_RESOURCES after COMPANION_FILES_MAX matching ones. */
static EFI_STATUS items_collect(EFI_FILE *dir, const CompanionSpec *spec, ItemList *ret)
{
        _cleanup_(item_list_free) ItemList list = {};
        _cleanup_free_ EFI_FILE_INFO *info = NULL;
        size_t info_size = 0, len;
        EFI_STATUS err;

        list.items = xzalloc(COMPANION_FILES_MAX * sizeof(Item));
        if (!list.items)
                return EFI_OUT_OF_RESOURCES;

        for (size_t n_entries = 0;; n_entries++) {
                if (n_entries == COMPANION_DIR_ENTRIES_MAX)
                        return EFI_VOLUME_CORRUPTED;
                err = dir_read_entry(dir, &info, &info_size);
                if (err != EFI_SUCCESS)
                        return err;
                if (!info)
                        break;
                if (!entry_wanted(info, info_size, spec, &len))
                        continue;
                if (list.n == COMPANION_FILES_MAX)
                        return EFI_OUT_OF_RESOURCES;
                err = item_init(info->FileName, len, list.items + list.n);
                if (err != EFI_SUCCESS)
                        return err;
                list.n++;
        }

        *ret = list;
        list = (ItemList){};
        return EFI_SUCCESS;
}

/* Sorted by plain UTF-16 code units, so that the measurement does not depend on directory order. */
static void items_sort(ItemList *l)
{
        for (size_t i = 1; i < l->n; i++) {
                Item t = l->items[i];
                size_t j = i;

                for (; j > 0 && strcmp16(l->items[j - 1].name16, t.name16) > 0; j--)
                        l->items[j] = l->items[j - 1];
                l->items[j] = t;
        }
}

/* ---- reading and packing ------------------------------------------------------------------- */

static EFI_STATUS dir_open(EFI_FILE *root, const CHAR16 *path, EFI_FILE **ret)
{
        _cleanup_(file_closep) EFI_FILE *dir = NULL;
        uint64_t size;
        EFI_STATUS err;

        err = file_open(root, path, &dir);
        if (err != EFI_SUCCESS)
                return err;
        /* file_size() answers EFI_INVALID_PARAMETER exactly for directories. */
        err = file_size(dir, &size);
        if (err == EFI_SUCCESS)
                return EFI_LOAD_ERROR; /* a file where the directory should be */
        if (err != EFI_INVALID_PARAMETER)
                return err;
        *ret = TAKE_PTR(dir);
        return EFI_SUCCESS;
}

static EFI_STATUS item_read(EFI_FILE *dir, Item *item, uint64_t *total)
{
        _cleanup_(file_closep) EFI_FILE *f = NULL;
        _cleanup_free_ void *data = NULL;
        uint64_t size;
        EFI_STATUS err;

        err = file_open(dir, item->name16, &f);
        if (err == EFI_SUCCESS)
                err = file_size(f, &size);
        if (err != EFI_SUCCESS)
                return err;
        if (size > COMPANION_ARCHIVE_SIZE_MAX - *total)
                return EFI_BAD_BUFFER_SIZE;
        if (size > 0) {
                data = xmalloc(size);
                if (!data)
                        return EFI_OUT_OF_RESOURCES;
                err = file_read_exact(f, data, size, NULL);
                if (err != EFI_SUCCESS)
                        return err;
        }
        *total += size;
        item->data = TAKE_PTR(data);
        item->size = size;
        item->read = true;
        return EFI_SUCCESS;
}

/* A file that cannot be read is left out, as in sd-stub; one that would push the archive past its
 * limit refuses the whole archive. */
static EFI_STATUS items_read(EFI_FILE *dir, const CHAR16 *path, ItemList *l)
{
        uint64_t total = 0;
        EFI_STATUS err;

        for (size_t i = 0; i < l->n; i++) {
                err = item_read(dir, l->items + i, &total);
                if (err == EFI_BAD_BUFFER_SIZE)
                        return log_error_status(
                                err, "Companion files in %ls exceed %llu bytes, ignoring them all.", path,
                                (unsigned long long)COMPANION_ARCHIVE_SIZE_MAX);
                if (err != EFI_SUCCESS)
                        log_error("Cannot read %ls\\%ls, ignoring: %s.", path, l->items[i].name16,
                                  efi_status_name(err));
        }
        return EFI_SUCCESS;
}

static EFI_STATUS archive_pack(const CompanionSpec *spec, const ItemList *l, CompanionArchive *ret)
{
        _cleanup_free_ struct cpio_file *files = NULL;
        _cleanup_free_ void *buf = NULL;
        size_t n = 0, size;

        files = xmalloc(l->n * sizeof(struct cpio_file));
        if (!files)
                return EFI_OUT_OF_RESOURCES;
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].read)
                        files[n++] = (struct cpio_file){
                                .name = l->items[i].name,
                                .data = l->items[i].data,
                                .size = l->items[i].size,
                        };

        if (cpio_size(spec->target_dir, files, n, &size) != CPIO_OK)
                return EFI_BAD_BUFFER_SIZE;
        buf = xmalloc(size);
        if (!buf)
                return EFI_OUT_OF_RESOURCES;
        if (cpio_write(spec->target_dir, spec->dir_mode, spec->file_mode, files, n, buf, size) != CPIO_OK)
                return EFI_BAD_BUFFER_SIZE;

        *ret = (CompanionArchive){.data = TAKE_PTR(buf), .size = size};
        return EFI_SUCCESS;
}

/* No directory or no matching file: no archive (data NULL), and that is no error. */
static EFI_STATUS archive_build(EFI_FILE *root, const CHAR16 *path, const CompanionSpec *spec,
                                CompanionArchive *ret)
{
        _cleanup_(item_list_free) ItemList items = {};
        _cleanup_(file_closep) EFI_FILE *dir = NULL;
        EFI_STATUS err;

        err = dir_open(root, path, &dir);
        if (err == EFI_NOT_FOUND) {
                *ret = (CompanionArchive){};
                return EFI_SUCCESS;
        }
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot open %ls, ignoring: %s.", path, efi_status_name(err));

        err = items_collect(dir, spec, &items);
        if (err != EFI_SUCCESS)
                return log_error_status(
                        err, "Cannot list %ls (at most %u matching files of %u entries), ignoring: %s.",
                        path, (unsigned)COMPANION_FILES_MAX, (unsigned)COMPANION_DIR_ENTRIES_MAX,
                        efi_status_name(err));
        if (items.n == 0) {
                *ret = (CompanionArchive){};
                return EFI_SUCCESS;
        }
        items_sort(&items);

        err = items_read(dir, path, &items);
        if (err != EFI_SUCCESS)
                return err;
        /* Even if no file could be read, the archive (directories and trailer) exists, as in sd-stub:
         * what matched is decided by names, before reading. */
        err = archive_pack(spec, &items, ret);
        if (err != EFI_SUCCESS)
                return log_error_status(err, "Cannot pack the %s, ignoring: %s.", spec->description,
                                        efi_status_name(err));
        return EFI_SUCCESS;
}

/* ---- measuring ----------------------------------------------------------------------------- */

static int *measured_flag(Companions *c, CompanionType t)
{
        switch (t) {
        case COMPANION_SYSEXT:
                return &c->sysext_measured;
        case COMPANION_CONFEXT:
                return &c->confext_measured;
        default:
                return &c->parameters_measured;
        }
}

/* The whole archive is one EV_IPL event. If that fails the archive is dropped, as sd-stub drops it:
 * nothing unmeasured reaches the kernel. */
static void archive_measure(CompanionType t, CompanionArchive *a, Companions *c)
{
        const CompanionSpec *spec = companion_specs + t;
        bool m = false;
        EFI_STATUS err;

        err = tpm_log_ipl_event(spec->pcr, (EFI_PHYSICAL_ADDRESS)(uintptr_t)a->data, a->size,
                                spec->description, &m);
        if (err != EFI_SUCCESS) {
                log_error("Cannot measure the %s into PCR %u, leaving it out: %s.", spec->description,
                          (unsigned)spec->pcr, efi_status_name(err));
                free(a->data);
                *a = (CompanionArchive){};
                return;
        }
        combine_measured_flag(measured_flag(c, t), m);
}

EFI_STATUS companions_load(const EFI_LOADED_IMAGE_PROTOCOL *image, Companions *ret)
{
        _cleanup_(file_closep) EFI_FILE *root = NULL;
        _cleanup_free_ CHAR16 *extra_dir = NULL;
        Companions c = {.parameters_measured = -1, .sysext_measured = -1, .confext_measured = -1};
        EFI_STATUS err;

        if (!image || !ret)
                return EFI_INVALID_PARAMETER;

        err = file_open_root(image->DeviceHandle, &root);
        if (err != EFI_SUCCESS) {
                /* A loader that gives us no device or no file system: nothing to pick up. */
                if (err != EFI_NOT_FOUND && err != EFI_UNSUPPORTED)
                        log_error("Cannot open the boot volume for companion files, ignoring: %s.",
                                  efi_status_name(err));
                *ret = c;
                return EFI_SUCCESS;
        }
        extra_dir = extra_dir_path(image->FilePath);

        for (CompanionType t = 0; t < _COMPANION_MAX; t++) {
                const CompanionSpec *spec = companion_specs + t;
                const CHAR16 *dir = spec->dir ? spec->dir : extra_dir;

                if (!dir || spec->section_file)
                        continue;
                if (archive_build(root, dir, spec, c.archives + t) != EFI_SUCCESS || !c.archives[t].data)
                        continue;
                archive_measure(t, c.archives + t, &c);
        }

        *ret = c;
        return EFI_SUCCESS;
}

void companions_add_pcr_policy(Companions *c, const void *pcrsig, size_t pcrsig_size, const void *pcrpkey,
                               size_t pcrpkey_size)
{
        const struct {
                CompanionType type;
                const void *data;
                size_t size;
        } parts[] = {
                {COMPANION_PCRSIG, pcrsig, pcrsig_size},
                {COMPANION_PCRPKEY, pcrpkey, pcrpkey_size},
        };

        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                const CompanionSpec *spec = companion_specs + parts[i].type;
                Item item = {.name = (char *)spec->section_file,
                             .data = (void *)parts[i].data,
                             .size = parts[i].size,
                             .read = true};
                EFI_STATUS err;

                if (parts[i].size == 0)
                        continue;
                err = archive_pack(spec, &(ItemList){.items = &item, .n = 1}, c->archives + parts[i].type);
                if (err != EFI_SUCCESS)
                        log_error("Cannot pack %s, ignoring: %s.", spec->section_file, efi_status_name(err));
        }
}

void companions_free(Companions *c)
{
        for (CompanionType t = 0; t < _COMPANION_MAX; t++)
                free(c->archives[t].data);
        *c = (Companions){.parameters_measured = -1, .sysext_measured = -1, .confext_measured = -1};
}
