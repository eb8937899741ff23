/* The embedding API (include/tickinfer.h): a thin layer over the generic model interface
 * (ti_model_* / ti_ctx_* / ti_state_*), the per-symbol stream engine (ti_stream_*) and the
 * market-data sources.  The only exported functions of libtickinfer.so are defined here,
 * marked TI_API by their declarations in tickinfer.h (everything else is built with
 * -fvisibility=hidden). */
#include "tickinfer.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/err.h"
#include "tickinfer/features.h"
#include "tickinfer/ingest.h"
#include "tickinfer/kv.h"
#include "tickinfer/kvquant.h"
#include "tickinfer/model.h"
#include "tickinfer/stream.h"
#include "tickinfer/threadpool.h"
#include "tickinfer/transformer.h"
#include "tickinfer/version.h"

#define API_SYMBOL_MAX 64
#define API_MAX_STREAMS (1 << 20)

/* ---- version, errors ------------------------------------------------------------------ */

const char *ti_version(void) { return TI_VERSION_STRING; }
const char *ti_last_error(void) { return ti_errmsg(); }
const char *ti_error_name(ti_err code) { return ti_err_name(code); }

/* ---- models --------------------------------------------------------------------------- */

ti_model_load_opts ti_model_load_default_opts(void) { return (ti_model_load_opts){0}; }

ti_err ti_model_load(ti_model **out, const char *path, const ti_model_load_opts *opts)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_model_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return ti_errorf(TI_ERR_INVALID_ARG, "ti_model_load: no model file given");
    ti_model_opts mo;
    ti_model_default_opts(&mo);
    if (opts) {
        if (opts->n_heads < 0 || opts->context < 0)
            return ti_errorf(TI_ERR_INVALID_ARG, "ti_model_load %s: n_heads %d and context %d must be >= 0 (0 = default)",
                             path, opts->n_heads, opts->context);
        mo.kind = opts->kind, mo.n_heads = opts->n_heads, mo.context = opts->context;
    }
    return ti_model_open(out, path, &mo);
}

void ti_model_close(ti_model *m) { ti_model_free(m); }

/* Streams trades through the stream engine: a causal transformer on the 12 trade features. */
static int model_streams_trades(const ti_model *m)
{
    const ti_model_info *mi = ti_model_get_info(m);
    return strcmp(mi->kind, "transformer") == 0 && strcmp(mi->arch, ti_tfm_arch_name(TI_TFM_RV_CAUSAL)) == 0 &&
           mi->n_features == ti_features_count(0);
}

static int model_is_causal_tfm(const ti_model *m)
{
    const ti_model_info *mi = ti_model_get_info(m);
    return strcmp(mi->kind, "transformer") == 0 && strcmp(mi->arch, ti_tfm_arch_name(TI_TFM_RV_CAUSAL)) == 0;
}

ti_err ti_model_describe(const ti_model *m, ti_model_desc *out)
{
    if (!m || !out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_model_describe: model or out is NULL");
    const ti_model_info *mi = ti_model_get_info(m);
    *out = (ti_model_desc){.kind = mi->kind,
                           .arch = mi->arch,
                           .n_features = mi->n_features,
                           .context = mi->context,
                           .fixed_context = mi->fixed_context,
                           .per_step = mi->per_step,
                           .native_step = mi->native_step,
                           .streams_trades = model_streams_trades(m),
                           .n_params = mi->n_params};
    return TI_OK;
}

ti_err ti_model_get_meta(const ti_model *m, ti_model_meta *out)
{
    if (!m || !out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_model_get_meta: model or out is NULL");
    const ti_model_norm *n = ti_model_get_norm(m);
    *out = (ti_model_meta){.path = ti_model_path(m),
                           .n_features = n->n_features > 0 ? n->n_features : ti_model_get_info(m)->n_features,
                           .feature_names = (const char *const *)n->feature_names,
                           .mean = n->mean,
                           .std = n->std,
                           .rv_scale = n->rv_scale > 0 ? n->rv_scale : 1.0f,
                           .version = n->version};
    return TI_OK;
}

/* ---- batch inference ------------------------------------------------------------------ */

struct ti_runner {
    const ti_model *m;
    ti_ctx *ctx;
    ti_pool *pool;
    float *xn;      /* [max_batch * context * F] when normalising, else NULL */
    size_t xn_cap;  /* floats */
};

ti_runner_opts ti_runner_default_opts(void) { return (ti_runner_opts){.max_batch = 32, .n_threads = 1, .raw_inputs = 1}; }

void ti_runner_free(ti_runner *r)
{
    if (!r) return;
    ti_ctx_destroy(r->ctx);
    ti_pool_destroy(r->pool);
    free(r->xn);
    free(r);
}

ti_err ti_runner_create(ti_runner **out, const ti_model *m, const ti_runner_opts *opts)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_create: out is NULL");
    *out = NULL;
    if (!m) return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_create: model is NULL (load one with ti_model_load)");
    const ti_runner_opts o = opts ? *opts : ti_runner_default_opts();
    if (o.max_batch < 1 || o.max_batch > 1 << 16)
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_create: max_batch %d; use 1..65536", o.max_batch);
    const ti_model_info *mi = ti_model_get_info(m);
    ti_runner *r = calloc(1, sizeof *r);
    if (!r) return ti_errorf(TI_ERR_NOMEM, "ti_runner_create: out of memory");
    r->m = m;
    ti_err e = ti_ctx_create(&r->ctx, m, o.max_batch);
    if (!e && o.n_threads != 1) e = ti_pool_create(&r->pool, o.n_threads);
    if (!e && o.raw_inputs && ti_model_has_norm(m)) {
        r->xn_cap = (size_t)o.max_batch * (size_t)(mi->context > 0 ? mi->context : 1) * (size_t)mi->n_features;
        if (!(r->xn = malloc(r->xn_cap * sizeof(float))))
            e = ti_errorf(TI_ERR_NOMEM, "ti_runner_create: out of memory for %zu input floats (lower max_batch)",
                          r->xn_cap);
    }
    if (e) {
        ti_runner_free(r);
        return e;
    }
    *out = r;
    return TI_OK;
}

ti_err ti_runner_infer(ti_runner *r, float *y, const float *x, int B, int T)
{
    if (!r || !y || !x) return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_infer: runner, y or x is NULL");
    const ti_model_info *mi = ti_model_get_info(r->m);
    if (B < 1 || B > ti_ctx_max_batch(r->ctx))
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_infer: batch %d; this runner takes 1..%d (max_batch)", B,
                         ti_ctx_max_batch(r->ctx));
    if (T < 1 || T > mi->context || (mi->fixed_context && T != mi->context))
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_runner_infer: %d rows per window; the model takes %s%d", T,
                         mi->fixed_context ? "exactly " : "1..", mi->context);
    const float *xin = x;
    if (r->xn) {
        const size_t n = (size_t)B * (size_t)T * (size_t)mi->n_features;
        memcpy(r->xn, x, n * sizeof(float));
        ti_model_normalise(r->m, r->xn, (size_t)B * (size_t)T);
        xin = r->xn;
    }
    return ti_ctx_forward(r->ctx, y, xin, B, T, r->pool);
}

/* ---- per-symbol streaming --------------------------------------------------------------- */

/* One symbol: a stream-engine stream (causal transformer) or a ti_state (other kinds). */
typedef struct api_feed {
    char symbol[API_SYMBOL_MAX];
    uint64_t hash;
    ti_stream *s;
    ti_state *st;
    pthread_mutex_t mu;     /* ti_state path */
    float *xn;              /* [F] scratch, ti_state path */
    ti_prediction last;
} api_feed;

struct ti_engine {
    const ti_model *m;
    ti_engine_opts o;
    ti_stream_engine *se;   /* causal transformer, else NULL */
    int F;
    int trades;             /* 1: push_trade / advance work (model_streams_trades) */
    float rv_scale;
    pthread_rwlock_t lock;  /* the table: read for lookups, write to add/remove */
    api_feed **tab;         /* open addressing, linear probing, [cap] */
    size_t cap;             /* power of two >= 2 * max_streams */
    atomic_int n_open;
};

ti_engine_opts ti_engine_default_opts(void) { return (ti_engine_opts){.max_streams = 1024}; }

static uint64_t sym_hash(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t n = 0;
    for (; s[n]; n++) h = (h ^ (uint8_t)s[n]) * 1099511628211ull;
    *len = n;
    return h;
}

static ti_err check_symbol(const char *fn, const char *symbol, uint64_t *h)
{
    if (!symbol) return ti_errorf(TI_ERR_INVALID_ARG, "%s: symbol is NULL", fn);
    size_t n;
    *h = sym_hash(symbol, &n);
    if (n == 0 || n >= API_SYMBOL_MAX)
        return ti_errorf(TI_ERR_INVALID_ARG, "%s: symbol '%.80s' must be 1..%d bytes", fn, symbol, API_SYMBOL_MAX - 1);
    return TI_OK;
}

/* Slot of symbol, or of the empty slot where it would go.  Caller holds the lock. */
static size_t tab_find(const ti_engine *e, const char *symbol, uint64_t h)
{
    size_t i = (size_t)h & (e->cap - 1);
    for (;;) {
        const api_feed *f = e->tab[i];
        if (!f || (f->hash == h && strcmp(f->symbol, symbol) == 0)) return i;
        i = (i + 1) & (e->cap - 1);
    }
}

static void feed_free(ti_engine *e, api_feed *f)
{
    if (!f) return;
    ti_stream_close(f->s);
    ti_state_destroy(f->st);
    free(f->xn);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static ti_err feed_new(ti_engine *e, api_feed **out, const char *symbol, uint64_t h)
{
    api_feed *f = calloc(1, sizeof *f);
    if (!f) return ti_errorf(TI_ERR_NOMEM, "engine: out of memory opening %s", symbol);
    snprintf(f->symbol, sizeof f->symbol, "%s", symbol);
    f->hash = h;
    f->last = (ti_prediction){.t = -1, .y_log = NAN, .rv = NAN};
    pthread_mutex_init(&f->mu, NULL);
    ti_err err;
    if (e->se) {
        err = ti_stream_open(e->se, &f->s, symbol);
    } else {
        err = ti_state_create(&f->st, e->m);
        if (!err && !(f->xn = malloc((size_t)e->F * sizeof(float))))
            err = ti_errorf(TI_ERR_NOMEM, "engine: out of memory opening %s", symbol);
    }
    if (err) {
        feed_free(e, f);
        return err;
    }
    *out = f;
    return TI_OK;
}

/* The feed of symbol, created if missing.  No allocation when it exists. */
static ti_err engine_get(ti_engine *e, const char *fn, const char *symbol, api_feed **out, int *created)
{
    uint64_t h;
    if (created) *created = 0;
    if (!e) return ti_errorf(TI_ERR_INVALID_ARG, "%s: engine is NULL (make one with ti_engine_create)", fn);
    ti_err err = check_symbol(fn, symbol, &h);
    if (err) return err;
    pthread_rwlock_rdlock(&e->lock);
    api_feed *f = e->tab[tab_find(e, symbol, h)];
    pthread_rwlock_unlock(&e->lock);
    if (f) {
        *out = f;
        return TI_OK;
    }
    pthread_rwlock_wrlock(&e->lock);
    const size_t i = tab_find(e, symbol, h); /* another thread may have made it meanwhile */
    if (!e->tab[i]) {
        if (atomic_load(&e->n_open) >= e->o.max_streams)
            err = ti_errorf(TI_ERR_LIMIT, "%s %s: %d streams already open (raise ti_engine_opts.max_streams or "
                            "ti_engine_close unused symbols)", fn, symbol, e->o.max_streams);
        else if (!(err = feed_new(e, &e->tab[i], symbol, h))) {
            atomic_fetch_add(&e->n_open, 1);
            if (created) *created = 1;
        }
    }
    f = e->tab[i];
    pthread_rwlock_unlock(&e->lock);
    if (err) return err;
    *out = f;
    return TI_OK;
}

void ti_engine_free(ti_engine *e)
{
    if (!e) return;
    if (e->tab)
        for (size_t i = 0; i < e->cap; i++) feed_free(e, e->tab[i]);
    free(e->tab);
    ti_stream_engine_destroy(e->se);
    pthread_rwlock_destroy(&e->lock);
    free(e);
}

ti_err ti_engine_create(ti_engine **out, const ti_model *m, const ti_engine_opts *opts)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_create: out is NULL");
    *out = NULL;
    if (!m) return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_create: model is NULL (load one with ti_model_load)");
    ti_engine_opts o = opts ? *opts : ti_engine_default_opts();
    if (o.max_streams < 1 || o.max_streams > API_MAX_STREAMS)
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_create: max_streams %d; use 1..%d", o.max_streams,
                         API_MAX_STREAMS);
    if (o.window < 0 || o.sinks < 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_create: window %d and sinks %d must be >= 0", o.window, o.sinks);
    ti_kv_layout layout = TI_KV_RING;
    ti_kv_dtype dt = TI_KV_F32;
    ti_err err;
    if (o.kv_layout && (err = ti_kv_layout_parse(&layout, o.kv_layout)))
        return ti_error_wrap(err, "ti_engine_create: kv_layout: ");
    if (o.kv_dtype && (err = ti_kv_dtype_parse(&dt, o.kv_dtype)))
        return ti_error_wrap(err, "ti_engine_create: kv_dtype: ");
    const ti_model_info *mi = ti_model_get_info(m);
    const int causal = model_is_causal_tfm(m);
    if (!causal && (o.window || o.sinks || layout != TI_KV_RING || dt != TI_KV_F32))
        return ti_errorf(TI_ERR_UNSUPPORTED,
                         "ti_engine_create: window, sinks, kv_layout and kv_dtype apply to a causal transformer's KV "
                         "cache; %s is a %s %s model (leave them 0/NULL)", ti_model_path(m), mi->kind, mi->arch);
    ti_engine *e = calloc(1, sizeof *e);
    if (!e) return ti_errorf(TI_ERR_NOMEM, "ti_engine_create: out of memory");
    e->m = m, e->o = o, e->F = mi->n_features, e->trades = model_streams_trades(m);
    e->rv_scale = ti_model_get_norm(m)->rv_scale > 0 ? ti_model_get_norm(m)->rv_scale : 1.0f;
    pthread_rwlock_init(&e->lock, NULL);
    e->cap = 16;
    while (e->cap < 2 * (size_t)o.max_streams) e->cap <<= 1;
    err = (e->tab = calloc(e->cap, sizeof *e->tab)) ? TI_OK : ti_errorf(TI_ERR_NOMEM, "ti_engine_create: out of memory");
    if (!err && causal) {
        err = ti_stream_engine_create_for(&e->se, m,
                                          &(ti_stream_opts){.window = o.window, .layout = layout,
                                                            .max_streams = o.max_streams, .sinks = o.sinks,
                                                            .kv_dtype = dt});
        if (err) ti_error_wrap(err, "ti_engine_create %s: ", ti_model_path(m));
    }
    if (err) {
        ti_engine_free(e);
        return err;
    }
    *out = e;
    return TI_OK;
}

ti_err ti_engine_open(ti_engine *e, const char *symbol, int *created)
{
    api_feed *f;
    return engine_get(e, "ti_engine_open", symbol, &f, created);
}

static void from_forecast(ti_prediction *p, const ti_forecast *fc, int n)
{
    *p = (ti_prediction){.t = fc->t, .y_log = fc->y_log, .rv = fc->rv, .n_new = n};
}

/* Trades need the stream engine's features: checked before the lookup creates a stream. */
static ti_err check_trades(const ti_engine *e, const char *fn, const char *symbol)
{
    if (!e) return ti_errorf(TI_ERR_INVALID_ARG, "%s: engine is NULL (make one with ti_engine_create)", fn);
    if (e->trades) return TI_OK;
    const ti_model_info *mi = ti_model_get_info(e->m);
    return ti_errorf(TI_ERR_UNSUPPORTED,
                     "%s %s: trades stream through a causal transformer on the %d trade features; %s is a %s %s "
                     "model with %d features: push feature rows (ti_engine_push_row)",
                     fn, symbol ? symbol : "(null)", ti_features_count(0), ti_model_path(e->m), mi->kind, mi->arch,
                     mi->n_features);
}

ti_err ti_engine_push_trade(ti_engine *e, const char *symbol, int64_t t_sec, float price, float size,
                            uint32_t orders, ti_prediction *out)
{
    api_feed *f;
    ti_err err = check_trades(e, "ti_engine_push_trade", symbol);
    if (!err) err = engine_get(e, "ti_engine_push_trade", symbol, &f, NULL);
    if (err) return err;
    ti_forecast fc;
    int n = 0;
    err = ti_stream_push_trade(f->s, t_sec, price, size, orders, &fc, &n);
    if (!err && out) from_forecast(out, &fc, n);
    return err;
}

ti_err ti_engine_advance(ti_engine *e, const char *symbol, int64_t t_sec, ti_prediction *out)
{
    api_feed *f;
    ti_err err = check_trades(e, "ti_engine_advance", symbol);
    if (!err) err = engine_get(e, "ti_engine_advance", symbol, &f, NULL);
    if (err) return err;
    ti_forecast fc;
    int n = 0;
    err = ti_stream_advance(f->s, t_sec, &fc, &n);
    if (!err && out) from_forecast(out, &fc, n);
    return err;
}

ti_err ti_engine_push_row(ti_engine *e, const char *symbol, const float *x, ti_prediction *out)
{
    api_feed *f;
    ti_err err = engine_get(e, "ti_engine_push_row", symbol, &f, NULL);
    if (err) return err;
    if (!x) return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_push_row %s: x is NULL", symbol);
    if (f->s) {
        ti_forecast fc;
        err = ti_stream_push_features(f->s, x, &fc);
        if (!err && out) from_forecast(out, &fc, 1);
        return err;
    }
    for (int i = 0; i < e->F; i++)
        if (!isfinite(x[i]))
            return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_push_row %s: feature %d is %g; inputs must be finite",
                             symbol, i, x[i]);
    pthread_mutex_lock(&f->mu);
    memcpy(f->xn, x, (size_t)e->F * sizeof(float));
    ti_model_normalise(e->m, f->xn, 1);
    float y = NAN;
    err = ti_state_step(f->st, &y, f->xn);
    if (!err) {
        f->last = (ti_prediction){.t = ti_state_len(f->st) - 1, .y_log = y, .rv = expf(y) * e->rv_scale, .n_new = 1};
        if (out) *out = f->last;
    } else {
        ti_error_wrap(err, "ti_engine_push_row %s: ", symbol);
    }
    pthread_mutex_unlock(&f->mu);
    return err;
}

ti_err ti_engine_reset(ti_engine *e, const char *symbol)
{
    api_feed *f;
    int created = 0;
    ti_err err = engine_get(e, "ti_engine_reset", symbol, &f, &created);
    if (err || created) return err;
    if (f->s) {
        ti_stream_reset(f->s);
    } else {
        pthread_mutex_lock(&f->mu);
        ti_state_reset(f->st);
        f->last = (ti_prediction){.t = -1, .y_log = NAN, .rv = NAN};
        pthread_mutex_unlock(&f->mu);
    }
    return TI_OK;
}

ti_err ti_engine_close(ti_engine *e, const char *symbol)
{
    uint64_t h;
    if (!e) return ti_errorf(TI_ERR_INVALID_ARG, "ti_engine_close: engine is NULL");
    ti_err err = check_symbol("ti_engine_close", symbol, &h);
    if (err) return err;
    pthread_rwlock_wrlock(&e->lock);
    size_t i = tab_find(e, symbol, h);
    api_feed *f = e->tab[i];
    if (f) {
        /* backward-shift deletion keeps every probe chain unbroken */
        e->tab[i] = NULL;
        for (size_t j = (i + 1) & (e->cap - 1); e->tab[j]; j = (j + 1) & (e->cap - 1)) {
            const size_t home = (size_t)e->tab[j]->hash & (e->cap - 1);
            /* move j back to i if its home is not cyclically within (i, j] */
            if (((j - home) & (e->cap - 1)) >= ((j - i) & (e->cap - 1))) {
                e->tab[i] = e->tab[j], e->tab[j] = NULL, i = j;
            }
        }
        atomic_fetch_sub(&e->n_open, 1);
    }
    pthread_rwlock_unlock(&e->lock);
    if (!f) return ti_errorf(TI_ERR_NOT_FOUND, "ti_engine_close: no stream for symbol '%s'", symbol);
    feed_free(e, f);
    return TI_OK;
}

/* C11 atomic loads take a non-const pointer */
int ti_engine_count(const ti_engine *e) { return e ? atomic_load((atomic_int *)(uintptr_t)&e->n_open) : 0; }

/* ---- recorded trades ---------------------------------------------------------------------- */

struct ti_tape {
    ti_source *src;
    ti_symbol_data *sd;
    size_t *cur;           /* next bar per symbol in the current session */
    int n_sym, n_loaded, max_sessions, blen;
    /* position: session b, phase 0 = starts (symbol i), 1 = seconds (sec, i) */
    int b, phase, sec, i;
    int done;
};

ti_tape_opts ti_tape_default_opts(void) { return (ti_tape_opts){0}; }

void ti_tape_close(ti_tape *t)
{
    if (!t) return;
    for (int i = 0; i < t->n_loaded; i++) ti_symbol_data_free(&t->sd[i]);
    free(t->sd);
    free(t->cur);
    ti_source_close(t->src);
    free(t);
}

ti_err ti_tape_open(ti_tape **out, const char *source, const ti_tape_opts *opts)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "ti_tape_open: out is NULL");
    *out = NULL;
    if (!source || !*source) return ti_errorf(TI_ERR_INVALID_ARG, "ti_tape_open: no source given");
    const ti_tape_opts o = opts ? *opts : ti_tape_default_opts();
    if (o.max_symbols < 0 || o.max_sessions < 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "ti_tape_open: max_symbols %d and max_sessions %d must be >= 0 (0 = all)",
                         o.max_symbols, o.max_sessions);
    ti_tape *t = calloc(1, sizeof *t);
    if (!t) return ti_errorf(TI_ERR_NOMEM, "ti_tape_open: out of memory");
    ti_err err = ti_source_open(&t->src, source);
    if (err) {
        free(t);
        return ti_error_wrap(err, "ti_tape_open: ");
    }
    size_t n = t->src->n_symbols;
    if (o.max_symbols > 0 && (size_t)o.max_symbols < n) n = (size_t)o.max_symbols;
    if (n > (size_t)API_MAX_STREAMS) n = API_MAX_STREAMS;
    t->n_sym = (int)n;
    t->max_sessions = o.max_sessions;
    t->blen = t->src->bucket_len;
    t->sd = calloc(n ? n : 1, sizeof *t->sd);
    t->cur = calloc(n ? n : 1, sizeof *t->cur);
    if (!t->sd || !t->cur) err = ti_errorf(TI_ERR_NOMEM, "ti_tape_open %s: out of memory for %zu symbols", source, n);
    for (; !err && t->n_loaded < t->n_sym; t->n_loaded++)
        if ((err = t->src->load(t->src, (size_t)t->n_loaded, &t->sd[t->n_loaded]))) break;
    if (err) {
        ti_tape_close(t);
        return err;
    }
    *out = t;
    return TI_OK;
}

/* The order of `tickinfer stream replay`: per session b, every symbol's start; then second by
 * second, symbol by symbol, the symbol's trade of that second; at second blen its end. */
ti_err ti_tape_next(ti_tape *t, ti_tape_event *ev)
{
    if (!t || !ev) return ti_errorf(TI_ERR_INVALID_ARG, "ti_tape_next: tape or ev is NULL");
    memset(ev, 0, sizeof *ev);
    while (!t->done) {
        if (t->max_sessions > 0 && t->b >= t->max_sessions) break;
        if (t->phase == 0) {
            if (t->i == 0) { /* a new session: is any symbol in it? */
                int any = 0;
                for (int i = 0; i < t->n_sym; i++) any |= (size_t)t->b < t->sd[i].n_buckets;
                if (!any) break;
            }
            for (; t->i < t->n_sym; t->i++) {
                ti_symbol_data *s = &t->sd[t->i];
                if ((size_t)t->b >= s->n_buckets) continue;
                t->cur[t->i] = s->bar_start[t->b];
                *ev = (ti_tape_event){.type = TI_TAPE_SESSION_START, .symbol = s->symbol,
                                      .session = s->time_ids[t->b], .t_sec = 0};
                t->i++;
                return TI_OK;
            }
            t->phase = 1, t->sec = 0, t->i = 0;
        }
        for (; t->sec <= t->blen; t->sec++, t->i = 0) {
            for (; t->i < t->n_sym; t->i++) {
                ti_symbol_data *s = &t->sd[t->i];
                if ((size_t)t->b >= s->n_buckets) continue;
                if (t->sec == t->blen) {
                    *ev = (ti_tape_event){.type = TI_TAPE_SESSION_END, .symbol = s->symbol,
                                          .session = s->time_ids[t->b], .t_sec = t->blen};
                    t->i++;
                    return TI_OK;
                }
                const uint64_t end = s->bar_start[t->b + 1];
                if (t->cur[t->i] >= end || s->bars[t->cur[t->i]].sec != t->sec) continue;
                const ti_bar *br = &s->bars[t->cur[t->i]++];
                *ev = (ti_tape_event){.type = TI_TAPE_TRADE, .symbol = s->symbol, .session = s->time_ids[t->b],
                                      .t_sec = br->sec, .price = br->price, .size = br->size,
                                      .orders = br->order_count};
                t->i++;
                return TI_OK;
            }
        }
        t->b++, t->phase = 0, t->i = 0;
    }
    t->done = 1;
    ev->type = TI_TAPE_END;
    return TI_OK;
}
