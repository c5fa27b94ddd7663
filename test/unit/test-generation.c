/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "generation.h"
#include "test-util.h"
#include "tests.h"

#define BOOT_JSON                                                                                           \
        "{\"org.nixos.bootspec.v1\": {\"init\": \"/s/init\", \"kernel\": \"/k/bzImage\", "                  \
        "\"kernelParams\": "                                                                                \
        "[], \"label\": \"NixOS Test\", \"system\": \"x86_64-linux\", \"toplevel\": \"/s\"}}\n"

#define LINK_TIME      1700000000 /* 2023-11-14 */
#define TOPLEVEL_TIME  1          /* as the Nix store has it */
#define DIRECTORY_TIME 1600000000

static char root[] = "/tmp/test-generation-XXXXXX";

/* What a failed call must leave in *ret: nothing written. */
static struct generation untouched;

static const char *at(const char *name)
{
        static char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", root, name);
        return path;
}

static void write_file(const char *name, const char *text)
{
        FILE *f = fopen(at(name), "we");

        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                abort();
}

static void set_time(const char *name, time_t t, bool link_itself)
{
        struct timeval tv[2] = {{.tv_sec = t}, {.tv_sec = t}};

        if ((link_itself ? lutimes(at(name), tv) : utimes(at(name), tv)) < 0)
                abort();
}

/* root/toplevel holds boot.json; system-1-link and system-42-link point at it (one relative, one
 * absolute), the profile directory has a link whose profile name holds '-', dir-7-link is a directory. */
static void make_tree(void)
{
        char toplevel[PATH_MAX];

        if (!mkdtemp(root) || mkdir(at("toplevel"), 0755) < 0 || mkdir(at("profiles"), 0755) < 0 ||
            mkdir(at("dir-7-link"), 0755) < 0 || mkdir(at("empty-9-link"), 0755) < 0 ||
            mkdir(at("broken-10-link"), 0755) < 0)
                abort();
        write_file("toplevel/boot.json", BOOT_JSON);
        write_file("dir-7-link/boot.json", BOOT_JSON);
        write_file("broken-10-link/boot.json", "{");
        snprintf(toplevel, sizeof(toplevel), "%s", at("toplevel"));
        if (symlink("toplevel", at("system-1-link")) < 0 || symlink(toplevel, at("system-42-link")) < 0 ||
            symlink("../toplevel", at("profiles/my-laptop-3-link")) < 0 ||
            symlink("nowhere", at("system-5-link")) < 0)
                abort();
        set_time("toplevel", TOPLEVEL_TIME, false);
        set_time("system-1-link", LINK_TIME, true);
        set_time("system-42-link", LINK_TIME + 86400, true);
        set_time("profiles/my-laptop-3-link", LINK_TIME, true);
        set_time("dir-7-link", DIRECTORY_TIME, false);
}

static void remove_tree(void)
{
        static const char *const files[] = {
                "system-1-link",      "system-42-link",       "profiles/my-laptop-3-link", "system-5-link",
                "toplevel/boot.json", "dir-7-link/boot.json", "broken-10-link/boot.json",  NULL};
        static const char *const dirs[] = {"toplevel",     "profiles",       "dir-7-link",
                                           "empty-9-link", "broken-10-link", NULL};

        for (size_t i = 0; files[i]; i++)
                unlink(at(files[i]));
        for (size_t i = 0; dirs[i]; i++)
                rmdir(at(dirs[i]));
        rmdir(root);
}

static struct generation *load_valid(const char *path, unsigned number, time_t build_time)
{
        struct generation *g = NULL;
        const char *got;
        int r;

        capture_begin();
        r = generation_load(path, &g);
        got = capture_end();
        check(r == 0 && g, "%s: returned %d", path, r);
        check(got[0] == '\0', "%s: logged %s", path, got);
        if (!g)
                return NULL;
        check(strcmp(g->path, path) == 0, "path %s, want %s", g->path, path);
        check(g->number == number, "%s: number %u, want %u", path, g->number, number);
        check(g->build_time == build_time, "%s: build time %lld, want %lld", path, (long long)g->build_time,
              (long long)build_time);
        check(g->bootspec && strcmp(g->bootspec->label, "NixOS Test") == 0, "%s: bootspec", path);
        return g;
}

static void test_valid(void)
{
        generation_free(load_valid(at("system-1-link"), 1, LINK_TIME));
        generation_free(load_valid(at("system-42-link"), 42, LINK_TIME + 86400));
        generation_free(load_valid(at("profiles/my-laptop-3-link"), 3, LINK_TIME));
        generation_free(load_valid(at("dir-7-link"), 7, DIRECTORY_TIME));
        /* A trailing slash still names the link, not the toplevel it points at. */
        generation_free(load_valid(at("system-1-link/"), 1, LINK_TIME));
}

static void expect_error(const char *path, int error, const char *message)
{
        struct generation *g = &untouched;
        char want[2 * PATH_MAX];
        const char *got;
        int r;

        snprintf(want, sizeof(want), "lanzatool: %s\n", message);
        capture_begin();
        r = generation_load(path, &g);
        got = capture_end();
        check(r == error, "%s: returned %d, want %d", path, r, error);
        check(g == &untouched, "%s: *ret written on failure", path);
        check(strcmp(got, want) == 0, "%s:\n  got:  %s  want: %s", path, got, want);
}

static void expect_not_a_generation(const char *name)
{
        char message[PATH_MAX];

        snprintf(message, sizeof(message), "%s: not a generation: the name must be <profile>-<N>-link",
                 name);
        expect_error(name, -EINVAL, message);
}

static void test_names(void)
{
        static const char *const bad[] = {
                "system-link",
                "system--link",
                "-0x1-link",
                "system-0x1-link",
                "-1-link",
                "system-+1-link",
                "system- 1-link",
                "system-1-lnk",
                "system-1-link.bak",
                "system-007-link",
                "-link",
                "link",
                "99999999999999999999-link",
                "system-1a-link",
                "",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                expect_not_a_generation(bad[i]);
        expect_error(
                "system-99999999999999999999-link", -ERANGE,
                "system-99999999999999999999-link: generation number 99999999999999999999 is out of range "
                "(at most 4294967295)");
        expect_error("/p/system-4294967296-link", -ERANGE,
                     "/p/system-4294967296-link: generation number 4294967296 is out of range (at most "
                     "4294967295)");
        /* The largest number passes the name check and fails only on lstat(). */
        expect_error("/nonexistent/system-4294967295-link", -ENOENT,
                     "/nonexistent/system-4294967295-link: No such file or directory");
        expect_error("/nonexistent/system-0-link", -ENOENT,
                     "/nonexistent/system-0-link: No such file or directory");
}

static void test_bad_generations(void)
{
        char message[2 * PATH_MAX];

        snprintf(message, sizeof(message), "%s/boot.json: cannot open: No such file or directory",
                 at("system-5-link"));
        expect_error(at("system-5-link"), -ENOENT, message);
        snprintf(message, sizeof(message), "%s/boot.json: cannot open: No such file or directory",
                 at("empty-9-link"));
        expect_error(at("empty-9-link"), -ENOENT, message);
        snprintf(message, sizeof(message), "%s/boot.json: not valid JSON: unexpected end of data at line 1",
                 at("broken-10-link"));
        expect_error(at("broken-10-link"), -EINVAL, message);
}

static void test_sort(void)
{
        struct generation *g[5] = {NULL};

        g[0] = load_valid(at("system-42-link"), 42, LINK_TIME + 86400);
        g[1] = load_valid(at("system-1-link"), 1, LINK_TIME);
        g[2] = load_valid(at("dir-7-link"), 7, DIRECTORY_TIME);
        g[3] = load_valid(at("profiles/my-laptop-3-link"), 3, LINK_TIME);
        g[4] = load_valid(at("system-1-link/"), 1, LINK_TIME);
        for (size_t i = 0; i < 5; i++)
                if (!g[i])
                        goto out;

        generations_sort(g, 5);
        check(g[0]->number == 1 && g[1]->number == 1 && g[2]->number == 3 && g[3]->number == 7 &&
                      g[4]->number == 42,
              "order %u %u %u %u %u", g[0]->number, g[1]->number, g[2]->number, g[3]->number, g[4]->number);
        /* Equal numbers in a fixed order: by path. */
        check(strlen(g[0]->path) < strlen(g[1]->path), "tie order %s, %s", g[0]->path, g[1]->path);
        generations_sort(g, 0);
        generations_sort(NULL, 0);
out:
        for (size_t i = 0; i < 5; i++)
                generation_free(g[i]);
}

int main(void)
{
        make_tree();
        test_valid();
        test_names();
        test_bad_generations();
        test_sort();
        generation_free(NULL);
        remove_tree();
        return tests_finish();
}
