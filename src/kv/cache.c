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
    return ti_kv_cache_init_sinks(c, layout, L, C, W, 0, pool);
}

ti_err ti_kv_cache_init_sinks(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, int sinks,
                              ti_kv_pool *pool)
{
    const ti_kv_cache_opts o = {.sinks = sinks, .dtype = TI_KV_F32, .H = 1};
    return ti_kv_cache_init_ex(c, layout, L, C, W, &o, pool);
}

/* Quantized rows are padded to 4 bytes so a slot is a whole number of floats and the
 * segments keep their float stride. */
static size_t padded_row_bytes(ti_kv_dtype dtype, int H, int C)
{
    if (H <= 0 || C % H != 0) return 0;
    const size_t rb = ti_kvq_row_bytes(dtype, H, C / H);
    return (rb + sizeof(float) - 1) / sizeof(float) * sizeof(float);
}

size_t ti_kv_slot_bytes(ti_kv_dtype dtype, int H, int C)
{
    if (C <= 0) return 0;
    if (dtype == TI_KV_F32) return 2 * (size_t)C * sizeof(float);
    return 2 * padded_row_bytes(dtype, H, C);
}

ti_err ti_kv_cache_init_ex(ti_kv_cache *c, ti_kv_layout layout, int L, int C, int W, const ti_kv_cache_opts *o,
                           ti_kv_pool *pool)
{
    memset(c, 0, sizeof *c);
    const int sinks = o ? o->sinks : 0;
    const ti_kv_dtype dtype = o ? o->dtype : TI_KV_F32;
    const int H = dtype == TI_KV_F32 ? 1 : (o ? o->H : 0);
    if (L <= 0 || C <= 0 || W <= 0 || W > (1 << 24))
        return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: layers %d, width %d, window %d invalid", L, C, W);
    if (sinks < 0 || sinks > TI_KV_MAX_SINKS)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: %d sinks; use 0..%d", sinks, TI_KV_MAX_SINKS);
    const size_t slot = ti_kv_slot_bytes(dtype, H, C);
    if (slot == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv cache: dtype %s unsupported for %d heads of width %d",
                         ti_kv_dtype_name(dtype), H, C);
    c->layout = layout, c->L = L, c->C = C, c->W = W, c->sinks = sinks;
    c->dtype = dtype, c->H = H;
    c->slot_floats = (int)(slot / sizeof(float));
    c->v_off = c->slot_floats / 2;
    if (sinks > 0) {
        c->sink = ti_calloc_aligned((size_t)L * sinks * c->slot_floats, sizeof(float), TI_CACHELINE);
        if (!c->sink) return ti_errorf(TI_ERR_NOMEM, "kv cache: out of memory for %d sinks", sinks);
    }
    if (layout == TI_KV_RING) {
        c->ring = ti_calloc_aligned((size_t)L * W * c->slot_floats, sizeof(float), TI_CACHELINE);
        if (!c->ring) {
            ti_kv_cache_free(c);
            return ti_errorf(TI_ERR_NOMEM, "kv cache: out of memory for a %d-position ring", W);
        }
        return TI_OK;
    }
    ti_err err = TI_OK;
    if (layout != TI_KV_PAGED) err = ti_errorf(TI_ERR_INVALID_ARG, "kv cache: layout %d unknown", (int)layout);
    else if (!pool || kv_pool_layers(pool) != L || kv_pool_width(pool) != C || kv_pool_dtype(pool) != dtype ||
             (dtype != TI_KV_F32 && kv_pool_heads(pool) != H))
        err = ti_errorf(TI_ERR_INVALID_ARG,
                        "kv cache: paged layout needs a pool made for %d layers of width %d, %s rows (%d heads)", L,
                        C, ti_kv_dtype_name(dtype), H);
    if (!err) {
        c->pool = pool;
        c->bs = kv_pool_block_size(pool);
        c->table_cap = W / c->bs + 2; /* a window spans at most ceil((W-1)/bs) + 1 blocks */
        c->table = malloc((size_t)c->table_cap * sizeof *c->table);
        if (!c->table) err = ti_errorf(TI_ERR_NOMEM, "kv cache: out of memory");
    }
    if (err) {
        c->layout = TI_KV_RING; /* nothing paged to drop */
        ti_kv_cache_free(c);
    }
    return err;
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
    ti_free_aligned(c->sink);
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
        dst->sinks != src->sinks || dst->pool != src->pool || dst->dtype != src->dtype || dst->H != src->H)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv fork: caches differ in layout, shape or pool");
    ti_kv_cache_reset(dst);
    dst->n = src->n;
    const size_t slot = (size_t)dst->slot_floats * sizeof(float);
    if (dst->sinks > 0) memcpy(dst->sink, src->sink, (size_t)dst->L * dst->sinks * slot);
    if (dst->layout == TI_KV_RING) {
        memcpy(dst->ring, src->ring, (size_t)dst->L * dst->W * slot);
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
    /* Window after this append: positions [p - W + 1, p] (none below the sinks, which live
     * apart); drop blocks wholly before it. */
    int64_t lo = p - c->W + 1;
    if (lo < c->sinks) lo = c->sinks;
    const int64_t keep_from = lo / c->bs;
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
    const size_t row = (size_t)c->slot_floats;
    for (int l = 0; l < c->L; l++) rows[l] = b + ((size_t)l * c->bs + off) * row;
    return TI_OK;
}

ti_err ti_kv_append(ti_kv_cache *c, float **rows)
{
    if (c->n < c->sinks) {
        const size_t row = (size_t)c->slot_floats;
        for (int l = 0; l < c->L; l++) rows[l] = c->sink + ((size_t)l * c->sinks + (size_t)c->n) * row;
    } else if (c->layout == TI_KV_PAGED) {
        ti_err e = append_paged(c, rows);
        if (e) return e;
    } else {
        const size_t row = (size_t)c->slot_floats, slot = (size_t)(c->n % c->W);
        for (int l = 0; l < c->L; l++) rows[l] = c->ring + ((size_t)l * c->W + slot) * row;
    }
    c->n++;
    return TI_OK;
}

int ti_kv_max_segments(const ti_kv_cache *c) { return (c->sinks > 0) + (c->layout == TI_KV_RING ? 2 : c->table_cap); }

ti_err ti_kv_store(const ti_kv_cache *c, float *slot, const float *kv)
{
    if (c->dtype == TI_KV_F32) {
        memcpy(slot, kv, 2 * (size_t)c->C * sizeof(float));
        return TI_OK;
    }
    const int hd = c->C / c->H;
    ti_err e = ti_kvq_quantize_row(slot, kv, c->dtype, c->H, hd);
    if (!e) e = ti_kvq_quantize_row(slot + c->v_off, kv + c->C, c->dtype, c->H, hd);
    return e ? ti_error_wrap(e, "kv cache: storing an %s row", ti_kv_dtype_name(c->dtype)) : TI_OK;
}

void ti_kv_seg_to_q(ti_kvq_seg *q, const ti_kv_seg *segs, int n)
{
    for (int i = 0; i < n; i++)
        q[i] = (ti_kvq_seg){.k = segs[i].k, .v = segs[i].v, .stride = segs[i].stride * sizeof(float),
                            .n = segs[i].n, .pos0 = segs[i].pos0, .pos = NULL};
}

int ti_kv_segments(const ti_kv_cache *c, int layer, ti_kv_seg *segs)
{
    const size_t row = (size_t)c->slot_floats;
    const int vo = c->v_off;
    int ns = 0;
    if (c->sinks > 0 && c->n > 0) {
        const float *b = c->sink + (size_t)layer * c->sinks * row;
        segs[ns++] = (ti_kv_seg){b, b + vo, row, (int)(c->n < c->sinks ? c->n : c->sinks), 0};
    }
    int64_t lo = c->n - c->W; /* first position in the window */
    if (lo < c->sinks) lo = c->sinks;
    const int64_t n = c->n - lo;
    if (n <= 0) return ns;
    if (c->layout == TI_KV_RING) {
        const float *base = c->ring + (size_t)layer * c->W * row;
        const int s0 = (int)(lo % c->W);
        const int n1 = (int)(n < c->W - s0 ? n : c->W - s0);
        segs[ns++] = (ti_kv_seg){base + (size_t)s0 * row, base + (size_t)s0 * row + vo, row, n1, lo};
        if (n1 < n) segs[ns++] = (ti_kv_seg){base, base + vo, row, (int)(n - n1), lo + n1};
        return ns;
    }
    for (int i = 0; i < c->n_blocks; i++) {
        const int64_t b0 = (c->first_blk + i) * c->bs;
        int64_t s = b0 > lo ? b0 : lo, e = b0 + c->bs < c->n ? b0 + c->bs : c->n;
        if (e <= s) continue;
        const float *b = kv_pool_block(c->pool, c->table[i]) + ((size_t)layer * c->bs + (size_t)(s - b0)) * row;
        segs[ns++] = (ti_kv_seg){b, b + vo, row, (int)(e - s), s};
    }
    return ns;
}

size_t ti_kv_cache_bytes(const ti_kv_cache *c)
{
    const size_t slot = (size_t)c->slot_floats * sizeof(float);
    size_t bytes = (size_t)c->L * c->sinks * slot;
    if (c->layout == TI_KV_RING) return bytes + (size_t)c->L * c->W * slot;
    for (int i = 0; i < c->n_blocks; i++)
        bytes += kv_pool_block_bytes(c->pool) / (size_t)kv_pool_refcount(c->pool, c->table[i]);
    return bytes;
}
