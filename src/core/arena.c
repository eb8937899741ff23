/* Bump allocator over a list of blocks; see include/tickinfer/alloc.h.
 *
 * Blocks form one singly linked list.  Blocks from `head` to `cur` hold live data
 * (only `cur` is still being filled); blocks after `cur` are empty and wait for reuse.
 * A mark is (block, used) inside that live prefix, so resetting to it just rewinds
 * `cur` and empties the blocks after it.  An allocation that does not fit a normal
 * block gets a block of its own size.  The cap counts block capacities (headers are
 * not counted). */
#include "tickinfer/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BLOCK ((size_t)1 << 20)
#define DEFAULT_ALIGN ((size_t)TI_CACHELINE)

typedef struct block {
    struct block *next;
    size_t cap;  /* usable bytes after the header */
    size_t used; /* bytes consumed, counted from data() */
} block;

struct ti_arena {
    block *head;     /* first block (live prefix starts here) */
    block *cur;      /* block being filled; NULL when nothing is live */
    size_t block_size, max_total;
    size_t reserved; /* sum of cap over all blocks */
};

static unsigned char *data_of(block *b) { return (unsigned char *)(b + 1); }

ti_err ti_arena_create(ti_arena **out, size_t block_size, size_t max_total)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "arena: NULL output pointer");
    *out = NULL;
    ti_arena *a = calloc(1, sizeof *a);
    if (!a) return ti_errorf(TI_ERR_NOMEM, "arena: out of memory");
    a->block_size = block_size ? block_size : DEFAULT_BLOCK;
    a->max_total = max_total;
    *out = a;
    return TI_OK;
}

void ti_arena_destroy(ti_arena *a)
{
    if (!a) return;
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

/* Offset in b where `size` bytes aligned to `align` would start, or SIZE_MAX if they
 * do not fit. */
static size_t fit(block *b, size_t size, size_t align)
{
    uintptr_t base = (uintptr_t)data_of(b);
    uintptr_t p = (base + b->used + (align - 1)) & ~(uintptr_t)(align - 1);
    size_t off = (size_t)(p - base);
    if (off > b->cap || b->cap - off < size) return SIZE_MAX;
    return off;
}

/* Free the empty blocks after cur (or all blocks when nothing is live). */
static void release_free_blocks(ti_arena *a)
{
    block **link = a->cur ? &a->cur->next : &a->head;
    for (block *b = *link, *n; b; b = n) {
        n = b->next;
        a->reserved -= b->cap;
        free(b);
    }
    *link = NULL;
}

/* Make a block that fits the request the new `cur`: reuse an empty one or add one. */
static block *next_block(ti_arena *a, size_t size, size_t align)
{
    block **link = a->cur ? &a->cur->next : &a->head;
    for (block **pp = link; *pp; pp = &(*pp)->next) {
        block *b = *pp;
        if (fit(b, size, align) == SIZE_MAX) continue;
        /* Move b right after cur so the live prefix stays contiguous. */
        *pp = b->next;
        b->next = *link;
        *link = b;
        a->cur = b;
        return b;
    }
    size_t need;
    if (__builtin_add_overflow(size, align - 1, &need)) {
        ti_errorf(TI_ERR_NOMEM, "arena: allocation of %zu bytes overflows", size);
        return NULL;
    }
    size_t cap = need > a->block_size ? need : a->block_size; /* big: own block */
    if (a->max_total) {
        if (a->reserved + need > a->max_total) release_free_blocks(a);
        if (a->reserved + need > a->max_total) {
            ti_errorf(TI_ERR_LIMIT, "arena: allocation of %zu bytes exceeds the cap of %zu bytes (%zu in use)", size,
                      a->max_total, a->reserved);
            return NULL;
        }
        /* A block never crosses the cap: shrink it to what is left. */
        if (cap > a->max_total - a->reserved) cap = a->max_total - a->reserved;
    }
    if (cap > SIZE_MAX - sizeof(block)) {
        ti_errorf(TI_ERR_NOMEM, "arena: allocation of %zu bytes overflows", size);
        return NULL;
    }
    block *b = malloc(sizeof(block) + cap);
    if (!b) {
        ti_errorf(TI_ERR_NOMEM, "arena: out of memory reserving a block of %zu bytes", cap);
        return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->next = *link;
    *link = b;
    a->cur = b;
    a->reserved += cap;
    return b;
}

void *ti_arena_alloc(ti_arena *a, size_t size, size_t alignment)
{
    if (!a) return NULL;
    if (alignment == 0) alignment = DEFAULT_ALIGN;
    if ((alignment & (alignment - 1)) != 0) {
        ti_errorf(TI_ERR_INVALID_ARG, "arena: alignment %zu is not a power of two", alignment);
        return NULL;
    }
    block *b = a->cur;
    size_t off = b ? fit(b, size, alignment) : SIZE_MAX;
    if (off == SIZE_MAX) {
        b = next_block(a, size, alignment);
        if (!b) return NULL;
        off = fit(b, size, alignment);
    }
    b->used = off + size;
    return data_of(b) + off;
}

void *ti_arena_calloc(ti_arena *a, size_t count, size_t size, size_t alignment)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        ti_errorf(TI_ERR_NOMEM, "arena: %zu x %zu bytes overflows size_t", count, size);
        return NULL;
    }
    void *p = ti_arena_alloc(a, bytes, alignment);
    if (p && bytes) memset(p, 0, bytes);
    return p;
}

char *ti_arena_strdup(ti_arena *a, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = ti_arena_alloc(a, n, 1);
    if (p) memcpy(p, s, n);
    return p;
}

ti_arena_mark ti_arena_get_mark(const ti_arena *a)
{
    ti_arena_mark m = {NULL, 0};
    if (a && a->cur) {
        m.block = a->cur;
        m.used = a->cur->used;
    }
    return m;
}

void ti_arena_reset(ti_arena *a)
{
    if (!a) return;
    for (block *b = a->head; b; b = b->next) b->used = 0;
    a->cur = NULL;
}

void ti_arena_reset_to(ti_arena *a, ti_arena_mark m)
{
    if (!a) return;
    if (!m.block) {
        ti_arena_reset(a);
        return;
    }
    /* The mark's block must still be live; a stale mark (its block was rewound by an
     * earlier reset) is ignored rather than resurrecting freed memory. */
    if (!a->cur) return;
    block *b = a->head;
    for (; b && b != (block *)m.block; b = b == a->cur ? NULL : b->next) {}
    if (!b || m.used > b->used) return;
    for (block *n = b->next; n; n = n->next) n->used = 0;
    b->used = m.used;
    a->cur = b;
}

size_t ti_arena_used(const ti_arena *a)
{
    size_t n = 0;
    if (!a || !a->cur) return 0;
    for (block *b = a->head; b; b = b->next) {
        n += b->used;
        if (b == a->cur) break;
    }
    return n;
}

size_t ti_arena_reserved(const ti_arena *a) { return a ? a->reserved : 0; }
