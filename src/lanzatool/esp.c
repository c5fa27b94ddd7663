/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/msdos_fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "esp.h"
#include "log.h"
#include "util.h"

/* The partition types lanzatool installs to, by GPT partition type GUID: [UEFI] 5.3.3 for the ESP, the
 * Discoverable Partitions Specification for the Extended Boot Loader partition (what bootctl and
 * systemd-boot look for on the ESP's disk). */
static const struct {
        const char *type_guid;
        const char *name;
} partition_kinds[] = {
        [PARTITION_ESP] = {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "an EFI System Partition"},
        [PARTITION_XBOOTLDR] = {"BC13C2FF-59E6-4262-A352-B275FD6F7172", "an Extended Boot Loader partition"},
};

/* The unit of esp.part_start and esp.part_size (what blkid and bootctl report, too). */
#define ESP_SECTOR_SIZE 512u

/* "01234567-89ab-cdef-0123-456789abcdef" */
#define GUID_STRING_LENGTH 36u

/* The places bootctl looks for the ESP, in its order. */
static const char *const esp_candidates[] = {"/efi", "/boot", "/boot/efi"};

/* How loudly a check speaks depends on why it runs. A directory that is not an ESP ("mismatch") is
 * an error for --esp-path, but only a debug note while searching the usual places, where the next
 * candidate may fit. A check that cannot be made at all (a disk that cannot be read: "failure") is an
 * error in both. With LANZATOOL_RELAX_ESP_CHECKS=1 the partition facts are a bonus and found silently. */
enum esp_check {
        ESP_CHECK_GIVEN,
        ESP_CHECK_SEARCHING,
        ESP_CHECK_RELAXED,
};

static enum log_level mismatch_level(enum esp_check check)
{
        return check == ESP_CHECK_GIVEN ? LOG_LEVEL_ERROR : LOG_LEVEL_DEBUG;
}

static enum log_level failure_level(enum esp_check check)
{
        return check == ESP_CHECK_RELAXED ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR;
}

static void fdisk_unref_contextp(struct fdisk_context **cxt)
{
        fdisk_unref_context(*cxt);
}

static void fdisk_unref_partitionp(struct fdisk_partition **pa)
{
        fdisk_unref_partition(*pa);
}

static bool relax_esp_checks(void)
{
        const char *e = getenv("LANZATOOL_RELAX_ESP_CHECKS");

        return e && strcmp(e, "1") == 0;
}

/* The names of file systems an ESP is commonly confused with, for the message. */
static const struct {
        uint32_t magic;
        const char *name;
} fs_names[] = {
        {EXT4_SUPER_MAGIC, "ext4"}, {BTRFS_SUPER_MAGIC, "btrfs"}, {XFS_SUPER_MAGIC, "xfs"},
        {F2FS_SUPER_MAGIC, "f2fs"}, {TMPFS_MAGIC, "tmpfs"},       {OVERLAYFS_SUPER_MAGIC, "overlay"},
        {NFS_SUPER_MAGIC, "nfs"},   {SQUASHFS_MAGIC, "squashfs"}, {PROC_SUPER_MAGIC, "proc"},
        {0x2fc12fc1, "zfs"},        {0x2011bab0, "exfat"},        {0x5346544e, "ntfs"},
};

static void fs_name(uint32_t magic, char *buf, size_t size)
{
        for (size_t i = 0; i < ELEMENTSOF(fs_names); i++)
                if (fs_names[i].magic == magic) {
                        snprintf(buf, size, "%s", fs_names[i].name);
                        return;
                }
        snprintf(buf, size, "file system type 0x%08x", magic);
}

static int open_directory(const char *path, enum log_level level, int *ret_fd)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0) {
                int r = -errno;

                if (r == -ENOENT)
                        return log_full_errno(level, r, "%s: does not exist", path);
                if (r == -ENOTDIR)
                        return log_full_errno(level, r, "%s: not a directory", path);
                return log_errno(level, -r, "%s: cannot open", path);
        }
        *ret_fd = fd;
        return 0;
}

/* A mount point lives on another device than its parent directory; "/" is its own parent. */
static int check_mount_point(int fd, const char *path, enum esp_check check, struct stat *ret_st)
{
        struct stat st, parent;

        if (fstat(fd, &st) < 0 || fstatat(fd, "..", &parent, 0) < 0)
                return log_errno(failure_level(check), errno, "%s: cannot stat", path);
        if (st.st_dev == parent.st_dev && st.st_ino != parent.st_ino)
                return log_full_errno(mismatch_level(check), -EADDRNOTAVAIL, "%s: not a mount point", path);
        *ret_st = st;
        return 0;
}

/* vfat gives the root directory of a FAT file system inode number MSDOS_ROOT_INO, so this also refuses
 * a subdirectory of an ESP that is bind-mounted somewhere. */
static int check_fat_root(int fd, const char *path, const struct stat *st, enum esp_check check)
{
        struct statfs sfs;
        char name[64];

        if (fstatfs(fd, &sfs) < 0)
                return log_errno(failure_level(check), errno, "%s: cannot statfs", path);
        if ((uint32_t)sfs.f_type != MSDOS_SUPER_MAGIC) {
                fs_name((uint32_t)sfs.f_type, name, sizeof(name));
                return log_full_errno(mismatch_level(check), -ENODEV, "%s: not a FAT file system (it is %s)",
                                      path, name);
        }
        if (st->st_ino != MSDOS_ROOT_INO)
                return log_full_errno(mismatch_level(check), -EADDRNOTAVAIL,
                                      "%s: not the root directory of its FAT file system", path);
        return 0;
}

/* A small sysfs attribute as an unsigned number; -ENOENT when the attribute does not exist. */
static int read_sysfs_u32(const char *dir, const char *attribute, uint32_t *ret)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char buf[32], *end;
        unsigned long value;
        ssize_t n;

        if (asprintf(&path, "%s/%s", dir, attribute) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        errno = 0;
        value = strtoul(buf, &end, 10);
        if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || value > UINT32_MAX)
                return -EBADMSG;
        *ret = (uint32_t)value;
        return 0;
}

/* The disk a partition block device belongs to, from sysfs: /sys/dev/block/MAJ:MIN resolves to
 * /sys/devices/.../DISK/PART, and DISK is its kernel name ('/' written as '!'), i.e. /dev/DISK. */
static int disk_of_partition(const char *sys_real, char **ret_disk)
{
        _cleanup_free_ char *parent = strdup(sys_real);
        char *slash, *name, *disk;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return -ENODEV;
        *slash = '\0';
        name = strrchr(parent, '/') + 1;
        for (char *p = name; *p; p++)
                if (*p == '!')
                        *p = '/';
        if (asprintf(&disk, "/dev/%s", name) < 0)
                return -ENOMEM;
        *ret_disk = disk;
        return 0;
}

static int partition_of_device(dev_t dev, const char *path, enum esp_check check, char **ret_disk,
                               uint32_t *ret_partno)
{
        _cleanup_free_ char *real = NULL;
        char sys[64];
        uint32_t partno = 0;
        int r;

        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(dev), minor(dev));
        real = realpath(sys, NULL);
        if (!real)
                return log_errno(failure_level(check), errno, "%s: cannot find its block device %s", path,
                                 sys);
        r = read_sysfs_u32(real, "partition", &partno);
        if (r == -ENOENT)
                return log_full_errno(mismatch_level(check), -ENODEV,
                                      "%s: not on a disk partition (block device %u:%u)", path, major(dev),
                                      minor(dev));
        if (r < 0 || partno == 0)
                return log_errno(failure_level(check), r < 0 ? -r : EBADMSG, "%s: cannot read %s/partition",
                                 path, real);
        r = disk_of_partition(real, ret_disk);
        if (r < 0)
                return log_errno(failure_level(check), -r, "%s: cannot find the disk of %s", path, real);
        *ret_partno = partno;
        return 0;
}

static bool guid_string_valid(const char *s)
{
        if (!s || strlen(s) != GUID_STRING_LENGTH)
                return false;
        for (size_t i = 0; i < GUID_STRING_LENGTH; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* Start and size in logical sectors of sector_size bytes, converted to 512-byte sectors. */
static int to_512_byte_sectors(uint64_t sectors, unsigned long sector_size, uint64_t *ret)
{
        uint64_t factor;

        if (sector_size < ESP_SECTOR_SIZE || sector_size % ESP_SECTOR_SIZE != 0)
                return -EBADMSG;
        factor = sector_size / ESP_SECTOR_SIZE;
        if (sectors > UINT64_MAX / factor)
                return -EOVERFLOW;
        *ret = sectors * factor;
        return 0;
}

/* The facts of a used GPT partition of the type of esp->kind. where names it in messages. */
static int esp_facts(struct fdisk_context *cxt, struct fdisk_partition *pa, const char *where,
                     enum esp_check check, struct esp *esp)
{
        const char *want = partition_kinds[esp->kind].type_guid;
        struct fdisk_parttype *type = fdisk_partition_get_type(pa);
        const char *type_guid = type ? fdisk_parttype_get_string(type) : NULL;
        const char *type_name = type ? fdisk_parttype_get_name(type) : NULL;
        const char *uuid = fdisk_partition_get_uuid(pa);
        uint64_t start, size;

        if (!type_guid || strcasecmp(type_guid, want) != 0)
                return log_full_errno(mismatch_level(check), -EMEDIUMTYPE, "%s is not %s (type %s%s%s)",
                                      where, partition_kinds[esp->kind].name, type_guid ?: "unknown",
                                      type_name ? ", " : "", type_name ?: "");
        if (!guid_string_valid(uuid))
                return log_full_errno(failure_level(check), -EBADMSG, "%s has no valid partition GUID",
                                      where);
        if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa) ||
            to_512_byte_sectors(fdisk_partition_get_start(pa), fdisk_get_sector_size(cxt), &start) < 0 ||
            to_512_byte_sectors(fdisk_partition_get_size(pa), fdisk_get_sector_size(cxt), &size) < 0)
                return log_full_errno(failure_level(check), -EBADMSG, "%s has no valid start and size",
                                      where);

        for (size_t i = 0; i <= GUID_STRING_LENGTH; i++)
                esp->part_uuid[i] = (char)tolower((unsigned char)uuid[i]);
        esp->part_start = start;
        esp->part_size = size;
        return 0;
}

static int probe_partition(const char *disk, uint32_t partno, const char *path, enum esp_check check,
                           struct esp *esp)
{
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
        char where[PATH_MAX + 64];
        struct esp facts = {.kind = esp->kind};
        int r;

        if (!cxt)
                return log_full_errno(failure_level(check), -ENOMEM, "%s: out of memory", disk);
        if (path)
                snprintf(where, sizeof(where), "%s: partition %" PRIu32 " of %s", path, partno, disk);
        else
                snprintf(where, sizeof(where), "%s: partition %" PRIu32, disk, partno);

        r = fdisk_assign_device(cxt, disk, /* readonly= */ 1);
        if (r < 0)
                return log_errno(failure_level(check), -r, "%s: cannot read the partition table", disk);
        if (!fdisk_is_label(cxt, GPT))
                return log_full_errno(
                        mismatch_level(check), -EMEDIUMTYPE,
                        "%s: not a GPT disk (its partition table: %s), an ESP must be a GPT partition", disk,
                        fdisk_has_label(cxt) ? fdisk_label_get_name(fdisk_get_label(cxt, NULL)) : "none");
        if (partno == 0 || partno > fdisk_get_npartitions(cxt) ||
            fdisk_get_partition(cxt, partno - 1, &pa) < 0 || !fdisk_partition_is_used(pa))
                return log_full_errno(mismatch_level(check), -ENXIO, "%s does not exist", where);

        r = esp_facts(cxt, pa, where, check, &facts);
        if (r < 0)
                return r;
        memcpy(esp->part_uuid, facts.part_uuid, sizeof(esp->part_uuid));
        esp->part_number = partno;
        esp->part_start = facts.part_start;
        esp->part_size = facts.part_size;
        return 0;
}

int esp_probe_partition(const char *disk, uint32_t partno, struct esp *esp)
{
        return probe_partition(disk, partno, esp->path, ESP_CHECK_GIVEN, esp);
}

/* Every check: a mount point, the root of a FAT file system, on a GPT partition of the kind's type. */
static int esp_check(const char *path, enum esp_check check, enum partition_kind kind, struct esp *ret)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *disk = NULL;
        struct esp esp = {.fd = -EBADF, .kind = kind};
        struct stat st = {};
        uint32_t partno = 0;
        int r;

        r = open_directory(path, mismatch_level(check), &fd);
        if (r < 0)
                return r;
        r = check_mount_point(fd, path, check, &st);
        if (r < 0)
                return r;
        r = check_fat_root(fd, path, &st, check);
        if (r < 0)
                return r;
        r = partition_of_device(st.st_dev, path, check, &disk, &partno);
        if (r < 0)
                return r;
        r = probe_partition(disk, partno, path, check, &esp);
        if (r < 0)
                return r;

        esp.path = strdup(path);
        if (!esp.path)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        esp.fd = fd;
        fd = -EBADF;
        esp.disk = TAKE_PTR(disk);
        *ret = esp;
        log_debug("%s: %s on partition %" PRIu32 " of %s, PARTUUID %s", path,
                  kind == PARTITION_ESP ? "ESP" : "XBOOTLDR", partno, esp.disk, esp.part_uuid);
        return 0;
}

/* LANZATOOL_RELAX_ESP_CHECKS=1 accepts any directory, without partition facts. */
static int esp_open_plain(const char *path, enum log_level level, enum partition_kind kind, struct esp *ret)
{
        _cleanup_close_ int fd = -EBADF;
        char *copy;
        int r;

        r = open_directory(path, level, &fd);
        if (r < 0)
                return r;
        copy = strdup(path);
        if (!copy)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        *ret = (struct esp){.path = copy, .fd = fd, .relaxed = true, .kind = kind};
        fd = -EBADF;
        log_debug("%s: accepted as %s (LANZATOOL_RELAX_ESP_CHECKS=1), its partition is unknown", path,
                  kind == PARTITION_ESP ? "ESP" : "XBOOTLDR");
        return 0;
}

/* What makes a candidate skipped rather than the search failed: it is not an ESP. */
static bool is_mismatch(int r)
{
        return r == -ENOENT || r == -ENOTDIR || r == -EADDRNOTAVAIL || r == -ENODEV || r == -EMEDIUMTYPE ||
               r == -ENXIO;
}

int esp_find(const char *path, struct esp *ret)
{
        bool relax = relax_esp_checks();
        int r;

        if (path && !relax)
                return esp_check(path, ESP_CHECK_GIVEN, PARTITION_ESP, ret);
        if (path)
                return esp_check(path, ESP_CHECK_RELAXED, PARTITION_ESP, ret) >= 0
                               ? 0
                               : esp_open_plain(path, LOG_LEVEL_ERROR, PARTITION_ESP, ret);

        /* A real ESP first, even when relaxed: /boot may exist on the root file system while the ESP is
         * mounted on /boot/efi. */
        for (size_t i = 0; i < ELEMENTSOF(esp_candidates); i++) {
                r = esp_check(esp_candidates[i], relax ? ESP_CHECK_RELAXED : ESP_CHECK_SEARCHING,
                              PARTITION_ESP, ret);
                if (r >= 0)
                        return 0;
                if (!relax && !is_mismatch(r))
                        return r;
        }
        if (relax)
                for (size_t i = 0; i < ELEMENTSOF(esp_candidates); i++)
                        if (esp_open_plain(esp_candidates[i], LOG_LEVEL_DEBUG, PARTITION_ESP, ret) >= 0)
                                return 0;

        return log_error_errno(-ENOENT,
                               "no ESP found: none of /efi, /boot, /boot/efi is %s; use --esp-path "
                               "(-v says why each was refused)",
                               relax ? "a directory" : "a mounted EFI System Partition");
}

/* A struct esp without a path was never filled in (esp_find() failed): it owns nothing, not even fd 0
 * of a zero-initialized struct. */
void esp_done(struct esp *esp)
{
        if (!esp || !esp->path)
                return;
        free(esp->path);
        esp->path = NULL;
        free(esp->disk);
        esp->disk = NULL;
        if (esp->fd >= 0)
                close(esp->fd);
        esp->fd = -EBADF;
}

static bool same_directory(int a, int b)
{
        struct stat x, y;

        return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* bootctl's rules: the XBOOTLDR partition is --boot-path when given, else /boot when it is one; it
 * must be on the ESP's disk (systemd-boot looks only there); the ESP itself is no XBOOTLDR. */
int xbootldr_find(const char *path, const struct esp *esp, struct esp *ret)
{
        bool relax = relax_esp_checks();
        struct esp x = {.fd = -EBADF};
        int r;

        *ret = (struct esp){.fd = -EBADF};
        if (!path && relax)
                return 0; /* relaxed: only what --boot-path names, never this host's /boot */
        if (path && relax)
                r = esp_check(path, ESP_CHECK_RELAXED, PARTITION_XBOOTLDR, &x) >= 0
                            ? 0
                            : esp_open_plain(path, LOG_LEVEL_ERROR, PARTITION_XBOOTLDR, &x);
        else
                r = esp_check(path ?: "/boot", path ? ESP_CHECK_GIVEN : ESP_CHECK_SEARCHING,
                              PARTITION_XBOOTLDR, &x);
        if (r < 0)
                return !path && is_mismatch(r) ? 0 : r;
        if (same_directory(x.fd, esp->fd)) {
                log_debug("%s: the ESP itself, no separate XBOOTLDR partition", x.path);
                esp_done(&x);
                return 0;
        }
        if (x.disk && esp->disk && strcmp(x.disk, esp->disk) != 0) {
                r = log_error_errno(-EXDEV,
                                    "%s: XBOOTLDR partition on %s, but the ESP %s is on %s: systemd-boot "
                                    "finds it only on the ESP's disk",
                                    x.path, x.disk, esp->path, esp->disk);
                esp_done(&x);
                return r;
        }
        *ret = x;
        return 0;
}
