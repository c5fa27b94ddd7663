/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum partition_kind {
        PARTITION_ESP,
        PARTITION_XBOOTLDR, /* Extended Boot Loader partition */
};

/* The EFI System Partition lanzatool installs to, or an XBOOTLDR partition (kind). */
struct esp {
        enum partition_kind kind;
        char *path;           /* its mount point (a plain directory when relaxed) */
        int fd;               /* O_DIRECTORY|O_CLOEXEC descriptor of path */
        bool relaxed;         /* LANZATOOL_RELAX_ESP_CHECKS=1 and no partition found */
        char *disk;           /* the disk device holding the partition, NULL when unknown */
        char part_uuid[37];   /* lowercase GPT partition GUID, "" when unknown */
        uint32_t part_number; /* 1-based, 0 when unknown */
        uint64_t part_start;  /* in 512-byte sectors */
        uint64_t part_size;   /* in 512-byte sectors */
};

/* Finds and checks the ESP: path when given, else the first of /efi, /boot, /boot/efi that is a
 * mount point. It must be vfat, and its partition must be a GPT partition of type
 * C12A7328-F81F-11D2-BA4B-00A0C93EC93B (checked with libfdisk on the parent disk). With
 * LANZATOOL_RELAX_ESP_CHECKS=1 any directory is accepted (partition facts filled in when they can
 * be found). Each failure is one message naming the path and the problem. */
int esp_find(const char *path, struct esp *ret);
void esp_done(struct esp *esp);

/* Partition facts of partition number partno (1-based) on a disk or disk image, via libfdisk;
 * -EMEDIUMTYPE when it is not an ESP. Exposed for tests on GPT image files. */
int esp_probe_partition(const char *disk, uint32_t partno, struct esp *esp);

/* The Extended Boot Loader partition that goes with esp, as bootctl finds it: path (--boot-path) when
 * given, else /boot when it is a mounted XBOOTLDR partition (never with LANZATOOL_RELAX_ESP_CHECKS=1,
 * where path may be any directory). ret->path is NULL when there is none, or it is the ESP itself. */
int xbootldr_find(const char *path, const struct esp *esp, struct esp *ret);
