/* SPDX-License-Identifier: MIT */
/* SBAT metadata (https://github.com/rhboot/shim/blob/main/SBAT.md): lets shim and firmware revoke
 * vulnerable generations of this stub. The section holds exactly the CSV text, no NUL. */

#define SBAT_TEXT                                                                                           \
        "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"                     \
        "lanzaboote,1,Lanzaboote,lanzaboote," LANZABOOTE_VERSION                                            \
        ",https://github.com/nix-community/lanzaboote\n"

__attribute__((used, section(".sbat"))) const char sbat[sizeof(SBAT_TEXT) - 1] = SBAT_TEXT;
