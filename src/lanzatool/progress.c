/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <unistd.h>

#include "progress.h"

static struct {
        const char *what; /* NULL: no step */
        uint64_t total_bytes, done_bytes;
        unsigned total_files, done_files;
        bool shown;
} p;

/* 672.0M, as systemd's format_bytes() prints sizes. */
static void format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char units[] = "BKMGT";
        double v = (double)bytes;
        unsigned u = 0;

        while (v >= 1024 && u + 1 < sizeof(units) - 1) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%lluB", (unsigned long long)bytes);
        else
                snprintf(buf, size, "%.1f%c", v, units[u]);
}

static void draw(void)
{
        char done[16], total[16];

        if (!p.what || (p.total_bytes < PROGRESS_MIN_BYTES && p.done_bytes < PROGRESS_MIN_BYTES))
                return;
        format_size(p.done_bytes, done, sizeof(done));
        if (p.total_bytes) {
                format_size(p.total_bytes, total, sizeof(total));
                fprintf(stderr, "\r\033[Klanzatool: %s %3u%% %s/%s, %u/%u files", p.what,
                        (unsigned)(p.done_bytes * 100 / p.total_bytes), done, total, p.done_files,
                        p.total_files);
        } else
                fprintf(stderr, "\r\033[Klanzatool: %s %s, %u files", p.what, done, p.done_files);
        fflush(stderr);
        p.shown = true;
}

void progress_begin(const char *what, uint64_t total_bytes, unsigned total_files, bool quiet)
{
        progress_end();
        if (quiet || !isatty(STDERR_FILENO))
                return;
        p.what = what;
        p.total_bytes = total_bytes;
        p.total_files = total_files;
        draw();
}

void progress_add(uint64_t bytes, unsigned files)
{
        if (!p.what)
                return;
        p.done_bytes += bytes;
        p.done_files += files;
        if (p.total_bytes && p.done_bytes > p.total_bytes)
                p.done_bytes = p.total_bytes;
        draw();
}

void progress_end(void)
{
        if (p.shown) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
        }
        p.what = NULL;
        p.total_bytes = p.done_bytes = 0;
        p.total_files = p.done_files = 0;
        p.shown = false;
}
