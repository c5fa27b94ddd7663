/* SPDX-License-Identifier: MIT */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

static uint64_t rng_state;

void rng_seed(uint64_t seed)
{
        const char *run_seed = getenv("LANZABOOTE_TEST_SEED");
        uint64_t n = 0;

        if (run_seed && *run_seed) {
                char *end;

                n = strtoull(run_seed, &end, 10);
                if (*end) {
                        fprintf(stderr, "LANZABOOTE_TEST_SEED=%s is not a number\n", run_seed);
                        exit(EXIT_FAILURE);
                }
        }
        rng_state = seed ^ n;
        printf("random seed: LANZABOOTE_TEST_SEED=%llu (0x%016llx for this test)\n", (unsigned long long)n,
               (unsigned long long)rng_state);
}

uint64_t rng_next(void)
{
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

void to_hex(const uint8_t digest[32], char out[2 * 32 + 1])
{
        for (size_t i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", digest[i]);
}

uint8_t *test_read_file(const char *path, size_t *ret_size)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        long size;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
                buf = malloc((size_t)size);
                if (!buf)
                        abort();
                if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
                        free(buf);
                        buf = NULL;
                }
                *ret_size = (size_t)size;
        }
        fclose(f);
        return buf;
}

bool test_write_file(const char *path, const void *data, size_t size)
{
        FILE *f = fopen(path, "wb");
        bool ok;

        if (!f)
                return false;
        ok = fwrite(data, 1, size, f) == size;
        return fclose(f) == 0 && ok;
}

static int vrun(char **ret_output, const char *format, va_list ap)
{
        char *command, *wrapped, *output = NULL;
        size_t size = 0;
        FILE *p, *out;
        int c, status;

        if (vasprintf(&command, format, ap) < 0)
                abort();
        if (asprintf(&wrapped, "(%s) 2>&1", command) < 0)
                abort();

        out = open_memstream(&output, &size);
        p = popen(wrapped, "r");
        if (!p || !out)
                abort();
        while ((c = fgetc(p)) != EOF)
                fputc(c, out);
        status = pclose(p);
        fclose(out);
        free(command);
        free(wrapped);

        *ret_output = output;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_command(char **ret_output, const char *format, ...)
{
        va_list ap;
        int r;

        va_start(ap, format);
        r = vrun(ret_output, format, ap);
        va_end(ap);
        return r;
}

bool run_quiet(const char *format, ...)
{
        char *command, *output = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        if (vasprintf(&command, format, ap) < 0)
                abort();
        va_end(ap);
        r = run_command(&output, "%s", command);
        if (r != 0)
                fprintf(stderr, "%s: exit %d:\n%s", command, r, output);
        free(command);
        free(output);
        return r == 0;
}

static int make_writable(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)ftw;
        if (type == FTW_D && (st->st_mode & S_IWUSR) == 0)
                (void)chmod(path, (st->st_mode & 07777) | S_IWUSR);
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int rm_rf(const char *path)
{
        if (nftw(path, make_writable, 16, FTW_PHYS) < 0)
                return -1;
        return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int saved_stderr = -1;
static FILE *capture_file;

void capture_begin(void)
{
        fflush(stderr);
        capture_file = tmpfile();
        saved_stderr = dup(STDERR_FILENO);
        if (!capture_file || saved_stderr < 0 || dup2(fileno(capture_file), STDERR_FILENO) < 0)
                abort();
}

const char *capture_end(void)
{
        static char text[8192];
        size_t n;

        fflush(stderr);
        if (dup2(saved_stderr, STDERR_FILENO) < 0)
                abort();
        close(saved_stderr);
        rewind(capture_file);
        n = fread(text, 1, sizeof(text) - 1, capture_file);
        text[n] = '\0';
        fclose(capture_file);
        return text;
}

bool pesign_digest(const char *path, char hex[2 * 32 + 1])
{
        char *out = NULL, *at;
        bool ok = false;

        if (run_command(&out, "pesign -h -d sha256 -i %s", path) == 0 && (at = strstr(out, "hash: ")) &&
            strspn(at + 6, "0123456789abcdef") == 64) {
                memcpy(hex, at + 6, 64);
                hex[64] = '\0';
                ok = true;
        }
        if (!ok)
                fprintf(stderr, "pesign -h -i %s:\n%s", path, out ? out : "");
        free(out);
        return ok;
}
