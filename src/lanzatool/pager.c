/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pager.h"

static pid_t pager_pid;

static const char *pager_command(void)
{
        const char *p = getenv("SYSTEMD_PAGER");

        if (!p)
                p = getenv("PAGER");
        if (!p)
                p = "less -FRX";
        return *p && strcmp(p, "cat") != 0 ? p : NULL;
}

void pager_open(bool enabled)
{
        const char *cmd = enabled && isatty(STDOUT_FILENO) ? pager_command() : NULL;
        int fds[2];

        if (!cmd || pager_pid > 0)
                return;
        fflush(stdout);
        if (pipe(fds) < 0) {
                log_warning("cannot start the pager \"%s\": %s", cmd, strerror(errno));
                return;
        }
        pager_pid = fork();
        if (pager_pid < 0) {
                log_warning("cannot start the pager \"%s\": %s", cmd, strerror(errno));
                pager_pid = 0;
                close(fds[0]);
                close(fds[1]);
                return;
        }
        if (pager_pid == 0) {
                dup2(fds[0], STDIN_FILENO);
                close(fds[0]);
                close(fds[1]);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
                log_warning("cannot start the pager \"%s\": %s", cmd, strerror(errno));
        close(fds[1]);
}

void pager_close(void)
{
        if (pager_pid <= 0)
                return;
        fflush(stdout);
        close(STDOUT_FILENO);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}
