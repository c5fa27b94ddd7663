/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entry-name.h"

#define EFI_SUFFIX         ".efi"
#define ENTRY_GEN_PREFIX   "nixos-generation-"
#define SPECIALISATION_SEP "-specialisation-"

/* A run of at most 9 digits ending before end, as a number; -1 when there is none. */
static int digits_before(const char *name, size_t end, size_t *ret_start)
{
        size_t i = end;
        int v = 0;

        while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9' && end - i < 9)
                i--;
        if (i == end || (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9'))
                return -1;
        for (size_t j = i; j < end; j++)
                v = v * 10 + (name[j] - '0');
        *ret_start = i;
        return v;
}

bool boot_counter_parse(const char *name, const char *suffix, size_t *ret_base, int *ret_left, int *ret_done)
{
        size_t n = strlen(name), sl = strlen(suffix), i;
        int left, done = 0;

        if (n < sl || strcasecmp(name + n - sl, suffix) != 0)
                return false;
        *ret_base = n - sl;
        *ret_left = *ret_done = -1;
        /* Backwards, as systemd-boot's config_entry_parse_tries(): +LEFT or +LEFT-DONE. */
        left = digits_before(name, n - sl, &i);
        if (left >= 0 && i > 0 && name[i - 1] == '-') {
                done = left;
                left = digits_before(name, i - 1, &i);
        }
        if (left < 0 || i == 0 || name[i - 1] != '+')
                return true;
        *ret_base = i - 1;
        *ret_left = left;
        *ret_done = done;
        return true;
}

static bool is_b32(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
                        return false;
        return true;
}

/* Decimal without sign or leading zero, within unsigned. */
static bool parse_number(const char *s, size_t n, unsigned *ret)
{
        unsigned long v = 0;

        if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned long)(s[i] - '0');
        }
        if (v > UINT_MAX)
                return false;
        *ret = (unsigned)v;
        return true;
}

int entry_name_parse(const char *name, struct entry_name *ret)
{
        struct entry_name e = {};
        const char *head, *spec;
        size_t base, head_len;

        size_t n = strlen(name);

        if (n < strlen(EFI_SUFFIX) || strcmp(name + n - strlen(EFI_SUFFIX), EFI_SUFFIX) != 0 ||
            !boot_counter_parse(name, EFI_SUFFIX, &base, &e.tries_left, &e.tries_done))
                return -EINVAL;
        /* "-<B32>" ends the stem. */
        if (base < strlen(ENTRY_GEN_PREFIX) + 2 + ENTRY_NAME_B32_LEN ||
            name[base - ENTRY_NAME_B32_LEN - 1] != '-' ||
            !is_b32(name + base - ENTRY_NAME_B32_LEN, ENTRY_NAME_B32_LEN) ||
            strncmp(name, ENTRY_GEN_PREFIX, strlen(ENTRY_GEN_PREFIX)) != 0)
                return -EINVAL;
        head = name + strlen(ENTRY_GEN_PREFIX);
        head_len = base - ENTRY_NAME_B32_LEN - 1 - strlen(ENTRY_GEN_PREFIX);
        spec = memmem(head, head_len, SPECIALISATION_SEP, strlen(SPECIALISATION_SEP));
        if (!parse_number(head, spec ? (size_t)(spec - head) : head_len, &e.generation))
                return -EINVAL;
        if (spec) {
                const char *s = spec + strlen(SPECIALISATION_SEP);
                size_t n = head_len - (size_t)(s - head);
                if (n == 0 || memchr(s, '/', n) || memchr(s, '\\', n))
                        return -EINVAL;
                if (!(e.specialisation = strndup(s, n)))
                        return -ENOMEM;
        }
        if (!(e.stem = strndup(name, base))) {
                free(e.specialisation);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

void entry_name_done(struct entry_name *n)
{
        free(n->specialisation);
        free(n->stem);
        *n = (struct entry_name){};
}

bool entry_name_is_ours(const char *name)
{
        struct entry_name e;

        if (entry_name_parse(name, &e) < 0)
                return false;
        entry_name_done(&e);
        return true;
}

char *payload_name_version(const char *name)
{
        static const char *const kinds[] = {"kernel-", "initrd-"};
        size_t n = strlen(name), k, sl = strlen(EFI_SUFFIX);

        for (size_t i = 0; i < 2; i++) {
                const char *b32, *v;
                k = strlen(kinds[i]);
                /* kind, a non-empty version of [A-Za-z0-9._+], '-', B32, ".efi" */
                if (n < k + 2 + ENTRY_NAME_B32_LEN + sl || strncmp(name, kinds[i], k) != 0 ||
                    strcmp(name + n - sl, EFI_SUFFIX) != 0)
                        continue;
                b32 = name + n - sl - ENTRY_NAME_B32_LEN;
                if (b32[-1] != '-' || !is_b32(b32, ENTRY_NAME_B32_LEN))
                        continue;
                for (v = name + k; v < b32 - 1; v++)
                        if (!strchr("._+", *v) && !(*v >= '0' && *v <= '9') && !(*v >= 'a' && *v <= 'z') &&
                            !(*v >= 'A' && *v <= 'Z'))
                                break;
                if (v == b32 - 1)
                        return strndup(name + k, (size_t)(b32 - 1 - (name + k)));
        }
        return NULL;
}

bool payload_name_is_ours(const char *name)
{
        char *v = payload_name_version(name);
        bool ours = v != NULL;

        free(v);
        return ours;
}

bool entry_id_matches_file(const char *id, const char *file_name)
{
        size_t a, b;
        int l, d;

        if (!id || !file_name || !boot_counter_parse(id, EFI_SUFFIX, &a, &l, &d) ||
            !boot_counter_parse(file_name, EFI_SUFFIX, &b, &l, &d))
                return false;
        return a == b && strncasecmp(id, file_name, a) == 0;
}
