/* tickinfer: per-symbol key/value caches for streaming decode.
 *
 * A cache holds, for every layer, the key and value rows (row = [k (C) | v (C)] floats) of
 * the last W tokens of one symbol's stream.  Two layouts:
 *   TI_KV_RING   one contiguous [L][W][2C] buffer per symbol, slot = position % W.  Memory
 *                is W-sized from the first tick on.
 *   TI_KV_PAGED  a global pool of blocks (block = B positions x L layers x 2C floats) shared by
 *                all symbols; each cache holds a table of the blocks covering its window, so
 *                memory follows the tokens actually held.  Blocks are reference counted: a
 *                cache can be forked (ti_kv_cache_fork) to share a read-only prefix, e.g. a
 *                market-context segment decoded once; a write into a shared block copies it
 *                first (copy-on-write), so no symbol ever sees another's tokens.
 * The attention reads a cache as a list of segments (ti_kv_segments): runs of tokens that
 * are contiguous in memory, oldest first, with their absolute positions. */
#ifndef TICKINFER_KV_H
#define TICKINFER_KV_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ti_kv_layout { TI_KV_RING = 0, TI_KV_PAGED, TI_KV_LAYOUT__COUNT } ti_kv_layout;
const char *ti_kv_layout_name(ti_kv_layout l); /* "ring", "paged" */
ti_err ti_kv_layout_parse(ti_kv_layout *out, const char *name);

/* ---- block pool (paged layout) --------------------------------------------------------- */

typedef struct ti_kv_pool ti_kv_pool;

typedef struct ti_kv_pool_stats {
    size_t block_size;     /* positions per block */
    size_t block_bytes;    /* bytes of one block (all layers, K and V) */
    size_t blocks_alloc;   /* blocks obtained from the system (chunks) */
    size_t blocks_used;    /* blocks referenced by at least one cache */
    size_t blocks_shared;  /* blocks referenced by more than one cache */
    size_t refs;           /* sum of reference counts */
} ti_kv_pool_stats;

/* Pool of blocks of `block_size` positions for L layers of width C, growing in chunks of
 * `chunk_blocks` up to `max_blocks` (0 = no cap but 2^31).  Thread-safe (one mutex held
 * only around the free list). */
ti_err ti_kv_pool_create(ti_kv_pool **out, int n_layers, int C, int block_size, size_t max_blocks,
                         size_t chunk_blocks);
void ti_kv_pool_destroy(ti_kv_pool *p);
void ti_kv_pool_stats_get(const ti_kv_pool *p, ti_kv_pool_stats *st);

/* ---- per-symbol cache ------------------------------------------------------------------- */

typedef struct ti_kv_cache {
    ti_kv_layout layout;
    int L, C, W;             /* layers, width, window (positions kept) */
    int64_t n;               /* tokens appended so far (next position) */
    /* ring */
    float *ring;             /* [L][W][2C] */
    /* paged */
    ti_kv_pool *pool;
    int bs;                  /* positions per block */
    int32_t *table;          /* [table_cap] block ids, logical block (first_blk + i) at i */
    int table_cap, n_blocks;
    int64_t first_blk;       /* logical index (position / bs) of table[0] */
} ti_kv_cache;

/* A run of tokens contiguous in memory for one layer: token t's row at k + t*stride
 * (k first, v = k + C), at position pos0 + t. */
typedef struct ti_kv_seg {
    const float *k, *v;
    size_t stride;   /* floats between tokens */
    int n;
    int64_t pos0;
} ti_kv_seg;

/* Ring: allocates [L][W][2C].  Paged: pool must match L and C; the table is sized for W. */
ti_err ti_kv_cache_init(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, ti_kv_pool *pool);
/* Releases the buffer / drops the block references. */
void ti_kv_cache_free(ti_kv_cache *c);
/* Start over (empty), keeping the buffers. */
void ti_kv_cache_reset(ti_kv_cache *c);
/* Make dst (initialised, empty, same layout) share src's tokens: paged by reference (block
 * refcounts), ring by copy.  Later appends to either never show in the other. */
ti_err ti_kv_cache_fork(ti_kv_cache *dst, const ti_kv_cache *src);

/* Reserve position c->n for a new token: rows[l] [2C] is where layer l's k|v go (write them
 * before reading segments).  Drops positions that leave the window; paged caches may take
 * a block from the pool (TI_ERR_NOMEM when the pool is at its cap) and copy a shared block
 * before writing into it.  Increments c->n. */
ti_err ti_kv_append(ti_kv_cache *c, float **rows);
/* Segments covering the window (the last min(n, W) positions) for `layer`, oldest first.
 * Returns the count (<= ti_kv_max_segments(c)). */
int ti_kv_segments(const ti_kv_cache *c, int layer, ti_kv_seg *segs);
int ti_kv_max_segments(const ti_kv_cache *c);
/* Bytes this cache holds (ring: its buffer; paged: its blocks, shared ones divided by
 * their reference count). */
size_t ti_kv_cache_bytes(const ti_kv_cache *c);

#ifdef __cplusplus
}
#endif
#endif
