/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "enroll.h"
#include "fs-util.h"
#include "leftovers.h"
#include "log.h"
#include "plan.h"
#include "systemd-boot.h"
#include "util.h"

/* Every directory install writes into (files via write_file_atomic_at/copy_file_atomic_at). */
static const char *const dirs[] = {
        ESP_LINUX_DIR, ESP_NIXOS_DIR, "EFI/systemd", "EFI/BOOT", "loader", ESP_AUTO_ENROLL_DIR,
};

static bool is_fat(int fd)
{
        struct statfs sf;
        return fstatfs(fd, &sf) == 0 && sf.f_type == MSDOS_SUPER_MAGIC;
}

/* Handles the leftovers in one directory; returns how many were reported (on FAT) or removed. */
static int handle_dir(int esp_fd, const char *esp_path, const char *dir, bool fat, bool dry_run)
{
        _cleanup_close_ int fd = openat(esp_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        int n = 0, r = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : log_errno(LOG_LEVEL_ERROR, errno, "%s/%s", esp_path, dir);
        d = fdopendir(dup(fd));
        if (!d)
                return log_errno(LOG_LEVEL_ERROR, errno, "%s/%s", esp_path, dir);
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 || de->d_type == DT_DIR)
                        continue;
                n++;
                if (fat)
                        log_warning("%s/%s/%s: left by an interrupted install, not removed", esp_path, dir,
                                    de->d_name);
                else if (dry_run)
                        printf("remove %s/%s\n", dir, de->d_name);
                else if ((r = unlink_at(fd, de->d_name)) < 0)
                        log_error("%s/%s/%s: cannot remove: %s", esp_path, dir, de->d_name, strerror(-r));
        }
        closedir(d);
        if (r >= 0 && n > 0 && !fat && !dry_run)
                r = fsync_dir(fd);
        return r < 0 ? r : n;
}

int leftovers_handle(int esp_fd, const char *esp_path, bool dry_run)
{
        bool fat = is_fat(esp_fd);
        int total = 0;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                int n = handle_dir(esp_fd, esp_path, dirs[i], fat, dry_run);
                if (n < 0)
                        return n;
                total += n;
        }
        if (fat && total > 0)
                log_warning(
                        "%s: on FAT, a temporary file left by a power loss can share clusters with a live "
                        "file, and removing it would free them. Check the unmounted ESP with "
                        "'fsck.fat -n DEVICE'; when it reports no shared clusters, delete the files above.",
                        esp_path);
        return 0;
}
