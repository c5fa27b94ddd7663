/* SPDX-License-Identifier: MIT */
#include "cpio.h"

#include <stdbool.h>

/* The newc format, as the kernel reads it (Documentation/driver-api/early-userspace/buffer-format.rst):
 * "070701", 13 fields of 8 hex digits, the NUL-terminated name padded to 4, the data padded to 4.
 * Padding counts from the start of the archive. */
#define CPIO_MAGIC        "070701"
#define CPIO_MAGIC_SIZE   6
#define CPIO_FIELD_DIGITS 8
#define CPIO_ALIGNMENT    4

#define MODE_IFDIR       UINT32_C(0040000)
#define MODE_IFREG       UINT32_C(0100000)
#define MODE_PERMISSIONS UINT32_C(07777)
/* Like mkdir -p: every leading directory of the target is world-readable; only the last one gets
 * the caller's (possibly tighter) mode. */
#define MODE_LEADING_DIR UINT32_C(0555)

/* The name size field spells 11 with a capital B: sd-stub's literal, and it is hashed. */
static const char cpio_trailer[] = CPIO_MAGIC "00000000"          /* inode */
                                              "00000000"          /* mode */
                                              "00000000"          /* uid */
                                              "00000000"          /* gid */
                                              "00000001"          /* nlink */
                                              "00000000"          /* mtime */
                                              "00000000"          /* filesize */
                                              "00000000"          /* devmajor */
                                              "00000000"          /* devminor */
                                              "00000000"          /* rdevmajor */
                                              "00000000"          /* rdevminor */
                                              "0000000B"          /* namesize */
                                              "00000000"          /* check */
                                              "TRAILER!!!\0\0\0"; /* the literal's NUL is the 4th */
_Static_assert(sizeof(cpio_trailer) == CPIO_TRAILER_SIZE, "the cpio trailer is 124 bytes");
_Static_assert(CPIO_TRAILER_SIZE % CPIO_ALIGNMENT == 0, "the trailer keeps the archive aligned");

/* Counting (buf NULL) and writing run the same code, so the size and the bytes cannot disagree. */
struct cpio_out {
        uint8_t *buf;
        size_t buf_size;
        size_t pos;
        uint32_t next_inode;
};

static size_t cstr_len(const char *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

/* Appends n bytes from p, or n zero bytes when p is NULL. */
static int out_bytes(struct cpio_out *o, const void *p, size_t n)
{
        if (n > SIZE_MAX - o->pos)
                return CPIO_ERR_TOO_BIG;
        if (o->buf && n > 0) {
                if (o->pos + n > o->buf_size)
                        return CPIO_ERR_BUFFER;
                if (p)
                        __builtin_memcpy(o->buf + o->pos, p, n);
                else
                        __builtin_memset(o->buf + o->pos, 0, n);
        }
        o->pos += n;
        return CPIO_OK;
}

static int out_pad(struct cpio_out *o)
{
        return out_bytes(o, NULL, (CPIO_ALIGNMENT - o->pos % CPIO_ALIGNMENT) % CPIO_ALIGNMENT);
}

static int out_field(struct cpio_out *o, uint32_t v)
{
        static const char digits[] = "0123456789abcdef";
        char s[CPIO_FIELD_DIGITS];

        for (size_t i = CPIO_FIELD_DIGITS; i > 0; i--, v >>= 4)
                s[i - 1] = digits[v & 0xf];
        return out_bytes(o, s, sizeof(s));
}

/* The 13 header fields, in their order on disk. */
enum {
        FIELD_INODE,
        FIELD_MODE,
        FIELD_UID,
        FIELD_GID,
        FIELD_NLINK,
        FIELD_MTIME,
        FIELD_FILESIZE,
        FIELD_DEVMAJOR,
        FIELD_DEVMINOR,
        FIELD_RDEVMAJOR,
        FIELD_RDEVMINOR,
        FIELD_NAMESIZE,
        FIELD_CHECK,
        _FIELD_MAX,
};

static int out_header(struct cpio_out *o, uint32_t mode, uint32_t file_size, uint32_t name_size)
{
        /* Owner root, no device, no checksum, and mtime 0: FAT times are local times, and any time
         * would make the measurement of the same files differ from boot to boot. */
        uint32_t fields[_FIELD_MAX] = {0};
        int r;

        if (o->next_inode == UINT32_MAX)
                return CPIO_ERR_TOO_BIG;

        fields[FIELD_INODE] = o->next_inode++;
        fields[FIELD_MODE] = mode;
        fields[FIELD_NLINK] = 1;
        fields[FIELD_FILESIZE] = file_size;
        fields[FIELD_NAMESIZE] = name_size;

        r = out_bytes(o, CPIO_MAGIC, CPIO_MAGIC_SIZE);
        for (size_t i = 0; r == CPIO_OK && i < _FIELD_MAX; i++)
                r = out_field(o, fields[i]);
        return r;
}

/* The name is the first len bytes of path (not NUL-terminated there). */
static int out_dir(struct cpio_out *o, const char *path, size_t len, uint32_t mode)
{
        int r;

        if (len >= UINT32_MAX)
                return CPIO_ERR_TOO_BIG;
        r = out_header(o, MODE_IFDIR | mode, 0, (uint32_t)len + 1);
        if (r == CPIO_OK)
                r = out_bytes(o, path, len);
        if (r == CPIO_OK)
                r = out_bytes(o, NULL, 1);
        if (r == CPIO_OK)
                r = out_pad(o);
        return r;
}

/* One entry per prefix ending before a '/', skipping empty components as sd-stub does, then the
 * whole path: ".extra/credentials" gives ".extra" and ".extra/credentials". */
static size_t count_dirs(const char *target_dir)
{
        size_t n = 1, start = 0;

        for (size_t i = 0; target_dir[i]; i++)
                if (target_dir[i] == '/') {
                        n += i > start;
                        start = i + 1;
                }
        return n;
}

static int out_dirs(struct cpio_out *o, const char *target_dir, uint32_t dir_mode)
{
        size_t start = 0, i;
        int r;

        for (i = 0; target_dir[i]; i++) {
                if (target_dir[i] != '/')
                        continue;
                if (i > start) {
                        r = out_dir(o, target_dir, i, MODE_LEADING_DIR);
                        if (r != CPIO_OK)
                                return r;
                }
                start = i + 1;
        }
        return out_dir(o, target_dir, i, dir_mode);
}

static int out_file(struct cpio_out *o, const char *dir, size_t dir_len, const struct cpio_file *f,
                    uint32_t mode)
{
        size_t name_len = cstr_len(f->name);
        int r;

        /* The name field holds "<dir>/<name>" and its NUL. */
        if (f->size > UINT32_MAX || dir_len > UINT32_MAX - 2 || name_len > UINT32_MAX - 2 - dir_len)
                return CPIO_ERR_TOO_BIG;

        r = out_header(o, MODE_IFREG | mode, (uint32_t)f->size, (uint32_t)(dir_len + 1 + name_len + 1));
        if (r == CPIO_OK)
                r = out_bytes(o, dir, dir_len);
        if (r == CPIO_OK)
                r = out_bytes(o, "/", 1);
        if (r == CPIO_OK)
                r = out_bytes(o, f->name, name_len + 1);
        if (r == CPIO_OK)
                r = out_pad(o);
        if (r == CPIO_OK)
                r = out_bytes(o, f->data, f->size);
        if (r == CPIO_OK)
                r = out_pad(o);
        return r;
}

static bool is_ascii(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s > 0x7f)
                        return false;
        return true;
}

/* One path component: the archive must not be able to place anything outside target_dir. */
static bool file_name_valid(const char *name)
{
        if (!name || !name[0] || !is_ascii(name))
                return false;
        if ((name[0] == '.' && name[1] == 0) || (name[0] == '.' && name[1] == '.' && name[2] == 0))
                return false;
        for (const char *p = name; *p; p++)
                if (*p == '/')
                        return false;
        return true;
}

static int check_args(const char *target_dir, uint32_t dir_mode, uint32_t file_mode,
                      const struct cpio_file *files, size_t n_files)
{
        size_t n_dirs;

        if (!target_dir || !target_dir[0] || !is_ascii(target_dir))
                return CPIO_ERR_INVALID;
        if ((dir_mode & ~MODE_PERMISSIONS) || (file_mode & ~MODE_PERMISSIONS))
                return CPIO_ERR_INVALID;
        if (!files && n_files > 0)
                return CPIO_ERR_INVALID;

        /* Inodes run from 1 and sd-stub never hands out UINT32_MAX. */
        n_dirs = count_dirs(target_dir);
        if (n_dirs > UINT32_MAX - 1 || n_files > UINT32_MAX - 1 - n_dirs)
                return CPIO_ERR_TOO_BIG;

        for (size_t i = 0; i < n_files; i++)
                if (!file_name_valid(files[i].name) || (!files[i].data && files[i].size > 0))
                        return CPIO_ERR_INVALID;
        return CPIO_OK;
}

static int out_archive(struct cpio_out *o, const char *target_dir, uint32_t dir_mode, uint32_t file_mode,
                       const struct cpio_file *files, size_t n_files)
{
        size_t dir_len = cstr_len(target_dir);
        int r;

        r = out_dirs(o, target_dir, dir_mode);
        for (size_t i = 0; r == CPIO_OK && i < n_files; i++)
                r = out_file(o, target_dir, dir_len, files + i, file_mode);
        if (r == CPIO_OK)
                r = out_bytes(o, cpio_trailer, CPIO_TRAILER_SIZE);
        return r;
}

int cpio_size(const char *target_dir, const struct cpio_file *files, size_t n_files, size_t *ret_size)
{
        struct cpio_out o = {.next_inode = 1};
        int r;

        if (!ret_size)
                return CPIO_ERR_INVALID;
        r = check_args(target_dir, 0, 0, files, n_files);
        if (r == CPIO_OK)
                r = out_archive(&o, target_dir, 0, 0, files, n_files);
        if (r != CPIO_OK)
                return r;
        *ret_size = o.pos;
        return CPIO_OK;
}

int cpio_write(const char *target_dir, uint32_t dir_mode, uint32_t file_mode, const struct cpio_file *files,
               size_t n_files, void *buf, size_t buf_size)
{
        struct cpio_out o = {.buf = buf, .buf_size = buf_size, .next_inode = 1};
        size_t size;
        int r;

        if (!buf)
                return CPIO_ERR_INVALID;
        r = check_args(target_dir, dir_mode, file_mode, files, n_files);
        if (r != CPIO_OK)
                return r;
        /* Size first, so that a short buffer fails before anything is written. */
        r = cpio_size(target_dir, files, n_files, &size);
        if (r != CPIO_OK)
                return r;
        if (size > buf_size)
                return CPIO_ERR_BUFFER;
        return out_archive(&o, target_dir, dir_mode, file_mode, files, n_files);
}
