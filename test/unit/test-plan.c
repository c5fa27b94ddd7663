/* SPDX-License-Identifier: MIT */
/* Entry naming (upstream lanzaboote's input hash, boot-counting suffixes) and garbage-collection
 * planning on a scratch ESP. The stem hash is checked against Python's json + hashlib + base64. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "gc.h"
#include "leftovers.h"
#include "pe-builder.h"
#include "plan.h"
#include "test-util.h"
#include "tests.h"
#include "util.h"

#define DEBIAN_STUB "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

/* The oracle: upstream hashes serde_json's compact text, which Python reproduces with separators. */
static void python_stem_hash(const char *toplevel, const char *key_path, char ret[64])
{
        char cmd[3 * PATH_MAX];
        FILE *p;

        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c 'import json,hashlib,base64,sys; t=sys.argv[1].encode(); "
                 "k=open(sys.argv[2],\"rb\").read(); j=json.dumps([[\"toplevel\",list(t)],[\"public_key\","
                 "list(k)]],separators=(\",\",\":\")); print(base64.b32encode(hashlib.sha256(j.encode())"
                 ".digest()).decode().rstrip(\"=\").lower())' '%s' '%s'",
                 toplevel, key_path);
        p = popen(cmd, "r");
        ret[0] = 0;
        if (p && fgets(ret, 64, p))
                ret[strcspn(ret, "\n")] = 0;
        if (p)
                pclose(p);
}

static void test_stem(const char *dir)
{
        static const char key[] = "-----BEGIN CERTIFICATE-----\nMIIB\xc3\xa9\n-----END CERTIFICATE-----\n";
        const char *top = "/nix/store/gfkbn9k049ys6hjazbz93iv1ba43v5qx-nixos-system-laptop";
        char path[2 * PATH_MAX], expected[64], want[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/db.pem", dir);
        f = fopen(path, "we");
        fputs(key, f);
        fclose(f);
        python_stem_hash(top, path, expected);
        check(strlen(expected) == 52, "python oracle: %s", expected);

        _cleanup_free_ char *stem = entry_stem(top, key, strlen(key), 42, NULL);
        snprintf(want, sizeof(want), "nixos-generation-42-%s", expected);
        check(stem && strcmp(stem, want) == 0, "%s != %s", stem, want);

        _cleanup_free_ char *spec = entry_stem(top, key, strlen(key), 7, "docked");
        snprintf(want, sizeof(want), "nixos-generation-7-specialisation-docked-%s", expected);
        check(spec && strcmp(spec, want) == 0, "%s != %s", spec, want);
}

static void touch(const char *dir, const char *name, const char *content)
{
        _cleanup_free_ char *path = NULL;
        FILE *f;

        check(asprintf(&path, "%s/%s", dir, name) >= 0 && (f = fopen(path, "we")), "%s", name);
        fputs(content, f);
        fclose(f);
}

/* An entry stub that references \EFI\nixos\<kernel> and \EFI\nixos\<initrd>. */
static void make_stub(const char *esp, const char *name, const char *kernel, const char *initrd)
{
        char kpath[128], ipath[128], *message = NULL, path[2 * PATH_MAX];
        uint8_t *stub = NULL, *out = NULL;
        size_t stub_size, out_size;

        snprintf(kpath, sizeof(kpath), "\\EFI\\nixos\\%s", kernel);
        snprintf(ipath, sizeof(ipath), "\\EFI\\nixos\\%s", initrd);
        const struct pe_builder_section s[] = {{".linux", kpath, strlen(kpath)},
                                               {".initrd", ipath, strlen(ipath)}};
        check(read_file(DEBIAN_STUB, 1 << 20, &stub, &stub_size) >= 0, "read %s", DEBIAN_STUB);
        check(pe_builder_add_sections(stub, stub_size, s, 2, &out, &out_size, &message) >= 0, "%s", message);
        snprintf(path, sizeof(path), "%s/" ESP_LINUX_DIR "/%s", esp, name);
        FILE *f = fopen(path, "we");
        fwrite(out, 1, out_size, f);
        fclose(f);
        free(stub);
        free(out);
        free(message);
}

#define B32(c)                                                                                              \
        c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
                c c

/* GC takes only names of our grammar: a hand-made nixos-rescue.efi and foreign payload names stay. */
static void test_gc(const char *dir)
{
        char esp[PATH_MAX], linux_dir[2 * PATH_MAX], nixos[2 * PATH_MAX];
        char *keep_stubs[] = {"nixos-generation-2-" B32("c") ".efi",
                              "nixos-generation-5-" B32("b") "+1-1.efi", NULL};
        char *keep_payloads[] = {"kernel-6.1-" B32("p") ".efi", NULL};
        struct gc_plan g;

        snprintf(esp, sizeof(esp), "%s/esp", dir);
        snprintf(linux_dir, sizeof(linux_dir), "%s/" ESP_LINUX_DIR, esp);
        snprintf(nixos, sizeof(nixos), "%s/" ESP_NIXOS_DIR, esp);
        check(mkdir_p_at(AT_FDCWD, linux_dir) >= 0 && mkdir_p_at(AT_FDCWD, nixos) >= 0, "mkdir");

        make_stub(esp, "nixos-generation-5-" B32("b") "+1-1.efi", "kernel-6.1-" B32("k") ".efi",
                  "initrd-6.1-" B32("k") ".efi");
        make_stub(esp, "nixos-generation-1-" B32("a") "+0-3.efi", "kernel-6.1-" B32("o") ".efi",
                  "initrd-6.1-" B32("o") ".efi");
        make_stub(esp, "nixos-rescue.efi", "kernel-6.1-" B32("r") ".efi", "initrd-6.1-" B32("r") ".efi");
        touch(linux_dir, "other-distro.efi", "not ours");
        touch(linux_dir, "nixos-generation-3-" B32("y") "+x.efi", "not our grammar");
        touch(linux_dir, TMP_PREFIX "nixos-generation-3-y.efi.tmp", "torn");
        for (const char *const *n =
                     (const char *const[]){"kernel-6.1-" B32("k") ".efi", "initrd-6.1-" B32("k") ".efi",
                                           "kernel-6.1-" B32("o") ".efi", "initrd-6.1-" B32("o") ".efi",
                                           "kernel-6.1-" B32("p") ".efi", "kernel-hand-made.efi", "README",
                                           NULL};
             *n; n++)
                touch(nixos, *n, "payload");

        check(gc_plan(esp, keep_stubs, keep_payloads, &g) >= 0, "gc_plan");
        /* Temporary files are left to leftovers_handle(): deleting one is unsafe on FAT. */
        check(strv_length(g.stubs) == 1 && strv_contains(g.stubs, "nixos-generation-1-" B32("a") "+0-3.efi"),
              "stubs: %zu", strv_length(g.stubs));
        check(strv_length(g.payloads) == 2 && strv_contains(g.payloads, "kernel-6.1-" B32("o") ".efi") &&
                      strv_contains(g.payloads, "initrd-6.1-" B32("o") ".efi"),
              "payloads: %zu", strv_length(g.payloads));
        check(gc_run(esp, &g) >= 0, "gc_run");
        gc_plan_done(&g);

        check(gc_plan(esp, keep_stubs, keep_payloads, &g) >= 0 && !g.stubs && !g.payloads,
              "nothing left to collect");
        gc_plan_done(&g);
        /* Not FAT here: leftovers are removed. */
        {
                char tmp[3 * PATH_MAX];
                int esp_fd = open(esp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                touch(nixos, TMP_PREFIX "0badc0de-kernel-x.efi", "torn");
                snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "nixos-generation-3-y.efi.tmp", linux_dir);
                check(access(tmp, F_OK) == 0, "the temporary file is not garbage collection's");
                check(esp_fd >= 0 && leftovers_handle(esp_fd, esp, false) >= 0, "leftovers_handle");
                check(access(tmp, F_OK) < 0, "leftover in EFI/Linux removed");
                snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "0badc0de-kernel-x.efi", nixos);
                check(access(tmp, F_OK) < 0, "leftover in EFI/nixos removed");
                close(esp_fd);
        }
        check(access(linux_dir, F_OK) == 0, "EFI/Linux kept");
}

int main(void)
{
        char dir[] = "/tmp/test-plan-XXXXXX";

        if (!mkdtemp(dir))
                return 1;
        test_stem(dir);
        test_gc(dir);
        rm_rf(dir);
        return tests_finish();
}
