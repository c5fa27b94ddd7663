/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esp.h"
#include "test-util.h"
#include "tests.h"

/* meson treats this exit status as "skipped". */
#define EXIT_SKIP 77

#define ESP_UUID   "0FC0E1A2-3B4C-4D5E-8F60-718293A4B5C6"
#define LINUX_TYPE "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

/* A 16 MiB GPT disk: an ESP of 8192 sectors at 2048, then a Linux partition, then an XBOOTLDR partition
 * (type from the Discoverable Partitions Specification, written here, not taken from esp.c). */
static const char sfdisk_script[] =
        "label: gpt\n"
        "unit: sectors\n"
        "start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=" ESP_UUID ", name=\"ESP\"\n"
        "start=10240, size=4096, type=" LINUX_TYPE ", uuid=8A3C4E5F-6071-4283-94A5-B6C7D8E9F0A1\n"
        "start=14336, size=4096, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, "
        "uuid=1B2C3D4E-5F60-4172-8394-A5B6C7D8E9F0\n";

static char tmpdir[] = "/tmp/test-esp-XXXXXX";
/* What the code under test logged between capture_begin() and capture_end(). */
static const char *captured = "";

static char *path_in_tmp(const char *name)
{
        char *p;

        if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
                abort();
        return p;
}

static const char *find_sfdisk(void)
{
        static const char *const candidates[] = {"/usr/sbin/sfdisk", "/sbin/sfdisk", "/usr/bin/sfdisk"};

        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (access(candidates[i], X_OK) == 0)
                        return candidates[i];
        return NULL;
}

/* sfdisk SCRIPT < image: true when it succeeded. */
static bool make_gpt_image(const char *sfdisk, const char *image)
{
        char *script = path_in_tmp("script");
        int fd, status;
        pid_t pid;

        fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 16 << 20) < 0)
                abort();
        close(fd);
        fd = open(script, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, sfdisk_script, strlen(sfdisk_script)) != (ssize_t)strlen(sfdisk_script) ||
            lseek(fd, 0, SEEK_SET) != 0)
                abort();

        pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);

                if (dup2(fd, STDIN_FILENO) < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
                        _exit(127);
                execl(sfdisk, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", image, (char *)NULL);
                _exit(127);
        }
        close(fd);
        unlink(script);
        free(script);
        return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_esp_partition(const char *image)
{
        struct esp esp = {.fd = -1};
        int r;

        capture_begin();
        r = esp_probe_partition(image, 1, &esp);
        captured = capture_end();
        check(r == 0, "probe of partition 1: %d (%s)", r, captured);
        check(strcmp(esp.part_uuid, "0fc0e1a2-3b4c-4d5e-8f60-718293a4b5c6") == 0, "uuid %s", esp.part_uuid);
        check(esp.part_number == 1, "number %u", esp.part_number);
        check(esp.part_start == 2048, "start %llu", (unsigned long long)esp.part_start);
        check(esp.part_size == 8192, "size %llu", (unsigned long long)esp.part_size);
        check(captured[0] == '\0', "no messages: %s", captured);
}

static void test_not_esp(const char *image)
{
        struct esp esp = {.fd = -1, .part_uuid = "untouched", .part_number = 42};
        char want[512];
        int r;

        capture_begin();
        r = esp_probe_partition(image, 2, &esp);
        captured = capture_end();
        check(r == -EMEDIUMTYPE, "probe of partition 2: %d", r);
        snprintf(want, sizeof(want),
                 "lanzatool: %s: partition 2 is not an EFI System Partition (type " LINUX_TYPE
                 ", Linux filesystem)\n",
                 image);
        check(strcmp(captured, want) == 0, "message: %s", captured);
        check(strcmp(esp.part_uuid, "untouched") == 0 && esp.part_number == 42, "esp written on failure");

        /* With the mount point known, the message names it first. */
        esp.path = "/boot";
        capture_begin();
        r = esp_probe_partition(image, 2, &esp);
        captured = capture_end();
        snprintf(want, sizeof(want), "lanzatool: /boot: partition 2 of %s is not an EFI System Partition",
                 image);
        check(r == -EMEDIUMTYPE && strncmp(captured, want, strlen(want)) == 0, "message: %s", captured);

        esp.path = NULL;
        capture_begin();
        r = esp_probe_partition(image, 4, &esp);
        captured = capture_end();
        snprintf(want, sizeof(want), "lanzatool: %s: partition 4 does not exist\n", image);
        check(r == -ENXIO && strcmp(captured, want) == 0, "partition 4: %d: %s", r, captured);

        capture_begin();
        r = esp_probe_partition(image, 0, &esp);
        captured = capture_end();
        check(r == -ENXIO, "partition 0: %d: %s", r, captured);
}

/* The XBOOTLDR partition is told from the ESP by its type GUID alone, both ways. */
static void test_xbootldr(const char *image)
{
        struct esp x = {.fd = -1, .kind = PARTITION_XBOOTLDR};
        char want[512];
        int r;

        capture_begin();
        r = esp_probe_partition(image, 3, &x);
        captured = capture_end();
        check(r == 0, "XBOOTLDR probe of partition 3: %d (%s)", r, captured);
        check(strcmp(x.part_uuid, "1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0") == 0 && x.part_start == 14336,
              "XBOOTLDR uuid %s start %llu", x.part_uuid, (unsigned long long)x.part_start);

        capture_begin();
        r = esp_probe_partition(image, 1, &x);
        captured = capture_end();
        snprintf(want, sizeof(want),
                 "lanzatool: %s: partition 1 is not an Extended Boot Loader partition (type "
                 "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                 image);
        check(r == -EMEDIUMTYPE && strncasecmp(captured, want, strlen(want)) == 0, "ESP as XBOOTLDR: %d: %s",
              r, captured);

        x.kind = PARTITION_ESP;
        capture_begin();
        r = esp_probe_partition(image, 3, &x);
        captured = capture_end();
        check(r == -EMEDIUMTYPE && strstr(captured, "is not an EFI System Partition"),
              "XBOOTLDR as ESP: %d: %s", r, captured);
}

static void test_not_gpt(void)
{
        char *blank = path_in_tmp("blank.img"), *missing = path_in_tmp("missing.img");
        struct esp esp = {.fd = -1};
        char want[512];
        int fd, r;

        fd = open(blank, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
                abort();
        close(fd);
        capture_begin();
        r = esp_probe_partition(blank, 1, &esp);
        captured = capture_end();
        snprintf(want, sizeof(want), "lanzatool: %s: not a GPT disk", blank);
        check(r == -EMEDIUMTYPE && strncmp(captured, want, strlen(want)) == 0, "blank disk: %d: %s", r,
              captured);

        capture_begin();
        r = esp_probe_partition(missing, 1, &esp);
        captured = capture_end();
        snprintf(want, sizeof(want), "lanzatool: %s: cannot read the partition table: ", missing);
        check(r == -ENOENT && strncmp(captured, want, strlen(want)) == 0, "missing disk: %d: %s", r,
              captured);

        unlink(blank);
        free(blank);
        free(missing);
}

static void test_relaxed(const char *dir)
{
        char *file = path_in_tmp("file"), *missing = path_in_tmp("missing");
        struct esp esp = {.fd = -1};
        int fd, r;

        setenv("LANZATOOL_RELAX_ESP_CHECKS", "1", 1);
        capture_begin();
        r = esp_find(dir, &esp);
        captured = capture_end();
        check(r == 0, "relaxed esp_find(%s): %d: %s", dir, r, captured);
        check(captured[0] == '\0', "relaxed mode is silent: %s", captured);
        if (r == 0) {
                check(esp.relaxed, "relaxed flag");
                check(strcmp(esp.path, dir) == 0, "path %s", esp.path);
                check(esp.fd >= 0 && fcntl(esp.fd, F_GETFD) >= 0, "fd %d", esp.fd);
                check(esp.part_uuid[0] == '\0' && esp.part_number == 0, "no partition facts");
                fd = esp.fd;
                esp_done(&esp);
                check(esp.path == NULL && fcntl(fd, F_GETFD) < 0, "esp_done releases path and fd");
        }

        fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        close(fd);
        capture_begin();
        r = esp_find(file, &esp);
        captured = capture_end();
        check(r == -ENOTDIR && strstr(captured, ": not a directory"), "relaxed on a file: %d: %s", r,
              captured);

        capture_begin();
        r = esp_find(missing, &esp);
        captured = capture_end();
        check(r == -ENOENT && strstr(captured, ": does not exist"), "relaxed on nothing: %d: %s", r,
              captured);
        unsetenv("LANZATOOL_RELAX_ESP_CHECKS");

        unlink(file);
        free(file);
        free(missing);
}

static void test_strict(const char *dir)
{
        struct esp esp = {.fd = -1};
        char want[512];
        int r;

        capture_begin();
        r = esp_find(dir, &esp);
        captured = capture_end();
        snprintf(want, sizeof(want), "lanzatool: %s: not a mount point\n", dir);
        check(r < 0 && strcmp(captured, want) == 0, "strict esp_find(%s): %d: %s", dir, r, captured);
        check(esp.path == NULL && esp.fd == -1, "esp written on failure");

        /* /proc is a mount point, of the wrong kind. */
        capture_begin();
        r = esp_find("/proc", &esp);
        captured = capture_end();
        check(r < 0 && strcmp(captured, "lanzatool: /proc: not a FAT file system (it is proc)\n") == 0,
              "strict esp_find(/proc): %d: %s", r, captured);

        /* A zero-initialized struct was never filled in: esp_done() must not close fd 0. */
        esp = (struct esp){};
        esp_done(&esp);
        check(fcntl(STDIN_FILENO, F_GETFD) >= 0 || errno != EBADF, "esp_done closed fd 0");
}

int main(void)
{
        const char *sfdisk = find_sfdisk();
        char *image, *dir;

        if (!mkdtemp(tmpdir))
                abort();
        image = path_in_tmp("disk.img");
        dir = path_in_tmp("esp");
        if (mkdir(dir, 0755) < 0)
                abort();

        if (sfdisk && make_gpt_image(sfdisk, image)) {
                test_esp_partition(image);
                test_not_esp(image);
                test_xbootldr(image);
        } else
                printf("SKIP: sfdisk unavailable or failed: GPT image checks skipped\n");
        test_not_gpt();
        test_relaxed(dir);
        test_strict(dir);

        unlink(image);
        rmdir(dir);
        rmdir(tmpdir);
        free(image);
        free(dir);
        if (!sfdisk)
                return tests_failed ? 1 : EXIT_SKIP;
        return tests_finish();
}
