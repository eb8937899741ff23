/* Aligned heap allocation; see include/tickinfer/alloc.h.  The arena lives in arena.c. */
#include "tickinfer/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *ti_malloc_aligned(size_t size, size_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        ti_errorf(TI_ERR_INVALID_ARG, "alloc: alignment %zu is not a power of two", alignment);
        return NULL;
    }
    /* posix_memalign wants a multiple of sizeof(void *); smaller powers of two are
     * satisfied by that anyway. */
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    /* A unique pointer for size 0 keeps "NULL means failure" true for callers that
     * allocate n items with n = 0. */
    if (size == 0) size = 1;
    void *p = NULL;
    if (posix_memalign(&p, alignment, size) != 0) {
        ti_errorf(TI_ERR_NOMEM, "alloc: out of memory allocating %zu bytes (alignment %zu)", size, alignment);
        return NULL;
    }
    return p;
}

void *ti_calloc_aligned(size_t count, size_t size, size_t alignment)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        ti_errorf(TI_ERR_NOMEM, "alloc: %zu x %zu bytes overflows size_t", count, size);
        return NULL;
    }
    void *p = ti_malloc_aligned(bytes, alignment);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void ti_free_aligned(void *p) { free(p); }
