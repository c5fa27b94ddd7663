/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootspec.h"
#include "test-util.h"
#include "tests.h"

#define FIXTURES TEST_DATA_DIR "/bootspec/"

/* What a failed call must leave in *ret: nothing written. */
static struct bootspec untouched;

static bool streq_ptr(const char *a, const char *b)
{
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static void check_message(const char *what, const char *got, const char *path, const char *message)
{
        char want[4096];

        snprintf(want, sizeof(want), "lanzatool: %s: %s\n", path, message);
        check(strcmp(got, want) == 0, "%s:\n  got:  %s  want: %s", what, got, want);
}

static void expect_load_error(const char *fixture, int error, const char *message)
{
        char path[PATH_MAX];
        struct bootspec *b = &untouched;
        const char *got;
        int r;

        snprintf(path, sizeof(path), FIXTURES "%s", fixture);
        capture_begin();
        r = bootspec_load(path, &b);
        got = capture_end();
        check(r == error, "%s: returned %d, want %d", fixture, r, error);
        check(b == &untouched, "%s: *ret written on failure", fixture);
        check_message(fixture, got, path, message);
}

static void expect_parse_error(const char *what, const char *text, size_t size, const char *message)
{
        struct bootspec *b = &untouched;
        const char *got;
        int r;

        capture_begin();
        r = bootspec_parse(text, size, "memory.json", &b);
        got = capture_end();
        check(r == -EINVAL, "%s: returned %d", what, r);
        check(b == &untouched, "%s: *ret written on failure", what);
        check_message(what, got, "memory.json", message);
}

static struct bootspec *load_valid(const char *fixture)
{
        char path[PATH_MAX];
        struct bootspec *b = NULL;
        const char *got;
        int r;

        snprintf(path, sizeof(path), FIXTURES "%s", fixture);
        capture_begin();
        r = bootspec_load(path, &b);
        got = capture_end();
        check(r == 0 && b, "%s: returned %d", fixture, r);
        check(got[0] == '\0', "%s: logged %s", fixture, got);
        return b;
}

static bool params_equal(char **got, const char *const *want)
{
        size_t i = 0;

        for (; want[i]; i++)
                if (!got[i] || strcmp(got[i], want[i]) != 0)
                        return false;
        return got[i] == NULL;
}

static void check_cmdline(const struct bootspec *b, const char *want)
{
        char *cmdline = bootspec_cmdline(b);

        check(streq_ptr(cmdline, want), "cmdline %s, want %s", cmdline, want);
        free(cmdline);
}

#define LAPTOP_TOPLEVEL                                                                                     \
        "/nix/store/gfkbn9k049ys6hjazbz93iv1ba43v5qx-nixos-system-laptop-25.05.20250612.0d2d8f2"
#define DOCKED_TOPLEVEL                                                                                     \
        "/nix/store/xd2xg5kybgrfysd1zx1s4al63fv73w3h-nixos-system-laptop-25.05.20250612.0d2d8f2"
#define LAPTOP_INITRD "/nix/store/2yc7pvf0vgmzgrixkp463vhbxbwnsaj7-initrd-linux-6.12.33/initrd"
#define LAPTOP_SECRETS                                                                                      \
        "/nix/store/gplq17gbc4xciphhlxssddxximg2ysxa-append-initrd-secrets/bin/append-initrd-secrets"
#define LAPTOP_KERNEL "/nix/store/4nf4raxwa2zqsns46s019lyc136kwdw5-linux-6.12.33/bzImage"
#define LAPTOP_LABEL  "NixOS Warbler 25.05.20250612.0d2d8f2 (Linux 6.12.33)"

/* formats.md §5.8 A: a laptop with initrd secrets and one specialisation. */
static void test_example_a(void)
{
        static const char *const params[] = {"loglevel=4", "lsm=landlock,yama,bpf", "quiet", NULL};
        static const char *const docked_params[] = {"loglevel=4", "lsm=landlock,yama,bpf", "quiet",
                                                    "video=DP-1:2560x1440@60", NULL};
        struct bootspec *b = load_valid("example-a.json"), *d;

        if (!b)
                return;
        check(streq_ptr(b->system, "x86_64-linux"), "system %s", b->system);
        check(streq_ptr(b->init, LAPTOP_TOPLEVEL "/init"), "init %s", b->init);
        check(streq_ptr(b->kernel, LAPTOP_KERNEL), "kernel %s", b->kernel);
        check(streq_ptr(b->initrd, LAPTOP_INITRD), "initrd %s", b->initrd);
        check(streq_ptr(b->initrd_secrets, LAPTOP_SECRETS), "initrdSecrets %s", b->initrd_secrets);
        check(params_equal(b->kernel_params, params), "kernelParams");
        check(streq_ptr(b->label, LAPTOP_LABEL), "label %s", b->label);
        check(streq_ptr(b->toplevel, LAPTOP_TOPLEVEL), "toplevel %s", b->toplevel);
        check(streq_ptr(b->sort_key, "lanza"), "sort_key %s", b->sort_key);
        check_cmdline(b, "init=" LAPTOP_TOPLEVEL "/init loglevel=4 lsm=landlock,yama,bpf quiet");

        check(b->n_specialisations == 1, "%zu specialisations", b->n_specialisations);
        if (b->n_specialisations != 1)
                goto out;
        check(streq_ptr(b->specialisations[0].name, "docked"), "name %s", b->specialisations[0].name);
        d = b->specialisations[0].bootspec;
        check(streq_ptr(d->system, "x86_64-linux"), "docked system %s", d->system);
        check(streq_ptr(d->init, DOCKED_TOPLEVEL "/init"), "docked init %s", d->init);
        check(streq_ptr(d->kernel, LAPTOP_KERNEL), "docked kernel %s", d->kernel);
        check(streq_ptr(d->initrd, LAPTOP_INITRD), "docked initrd %s", d->initrd);
        check(streq_ptr(d->initrd_secrets, LAPTOP_SECRETS), "docked initrdSecrets %s", d->initrd_secrets);
        check(params_equal(d->kernel_params, docked_params), "docked kernelParams");
        check(streq_ptr(d->label, LAPTOP_LABEL), "docked label %s", d->label);
        check(streq_ptr(d->toplevel, DOCKED_TOPLEVEL), "docked toplevel %s", d->toplevel);
        check(streq_ptr(d->sort_key, "lanza"), "docked sort_key %s", d->sort_key);
        check(d->n_specialisations == 0 && !d->specialisations, "docked has specialisations");
        check_cmdline(d, "init=" DOCKED_TOPLEVEL
                         "/init loglevel=4 lsm=landlock,yama,bpf quiet video=DP-1:2560x1440@60");
out:
        bootspec_free(b);
}

#define SERVER_TOPLEVEL                                                                                     \
        "/nix/store/nzrndx0203j5l99lplmay6d214nfq07f-nixos-system-server-26.05.1234.21a67dc47014"

/* formats.md §5.8 B: other extensions (ignored), no lanzaboote extension, no secrets. */
static void test_example_b(void)
{
        static const char *const params[] = {"console=ttyS0,115200n8", "root=fstab", "loglevel=4",
                                             "lsm=landlock,yama,bpf", NULL};
        struct bootspec *b = load_valid("example-b.json");

        if (!b)
                return;
        check(streq_ptr(b->system, "x86_64-linux"), "system %s", b->system);
        check(streq_ptr(b->init, SERVER_TOPLEVEL "/init"), "init %s", b->init);
        check(streq_ptr(b->kernel, "/nix/store/75awpf5wjdb6456hsqkc5ypl66i5yvf9-linux-6.18.5/bzImage"),
              "kernel %s", b->kernel);
        check(streq_ptr(b->initrd, "/nix/store/jhncskwzsaxlg15qb7k0i8663xm5h1gp-initrd-linux-6.18.5/initrd"),
              "initrd %s", b->initrd);
        check(b->initrd_secrets == NULL, "initrdSecrets %s", b->initrd_secrets);
        check(params_equal(b->kernel_params, params), "kernelParams");
        check(streq_ptr(b->label, "NixOS Yarara 26.05.1234.21a67dc47014 (Linux 6.18.5)"), "label %s",
              b->label);
        check(streq_ptr(b->toplevel, SERVER_TOPLEVEL), "toplevel %s", b->toplevel);
        check(streq_ptr(b->sort_key, "lanzaboote"), "sort_key %s", b->sort_key);
        check(b->n_specialisations == 0 && !b->specialisations, "specialisations");
        check_cmdline(b, "init=" SERVER_TOPLEVEL
                         "/init console=ttyS0,115200n8 root=fstab loglevel=4 lsm=landlock,yama,bpf");
        bootspec_free(b);
}

/* Only the required fields, outside /nix/store, no specialisation key, a field we do not know, no
 * parameters: the command line is init= alone. */
static void test_minimal(void)
{
        static const char *const params[] = {NULL};
        struct bootspec *b = load_valid("minimal.json");

        if (!b)
                return;
        check(b->initrd == NULL && b->initrd_secrets == NULL, "optional fields set");
        check(streq_ptr(b->label, "Vicu\xc3\xb1"
                                  "a"),
              "label %s", b->label);
        check(params_equal(b->kernel_params, params), "kernelParams");
        check(streq_ptr(b->sort_key, "lanzaboote"), "sort_key %s", b->sort_key);
        check(b->n_specialisations == 0, "specialisations");
        check_cmdline(b, "init=/gnu/store/x-system/init");
        bootspec_free(b);
}

/* Sorted by name; each child keeps its own extension; a 64-character name of every allowed kind; a
 * parameter with blanks inside double quotes, as NixOS's type for boot.kernelParams allows. */
static void test_several_specialisations(void)
{
        static const char *const params[] = {"dyndbg=\"file drivers/usb/* +p\"", "quiet", NULL};
        const char *long_name = "A-Za-z0-9_.+-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        struct bootspec *b = load_valid("several-specialisations.json");

        if (!b)
                return;
        check(params_equal(b->kernel_params, params), "kernelParams");
        check(b->n_specialisations == 3, "%zu specialisations", b->n_specialisations);
        if (b->n_specialisations == 3) {
                check(streq_ptr(b->specialisations[0].name, long_name), "0: %s", b->specialisations[0].name);
                check(streq_ptr(b->specialisations[1].name, "alpha"), "1: %s", b->specialisations[1].name);
                check(streq_ptr(b->specialisations[2].name, "zeta"), "2: %s", b->specialisations[2].name);
                check(streq_ptr(b->specialisations[1].bootspec->label, "alpha label"), "alpha label");
                check(streq_ptr(b->specialisations[1].bootspec->sort_key, "lanzaboote"), "alpha sort_key");
                check(streq_ptr(b->specialisations[2].bootspec->sort_key, "zz"), "zeta sort_key");
        }
        bootspec_free(b);
}

struct bad_fixture {
        const char *file;
        const char *message;
};

#define SPEC      "\"org.nixos.specialisation.v1\""
#define NAME_RULE "(1 to 64 of A-Z a-z 0-9 _ . + -, not starting with \".\")"

static const struct bad_fixture bad_fixtures[] = {
        /* JSON */
        {"bad-json-syntax.json", "not valid JSON: object property name separator ':' expected at line 2"},
        {"bad-json-truncated.json", "not valid JSON: unexpected end of data at line 4"},
        {"bad-json-empty.json", "not valid JSON: unexpected end of data at line 1"},
        {"bad-trailing-garbage.json", "not valid JSON: unexpected character at line 16"},
        {"bad-trailing-nul.json", "not valid JSON: unexpected character at line 16"},
        {"bad-deep-nesting.json", "not valid JSON: nesting too deep at line 1"},
        {"bad-raw-invalid-utf8.json", "not valid JSON: invalid utf-8 string at line 10"},
        {"bad-raw-control.json", "not valid JSON: control character in a string at line 10"},
        {"bad-single-quote.json", "not valid JSON: single-quoted string at line 10"},
        {"bad-duplicate-key.json", "a JSON object has a duplicate key"},
        {"bad-nul-in-key.json", "an object key contains \\u0000 at line 5"},
        {"bad-not-object.json", "the document is not a JSON object"},
        /* structure */
        {"bad-missing-bootspec.json", "missing required field \"org.nixos.bootspec.v1\""},
        {"bad-type-bootspec.json", "\"org.nixos.bootspec.v1\" must be an object"},
        {"bad-missing-init.json", "missing required field \"init\""},
        {"bad-missing-kernel.json", "missing required field \"kernel\""},
        {"bad-missing-kernelParams.json", "missing required field \"kernelParams\""},
        {"bad-missing-label.json", "missing required field \"label\""},
        {"bad-missing-system.json", "missing required field \"system\""},
        {"bad-missing-toplevel.json", "missing required field \"toplevel\""},
        {"bad-type-init.json", "\"init\" must be a string"},
        {"bad-type-initrd.json", "\"initrd\" must be a string"},
        {"bad-type-initrdSecrets.json", "\"initrdSecrets\" must be a string"},
        {"bad-type-kernel.json", "\"kernel\" must be a string"},
        {"bad-type-kernelParams.json", "\"kernelParams\" must be an array of strings"},
        {"bad-type-kernelParams-item.json", "\"kernelParams\"[1] must be a string"},
        {"bad-type-label.json", "\"label\" must be a string"},
        {"bad-type-system.json", "\"system\" must be a string"},
        {"bad-type-toplevel.json", "\"toplevel\" must be a string"},
        {"bad-type-lanzaboote.json", "\"org.nix-community.lanzaboote\" must be an object"},
        {"bad-type-sort-key.json", "\"org.nix-community.lanzaboote\".\"sort_key\" must be a string"},
        {"bad-empty-sort-key.json", "\"org.nix-community.lanzaboote\".\"sort_key\" is empty"},
        {"bad-type-specialisations.json", SPEC " must be an object"},
        /* values */
        {"bad-relative-path.json", "\"kernel\" is not an absolute path"},
        {"bad-dotdot.json", "\"kernel\" contains \"..\""},
        {"bad-dot.json", "\"initrd\" contains a \".\" component"},
        {"bad-empty-component.json", "\"toplevel\" contains an empty component"},
        {"bad-nul.json", "\"kernel\" contains a NUL character"},
        {"bad-control.json", "\"label\" contains a control character"},
        {"bad-utf8-overlong.json", "\"label\" is not valid UTF-8"},
        {"bad-utf8-surrogate.json", "\"label\" is not valid UTF-8"},
        {"bad-system.json", "unsupported system \"riscv64-linux\" (supported: x86_64-linux, aarch64-linux)"},
        {"bad-param-space.json", "\"kernelParams\"[1] contains a space outside double quotes"},
        {"bad-param-quote.json", "\"kernelParams\"[1] has an unbalanced '\"'"},
        {"bad-param-empty.json", "\"kernelParams\"[0] is empty"},
        /* specialisations */
        {"bad-spec-name-slash.json", SPEC ": invalid name \"../docked\" " NAME_RULE},
        {"bad-spec-name-dot.json", SPEC ": invalid name \".docked\" " NAME_RULE},
        {"bad-spec-name-empty.json", SPEC ": invalid name \"\" " NAME_RULE},
        {"bad-spec-name-escape.json", SPEC ": invalid name \"dock\\x1b[31med\" " NAME_RULE},
        {"bad-spec-name-long.json", SPEC
         ": invalid name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" " NAME_RULE},
        {"bad-spec-field.json", SPEC ".\"docked\": \"kernel\" must be a string"},
        {"bad-spec-not-object.json", SPEC ".\"docked\": the document is not a JSON object"},
        {"bad-spec-nested.json",
         SPEC ".\"docked\": " SPEC " must be empty: nested specialisations are not supported"},
};

static void test_bad_fixtures(void)
{
        for (size_t i = 0; i < sizeof(bad_fixtures) / sizeof(bad_fixtures[0]); i++)
                expect_load_error(bad_fixtures[i].file, -EINVAL, bad_fixtures[i].message);
}

static void test_load_errors(void)
{
        expect_load_error("does-not-exist.json", -ENOENT, "cannot open: No such file or directory");
        expect_load_error(".", -EINVAL, "not a regular file");
}

#define DOC_BEFORE_KERNEL                                                                                   \
        "{\"org.nixos.bootspec.v1\": {\"init\": \"/s/init\", \"kernelParams\": [], \"label\": \"l\", "      \
        "\"system\": \"x86_64-linux\", \"toplevel\": \"/s\", \"kernel\": \""
#define DOC_AFTER_KERNEL "\"}}"

/* A kernel path of length len: "/" then "a" repeated. */
static char *doc_with_kernel_of_length(size_t len, size_t *ret_size)
{
        size_t size = strlen(DOC_BEFORE_KERNEL) + len + strlen(DOC_AFTER_KERNEL);
        char *doc = malloc(size + 1), *p;

        if (!doc)
                abort();
        p = stpcpy(doc, DOC_BEFORE_KERNEL);
        *p++ = '/';
        memset(p, 'a', len - 1);
        strcpy(p + len - 1, DOC_AFTER_KERNEL);
        *ret_size = size;
        return doc;
}

static void test_path_length(void)
{
        struct bootspec *b = NULL;
        size_t size;
        char *doc = doc_with_kernel_of_length(PATH_MAX - 1, &size);

        check(bootspec_parse(doc, size, "memory.json", &b) == 0 && b && strlen(b->kernel) == PATH_MAX - 1,
              "a path of PATH_MAX - 1 bytes is refused");
        bootspec_free(b);
        free(doc);

        doc = doc_with_kernel_of_length(PATH_MAX, &size);
        expect_parse_error("PATH_MAX", doc, size, "\"kernel\" is longer than 4095 bytes");
        free(doc);
}

static void test_size_limit(void)
{
        size_t size = 1024 * 1024 + 1;
        char *doc = malloc(size);

        if (!doc)
                abort();
        memset(doc, ' ', size);
        doc[0] = '{';
        doc[size - 1] = '}';
        expect_parse_error("1 MiB", doc, size, "larger than 1048576 bytes");
        free(doc);
}

/* A document whose data does not end where json-c stops reading: a NUL byte in the middle. */
static void test_embedded_nul_byte(void)
{
        static const char doc[] = "{}\0{\"org.nixos.bootspec.v1\": {}}";

        expect_parse_error("NUL byte", doc, sizeof(doc) - 1,
                           "not valid JSON: unexpected character at line 1");
}

int main(void)
{
        test_example_a();
        test_example_b();
        test_minimal();
        test_several_specialisations();
        test_bad_fixtures();
        test_load_errors();
        test_path_length();
        test_size_limit();
        test_embedded_nul_byte();
        return tests_finish();
}
