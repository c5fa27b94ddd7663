/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "efivars.h"
#include "esp.h"
#include "fs-util.h"
#include "log.h"
#include "util.h"

#define EFIVARFS_DEFAULT_PATH "/sys/firmware/efi/efivars"

/* Every variable read or written here is far smaller: firmware variable stores hold some hundred KiB. */
#define EFIVAR_DATA_MAX (1024u * 1024u)
/* An efivarfs file is the variable's attributes (u32 LE), then its data. */
#define EFIVAR_ATTRIBUTES_SIZE 4u

/* [UEFI] 8.2 Variable Services: attributes. */
#define EFI_VARIABLE_NON_VOLATILE       0x00000001u
#define EFI_VARIABLE_BOOTSERVICE_ACCESS 0x00000002u
#define EFI_VARIABLE_RUNTIME_ACCESS     0x00000004u
#define EFI_VARIABLE_NV_BS_RT                                                                               \
        (EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS)

/* [UEFI] 3.1.3 Load Options: EFI_LOAD_OPTION.Attributes. */
#define LOAD_OPTION_ACTIVE 0x00000001u

/* [UEFI] 10.2 and 10.3.5: device path node types, subtypes and sizes. */
#define MEDIA_DEVICE_PATH                   0x04
#define MEDIA_HARDDRIVE_DP                  0x01
#define MEDIA_FILEPATH_DP                   0x04
#define END_DEVICE_PATH_TYPE                0x7f
#define END_ENTIRE_DEVICE_PATH_SUBTYPE      0xff
#define DEVICE_PATH_HEADER_SIZE             4u
#define HARDDRIVE_DEVICE_PATH_SIZE          42u
#define MBR_TYPE_EFI_PARTITION_TABLE_HEADER 0x02
#define SIGNATURE_TYPE_GUID                 0x02

/* [UEFI] 3.3 Globally Defined Variables: Boot####, four uppercase hex digits. */
#define BOOT_OPTION_COUNT 0x10000u

#define GUID_STRING_LENGTH 36u
#define GUID_SIZE          16u

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static uint16_t get_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint8_t *put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        return p + 2;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
        return put_le16(put_le16(p, (uint16_t)v), (uint16_t)(v >> 16));
}

static uint8_t *put_le64(uint8_t *p, uint64_t v)
{
        return put_le32(put_le32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

/* data may be NULL when size is 0 (an empty variable). */
static uint8_t *put_bytes(uint8_t *p, const void *data, size_t size)
{
        if (size > 0)
                memcpy(p, data, size);
        return p + size;
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

/* [UEFI] EFI_GUID in memory: Data1 (u32), Data2 (u16) and Data3 (u16) little-endian, then the last
 * eight bytes in the order of the text. */
static int guid_from_string(const char *s, uint8_t ret[GUID_SIZE])
{
        static const uint8_t order[GUID_SIZE] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        uint8_t text[GUID_SIZE];
        size_t n = 0;

        if (!guid_string_valid(s))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p == '-')
                        continue;
                unsigned digit = isdigit((unsigned char)*p)
                                         ? (unsigned)(*p - '0')
                                         : (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
                text[n / 2] = (uint8_t)(n % 2 == 0 ? digit << 4 : text[n / 2] | digit);
                n++;
        }
        for (size_t i = 0; i < GUID_SIZE; i++)
                ret[i] = text[order[i]];
        return 0;
}

/* One code point of strict UTF-8 (no overlong forms, surrogates or values above U+10FFFF); returns
 * the number of bytes it takes. A NUL inside a sequence fails the continuation test, so this never
 * reads past the end of the string. */
static int utf8_decode(const char *s, uint32_t *ret)
{
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        const uint8_t *p = (const uint8_t *)s;
        uint32_t c;
        int len;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0) {
                c = p[0] & 0x1f;
                len = 2;
        } else if ((p[0] & 0xf0) == 0xe0) {
                c = p[0] & 0x0f;
                len = 3;
        } else if ((p[0] & 0xf8) == 0xf0) {
                c = p[0] & 0x07;
                len = 4;
        } else
                return -EILSEQ;
        for (int i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return -EILSEQ;
                c = c << 6 | (p[i] & 0x3f);
        }
        if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -EILSEQ;
        *ret = c;
        return len;
}

/* UTF-8 to UTF-16 units, NUL-terminated; *ret_units counts the NUL. No UTF-8 byte makes more than one
 * unit, so strlen + 1 units always suffice. */
static int utf8_to_utf16(const char *s, uint16_t **ret, size_t *ret_units)
{
        size_t length = strlen(s), n = 0;
        _cleanup_free_ uint16_t *units = NULL;

        if (length >= SIZE_MAX / sizeof(uint16_t))
                return -EFBIG;
        units = malloc((length + 1) * sizeof(uint16_t));
        if (!units)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                uint32_t c;
                int len = utf8_decode(p, &c);

                if (len < 0)
                        return len;
                if (c >= 0x10000) {
                        units[n++] = (uint16_t)(0xd800 + ((c - 0x10000) >> 10));
                        units[n++] = (uint16_t)(0xdc00 + ((c - 0x10000) & 0x3ff));
                } else
                        units[n++] = (uint16_t)c;
                p += len;
        }
        units[n++] = 0;
        *ret = units;
        units = NULL;
        *ret_units = n;
        return 0;
}

static size_t utf8_encode(uint32_t c, char *out)
{
        if (c < 0x80) {
                out[0] = (char)c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char)(0xc0 | c >> 6);
                out[1] = (char)(0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char)(0xe0 | c >> 12);
                out[1] = (char)(0x80 | (c >> 6 & 0x3f));
                out[2] = (char)(0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | c >> 18);
        out[1] = (char)(0x80 | (c >> 12 & 0x3f));
        out[2] = (char)(0x80 | (c >> 6 & 0x3f));
        out[3] = (char)(0x80 | (c & 0x3f));
        return 4;
}

/* UTF-16LE bytes to UTF-8, up to the first NUL unit or the end; an unpaired surrogate is refused. A
 * unit makes at most three bytes and a surrogate pair four, so 3 bytes per unit suffice. */
static int utf16le_to_utf8(const uint8_t *s, size_t size, char **ret)
{
        size_t units = size / 2;
        _cleanup_free_ char *out = NULL;
        char *p;

        if (units > (SIZE_MAX - 1) / 3)
                return -EFBIG;
        out = p = malloc(units * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < units; i++) {
                uint32_t c = get_le16(s + 2 * i);

                if (c == 0)
                        break;
                if (c >= 0xdc00 && c <= 0xdfff)
                        return -EILSEQ;
                if (c >= 0xd800 && c <= 0xdbff) {
                        uint32_t low = i + 1 < units ? get_le16(s + 2 * (i + 1)) : 0;

                        if (low < 0xdc00 || low > 0xdfff)
                                return -EILSEQ;
                        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                        i++;
                }
                p += utf8_encode(c, p);
        }
        *p = '\0';
        *ret = out;
        out = NULL;
        return 0;
}

const char *efivarfs_path(void)
{
        const char *e = getenv("LANZATOOL_EFIVARFS");

        if (e && *e)
                return e;
        if (access("/sys/firmware/efi", F_OK) < 0)
                return NULL;
        return EFIVARFS_DEFAULT_PATH;
}

/* DIR/NAME-GUID; -EOPNOTSUPP without efivarfs. */
static int efivar_path(const char *name, const char *guid, char **ret)
{
        const char *dir = efivarfs_path();

        if (!name || !*name || strchr(name, '/') || !guid_string_valid(guid))
                return log_error_errno(-EINVAL, "invalid EFI variable name %s-%s", name ?: "(null)",
                                       guid ?: "(null)");
        if (!dir)
                return log_full_errno(LOG_LEVEL_DEBUG, -EOPNOTSUPP,
                                      "%s-%s: no EFI variables, this system was not booted through UEFI",
                                      name, guid);
        if (asprintf(ret, "%s/%s-%s", dir, name, guid) < 0)
                return log_error_errno(-ENOMEM, "%s-%s: out of memory", name, guid);
        return 0;
}

/* Data without the attributes, followed by two NUL bytes that are not counted (a terminated UTF-16
 * string for those who want one). A missing variable is not an error to log. */
static int efivar_read_path(const char *path, void **ret_data, size_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *raw = NULL;
        uint8_t *data;
        size_t size = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return log_full_errno(LOG_LEVEL_DEBUG, -ENOENT, "%s: does not exist", path);
        if (fd < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", path);
        r = read_fd_bounded(fd, path, EFIVAR_ATTRIBUTES_SIZE + EFIVAR_DATA_MAX, &raw, &size);
        if (r < 0)
                return r;
        if (size < EFIVAR_ATTRIBUTES_SIZE)
                return log_error_errno(-EBADMSG, "%s: %zu bytes, too short for an EFI variable", path, size);

        size -= EFIVAR_ATTRIBUTES_SIZE;
        data = malloc(size + 2);
        if (!data)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        memcpy(data, raw + EFIVAR_ATTRIBUTES_SIZE, size);
        data[size] = data[size + 1] = 0;
        *ret_data = data;
        if (ret_size)
                *ret_size = size;
        return 0;
}

int efivar_read(const char *name, const char *guid, void **ret_data, size_t *ret_size)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = efivar_path(name, guid, &path);
        if (r < 0)
                return r;
        return efivar_read_path(path, ret_data, ret_size);
}

int efivar_read_string(const char *name, const char *guid, char **ret)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ void *data = NULL;
        size_t size = 0;
        int r;

        r = efivar_path(name, guid, &path);
        if (r < 0)
                return r;
        r = efivar_read_path(path, &data, &size);
        if (r < 0)
                return r;
        if (size % 2 != 0)
                return log_error_errno(-EBADMSG, "%s: %zu bytes, an odd size for a UTF-16 string", path,
                                       size);
        r = utf16le_to_utf8(data, size, ret);
        if (r < 0)
                return log_error_errno(r, "%s: not a valid UTF-16 string", path);
        return 0;
}

/* efivarfs marks the files of most variables immutable, so that a stray rm cannot delete firmware
 * state; Boot#### and BootOrder are among the few exempt. An existing immutable file cannot even be
 * opened for writing, so the flag is cleared first, through a read-only descriptor of this file only,
 * and restore_immutable() sets it again after the write: the protection stays as the kernel made it.
 * Where flags are not supported (a plain directory standing in for efivarfs) there is nothing to do.
 * Returns 1 when the flag was cleared. */
static int clear_immutable(int fd, const char *path)
{
        int flags;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
                if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL)
                        return 0;
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot read file flags", path);
        }
        if (!(flags & FS_IMMUTABLE_FL))
                return 0;
        if (ioctl(fd, FS_IOC_SETFLAGS, &(int){flags & ~FS_IMMUTABLE_FL}) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot clear the immutable flag", path);
        log_debug("%s: cleared the immutable flag for writing", path);
        return 1;
}

static void restore_immutable(int fd, const char *path)
{
        int flags;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 ||
            ioctl(fd, FS_IOC_SETFLAGS, &(int){flags | FS_IMMUTABLE_FL}) < 0) {
                log_warning("%s: cannot set the immutable flag again: %s", path, strerror(errno));
                return;
        }
        log_debug("%s: set the immutable flag again", path);
}

/* efivarfs turns each write() into one SetVariable() call, so attributes and data go in one write. A
 * plain directory (LANZATOOL_EFIVARFS in tests) has no such semantics: a shorter value is cut there as
 * SetVariable() would replace it. */
static int write_variable(int fd, const char *path, const uint8_t *buf, size_t size)
{
        struct statfs sfs;
        ssize_t n;

        n = write(fd, buf, size);
        if (n < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot write", path);
        if ((size_t)n != size)
                return log_error_errno(-EIO, "%s: short write (%zd of %zu bytes)", path, n, size);
        if (fstatfs(fd, &sfs) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot statfs", path);
        if ((uint32_t)sfs.f_type != EFIVARFS_MAGIC && ftruncate(fd, (off_t)size) < 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot truncate", path);
        return 0;
}

int efivar_write(const char *name, const char *guid, uint32_t attributes, const void *data, size_t size)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int ro_fd = -EBADF, fd = -EBADF;
        bool cleared = false;
        int r;

        r = efivar_path(name, guid, &path);
        if (r < 0)
                return r;
        if (size > EFIVAR_DATA_MAX)
                return log_error_errno(-EFBIG, "%s: %zu bytes, larger than %u", path, size, EFIVAR_DATA_MAX);
        buf = malloc(EFIVAR_ATTRIBUTES_SIZE + size);
        if (!buf)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        put_bytes(put_le32(buf, attributes), data, size);

        ro_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (ro_fd < 0 && errno != ENOENT)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", path);
        if (ro_fd >= 0) {
                r = clear_immutable(ro_fd, path);
                if (r < 0)
                        return r;
                cleared = r > 0;
        }

        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                r = log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open for writing", path);
        else
                r = write_variable(fd, path, buf, EFIVAR_ATTRIBUTES_SIZE + size);
        if (cleared)
                restore_immutable(ro_fd, path);
        if (r < 0)
                return r;
        log_debug("%s: wrote %zu bytes, attributes 0x%08x", path, size, attributes);
        return 0;
}

/* A one-byte boolean of the global vendor GUID. */
static int read_global_bool(const char *name)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = efivar_read(name, EFI_GLOBAL_GUID_STR, (void **)&data, &size);
        if (r < 0)
                return r;
        if (size != 1)
                return log_error_errno(-EBADMSG, "%s-%s: %zu bytes, expected 1", name, EFI_GLOBAL_GUID_STR,
                                       size);
        return data[0] != 0;
}

int efi_secure_boot(void)
{
        return read_global_bool("SecureBoot");
}

int efi_setup_mode(void)
{
        return read_global_bool("SetupMode");
}

struct bytes {
        uint8_t *data;
        size_t size;
};

static void bytes_done(struct bytes *b)
{
        free(b->data);
}

/* The ESP's GPT partition (HARDDRIVE node), the loader in it (FILEPATH node), and the end node. */
static int device_path_build(const struct esp *esp, const char *loader_path, struct bytes *ret)
{
        _cleanup_free_ char *backslashed = strdup(loader_path);
        _cleanup_free_ uint16_t *path = NULL;
        uint8_t signature[GUID_SIZE], *p;
        size_t units, file_node_size, size;

        if (!backslashed)
                return log_error_errno(-ENOMEM, "%s: out of memory", loader_path);
        for (char *c = backslashed; *c; c++)
                if (*c == '/')
                        *c = '\\';
        if (backslashed[0] != '\\' || utf8_to_utf16(backslashed, &path, &units) < 0)
                return log_error_errno(-EINVAL, "%s: not an absolute UTF-8 path on the ESP", loader_path);
        if (guid_from_string(esp->part_uuid, signature) < 0)
                return log_error_errno(-EINVAL, "%s: invalid partition GUID \"%s\"", esp->path,
                                       esp->part_uuid);

        file_node_size = DEVICE_PATH_HEADER_SIZE + units * sizeof(uint16_t);
        size = HARDDRIVE_DEVICE_PATH_SIZE + file_node_size + DEVICE_PATH_HEADER_SIZE;
        if (size > UINT16_MAX)
                return log_error_errno(-ENAMETOOLONG, "%s: too long for a device path", loader_path);
        ret->data = p = malloc(size);
        if (!p)
                return log_error_errno(-ENOMEM, "%s: out of memory", loader_path);

        *p++ = MEDIA_DEVICE_PATH;
        *p++ = MEDIA_HARDDRIVE_DP;
        p = put_le16(p, HARDDRIVE_DEVICE_PATH_SIZE);
        p = put_le32(p, esp->part_number);
        p = put_le64(p, esp->part_start);
        p = put_le64(p, esp->part_size);
        p = put_bytes(p, signature, sizeof(signature));
        *p++ = MBR_TYPE_EFI_PARTITION_TABLE_HEADER;
        *p++ = SIGNATURE_TYPE_GUID;

        *p++ = MEDIA_DEVICE_PATH;
        *p++ = MEDIA_FILEPATH_DP;
        p = put_le16(p, (uint16_t)file_node_size);
        for (size_t i = 0; i < units; i++)
                p = put_le16(p, path[i]);

        *p++ = END_DEVICE_PATH_TYPE;
        *p++ = END_ENTIRE_DEVICE_PATH_SUBTYPE;
        put_le16(p, DEVICE_PATH_HEADER_SIZE);
        ret->size = size;
        return 0;
}

/* [UEFI] 3.1.3 EFI_LOAD_OPTION: Attributes u32, FilePathListLength u16, Description (UTF-16, NUL),
 * FilePathList; no OptionalData. */
static int load_option_build(const char *title, const struct bytes *device_path, struct bytes *ret)
{
        _cleanup_free_ uint16_t *description = NULL;
        size_t units, size;
        uint8_t *p;

        if (utf8_to_utf16(title, &description, &units) < 0)
                return log_error_errno(-EINVAL, "boot entry title \"%s\": not valid UTF-8", title);
        if (units > (EFIVAR_DATA_MAX - device_path->size) / sizeof(uint16_t))
                return log_error_errno(-ENAMETOOLONG, "boot entry title \"%s\": too long", title);
        size = sizeof(uint32_t) + sizeof(uint16_t) + units * sizeof(uint16_t) + device_path->size;
        ret->data = p = malloc(size);
        if (!p)
                return log_error_errno(-ENOMEM, "boot entry title \"%s\": out of memory", title);

        p = put_le32(p, LOAD_OPTION_ACTIVE);
        p = put_le16(p, (uint16_t)device_path->size);
        for (size_t i = 0; i < units; i++)
                p = put_le16(p, description[i]);
        put_bytes(p, device_path->data, device_path->size);
        ret->size = size;
        return 0;
}

/* The FilePathList of a load option read from a Boot#### variable, bounds-checked; -EBADMSG when the
 * option is malformed. */
static int load_option_device_path(const uint8_t *option, size_t size, const uint8_t **ret, size_t *ret_size)
{
        size_t offset = sizeof(uint32_t) + sizeof(uint16_t), length;

        if (size < offset)
                return -EBADMSG;
        length = get_le16(option + sizeof(uint32_t));
        for (;;) {
                if (size - offset < sizeof(uint16_t))
                        return -EBADMSG;
                offset += sizeof(uint16_t);
                if (get_le16(option + offset - sizeof(uint16_t)) == 0)
                        break;
        }
        if (size - offset < length)
                return -EBADMSG;
        *ret = option + offset;
        *ret_size = length;
        return 0;
}

/* The number of an efivarfs file named Boot####-<global GUID>, -1 for other names. [UEFI] asks for
 * uppercase hex digits: "Boot000a" is no boot option. */
static int boot_option_number(const char *name)
{
        static const char hex[] = "0123456789ABCDEF";
        int number = 0;

        if (strlen(name) != strlen("Boot####-") + GUID_STRING_LENGTH || strncmp(name, "Boot", 4) != 0 ||
            name[8] != '-' || strcmp(name + 9, EFI_GLOBAL_GUID_STR) != 0)
                return -1;
        for (size_t i = 4; i < 8; i++) {
                const char *digit = strchr(hex, name[i]);

                if (!digit)
                        return -1;
                number = number << 4 | (int)(digit - hex);
        }
        return number;
}

/* Bit n set when Boot%04X-<global GUID> exists. */
static int boot_options_used(uint8_t used[BOOT_OPTION_COUNT / 8])
{
        const char *dir = efivarfs_path();
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot open", dir);
        memset(used, 0, BOOT_OPTION_COUNT / 8);
        while ((errno = 0, de = readdir(d))) {
                int number = boot_option_number(de->d_name);

                if (number >= 0)
                        used[number / 8] |= (uint8_t)(1u << number % 8);
        }
        if (errno != 0)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot read", dir);
        return 0;
}

static bool boot_option_matches(unsigned number, const struct bytes *device_path)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        const uint8_t *dp;
        char name[16];
        size_t size = 0, dp_size = 0;

        snprintf(name, sizeof(name), "Boot%04X", number);
        if (efivar_path(name, EFI_GLOBAL_GUID_STR, &path) < 0 ||
            efivar_read_path(path, (void **)&data, &size) < 0)
                return false;
        if (load_option_device_path(data, size, &dp, &dp_size) < 0) {
                log_debug("%s: malformed load option, ignored", path);
                return false;
        }
        return dp_size == device_path->size && memcmp(dp, device_path->data, dp_size) == 0;
}

/* The number of the first Boot#### that boots the same device path, else the lowest free number
 * (*ret_exists false). */
static int boot_option_pick(const struct bytes *device_path, unsigned *ret, bool *ret_exists)
{
        _cleanup_free_ uint8_t *used = malloc(BOOT_OPTION_COUNT / 8);
        unsigned free_number = BOOT_OPTION_COUNT;
        int r;

        if (!used)
                return log_error_errno(-ENOMEM, "%s: out of memory", efivarfs_path());
        r = boot_options_used(used);
        if (r < 0)
                return r;
        for (unsigned n = 0; n < BOOT_OPTION_COUNT; n++) {
                if (!(used[n / 8] & (1u << n % 8))) {
                        if (free_number == BOOT_OPTION_COUNT)
                                free_number = n;
                        continue;
                }
                if (boot_option_matches(n, device_path)) {
                        *ret = n;
                        *ret_exists = true;
                        return 0;
                }
        }
        if (free_number == BOOT_OPTION_COUNT)
                return log_error_errno(-ENOSPC, "%s: all 65536 Boot#### variables are taken",
                                       efivarfs_path());
        *ret = free_number;
        *ret_exists = false;
        return 0;
}

/* first: number first, then the old order without it. Otherwise the old order as it is, with number
 * appended when it is not in it (as `bootctl update`). Nothing is written when nothing changes. */
static bool memmem_u16(const uint8_t *list, size_t size, unsigned number)
{
        for (size_t i = 0; i + 1 < size; i += 2)
                if (get_le16(list + i) == number)
                        return true;
        return false;
}

static int boot_order_update(unsigned number, bool first)
{
        _cleanup_free_ uint8_t *old = NULL, *new = NULL;
        size_t old_size = 0, new_size;
        uint8_t *p;
        int r;

        r = efivar_read("BootOrder", EFI_GLOBAL_GUID_STR, (void **)&old, &old_size);
        if (r < 0 && r != -ENOENT)
                return r;
        if (old_size % 2 != 0)
                return log_error_errno(-EBADMSG, "BootOrder-%s: %zu bytes, an odd size for a list of u16",
                                       EFI_GLOBAL_GUID_STR, old_size);

        new = p = malloc(old_size + sizeof(uint16_t));
        if (!new)
                return log_error_errno(-ENOMEM, "BootOrder: out of memory");
        if (first)
                p = put_le16(p, (uint16_t)number);
        for (size_t i = 0; i < old_size; i += 2)
                if (!first || get_le16(old + i) != number)
                        p = put_le16(p, get_le16(old + i));
        if (!first && !memmem_u16(old, old_size, number))
                p = put_le16(p, (uint16_t)number);
        new_size = (size_t)(p - new);
        if (new_size == old_size && memcmp(new, old, old_size) == 0)
                return 0;

        r = efivar_write("BootOrder", EFI_GLOBAL_GUID_STR, EFI_VARIABLE_NV_BS_RT, new, new_size);
        if (r < 0)
                return r;
        log_debug("Boot%04X %s BootOrder", number, first ? "first in" : "added to");
        return 0;
}

int efi_boot_entry_ensure(const struct esp *esp, const char *loader_path, const char *title, bool first)
{
        _cleanup_(bytes_done) struct bytes device_path = {}, option = {};
        bool exists;
        unsigned number;
        char name[16];
        int r;

        if (esp->part_number == 0 || esp->part_uuid[0] == '\0')
                return log_full_errno(LOG_LEVEL_DEBUG, -EOPNOTSUPP, "%s: partition unknown, no boot entry",
                                      esp->path);
        if (!efivarfs_path())
                return log_full_errno(LOG_LEVEL_DEBUG, -EOPNOTSUPP,
                                      "not booted through UEFI, no boot entry");

        r = device_path_build(esp, loader_path, &device_path);
        if (r < 0)
                return r;
        r = load_option_build(title, &device_path, &option);
        if (r < 0)
                return r;
        r = boot_option_pick(&device_path, &number, &exists);
        if (r < 0)
                return r;

        /* The option first, then BootOrder: BootOrder never names a missing option. An entry that
         * boots this loader already is left as it is. */
        if (!exists) {
                snprintf(name, sizeof(name), "Boot%04X", number);
                r = efivar_write(name, EFI_GLOBAL_GUID_STR, EFI_VARIABLE_NV_BS_RT, option.data, option.size);
                if (r < 0)
                        return r;
                log_info("Created EFI boot entry %s \"%s\"", name, title);
        }
        return boot_order_update(number, first);
}
