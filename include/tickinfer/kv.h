/* tickinfer: per-symbol key/value caches for streaming decode.
 *
 * A cache holds, for every layer, the key and value rows (row = [k (C) | v (C)] floats) of
 * the last W tokens of one symbol's stream.  Two layouts:
 *   TI_KV_RING   one contiguous [L][W][slot] buffer per symbol (slot = k|v: 2C floats, or
 *                two quantized rows, see ti_kv_cache_init_ex), index = position % W.  Memory
 *                is W-sized from the first tick on.
 *   TI_KV_PAGED  a global pool of blocks (block = B positions x L layers x slots) shared by
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
#include "tickinfer/kvquant.h"

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
/* Same for rows stored as `dtype` (H heads of C/H values; see kvquant.h): a block then holds
 * bs x L slots of ti_kv_slot_bytes(dtype, H, C) bytes.  TI_KV_F32 = ti_kv_pool_create. */
ti_err ti_kv_pool_create_dtype(ti_kv_pool **out, int n_layers, int C, ti_kv_dtype dtype, int H, int block_size,
                               size_t max_blocks, size_t chunk_blocks);
void ti_kv_pool_destroy(ti_kv_pool *p);
void ti_kv_pool_stats_get(const ti_kv_pool *p, ti_kv_pool_stats *st);

/* ---- per-symbol cache ------------------------------------------------------------------- */

typedef struct ti_kv_cache {
    ti_kv_layout layout;
    int L, C, W;             /* layers, width, window (positions kept) */
    int sinks;               /* the first `sinks` positions are kept for good (attention sinks) */
    ti_kv_dtype dtype;       /* how rows are stored (TI_KV_F32 unless made with ti_kv_cache_init_ex) */
    int H;                   /* heads (the quantized row formats scale per head / group) */
    int slot_floats;         /* 4-byte words per token per layer: 2C for f32 (k | v) */
    int v_off;               /* words from a slot's k row to its v row: C for f32 */
    int64_t n;               /* tokens appended so far (next position) */
    float *sink;             /* [L][sinks][slot] rows of positions 0..sinks-1 (NULL if none) */
    /* ring */
    float *ring;             /* [L][W][slot] */
    /* paged */
    ti_kv_pool *pool;
    int bs;                  /* positions per block */
    int32_t *table;          /* [table_cap] block ids, logical block (first_blk + i) at i */
    int table_cap, n_blocks;
    int64_t first_blk;       /* logical index (position / bs) of table[0] */
} ti_kv_cache;

/* A run of tokens contiguous in memory for one layer: token t's row at k + t*stride
 * (k first, v = k + v_off), at position pos0 + t.  For a quantized cache k and v point at
 * ti_kvq row bytes (not floats); see ti_kv_seg_to_q. */
typedef struct ti_kv_seg {
    const float *k, *v;
    size_t stride;   /* floats between tokens */
    int n;
    int64_t pos0;
} ti_kv_seg;

/* Ring: allocates [L][W][2C] floats.  Paged: pool must match L and C; the table is sized for W. */
ti_err ti_kv_cache_init(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, ti_kv_pool *pool);
/* Same with `sinks` attention sinks (0..TI_KV_MAX_SINKS): positions 0..sinks-1 stay visible to
 * every later query besides the window, in a private [L][sinks][2C] buffer (both layouts).
 * Position p then sees {j < sinks} U (p-W, p]. */
#define TI_KV_MAX_SINKS 1024
ti_err ti_kv_cache_init_sinks(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, int sinks,
                              ti_kv_pool *pool);
/* All options: sinks as above; rows stored as `dtype` with H heads (C % H == 0; H ignored
 * for TI_KV_F32).  A quantized slot is [k row | pad | v row | pad], each row
 * ti_kvq_row_bytes(dtype, H, C/H) bytes padded to 4, so segments keep a float stride. */
typedef struct ti_kv_cache_opts {
    int sinks;
    ti_kv_dtype dtype;
    int H;
} ti_kv_cache_opts;
ti_err ti_kv_cache_init_ex(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, const ti_kv_cache_opts *o,
                           ti_kv_pool *pool);
/* Bytes of one token's k|v slot for one layer; 0 if the shape is unsupported. */
size_t ti_kv_slot_bytes(ti_kv_dtype dtype, int H, int C);
/* Releases the buffer / drops the block references. */
void ti_kv_cache_free(ti_kv_cache *c);
/* Start over (empty), keeping the buffers. */
void ti_kv_cache_reset(ti_kv_cache *c);
/* Make dst (initialised, empty, same layout) share src's tokens: paged by reference (block
 * refcounts), ring by copy.  Later appends to either never show in the other. */
ti_err ti_kv_cache_fork(ti_kv_cache *dst, const ti_kv_cache *src);

/* Reserve position c->n for a new token: rows[l] is layer l's slot (f32: [2C] floats, k|v;
 * any dtype: write it with ti_kv_store) -- fill it before reading segments.  Drops positions that leave the window; paged caches may take
 * a block from the pool (TI_ERR_NOMEM when the pool is at its cap) and copy a shared block
 * before writing into it.  Increments c->n. */
ti_err ti_kv_append(ti_kv_cache *c, float **rows);
/* Write one token's kv [2C] (k then v, fp32) into a slot from ti_kv_append, quantizing for a
 * quantized cache.  TI_ERR_RANGE on a non-finite value in a quantized cache. */
ti_err ti_kv_store(const ti_kv_cache *c, float *slot, const float *kv);
/* Segments covering the sinks, then the window (the last min(n, W) positions not among the
 * sinks) for `layer`, oldest first.
 * Returns the count (<= ti_kv_max_segments(c)). */
int ti_kv_segments(const ti_kv_cache *c, int layer, ti_kv_seg *segs);
int ti_kv_max_segments(const ti_kv_cache *c);
/* The same segments as ti_kvq_attend reads them (byte stride, explicit v pointer). */
void ti_kv_seg_to_q(ti_kvq_seg *q, const ti_kv_seg *segs, int n);
/* Bytes this cache holds (ring: its buffer; paged: its blocks, shared ones divided by
 * their reference count). */
size_t ti_kv_cache_bytes(const ti_kv_cache *c);

#ifdef __cplusplus
}
#endif
#endif
