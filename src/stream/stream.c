/* Stream engine: streams per symbol, raw trades -> 1-second bars -> features -> decode.
 * Two model backends: a KV-cache transformer (one decode step per second, O(window)), or
 * any other kind through its ti_state (the window adapter: the model's forward on the
 * last `context` rows per second, e.g. a tree model over window terms). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/transformer/decode.h"
#include "tickinfer/alloc.h"
#include "tickinfer/features.h"
#include "tickinfer/model.h"
#include "tickinfer/stream.h"

#define STREAM_MAX_DEFAULT 65536
#define STREAM_SYMBOL_MAX 64
#define STREAM_MAX_GAP 86400 /* seconds closed by one call: a day */

/* Per-stream scratch: the decode step's working set plus the feature rows, one block. */
typedef struct stream_scratch {
    tfm_decode_scratch dec;
    float *xn, *feat; /* [F] normalised row, raw features */
} stream_scratch;

static size_t stream_scratch_floats(const ti_tfm *m)
{
    return tfm_decode_scratch_floats(m) + 2 * (size_t)ti_tfm_get_config(m)->n_features + 16;
}

static void stream_scratch_bind(stream_scratch *sc, const ti_tfm *m, float *base)
{
    tfm_decode_scratch_bind(&sc->dec, m, base);
    sc->xn = base + tfm_decode_scratch_floats(m);
    sc->feat = sc->xn + ti_tfm_get_config(m)->n_features;
}

struct ti_stream {
    ti_stream_engine *e;
    int slot;
    char symbol[STREAM_SYMBOL_MAX];
    pthread_mutex_t mu;
    ti_kv_cache kv;
    ti_kv_seg *segs;
    ti_kvq_seg *qsegs;    /* quantized caches: segs as ti_kvq_attend reads them */
    float *scratch_base;
    stream_scratch sc;
    ti_feat_state fs;
    ti_state *gst;        /* generic backend: the model's state (no KV cache) */
    int64_t t_next;       /* next second to close */
    int pending;          /* a bar is being aggregated for second t_next */
    double pv, v;
    uint32_t n_trades, orders;
    ti_forecast last;
};

struct ti_stream_engine {
    const ti_tfm *m;      /* KV-cache backend, or NULL */
    const ti_model *gm;   /* generic backend, or NULL */
    int F;                /* features per row */
    ti_stream_opts o;
    ti_feat_norm norm;
    int have_norm;
    float rv_scale;
    ti_kv_pool *pool;
    pthread_mutex_t mu;
    ti_stream **streams; /* [max_streams], NULL = free slot */
    int n_open;
};

ti_err ti_stream_engine_create(ti_stream_engine **out, const ti_tfm *model, const ti_ckpt_meta *meta,
                               float rv_scale, const ti_stream_opts *opts)
{
    *out = NULL;
    const ti_tfm_config *c = ti_tfm_get_config(model);
    if (c->kind != TI_TFM_RV_CAUSAL)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: the model is %s; streaming needs an rv_causal model",
                         ti_tfm_arch_name(c->kind));
    ti_stream_opts o = opts ? *opts : (ti_stream_opts){0};
    if (o.window == 0) o.window = c->context;
    if (o.block_size == 0) o.block_size = 16;
    if (o.max_streams == 0) o.max_streams = STREAM_MAX_DEFAULT;
    if (o.window < 1 || o.window > c->context)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: window %d must be in [1, %d] (the model's context)", o.window,
                         c->context);
    if (o.sinks < 0 || o.sinks > TI_KV_MAX_SINKS)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: %d sinks; use 0..%d", o.sinks, TI_KV_MAX_SINKS);
    if (ti_kv_slot_bytes(o.kv_dtype, c->n_heads, c->d_model) == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: KV dtype %s unsupported for %d heads of width %d",
                         ti_kv_dtype_name(o.kv_dtype), c->n_heads, c->d_model);
    if (o.max_streams < 1 || o.max_streams > (1 << 24))
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: max_streams %d invalid", o.max_streams);
    const int F = c->n_features, Ff = ti_features_count(o.has_book);
    if (meta && meta->n_features > 0 && meta->n_features != F)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: checkpoint metadata has %d features, the model %d",
                         meta->n_features, F);
    ti_stream_engine *e = calloc(1, sizeof *e);
    if (!e) return ti_errorf(TI_ERR_NOMEM, "stream: out of memory");
    e->m = model, e->o = o, e->F = F;
    e->rv_scale = rv_scale > 0 ? rv_scale : 1.0f;
    e->norm.n = F;
    if (meta && meta->mean && meta->std && F <= TI_FEAT_DATASET_MAX) {
        memcpy(e->norm.mean, meta->mean, (size_t)F * sizeof(float));
        memcpy(e->norm.std, meta->std, (size_t)F * sizeof(float));
        e->have_norm = 1;
    }
    (void)Ff;
    pthread_mutex_init(&e->mu, NULL);
    e->streams = calloc((size_t)o.max_streams, sizeof *e->streams);
    ti_err err = e->streams ? TI_OK : ti_errorf(TI_ERR_NOMEM, "stream: out of memory");
    if (!err && o.layout == TI_KV_PAGED)
        err = ti_kv_pool_create_dtype(&e->pool, c->n_layers, c->d_model, o.kv_dtype, c->n_heads, o.block_size,
                                      o.max_blocks, 0);
    else if (!err && o.layout != TI_KV_RING)
        err = ti_errorf(TI_ERR_INVALID_ARG, "stream: kv layout %d unknown", (int)o.layout);
    if (err) {
        ti_stream_engine_destroy(e);
        return err;
    }
    *out = e;
    return TI_OK;
}

/* A model without a KV-cache step: each stream holds the model's ti_state. */
static ti_err engine_create_generic(ti_stream_engine **out, const ti_model *m, const ti_stream_opts *opts)
{
    const ti_model_info *mi = ti_model_get_info(m);
    const ti_model_norm *n = ti_model_get_norm(m);
    ti_stream_opts o = opts ? *opts : (ti_stream_opts){0};
    if (o.max_streams == 0) o.max_streams = STREAM_MAX_DEFAULT;
    if (o.max_streams < 1 || o.max_streams > (1 << 24))
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: max_streams %d invalid", o.max_streams);
    if (mi->n_features < 1 || mi->n_features > TI_FEAT_DATASET_MAX || mi->per_step || mi->outputs[0].ndim != 1)
        return ti_errorf(TI_ERR_UNSUPPORTED, "stream: %s (%s %s) is not a per-second RV model (x [B,T,F] -> y [B])",
                         ti_model_path(m), mi->kind, mi->arch);
    o.window = mi->context;
    o.layout = TI_KV_RING;
    ti_stream_engine *e = calloc(1, sizeof *e);
    if (!e) return ti_errorf(TI_ERR_NOMEM, "stream: out of memory");
    e->gm = m, e->o = o, e->F = mi->n_features;
    e->rv_scale = n->rv_scale > 0 ? n->rv_scale : 1.0f;
    e->norm.n = e->F;
    if (ti_model_has_norm(m)) {
        memcpy(e->norm.mean, n->mean, (size_t)e->F * sizeof(float));
        memcpy(e->norm.std, n->std, (size_t)e->F * sizeof(float));
        e->have_norm = 1;
    }
    pthread_mutex_init(&e->mu, NULL);
    e->streams = calloc((size_t)o.max_streams, sizeof *e->streams);
    if (!e->streams) {
        ti_stream_engine_destroy(e);
        return ti_errorf(TI_ERR_NOMEM, "stream: out of memory");
    }
    *out = e;
    return TI_OK;
}

ti_err ti_stream_engine_create_for(ti_stream_engine **out, const ti_model *m, const ti_stream_opts *opts)
{
    *out = NULL;
    const ti_model_info *mi = ti_model_get_info(m);
    const ti_tfm *t = mi->native_step ? ti_tfm_of_model(m) : NULL;
    if (!t) return engine_create_generic(out, m, opts);
    const ti_model_norm *n = ti_model_get_norm(m);
    ti_ckpt_meta view; /* the model owns the arrays */
    memset(&view, 0, sizeof view);
    if (ti_model_has_norm(m)) view.n_features = n->n_features, view.mean = n->mean, view.std = n->std;
    return ti_stream_engine_create(out, t, &view, n->rv_scale, opts);
}

void ti_stream_engine_destroy(ti_stream_engine *e)
{
    if (!e) return;
    if (e->streams)
        for (int i = 0; i < e->o.max_streams; i++)
            if (e->streams[i]) ti_stream_close(e->streams[i]);
    free(e->streams);
    ti_kv_pool_destroy(e->pool);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

const ti_stream_opts *ti_stream_engine_opts(const ti_stream_engine *e) { return &e->o; }
const ti_tfm *ti_stream_engine_model(const ti_stream_engine *e) { return e->m; }
int ti_stream_engine_n_features(const ti_stream_engine *e) { return e->F; }

static void stream_clear(ti_stream *s)
{
    if (s->gst) ti_state_reset(s->gst);
    else ti_kv_cache_reset(&s->kv);
    ti_feat_reset(&s->fs, s->e->o.has_book);
    s->t_next = 0;
    s->pending = 0;
    s->pv = s->v = 0;
    s->n_trades = s->orders = 0;
    s->last = (ti_forecast){.t = -1, .y_log = NAN, .rv = NAN};
}

/* Release what ti_stream_open allocated (the stream is not in the engine's table). */
static void stream_free(ti_stream *s)
{
    if (s->gst) ti_state_destroy(s->gst);
    else ti_kv_cache_free(&s->kv);
    free(s->segs);
    free(s->qsegs);
    ti_free_aligned(s->scratch_base);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

ti_err ti_stream_open(ti_stream_engine *e, ti_stream **out, const char *symbol)
{
    *out = NULL;
    if (!symbol || !*symbol || strlen(symbol) >= STREAM_SYMBOL_MAX)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream: symbol must be 1..%d bytes", STREAM_SYMBOL_MAX - 1);
    ti_stream *s = calloc(1, sizeof *s);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "stream %s: out of memory", symbol);
    s->e = e;
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    pthread_mutex_init(&s->mu, NULL);
    ti_err err = TI_OK;
    if (e->gm) {
        err = ti_state_create(&s->gst, e->gm);
        s->scratch_base = err ? NULL : ti_calloc_aligned(2 * (size_t)e->F + 16, sizeof(float), TI_CACHELINE);
        if (!err && !s->scratch_base) err = ti_errorf(TI_ERR_NOMEM, "stream %s: out of memory", symbol);
        if (!err) s->sc.xn = s->scratch_base, s->sc.feat = s->scratch_base + e->F;
    } else {
        const ti_tfm_config *c = ti_tfm_get_config(e->m);
        const ti_kv_cache_opts ko = {.sinks = e->o.sinks, .dtype = e->o.kv_dtype, .H = c->n_heads};
        err = ti_kv_cache_init_ex(&s->kv, e->o.layout, c->n_layers, c->d_model, e->o.window, &ko, e->pool);
    }
    if (!err && !e->gm) {
        const size_t nseg = (size_t)ti_kv_max_segments(&s->kv);
        s->segs = malloc(nseg * sizeof *s->segs);
        if (e->o.kv_dtype != TI_KV_F32) s->qsegs = malloc(nseg * sizeof *s->qsegs);
        s->scratch_base = ti_calloc_aligned(stream_scratch_floats(e->m), sizeof(float), TI_CACHELINE);
        if (!s->segs || !s->scratch_base || (e->o.kv_dtype != TI_KV_F32 && !s->qsegs))
            err = ti_errorf(TI_ERR_NOMEM, "stream %s: out of memory", symbol);
    }
    if (!err) {
        if (!e->gm) stream_scratch_bind(&s->sc, e->m, s->scratch_base);
        stream_clear(s);
        pthread_mutex_lock(&e->mu);
        s->slot = -1;
        if (e->n_open < e->o.max_streams)
            for (int i = 0; i < e->o.max_streams; i++)
                if (!e->streams[i]) {
                    e->streams[i] = s, s->slot = i, e->n_open++;
                    break;
                }
        pthread_mutex_unlock(&e->mu);
        if (s->slot < 0)
            err = ti_errorf(TI_ERR_LIMIT, "stream %s: %d streams already open (max_streams)", symbol, e->o.max_streams);
    }
    if (err) {
        stream_free(s);
        return err;
    }
    *out = s;
    return TI_OK;
}

ti_err ti_stream_fork(ti_stream_engine *e, ti_stream **out, const char *symbol, const ti_stream *parent)
{
    ti_err err = ti_stream_open(e, out, symbol);
    if (err) return err;
    ti_stream *s = *out;
    if (e->gm) {
        ti_stream_close(s);
        *out = NULL;
        return ti_errorf(TI_ERR_UNSUPPORTED, "stream %s: forking needs a KV-cache model (%s has none)", symbol,
                         ti_model_path(e->gm));
    }
    ti_stream *p = (ti_stream *)(uintptr_t)parent;
    pthread_mutex_lock(&p->mu);
    err = ti_kv_cache_fork(&s->kv, &p->kv);
    s->fs = p->fs;
    s->t_next = p->t_next, s->pending = p->pending, s->pv = p->pv, s->v = p->v;
    s->n_trades = p->n_trades, s->orders = p->orders, s->last = p->last;
    pthread_mutex_unlock(&p->mu);
    if (err) {
        ti_stream_close(s);
        *out = NULL;
    }
    return err;
}

void ti_stream_close(ti_stream *s)
{
    if (!s) return;
    ti_stream_engine *e = s->e;
    pthread_mutex_lock(&e->mu);
    if (s->slot >= 0 && e->streams[s->slot] == s) {
        e->streams[s->slot] = NULL;
        e->n_open--;
    }
    pthread_mutex_unlock(&e->mu);
    stream_free(s);
}

const char *ti_stream_symbol(const ti_stream *s) { return s->symbol; }
int64_t ti_stream_len(const ti_stream *s) { return s->gst ? ti_state_len(s->gst) : s->kv.n; }
size_t ti_stream_kv_bytes(const ti_stream *s) { return s->gst ? 0 : ti_kv_cache_bytes(&s->kv); }
const float *ti_stream_last_features(const ti_stream *s) { return s->sc.feat; }

void ti_stream_reset(ti_stream *s)
{
    pthread_mutex_lock(&s->mu);
    stream_clear(s);
    pthread_mutex_unlock(&s->mu);
}

/* Caller holds s->mu. */
static ti_err decode_locked(ti_stream *s, const float *xn, int64_t t, ti_forecast *y)
{
    float out;
    ti_err e = s->gst ? ti_state_step(s->gst, &out, xn)
                      : tfm_decode_step(s->e->m, &s->kv, &s->sc.dec, s->segs, s->qsegs, xn, &out);
    if (e) return ti_error_wrap(e, "stream %s", s->symbol);
    s->last = (ti_forecast){.t = t, .y_log = out, .rv = expf(out) * s->e->rv_scale};
    if (y) *y = s->last;
    return TI_OK;
}

static ti_err check_row(const ti_stream *s, const float *x, int F)
{
    for (int i = 0; i < F; i++)
        if (!isfinite(x[i]))
            return ti_errorf(TI_ERR_INVALID_ARG, "stream %s: feature %d (%s) is %g; inputs must be finite", s->symbol,
                             i, ti_feature_name(i), x[i]);
    return TI_OK;
}

ti_err ti_stream_push_normalized(ti_stream *s, const float *xn, ti_forecast *y)
{
    const int F = s->e->F;
    ti_err e = check_row(s, xn, F);
    if (e) return e;
    pthread_mutex_lock(&s->mu);
    e = decode_locked(s, xn, ti_stream_len(s), y);
    pthread_mutex_unlock(&s->mu);
    return e;
}

static void normalize(const ti_stream_engine *e, float *xn, const float *x, int F)
{
    memcpy(xn, x, (size_t)F * sizeof(float));
    if (e->have_norm) ti_feat_normalize(xn, 1, &e->norm);
}

ti_err ti_stream_push_features(ti_stream *s, const float *x, ti_forecast *y)
{
    const int F = s->e->F;
    ti_err e = check_row(s, x, F);
    if (e) return e;
    pthread_mutex_lock(&s->mu);
    normalize(s->e, s->sc.xn, x, F);
    e = decode_locked(s, s->sc.xn, ti_stream_len(s), y);
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* Close seconds [t_next, t_end): the pending bar (if any) at t_next, empty seconds after.
 * Caller holds s->mu. */
static ti_err close_until(ti_stream *s, int64_t t_end, int *n_out)
{
    const ti_stream_engine *e = s->e;
    const int F = e->F;
    if (t_end - s->t_next > STREAM_MAX_GAP)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream %s: a gap of %lld s (max %d); reset the stream for a new session",
                         s->symbol, (long long)(t_end - s->t_next), STREAM_MAX_GAP);
    if (ti_features_count(e->o.has_book) != F)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream %s: the model takes %d features, trades give %d", s->symbol, F,
                         ti_features_count(e->o.has_book));
    while (s->t_next < t_end) {
        ti_bar bar, *pb = NULL;
        if (s->pending) {
            bar = (ti_bar){.sec = (uint16_t)(s->t_next & 0xffff),
                           .n_trades = (uint16_t)(s->n_trades > 65535 ? 65535 : s->n_trades),
                           .order_count = s->orders,
                           .price = (float)(s->v > 0 ? s->pv / s->v : s->pv),
                           .size = (float)s->v};
            pb = &bar;
            s->pending = 0;
        }
        ti_feat_step(&s->fs, pb, NULL, s->sc.feat);
        normalize(e, s->sc.xn, s->sc.feat, F);
        ti_err err = decode_locked(s, s->sc.xn, s->t_next, NULL);
        if (err) return err;
        s->t_next++;
        if (n_out) (*n_out)++;
    }
    return TI_OK;
}

ti_err ti_stream_push_trade(ti_stream *s, int64_t t_sec, float price, float size, uint32_t orders,
                            ti_forecast *last, int *n_out)
{
    if (n_out) *n_out = 0;
    if (!(price > 0) || !isfinite(price) || !(size >= 0) || !isfinite(size))
        return ti_errorf(TI_ERR_INVALID_ARG, "stream %s: trade price %g size %g invalid (price > 0, size >= 0)",
                         s->symbol, price, size);
    pthread_mutex_lock(&s->mu);
    ti_err e = TI_OK;
    if (t_sec < s->t_next)
        e = ti_errorf(TI_ERR_INVALID_ARG, "stream %s: trade at second %lld is before second %lld already closed",
                      s->symbol, (long long)t_sec, (long long)s->t_next);
    if (!e) e = close_until(s, t_sec, n_out);
    if (!e) {
        /* a zero-size print still counts as a trade but adds no weight: keep the price */
        const double w = size > 0 ? size : 0.0;
        if (!s->pending || s->v == 0) {
            s->pv = w > 0 ? (double)price * w : (double)price;
            s->v = w > 0 ? w : 0.0;
        } else {
            s->pv += (double)price * w;
            s->v += w;
        }
        s->n_trades = s->pending ? s->n_trades + 1 : 1;
        s->orders = s->pending ? s->orders + orders : orders;
        s->pending = 1;
    }
    if (last) *last = s->last;
    pthread_mutex_unlock(&s->mu);
    return e;
}

ti_err ti_stream_advance(ti_stream *s, int64_t t_sec, ti_forecast *last, int *n_out)
{
    if (n_out) *n_out = 0;
    pthread_mutex_lock(&s->mu);
    ti_err e = t_sec > s->t_next ? close_until(s, t_sec, n_out) : TI_OK;
    if (last) *last = s->last;
    pthread_mutex_unlock(&s->mu);
    return e;
}

void ti_stream_engine_stats(ti_stream_engine *e, ti_stream_stats *st)
{
    memset(st, 0, sizeof *st);
    st->layout = e->o.layout;
    size_t held = 0, slots = 0, sink_bytes = 0;
    pthread_mutex_lock(&e->mu);
    st->streams = e->n_open;
    for (int i = 0; i < e->o.max_streams; i++) {
        const ti_stream *s = e->streams[i];
        if (!s) continue;
        if (s->gst) {
            st->state_bytes += sizeof *s + ti_state_bytes(s->gst) + (2 * (size_t)e->F + 16) * sizeof(float);
            continue;
        }
        st->kv_bytes += ti_kv_cache_bytes(&s->kv);
        st->state_bytes += sizeof *s + stream_scratch_floats(e->m) * sizeof(float) +
                           (size_t)ti_kv_max_segments(&s->kv) * sizeof(ti_kv_seg);
        /* window positions held; the sinks sit in their own buffer, counted apart */
        const int64_t in_win = s->kv.n - s->kv.sinks < s->kv.W ? s->kv.n - s->kv.sinks : s->kv.W;
        held += (size_t)(in_win > 0 ? in_win : 0);
        sink_bytes += (size_t)s->kv.L * (size_t)s->kv.sinks * (size_t)s->kv.slot_floats * sizeof(float);
        slots += e->o.layout == TI_KV_RING ? (size_t)s->kv.W : (size_t)s->kv.n_blocks * (size_t)s->kv.bs;
    }
    pthread_mutex_unlock(&e->mu);
    if (e->pool) {
        ti_kv_pool_stats_get(e->pool, &st->pool);
        st->kv_bytes = st->pool.blocks_used * st->pool.block_bytes + sink_bytes;
        st->kv_bytes_reserved = st->pool.blocks_alloc * st->pool.block_bytes + sink_bytes;
    } else {
        st->kv_bytes_reserved = st->kv_bytes;
    }
    st->utilisation = slots ? (double)held / (double)slots : 0.0;
}
