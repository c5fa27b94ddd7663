/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "systemd-boot.h"

enum json_mode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
};

/* Command-line state shared by the verbs, as bootctl keeps its arg_* globals. */
struct arguments {
        const char *esp_path;
        const char *pki_bundle;
        const char *stub;
        const char *systemd_boot;
        unsigned configuration_limit; /* parent generations to keep, 0 = all */
        unsigned boot_counting;       /* initial tries, 0 = off */
        bool no_variables;
        bool dry_run;
        bool quiet;
        enum json_mode json;
        struct loader_conf loader;
};

extern struct arguments arg;

int verb_install(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_verify(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_remove(int argc, char *argv[]);
