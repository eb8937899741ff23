/* tickinfer: aligned allocation and arenas.
 *
 * ti_arena is a bump allocator over a list of large blocks: many small allocations,
 * one free.  Models, run states and per-request scratch use arenas so that nothing
 * allocates on a hot path.  ti_arena_mark/ti_arena_reset_to give stack-like reuse. */
#ifndef TICKINFER_ALLOC_H
#define TICKINFER_ALLOC_H

#include <stddef.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_CACHELINE 64

/* Aligned malloc (alignment: a power of two; smaller than sizeof(void*) is rounded up).
 * Size 0 gives a unique pointer, so NULL always means failure: out of memory or a bad
 * alignment (ti_errmsg says which).  Free with ti_free_aligned. */
void *ti_malloc_aligned(size_t size, size_t alignment);
/* Same, zero-filled; NULL also when count * size overflows. */
void *ti_calloc_aligned(size_t count, size_t size, size_t alignment);
void ti_free_aligned(void *p);

typedef struct ti_arena ti_arena;

/* block_size: bytes per block (0 = 1 MiB); an allocation larger than a block gets a
 * block of its own size.  max_total: cap on the bytes of all blocks (0 = none); an
 * allocation past the cap fails with NULL and a TI_ERR_LIMIT-style message in
 * ti_errmsg.  Near the cap, blocks shrink to what is left and empty (reset) blocks are
 * freed to make room. */
ti_err ti_arena_create(ti_arena **out, size_t block_size, size_t max_total);
void ti_arena_destroy(ti_arena *a);

/* Bump-allocate `size` bytes aligned to `alignment` (0 = 64; must be a power of two).
 * NULL when out of memory, over the cap or on a bad alignment (ti_errmsg set).  Memory
 * is not zeroed (ti_arena_calloc zeroes).  Not thread-safe: one arena per thread. */
void *ti_arena_alloc(ti_arena *a, size_t size, size_t alignment);
void *ti_arena_calloc(ti_arena *a, size_t count, size_t size, size_t alignment);
/* Copy a NUL-terminated string into the arena. */
char *ti_arena_strdup(ti_arena *a, const char *s);

typedef struct ti_arena_mark {
    void *block;
    size_t used;
} ti_arena_mark;

ti_arena_mark ti_arena_get_mark(const ti_arena *a);
/* Free everything allocated after `m` (blocks are kept for reuse).  Marks nest like a
 * stack: a mark taken after `m` is invalid once you reset to `m` (a stale mark whose
 * block is no longer in use is ignored). */
void ti_arena_reset_to(ti_arena *a, ti_arena_mark m);
/* Free everything (blocks are kept for reuse). */
void ti_arena_reset(ti_arena *a);

/* Bytes handed out (alignment padding included) / bytes reserved in blocks. */
size_t ti_arena_used(const ti_arena *a);
size_t ti_arena_reserved(const ti_arena *a);

#ifdef __cplusplus
}
#endif
#endif
