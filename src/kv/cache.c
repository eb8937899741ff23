/* Per-symbol KV caches: the ring and paged layouts behind one append / segments API. */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"
#include "tickinfer/alloc.h"

const char *ti_kv_layout_name(ti_kv_layout l)
{
    switch (l) {
    case TI_KV_RING: return "ring";
    case TI_KV_PAGED: return "paged";
    default: return "?";
    }
}

ti_err ti_kv_layout_parse(ti_kv_layout *out, const char *name)
{
    for (int l = 0; l < TI_KV_LAYOUT__COUNT; l++)
        if (name && strcmp(name, ti_kv_layout_name((ti_kv_layout)l)) == 0) {
            *out = (ti_kv_layout)l;
            return TI_OK;
        }
    return ti_errorf(TI_ERR_INVALID_ARG, "kv layout '%s' unknown: use ring or paged", name ? name : "(null)");
}

ti_err ti_kv_cache_init(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, ti_kv_pool *pool)
{
    memset(c, 0, sizeof *c);
    if (L <= 0 || C <= 0 || W <= 0 || W > (1 << 24))
        return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: layers %d, width %d, window %d invalid", L, C, W);
    c->layout = layout, c->L = L, c->C = C, c->W = W;
    if (layout == TI_KV_RING) {
        c->ring = ti_calloc_aligned((size_t)L * W * 2 * C, sizeof(float), TI_CACHELINE);
        if (!c->ring) return ti_errorf(TI_ERR_NOMEM, "kv cache: out of memory for a %d-position ring", W);
        return TI_OK;
    }
    if (layout != TI_KV_PAGED) return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: layout %d unknown", (int)layout);
    if (!pool || kv_pool_layers(pool) != L || kv_pool_width(pool) != C)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: paged layout needs a pool made for %d layers of width %d",
                         L, C);
    c->pool = pool;
    c->bs = kv_pool_block_size(pool);
    c->table_cap = W / c->bs + 2; /* a window spans at most ceil((W-1)/bs) + 1 blocks */
    c->table = malloc((size_t)c->table_cap * sizeof *c->table);
    if (!c->table) return ti_errorf(TI_ERR_NOMEM, "kv cache: out of memory");
    return TI_OK;
}

static void drop_blocks(ti_kv_cache *c)
{
    for (int i = 0; i < c->n_blocks; i++) kv_pool_unref(c->pool, c->table[i]);
    c->n_blocks = 0;
}

void ti_kv_cache_free(ti_kv_cache *c)
{
    if (c->layout == TI_KV_PAGED && c->table) drop_blocks(c);
    ti_free_aligned(c->ring);
    free(c->table);
    memset(c, 0, sizeof *c);
}

void ti_kv_cache_reset(ti_kv_cache *c)
{
    if (c->layout == TI_KV_PAGED) drop_blocks(c);
    c->n = 0;
    c->first_blk = 0;
}

ti_err ti_kv_cache_fork(ti_kv_cache *dst, const ti_kv_cache *src)
{
    if (dst->layout != src->layout || dst->L != src->L || dst->C != src->C || dst->W != src->W ||
        dst->pool != src->pool)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv fork: caches differ in layout, shape or pool");
    ti_kv_cache_reset(dst);
    dst->n = src->n;
    if (dst->layout == TI_KV_RING) {
        memcpy(dst->ring, src->ring, (size_t)dst->L * dst->W * 2 * dst->C * sizeof(float));
        return TI_OK;
    }
    for (int i = 0; i < src->n_blocks; i++) {
        kv_pool_ref(src->pool, src->table[i]);
        dst->table[i] = src->table[i];
    }
    dst->n_blocks = src->n_blocks;
    dst->first_blk = src->first_blk;
    return TI_OK;
}

static ti_err append_paged(ti_kv_cache *c, float **rows)
{
    const int64_t p = c->n, blk = p / c->bs;
    const int off = (int)(p % c->bs);
    /* Window after this append: positions [p - W + 1, p]; drop blocks wholly before it. */
    const int64_t lo = p - c->W + 1, keep_from = lo > 0 ? lo / c->bs : 0;
    while (c->n_blocks > 0 && c->first_blk < keep_from) {
        kv_pool_unref(c->pool, c->table[0]);
        memmove(c->table, c->table + 1, (size_t)(c->n_blocks - 1) * sizeof *c->table);
        c->n_blocks--;
        c->first_blk++;
    }
    if (c->n_blocks == 0) c->first_blk = blk;
    int idx = (int)(blk - c->first_blk);
    if (idx == c->n_blocks) { /* first position of a new block */
        if (c->n_blocks == c->table_cap)
            return ti_errorf(TI_ERR_STATE, "kv cache: block table full (window %d, block %d)", c->W, c->bs);
        int32_t id;
        ti_err e = kv_pool_alloc(c->pool, &id);
        if (e) return e;
        c->table[c->n_blocks++] = id;
    } else if (kv_pool_refcount(c->pool, c->table[idx]) > 1) {
        /* copy-on-write: the tail block is shared with another cache (a forked prefix) */
        int32_t id;
        ti_err e = kv_pool_alloc(c->pool, &id);
        if (e) return e;
        memcpy(kv_pool_block(c->pool, id), kv_pool_block(c->pool, c->table[idx]), kv_pool_block_bytes(c->pool));
        kv_pool_unref(c->pool, c->table[idx]);
        c->table[idx] = id;
    }
    float *b = kv_pool_block(c->pool, c->table[idx]);
    const size_t row = 2 * (size_t)c->C;
    for (int l = 0; l < c->L; l++) rows[l] = b + ((size_t)l * c->bs + off) * row;
    return TI_OK;
}

ti_err ti_kv_append(ti_kv_cache *c, float **rows)
{
    if (c->layout == TI_KV_PAGED) {
        ti_err e = append_paged(c, rows);
        if (e) return e;
    } else {
        const size_t row = 2 * (size_t)c->C, slot = (size_t)(c->n % c->W);
        for (int l = 0; l < c->L; l++) rows[l] = c->ring + ((size_t)l * c->W + slot) * row;
    }
    c->n++;
    return TI_OK;
}

int ti_kv_max_segments(const ti_kv_cache *c) { return c->layout == TI_KV_RING ? 2 : c->table_cap; }

int ti_kv_segments(const ti_kv_cache *c, int layer, ti_kv_seg *segs)
{
    const int64_t n = c->n < c->W ? c->n : c->W;
    if (n == 0) return 0;
    const int64_t lo = c->n - n; /* first position in the window */
    const size_t row = 2 * (size_t)c->C;
    if (c->layout == TI_KV_RING) {
        const float *base = c->ring + (size_t)layer * c->W * row;
        const int s0 = (int)(lo % c->W);
        const int n1 = (int)(n < c->W - s0 ? n : c->W - s0);
        segs[0] = (ti_kv_seg){base + (size_t)s0 * row, base + (size_t)s0 * row + c->C, row, n1, lo};
        if (n1 == n) return 1;
        segs[1] = (ti_kv_seg){base, base + c->C, row, (int)(n - n1), lo + n1};
        return 2;
    }
    int ns = 0;
    for (int i = 0; i < c->n_blocks; i++) {
        const int64_t b0 = (c->first_blk + i) * c->bs;
        int64_t s = b0 > lo ? b0 : lo, e = b0 + c->bs < c->n ? b0 + c->bs : c->n;
        if (e <= s) continue;
        const float *b = kv_pool_block(c->pool, c->table[i]) + ((size_t)layer * c->bs + (size_t)(s - b0)) * row;
        segs[ns++] = (ti_kv_seg){b, b + c->C, row, (int)(e - s), s};
    }
    return ns;
}

size_t ti_kv_cache_bytes(const ti_kv_cache *c)
{
    if (c->layout == TI_KV_RING) return (size_t)c->L * c->W * 2 * c->C * sizeof(float);
    size_t bytes = 0;
    for (int i = 0; i < c->n_blocks; i++)
        bytes += kv_pool_block_bytes(c->pool) / (size_t)kv_pool_refcount(c->pool, c->table[i]);
    return bytes;
}
