/* SPDX-License-Identifier: MIT */
#include "util.h"

/* The compiler emits calls to these for struct copies and large initializers, so they must
 * exist under exactly these names in a freestanding image. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
        uint8_t *d = dst;
        const uint8_t *s = src;
        while (n--)
                *d++ = *s++;
        return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
        uint8_t *d = dst;
        const uint8_t *s = src;
        if (d < s)
                return memcpy(dst, src, n);
        while (n--)
                d[n] = s[n];
        return dst;
}

void *memset(void *p, int c, size_t n)
{
        uint8_t *d = p;
        while (n--)
                *d++ = (uint8_t)c;
        return p;
}

int memcmp(const void *a, const void *b, size_t n)
{
        const uint8_t *x = a, *y = b;
        for (; n > 0; n--, x++, y++)
                if (*x != *y)
                        return *x < *y ? -1 : 1;
        return 0;
}

size_t strlen(const char *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

void *xmalloc(size_t size)
{
        void *p = NULL;
        if (BS->AllocatePool(EfiLoaderData, size, &p) != EFI_SUCCESS)
                return NULL;
        return p;
}

void *xzalloc(size_t size)
{
        void *p = xmalloc(size);
        if (p)
                memset(p, 0, size);
        return p;
}

void free(void *p)
{
        if (p)
                (void)BS->FreePool(p);
}

EFI_STATUS pages_alloc(EFI_ALLOCATE_TYPE type, EFI_PHYSICAL_ADDRESS max_or_addr, size_t size, Pages *ret)
{
        EFI_PHYSICAL_ADDRESS addr = max_or_addr;
        UINTN n_pages = EFI_SIZE_TO_PAGES(size);
        EFI_STATUS err;

        if (size == 0 || n_pages == 0)
                return EFI_INVALID_PARAMETER;
        err = BS->AllocatePages(type, EfiLoaderData, n_pages, &addr);
        if (err != EFI_SUCCESS)
                return err;
        *ret = (Pages){.addr = addr, .n_pages = n_pages};
        return EFI_SUCCESS;
}

void pages_free(Pages *p)
{
        if (p->n_pages > 0)
                (void)BS->FreePages(p->addr, p->n_pages);
        *p = (Pages){};
}

size_t strlen16(const CHAR16 *s)
{
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

int strcmp16(const CHAR16 *a, const CHAR16 *b)
{
        while (*a && *a == *b)
                a++, b++;
        return (int)*a - (int)*b;
}

CHAR16 *xstrdup16(const CHAR16 *s)
{
        size_t size = strsize16(s);
        CHAR16 *d = xmalloc(size);
        if (d)
                memcpy(d, s, size);
        return d;
}

CHAR16 *xstrn8_to_16(const char *s, size_t n, bool strict)
{
        CHAR16 *d;

        if (n >= SIZE_MAX / sizeof(CHAR16))
                return NULL;
        d = xmalloc((n + 1) * sizeof(CHAR16));
        if (!d)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t)s[i];
                if (strict && (c < 0x20 || c > 0x7e)) {
                        free(d);
                        return NULL;
                }
                d[i] = c;
        }
        d[n] = 0;
        return d;
}

bool guid_equal(const EFI_GUID *a, const EFI_GUID *b)
{
        return memcmp(a, b, sizeof(EFI_GUID)) == 0;
}
