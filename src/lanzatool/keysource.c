/* SPDX-License-Identifier: MIT */

/* OpenSSL 3 deprecates ENGINE in favour of providers, but Debian 12 has no PKCS#11 provider
 * package; libp11's engine (libengine-pkcs11-openssl) is the PKCS#11 bridge it ships. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ui.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "keysource.h"
#include "log.h"
#include "openssl-util.h"
#include "util.h"

#define PKCS11_ENGINE_ID         "pkcs11"
#define PKCS11_ENGINE_MODULE_CMD "MODULE_PATH"
/* RFC 7512 §2.3 query attributes. */
#define PKCS11_QUERY_MODULE_PATH "module-path"
#define PKCS11_QUERY_PIN_VALUE   "pin-value"
#define PKCS11_QUERY_PIN_SOURCE  "pin-source"
#define PIN_SOURCE_FILE_PREFIX   "file:"
/* ssh's rule for private keys: no bits for group or others. */
#define EXPOSED_MODE_BITS 0077
#define KEY_URI_MAX_SIZE  4096

/* One engine, loaded on first use and released by keysource_release(), after every key it backs is gone. */
static struct pkcs11_state {
        ENGINE *engine;
        char *module_path; /* NULL: the engine's default (p11-kit's proxy) */
        UI_METHOD *no_prompt;
} pkcs11;

bool keysource_is_pkcs11_uri(const char *spec)
{
        return spec && strncmp(spec, PKCS11_URI_SCHEME, strlen(PKCS11_URI_SCHEME)) == 0;
}

static bool uri_is_clean(const char *s)
{
        for (; *s; s++)
                if (!isgraph((unsigned char)*s))
                        return false;
        return true;
}

/* The URI of DIR/keys/NAME/NAME.uri: one line, surrounding white space ignored. */
static int read_key_uri(const char *path, char **ret, char **reterr_message)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        char *uri;
        int r;

        r = read_file(path, KEY_URI_MAX_SIZE, &data, &size);
        if (r < 0)
                return set_error_message(reterr_message, r, "%s: cannot read: %s", path, strerror(-r));
        while (size > 0 && isspace(data[size - 1]))
                size--;
        uri = strndup((const char *)data, size);
        if (!uri)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        if (strlen(uri) != size || !keysource_is_pkcs11_uri(uri) || !uri_is_clean(uri)) {
                free(uri);
                return set_error_message(reterr_message, -EBADMSG,
                                         "%s: must hold one \"" PKCS11_URI_SCHEME "\" URI on one line",
                                         path);
        }
        *ret = uri;
        return 0;
}

int keysource_bundle_key(const char *dir, const char *name, char **ret_spec, char **reterr_message)
{
        _cleanup_free_ char *key = NULL, *uri = NULL;

        if (asprintf(&key, "%s/keys/%s/%s.key", dir, name, name) < 0 ||
            asprintf(&uri, "%s/keys/%s/%s.uri", dir, name, name) < 0)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        if (access(uri, F_OK) < 0) {
                *ret_spec = TAKE_PTR(key);
                return 0;
        }
        if (access(key, F_OK) == 0)
                return set_error_message(reterr_message, -EEXIST,
                                         "%s and %s both exist: keep only the one that holds the key", key,
                                         uri);
        return read_key_uri(uri, ret_spec, reterr_message);
}

static int hex_value(char c)
{
        return isdigit((unsigned char)c) ? c - '0' : isxdigit((unsigned char)c) ? tolower(c) - 'a' + 10 : -1;
}

/* RFC 3986 percent-decoding; a malformed escape or an encoded NUL gives NULL. */
static char *percent_decode(const char *s, size_t n)
{
        char *out = malloc(n + 1), *o = out;

        for (size_t i = 0; out && i < n; i++) {
                if (s[i] != '%') {
                        *o++ = s[i];
                        continue;
                }
                if (i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0 ||
                    (s[i + 1] == '0' && s[i + 2] == '0')) {
                        free(out);
                        return NULL;
                }
                *o++ = (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
                i += 2;
        }
        if (out)
                *o = '\0';
        return out;
}

static bool is_attribute(const char *attr, size_t n, const char *name)
{
        size_t len = strlen(name);
        return n > len && strncmp(attr, name, len) == 0 && attr[len] == '=';
}

void keysource_warn_exposed(int fd, const char *path, const char *what)
{
        struct stat st;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & EXPOSED_MODE_BITS))
                return;
        log_warning("%s: %s with mode %04o, accessible by %s; only its owner should read it (chmod 0400)",
                    path, what, (unsigned)(st.st_mode & 07777),
                    st.st_mode & 0007 ? "everyone" : "its group");
}

/* The PIN file of a pin-source=file:PATH attribute, checked like a key file; the engine reads it. */
static void warn_exposed_pin_file(const char *attr, size_t n)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        size_t skip = strlen(PKCS11_QUERY_PIN_SOURCE) + 1 + strlen(PIN_SOURCE_FILE_PREFIX);

        if (n <= skip || strncmp(attr + strlen(PKCS11_QUERY_PIN_SOURCE) + 1, PIN_SOURCE_FILE_PREFIX,
                                 strlen(PIN_SOURCE_FILE_PREFIX)) != 0)
                return;
        path = percent_decode(attr + skip, n - skip);
        if (path && (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) >= 0)
                keysource_warn_exposed(fd, path, "PKCS#11 PIN file");
}

int keysource_split_pkcs11_uri(const char *uri, char **ret_engine_uri, char **ret_module_path,
                               char **reterr_message)
{
        _cleanup_free_ char *engine_uri = strdup(uri), *module_path = NULL;
        char *query = engine_uri ? strchr(engine_uri, '?') : NULL, *out;

        if (!engine_uri)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        /* Rewritten in place: what is kept never grows. */
        for (char *attr = query ? query + 1 : NULL, *next; attr && *attr; attr = next) {
                size_t n = strcspn(attr, "&");

                next = attr[n] ? attr + n + 1 : attr + n;
                if (is_attribute(attr, n, PKCS11_QUERY_PIN_VALUE))
                        return set_error_message(reterr_message, -EINVAL,
                                                 "%.*s: pin-value would show the PIN in messages; "
                                                 "use pin-source=file:PATH",
                                                 (int)(query - engine_uri), engine_uri);
                if (is_attribute(attr, n, PKCS11_QUERY_PIN_SOURCE))
                        warn_exposed_pin_file(attr, n);
                if (!is_attribute(attr, n, PKCS11_QUERY_MODULE_PATH))
                        continue;
                free(module_path);
                module_path = percent_decode(attr + strlen(PKCS11_QUERY_MODULE_PATH) + 1,
                                             n - strlen(PKCS11_QUERY_MODULE_PATH) - 1);
                if (!module_path || !module_path[0])
                        return set_error_message(reterr_message, -EINVAL, "%s: malformed module-path", uri);
                memmove(attr, next, strlen(next) + 1);
                next = attr;
        }
        if (query) {
                out = query + strlen(query);
                while (out > query && (out[-1] == '&' || out[-1] == '?'))
                        *--out = '\0';
        }

        *ret_engine_uri = TAKE_PTR(engine_uri);
        *ret_module_path = TAKE_PTR(module_path);
        return 0;
}

/* The value of attribute name in the URI's path (";"-separated) or query ("&"-separated) part, as written;
 * NULL when absent or out of memory. */
static char *uri_attribute(const char *uri, bool query, const char *name)
{
        const char *q = strchr(uri, '?'), *p = query ? (q ? q + 1 : NULL) : uri + strlen(PKCS11_URI_SCHEME);
        const char *end = query || !q ? p + (p ? strlen(p) : 0) : q;

        for (size_t n; p && p < end; p += n + 1) {
                n = strcspn(p, query ? "&" : ";?");
                if ((size_t)(end - p) < n)
                        n = (size_t)(end - p);
                if (is_attribute(p, n, name))
                        return strndup(p + strlen(name) + 1, n - strlen(name) - 1);
        }
        return NULL;
}

bool keysource_same_token(const char *a, const char *b)
{
        _cleanup_free_ char *token_a = NULL, *token_b = NULL, *module_a = NULL, *module_b = NULL;

        if (!keysource_is_pkcs11_uri(a) || !keysource_is_pkcs11_uri(b))
                return false;
        token_a = uri_attribute(a, false, "token");
        token_b = uri_attribute(b, false, "token");
        module_a = uri_attribute(a, true, PKCS11_QUERY_MODULE_PATH);
        module_b = uri_attribute(b, true, PKCS11_QUERY_MODULE_PATH);
        return token_a && token_b && strcmp(token_a, token_b) == 0 &&
               (module_a == NULL) == (module_b == NULL) && (!module_a || strcmp(module_a, module_b) == 0);
}

/* Unattended: a token that wants a PIN the URI does not give fails, without a guess that would
 * count against the token's retry limit. */
static int refuse_prompt(UI *ui, UI_STRING *uis)
{
        (void)ui, (void)uis;
        return -1;
}

void keysource_release(void)
{
        if (pkcs11.engine) {
                ENGINE_finish(pkcs11.engine);
                ENGINE_free(pkcs11.engine);
        }
        UI_destroy_method(pkcs11.no_prompt);
        free(pkcs11.module_path);
        pkcs11 = (struct pkcs11_state){};
}

static int engine_start(const char *uri, const char *module_path, char **reterr_message)
{
        ENGINE *e;

        if (pkcs11.engine) {
                if ((module_path == NULL) != (pkcs11.module_path == NULL) ||
                    (module_path && strcmp(module_path, pkcs11.module_path) != 0))
                        return set_error_message(reterr_message, -EINVAL,
                                                 "%s: another PKCS#11 module is already in use", uri);
                return 0;
        }

        keysource_release(); /* what an earlier failed start left */
        /* The engine loads the module only when the first key is looked up, and then fails
         * without saying why: check the file here, where the error can name it. */
        if (module_path && access(module_path, R_OK) < 0)
                return set_error_message(reterr_message, -errno, "%s: module-path %s: %m", uri, module_path);
        pkcs11.no_prompt = UI_create_method("lanzatool: no prompting");
        if (!pkcs11.no_prompt || UI_method_set_reader(pkcs11.no_prompt, refuse_prompt) < 0)
                return set_error_message(reterr_message, -ENOMEM, "out of memory");
        if (module_path && !(pkcs11.module_path = strdup(module_path)))
                return set_error_message(reterr_message, -ENOMEM, "out of memory");

        e = ENGINE_by_id(PKCS11_ENGINE_ID);
        if (!e)
                return set_error_message(reterr_message, -ENOPKG,
                                         "%s: cannot load OpenSSL's \"" PKCS11_ENGINE_ID
                                         "\" engine (%s); it comes with libp11 (libengine-pkcs11-openssl)",
                                         uri, openssl_reason());
        if (module_path && !ENGINE_ctrl_cmd_string(e, PKCS11_ENGINE_MODULE_CMD, module_path, 0)) {
                ENGINE_free(e);
                return set_error_message(reterr_message, -EINVAL, "%s: the engine refused module %s (%s)",
                                         uri, module_path, openssl_reason());
        }
        if (!ENGINE_init(e)) {
                ENGINE_free(e);
                return set_error_message(reterr_message, -EIO,
                                         "%s: cannot initialise the PKCS#11 module %s (%s)", uri,
                                         module_path ?: "(p11-kit proxy)", openssl_reason());
        }
        pkcs11.engine = e;
        return 0;
}

int keysource_load_pkcs11(const char *uri, EVP_PKEY **ret, char **reterr_message)
{
        _cleanup_free_ char *engine_uri = NULL, *module_path = NULL;
        EVP_PKEY *key;
        int r;

        if (!keysource_is_pkcs11_uri(uri))
                return set_error_message(reterr_message, -EINVAL, "%s: not a " PKCS11_URI_SCHEME " URI",
                                         uri);
        r = keysource_split_pkcs11_uri(uri, &engine_uri, &module_path, reterr_message);
        if (r < 0)
                return r;
        r = engine_start(uri, module_path, reterr_message);
        if (r < 0)
                return r;

        key = ENGINE_load_private_key(pkcs11.engine, engine_uri, pkcs11.no_prompt, NULL);
        if (!key)
                return set_error_message(reterr_message, -ENOKEY,
                                         "%s: cannot load the private key from the token (%s); check the "
                                         "token, the object and the PIN, which only pin-source=file:PATH "
                                         "gives: lanzatool never prompts",
                                         uri, openssl_reason());
        if (!EVP_PKEY_is_a(key, "RSA")) {
                EVP_PKEY_free(key);
                return set_error_message(reterr_message, -EOPNOTSUPP,
                                         "%s: not an RSA key; UEFI firmware verifies RSA signatures only",
                                         uri);
        }
        *ret = key;
        return 0;
}
