/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootspec.h"
#include "efi-arch.h"
#include "log.h"
#include "util.h"

/* The namespaced keys of RFC 0125 as nixpkgs writes them (formats.md §5.2), and lanzaboote's extension. */
#define BOOTSPEC_V1_KEY       "org.nixos.bootspec.v1"
#define SPECIALISATION_V1_KEY "org.nixos.specialisation.v1"
#define LANZABOOTE_KEY        "org.nix-community.lanzaboote"
#define SORT_KEY_NAME         "\"" LANZABOOTE_KEY "\".\"sort_key\""
#define SORT_KEY_DEFAULT      "lanzaboote"

/* A real boot.json is a few KiB. */
#define BOOTSPEC_SIZE_MAX (1024 * 1024)

/* A document nests five levels deep (specialisations → name → bootspec → kernelParams → item); the rest
 * is room for extensions, which we do not read. */
#define JSON_DEPTH_MAX 32

/* Specialisation names become part of file names on the ESP. */
#define SPECIALISATION_NAME_MAX   64
#define SPECIALISATION_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-"

/* Room for hostile text echoed in a message (see escape()). */
#define ESCAPED_MAX 96

static void json_object_putp(json_object **o)
{
        json_object_put(*o);
}

static void json_tokener_freep(struct json_tokener **tok)
{
        if (*tok)
                json_tokener_free(*tok);
}

static void bootspec_freep(struct bootspec **b)
{
        bootspec_free(*b);
}

/* Where a message points: the file, and inside a specialisation the JSON path leading to it. */
struct context {
        const char *path;
        const char *where; /* "" or "\"org.nixos.specialisation.v1\".\"NAME\": " */
};

__attribute__((format(printf, 2, 3))) static int fail(const struct context *c, const char *fmt, ...)
{
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        log_error("%s: %s%s", c->path, c->where, message);
        return -EINVAL;
}

static int fail_oom(const struct context *c)
{
        log_error("%s: out of memory", c->path);
        return -ENOMEM;
}

/* Text from the document that a message repeats: printable ASCII as is, every other byte as \xHH, and
 * "..." when it does not fit, so that a hostile name cannot drive the terminal. */
static const char *escape(const char *s, size_t len, char buf[static ESCAPED_MAX])
{
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (n + sizeof("\\xHH...") > ESCAPED_MAX) {
                        memcpy(buf + n, "...", sizeof("..."));
                        return buf;
                }
                if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
                        buf[n++] = (char)ch;
                else
                        n += (size_t)snprintf(buf + n, ESCAPED_MAX - n, "\\x%02x", ch);
        }
        buf[n] = '\0';
        return buf;
}

static unsigned line_of(const char *text, size_t offset)
{
        unsigned line = 1;

        for (size_t i = 0; i < offset; i++)
                line += text[i] == '\n';
        return line;
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. json-c's own check lets all three
 * through. */
static bool utf8_is_valid(const char *s, size_t len)
{
        static const uint32_t min_of_length[] = {0, 0x80, 0x800, 0x10000};
        const unsigned char *p = (const unsigned char *)s, *end = p + len;

        while (p < end) {
                size_t more;
                uint32_t cp;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        more = 1, cp = *p & 0x1f;
                else if ((*p & 0xf0) == 0xe0)
                        more = 2, cp = *p & 0x0f;
                else if ((*p & 0xf8) == 0xf0)
                        more = 3, cp = *p & 0x07;
                else
                        return false;
                if ((size_t)(end - p) <= more)
                        return false;
                for (size_t i = 1; i <= more; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                if (cp < min_of_length[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += more + 1;
        }
        return true;
}

static bool has_control_character(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return true;
        return false;
}

/* Every string we keep: json-c carries \u0000 inside strings, so the length is checked, not strlen(). No
 * field of a bootspec has a use for control characters, and they would reach file names, the kernel
 * command line and the boot menu. */
static int get_string(const struct context *c, json_object *o, const char *name, const char **ret,
                      size_t *ret_len)
{
        const char *s;
        size_t len;

        if (!json_object_is_type(o, json_type_string))
                return fail(c, "%s must be a string", name);
        s = json_object_get_string(o);
        len = (size_t)json_object_get_string_len(o);
        if (memchr(s, '\0', len))
                return fail(c, "%s contains a NUL character", name);
        if (!utf8_is_valid(s, len))
                return fail(c, "%s is not valid UTF-8", name);
        if (has_control_character(s, len))
                return fail(c, "%s contains a control character", name);
        *ret = s;
        *ret_len = len;
        return 0;
}

/* Absolute, and free of the components that would let a path point somewhere else than it reads. Nothing
 * assumes /nix/store: a store may live elsewhere. */
static int check_path(const struct context *c, const char *name, const char *s, size_t len)
{
        if (s[0] != '/')
                return fail(c, "%s is not an absolute path", name);
        if (len >= PATH_MAX)
                return fail(c, "%s is longer than %d bytes", name, PATH_MAX - 1);
        for (const char *p = s + 1;;) {
                size_t n = strcspn(p, "/");

                if (n == 0)
                        return fail(c, "%s contains an empty component", name);
                if (n == 1 && p[0] == '.')
                        return fail(c, "%s contains a \".\" component", name);
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return fail(c, "%s contains \"..\"", name);
                if (p[n] == '\0')
                        return 0;
                p += n + 1;
        }
}

static int check_system(const struct context *c, const char *name, const char *s, size_t len)
{
        char shown[ESCAPED_MAX];

        (void)name;
        if (!efi_arch_from_system(s))
                return fail(c, "unsupported system \"%s\" (supported: %s)", escape(s, len, shown),
                            efi_arch_systems());
        return 0;
}

/* NixOS's own type for boot.kernelParams items is strMatching ''([^"[:space:]]|"[^"]*")+'': blanks only
 * inside double quotes, quotes balanced. That is exactly what keeps items apart once they are joined with
 * spaces (control characters are already refused). */
static int check_kernel_param(const struct context *c, const char *name, const char *s, size_t len)
{
        bool quoted = false;

        if (len == 0)
                return fail(c, "%s is empty", name);
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '"')
                        quoted = !quoted;
                else if (s[i] == ' ' && !quoted)
                        return fail(c, "%s contains a space outside double quotes", name);
        }
        if (quoted)
                return fail(c, "%s has an unbalanced '\"'", name);
        return 0;
}

struct string_field {
        const char *key;
        bool required;
        int (*check)(const struct context *c, const char *name, const char *s, size_t len); /* or NULL */
        size_t offset;
};

/* org.nixos.bootspec.v1 (formats.md §5.3), kernelParams aside. Fields we do not know are ignored, as the
 * bootspec crate does. */
static const struct string_field v1_fields[] = {
        {"init", true, check_path, offsetof(struct bootspec, init)},
        {"initrd", false, check_path, offsetof(struct bootspec, initrd)},
        {"initrdSecrets", false, check_path, offsetof(struct bootspec, initrd_secrets)},
        {"kernel", true, check_path, offsetof(struct bootspec, kernel)},
        {"label", true, NULL, offsetof(struct bootspec, label)},
        {"system", true, check_system, offsetof(struct bootspec, system)},
        {"toplevel", true, check_path, offsetof(struct bootspec, toplevel)},
};

static int parse_string_field(const struct context *c, json_object *v1, const struct string_field *f,
                              struct bootspec *b)
{
        char name[32];
        json_object *o;
        const char *s;
        size_t len;
        char *copy;
        int r;

        snprintf(name, sizeof(name), "\"%s\"", f->key);
        if (!json_object_object_get_ex(v1, f->key, &o))
                return f->required ? fail(c, "missing required field %s", name) : 0;
        r = get_string(c, o, name, &s, &len);
        if (r < 0)
                return r;
        if (f->check) {
                r = f->check(c, name, s, len);
                if (r < 0)
                        return r;
        }
        copy = strdup(s);
        if (!copy)
                return fail_oom(c);
        *(char **)((char *)b + f->offset) = copy;
        return 0;
}

static int parse_kernel_params(const struct context *c, json_object *v1, struct bootspec *b)
{
        json_object *array;
        size_t n;

        if (!json_object_object_get_ex(v1, "kernelParams", &array))
                return fail(c, "missing required field \"kernelParams\"");
        if (!json_object_is_type(array, json_type_array))
                return fail(c, "\"kernelParams\" must be an array of strings");
        n = json_object_array_length(array);
        b->kernel_params = calloc(n + 1, sizeof(char *));
        if (!b->kernel_params)
                return fail_oom(c);
        for (size_t i = 0; i < n; i++) {
                char name[48];
                const char *s;
                size_t len;
                int r;

                snprintf(name, sizeof(name), "\"kernelParams\"[%zu]", i);
                r = get_string(c, json_object_array_get_idx(array, i), name, &s, &len);
                if (r < 0)
                        return r;
                r = check_kernel_param(c, name, s, len);
                if (r < 0)
                        return r;
                b->kernel_params[i] = strdup(s);
                if (!b->kernel_params[i])
                        return fail_oom(c);
        }
        return 0;
}

/* {"sort_key": "…"}; other extensions are none of our business (formats.md §5.5). */
static int parse_lanzaboote_extension(const struct context *c, json_object *doc, struct bootspec *b)
{
        const char *sort_key = SORT_KEY_DEFAULT;
        json_object *ext, *o;
        size_t len;
        int r;

        if (json_object_object_get_ex(doc, LANZABOOTE_KEY, &ext)) {
                if (!json_object_is_type(ext, json_type_object))
                        return fail(c, "\"" LANZABOOTE_KEY "\" must be an object");
                if (json_object_object_get_ex(ext, "sort_key", &o)) {
                        r = get_string(c, o, SORT_KEY_NAME, &sort_key, &len);
                        if (r < 0)
                                return r;
                        if (len == 0)
                                return fail(c, SORT_KEY_NAME " is empty");
                }
        }
        b->sort_key = strdup(sort_key);
        return b->sort_key ? 0 : fail_oom(c);
}

static int parse_document(const struct context *c, json_object *doc, bool nested, struct bootspec **ret);

static int check_specialisation_name(const struct context *c, const char *name)
{
        size_t len = strlen(name);
        char shown[ESCAPED_MAX];

        if (len > 0 && len <= SPECIALISATION_NAME_MAX && name[0] != '.' &&
            strspn(name, SPECIALISATION_NAME_CHARS) == len)
                return 0;
        return fail(c,
                    "\"" SPECIALISATION_V1_KEY "\": invalid name \"%s\" (1 to %d of A-Z a-z 0-9 _ . + -, "
                    "not starting with \".\")",
                    escape(name, len, shown), SPECIALISATION_NAME_MAX);
}

static int parse_specialisation(const struct context *c, const char *name, json_object *doc,
                                struct bootspec_specialisation *ret)
{
        _cleanup_(bootspec_freep) struct bootspec *b = NULL;
        char where[sizeof("\"" SPECIALISATION_V1_KEY "\".\"\": ") + SPECIALISATION_NAME_MAX];
        struct context child = {.path = c->path, .where = where};
        char *copy;
        int r;

        r = check_specialisation_name(c, name);
        if (r < 0)
                return r;
        snprintf(where, sizeof(where), "\"" SPECIALISATION_V1_KEY "\".\"%s\": ", name);
        r = parse_document(&child, doc, true, &b);
        if (r < 0)
                return r;
        copy = strdup(name);
        if (!copy)
                return fail_oom(c);
        ret->name = copy;
        ret->bootspec = TAKE_PTR(b);
        return 0;
}

static int specialisation_compare(const void *a, const void *b)
{
        return strcmp(((const struct bootspec_specialisation *)a)->name,
                      ((const struct bootspec_specialisation *)b)->name);
}

/* name → whole child document (formats.md §5.4). A child's own specialisations are refused unless empty:
 * NixOS never writes any, a stub name has room for one level only, and dropping them silently would lose
 * boot entries. Sorted by name, so that the order does not depend on the writer. */
static int parse_specialisations(const struct context *c, json_object *doc, bool nested, struct bootspec *b)
{
        json_object *specs;
        size_t n;
        int r;

        if (!json_object_object_get_ex(doc, SPECIALISATION_V1_KEY, &specs))
                return 0;
        if (!json_object_is_type(specs, json_type_object))
                return fail(c, "\"" SPECIALISATION_V1_KEY "\" must be an object");
        n = (size_t)json_object_object_length(specs);
        if (n == 0)
                return 0;
        if (nested)
                return fail(c, "\"" SPECIALISATION_V1_KEY "\" must be empty: nested specialisations are not "
                               "supported");
        b->specialisations = calloc(n, sizeof(*b->specialisations));
        if (!b->specialisations)
                return fail_oom(c);
        json_object_object_foreach(specs, name, child)
        {
                r = parse_specialisation(c, name, child, &b->specialisations[b->n_specialisations]);
                if (r < 0)
                        return r;
                b->n_specialisations++;
        }
        qsort(b->specialisations, b->n_specialisations, sizeof(*b->specialisations), specialisation_compare);
        return 0;
}

static int parse_document(const struct context *c, json_object *doc, bool nested, struct bootspec **ret)
{
        _cleanup_(bootspec_freep) struct bootspec *b = NULL;
        json_object *v1;
        int r;

        if (!json_object_is_type(doc, json_type_object))
                return fail(c, "the document is not a JSON object");
        if (!json_object_object_get_ex(doc, BOOTSPEC_V1_KEY, &v1))
                return fail(c, "missing required field \"" BOOTSPEC_V1_KEY "\"");
        if (!json_object_is_type(v1, json_type_object))
                return fail(c, "\"" BOOTSPEC_V1_KEY "\" must be an object");
        b = calloc(1, sizeof(*b));
        if (!b)
                return fail_oom(c);
        for (size_t i = 0; i < ELEMENTSOF(v1_fields); i++) {
                r = parse_string_field(c, v1, &v1_fields[i], b);
                if (r < 0)
                        return r;
        }
        r = parse_kernel_params(c, v1, b);
        if (r < 0)
                return r;
        r = parse_lanzaboote_extension(c, doc, b);
        if (r < 0)
                return r;
        r = parse_specialisations(c, doc, nested, b);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

/* json-c keeps the last of two equal keys, cuts a key at \u0000 ("kernel\u0000x" becomes "kernel"), and
 * takes '…' strings and raw control characters in strings even in strict mode. A second pass over the
 * text, which json-c has found well-formed, catches all of it: each ':' outside a string is one member
 * (counted, to compare with what json-c kept), a ':' after a key holding \u0000 is refused, and so are
 * single quotes and control characters (RFC 8259 §7). */
static int scan_json_text(const struct context *c, const char *text, size_t size, size_t *ret_members)
{
        bool in_string = false, string_has_nul = false;
        size_t members = 0;

        for (size_t i = 0; i < size; i++) {
                char ch = text[i];

                if (in_string) {
                        if (ch == '"')
                                in_string = false;
                        else if ((unsigned char)ch < 0x20)
                                return fail(c, "not valid JSON: control character in a string at line %u",
                                            line_of(text, i));
                        else if (ch == '\\') {
                                if (size - i > 5 && memcmp(text + i + 1, "u0000", 5) == 0)
                                        string_has_nul = true;
                                i++;
                        }
                } else if (ch == '"') {
                        in_string = true;
                        string_has_nul = false;
                } else if (ch == ':') {
                        if (string_has_nul)
                                return fail(c, "an object key contains \\u0000 at line %u",
                                            line_of(text, i));
                        members++;
                } else if (ch == '\'')
                        return fail(c, "not valid JSON: single-quoted string at line %u", line_of(text, i));
        }
        *ret_members = members;
        return 0;
}

static size_t count_members(json_object *o)
{
        size_t n = 0;

        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, value)
                {
                        (void)key;
                        n += 1 + count_members(value);
                }
        } else if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        n += count_members(json_object_array_get_idx(o, i));
        }
        return n;
}

static int parse_json(const struct context *c, const char *text, size_t size, json_object **ret)
{
        _cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        _cleanup_(json_object_putp) json_object *doc = NULL;
        enum json_tokener_error error;
        size_t end, members = 0;
        int r;

        if (!tok)
                return fail_oom(c);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        doc = json_tokener_parse_ex(tok, text, (int)size);
        error = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        /* json-c waits for more input that will not come. */
        if (error == json_tokener_continue)
                error = json_tokener_error_parse_eof;
        if (error != json_tokener_success)
                return fail(c, "not valid JSON: %s at line %u", json_tokener_error_desc(error),
                            line_of(text, end));
        /* json-c stops at a NUL byte. */
        if (end != size)
                return fail(c, "not valid JSON: unexpected character at line %u", line_of(text, end));
        r = scan_json_text(c, text, size, &members);
        if (r < 0)
                return r;
        if (members != count_members(doc))
                return fail(c, "a JSON object has a duplicate key");
        *ret = TAKE_PTR(doc);
        return 0;
}

int bootspec_parse(const char *text, size_t size, const char *path, struct bootspec **ret)
{
        const struct context c = {.path = path, .where = ""};
        _cleanup_(json_object_putp) json_object *doc = NULL;
        int r;

        if (size > BOOTSPEC_SIZE_MAX)
                return fail(&c, "larger than %d bytes", BOOTSPEC_SIZE_MAX);
        r = parse_json(&c, text, size, &doc);
        if (r < 0)
                return r;
        return parse_document(&c, doc, false, ret);
}

static int fail_errno(const char *path, const char *what)
{
        int r = -errno;

        log_error("%s: %s: %s", path, what, strerror(-r));
        return r;
}

/* At most BOOTSPEC_SIZE_MAX bytes; one more is read to tell a file that is too large. O_NONBLOCK keeps a
 * FIFO from hanging us before fstat() can refuse it. */
static int read_bootspec_file(const char *path, char **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return fail_errno(path, "cannot open");
        if (fstat(fd, &st) < 0)
                return fail_errno(path, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EINVAL, "%s: not a regular file", path);
        buf = malloc(BOOTSPEC_SIZE_MAX + 1);
        if (!buf)
                return log_error_errno(-ENOMEM, "%s: out of memory", path);
        while (size <= BOOTSPEC_SIZE_MAX) {
                ssize_t n = read(fd, buf + size, BOOTSPEC_SIZE_MAX + 1 - size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail_errno(path, "cannot read");
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        if (size > BOOTSPEC_SIZE_MAX)
                return log_error_errno(-EFBIG, "%s: larger than %d bytes", path, BOOTSPEC_SIZE_MAX);
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int bootspec_load(const char *path, struct bootspec **ret)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_bootspec_file(path, &text, &size);
        if (r < 0)
                return r;
        return bootspec_parse(text, size, path, ret);
}

void bootspec_free(struct bootspec *b)
{
        if (!b)
                return;
        free(b->system);
        free(b->init);
        free(b->kernel);
        free(b->initrd);
        free(b->initrd_secrets);
        for (char **p = b->kernel_params; p && *p; p++)
                free(*p);
        free(b->kernel_params);
        free(b->label);
        free(b->toplevel);
        free(b->sort_key);
        for (size_t i = 0; i < b->n_specialisations; i++) {
                free(b->specialisations[i].name);
                bootspec_free(b->specialisations[i].bootspec);
        }
        free(b->specialisations);
        free(b);
}

char *bootspec_cmdline(const struct bootspec *b)
{
        size_t size = sizeof("init=") + strlen(b->init);
        char *cmdline, *p;

        for (char **param = b->kernel_params; *param; param++)
                if (__builtin_add_overflow(size, 1 + strlen(*param), &size))
                        return NULL;
        cmdline = malloc(size);
        if (!cmdline)
                return NULL;
        p = stpcpy(stpcpy(cmdline, "init="), b->init);
        for (char **param = b->kernel_params; *param; param++) {
                *p++ = ' ';
                p = stpcpy(p, *param);
        }
        return cmdline;
}
