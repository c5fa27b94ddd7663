/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _unused_       __attribute__((unused))
#define ELEMENTSOF(a)  (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((__typeof__(x))(a)-1))
#define MIN(a, b)      ((a) < (b) ? (a) : (b))

/* Hand ownership of a pointer to someone else: the cleanup handler then sees NULL. */
#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) _p = (p);                                                                     \
                (p) = NULL;                                                                                 \
                _p;                                                                                         \
        })

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *p, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Pool allocations; NULL when the firmware is out of memory. */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void free(void *p);
static inline void freep(void *p)
{
        free(*(void **)p);
}

/* Page allocations, for big buffers (kernel, initrd). */
typedef struct {
        EFI_PHYSICAL_ADDRESS addr;
        UINTN n_pages;
} Pages;
EFI_STATUS pages_alloc(EFI_ALLOCATE_TYPE type, EFI_PHYSICAL_ADDRESS max_or_addr, size_t size, Pages *ret);
void pages_free(Pages *p);
static inline void *pages_ptr(const Pages *p)
{
        return (void *)(uintptr_t)p->addr;
}

size_t strlen16(const CHAR16 *s);
static inline size_t strsize16(const CHAR16 *s)
{
        return s ? (strlen16(s) + 1) * sizeof(CHAR16) : 0;
}
int strcmp16(const CHAR16 *a, const CHAR16 *b);
CHAR16 *xstrdup16(const CHAR16 *s);
/* Converts n bytes of ASCII to a freshly allocated NUL-terminated UTF-16 string; NULL on
 * allocation failure or on any byte outside printable ASCII when strict. */
CHAR16 *xstrn8_to_16(const char *s, size_t n, bool strict);

bool guid_equal(const EFI_GUID *a, const EFI_GUID *b);
