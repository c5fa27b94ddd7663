/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <json.h>
#include <libfdisk.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static int help(void)
{
        printf("lanzatool [OPTIONS...] COMMAND ...\n\n"
               "Install Secure Boot and measured boot for NixOS generations.\n\n"
               "Options:\n"
               "  -h --help       Show this help\n"
               "     --version    Show the version and the libraries in use\n");
        return 0;
}

static int version(void)
{
        printf("lanzatool %s\n", LANZABOOTE_VERSION);
        printf("  %s, json-c %s, libfdisk %s, sha256 %s\n", OpenSSL_version(OPENSSL_VERSION), json_c_version(),
               fdisk_get_library_version(NULL) >= 0 ? LIBFDISK_VERSION : "?",
               sha256_shani_supported() ? "sha-ni" : "portable");
        return 0;
}

int main(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        return version();
                default:
                        return 2;
                }
        }
        fprintf(stderr, "lanzatool: no command given, see --help\n");
        return 2;
}
