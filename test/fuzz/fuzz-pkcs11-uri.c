/* SPDX-License-Identifier: MIT */
/* PKCS#11 URIs as a key bundle's NAME.uri file gives them: the file read by keysource_bundle_key() (one
 * clean line), then the split into the engine's URI and the percent-decoded module path. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "keysource.h"

static char dir[] = "/tmp/fuzz-pkcs11-XXXXXX";
static char uri_path[128];

static void cleanup(void)
{
        char path[128];

        unlink(uri_path);
        snprintf(path, sizeof(path), "%s/keys/db", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/keys", dir);
        rmdir(path);
        rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char path[128];

        (void)argc, (void)argv;
        if (!mkdtemp(dir))
                fuzz_fail(__FILE__, __LINE__, "mkdtemp");
        atexit(cleanup);
        snprintf(path, sizeof(path), "%s/keys", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/keys/db", dir);
        if (mkdir(path, 0700) < 0)
                fuzz_fail(__FILE__, __LINE__, "mkdir");
        snprintf(uri_path, sizeof(uri_path), "%s/keys/db/db.uri", dir);
        return 0;
}

/* Whether an attribute of the query (split at '&' after the first '?') is module-path. */
static bool has_module_path(const char *uri)
{
        const char *a = strchr(uri, '?');

        for (a = a ? a + 1 : NULL; a && *a; a += strcspn(a, "&"), a += *a == '&')
                if (strncmp(a, "module-path=", strlen("module-path=")) == 0)
                        return true;
        return false;
}

static void split(const char *uri)
{
        char *engine_uri = NULL, *module_path = NULL, *message = NULL;
        int r;

        r = keysource_split_pkcs11_uri(uri, &engine_uri, &module_path, &message);
        if (r >= 0) {
                fuzz_assert(engine_uri && strlen(engine_uri) <= strlen(uri));
                fuzz_assert(!has_module_path(engine_uri));
                fuzz_assert(!module_path || module_path[0]);
        } else
                fuzz_assert(message);
        free(engine_uri);
        free(module_path);
        free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *spec = NULL, *message = NULL, *s;
        FILE *f;
        int r;

        f = fopen(uri_path, "we");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                fuzz_fail(__FILE__, __LINE__, "cannot write db.uri");
        r = keysource_bundle_key(dir, "db", &spec, &message);
        if (r >= 0) {
                fuzz_assert(keysource_is_pkcs11_uri(spec));
                split(spec);
        } else
                fuzz_assert(message);
        free(spec);
        free(message);

        /* The split alone, on any string (lanzatool takes URIs from the command line too). */
        s = fuzz_strndup(data, size);
        if (s && keysource_is_pkcs11_uri(s))
                split(s);
        free(s);
        return 0;
}
