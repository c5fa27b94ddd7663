/* SPDX-License-Identifier: MIT */
/* efivarfs file contents (4 attribute bytes, then the data) as lanzatool reads them: as a UTF-16 string
 * (LoaderEntrySelected and the like), as a one-byte boolean (SecureBoot, SetupMode), and raw. The input
 * is written to one file of a directory that LANZATOOL_EFIVARFS points at. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "efivars.h"
#include "fuzz.h"
#include "log.h"

#define GLOBAL_GUID EFI_GLOBAL_GUID_STR

static char dir[] = "/tmp/fuzz-efivars-XXXXXX";

static void cleanup(void)
{
        static const char *const names[] = {"LoaderEntrySelected-" EFI_LOADER_GUID_STR,
                                            "SecureBoot-" GLOBAL_GUID, "SetupMode-" GLOBAL_GUID};
        char path[128];

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                unlink(path);
        }
        rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc, (void)argv;
        if (!mkdtemp(dir) || setenv("LANZATOOL_EFIVARFS", dir, 1) < 0)
                fuzz_fail(__FILE__, __LINE__, "mkdtemp");
        atexit(cleanup);
        log_max_level = LOG_LEVEL_ERROR;
        return 0;
}

static void put(const char *name, const uint8_t *data, size_t size)
{
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                fuzz_fail(__FILE__, __LINE__, "cannot write the variable");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = NULL;
        void *raw = NULL;
        size_t raw_size = 0;
        int r;

        put("LoaderEntrySelected-" EFI_LOADER_GUID_STR, data, size);
        r = efivar_read_string("LoaderEntrySelected", EFI_LOADER_GUID_STR, &s);
        if (r >= 0) {
                fuzz_assert(s);
                free(s);
        }
        r = efivar_read("LoaderEntrySelected", EFI_LOADER_GUID_STR, &raw, &raw_size);
        if (r >= 0) {
                fuzz_assert(size >= 4 && raw_size == size - 4);
                free(raw);
        }
        put("SecureBoot-" GLOBAL_GUID, data, size);
        put("SetupMode-" GLOBAL_GUID, data, size);
        r = efi_secure_boot();
        fuzz_assert(r == 0 || r == 1 || r < 0);
        (void)efi_setup_mode();
        return 0;
}
