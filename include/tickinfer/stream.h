/* tickinfer: streaming inference.  One stream per symbol; each new second costs one decode
 * step of the causal model against the symbol's KV cache instead of a full-window forward.
 *
 *   ti_stream_engine *e;  ti_stream *s;  float y;
 *   ti_stream_engine_create(&e, model, &meta, &opts);   // meta: norm stats of the checkpoint
 *   ti_stream_open(e, &s, "AAPL");
 *   ti_stream_push_trade(s, t_sec, price, size, orders, &fc);   // raw trades, any rate
 *   ti_stream_push_features(s, x_raw, &y);                      // or one 1-second feature row
 *   ti_stream_close(s);
 *
 * Semantics.  The cache keeps the last W positions of every layer (sliding window).  While a
 * stream holds at most W positions a decode step equals the last position of the full causal
 * forward over the whole stream.  Beyond W it computes sliding-window attention: at every
 * layer, position i attends to positions (i-W, i] with ALiBi from the true distance -- what
 * Mistral-style window caches compute; with two or more layers that differs from re-running
 * the full forward on only the last W inputs, because an older token's layer-1 keys carry
 * context from before the window (see docs/streaming.md).  With opts.sinks = k, position i
 * also sees positions j < k (attention sinks).  tests/stream/ check all of it.
 *
 * Threads: streams are independent; different streams may be pushed from different threads
 * at once (each has its own scratch and lock; the paged pool locks its free list only).
 * Allocation: none per tick, except a paged cache taking a block from the pool (a free-list
 * pop; the pool grows by chunks when empty). */
#ifndef TICKINFER_STREAM_H
#define TICKINFER_STREAM_H

#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/kv.h"
#include "tickinfer/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_stream_opts {
    int window;          /* W positions kept (0 = the model's context) */
    ti_kv_layout layout; /* TI_KV_RING (default) or TI_KV_PAGED */
    int block_size;      /* paged: positions per block (0 = 16) */
    size_t max_blocks;   /* paged: pool cap in blocks (0 = none but 2^24) */
    int max_streams;     /* open streams at once (0 = 65536) */
    int has_book;        /* the trade/book feature set the model was trained on (0: 12 trade features) */
    int sinks;           /* attention sinks: the first `sinks` positions stay visible (0..TI_KV_MAX_SINKS) */
    ti_kv_dtype kv_dtype; /* KV rows stored as f32 (default), int8, fp8 or int4 (see kvquant.h) */
} ti_stream_opts;

typedef struct ti_stream_engine ti_stream_engine;
typedef struct ti_stream ti_stream;

/* A forecast: log RV of the next 300 s and the RV itself (exp(y) * rv_scale). */
typedef struct ti_forecast {
    int64_t t;       /* second of the input that produced it */
    float y_log;
    float rv;
} ti_forecast;

/* model: an rv_causal model (not owned; must outlive the engine).  meta: its checkpoint
 * metadata: mean/std of its inputs (NULL or no stats = inputs are used as given), and
 * rv_scale (<= 0: 1). */
ti_err ti_stream_engine_create(ti_stream_engine **out, const ti_tfm *model, const ti_ckpt_meta *meta,
                               float rv_scale, const ti_stream_opts *opts);
/* The same from a generic model (include/tickinfer/model.h), with its own normalisation
 * and rv_scale: a KV-cache transformer steps its cache; any other per-second RV model
 * (x [B,T,F] -> y [B]: linear, trees, ensembles) gets a ti_state per stream (the window
 * adapter: one forward of the last `context` rows per second; KV options are ignored and
 * ti_stream_fork is refused).  TI_ERR_UNSUPPORTED for other shapes. */
struct ti_model;
ti_err ti_stream_engine_create_for(ti_stream_engine **out, const struct ti_model *m, const ti_stream_opts *opts);
/* All streams must be closed first (else TI_ERR_STATE... the engine closes them). */
void ti_stream_engine_destroy(ti_stream_engine *e);
const ti_stream_opts *ti_stream_engine_opts(const ti_stream_engine *e);
/* The KV-cache transformer it runs; NULL for an engine over another kind. */
const ti_tfm *ti_stream_engine_model(const ti_stream_engine *e);
/* Features per row the model takes. */
int ti_stream_engine_n_features(const ti_stream_engine *e);

ti_err ti_stream_open(ti_stream_engine *e, ti_stream **out, const char *symbol);
/* Same, sharing parent's cached prefix (paged: by reference with copy-on-write; ring: copy)
 * and feature state. */
ti_err ti_stream_fork(ti_stream_engine *e, ti_stream **out, const char *symbol, const ti_stream *parent);
void ti_stream_close(ti_stream *s);
const char *ti_stream_symbol(const ti_stream *s);
int64_t ti_stream_len(const ti_stream *s); /* positions decoded so far */
size_t ti_stream_kv_bytes(const ti_stream *s);
/* Start the stream over (new bucket/day), keeping its buffers. */
void ti_stream_reset(ti_stream *s);

/* One position from a feature row x [F] as the offline pipeline makes it (raw, before
 * normalisation): normalise, decode, forecast.  y may be NULL. */
ti_err ti_stream_push_features(ti_stream *s, const float *x, ti_forecast *y);
/* Same with an already normalised row. */
ti_err ti_stream_push_normalized(ti_stream *s, const float *xn, ti_forecast *y);

/* Raw trades, in time order (t_sec = seconds since the stream's start; equal seconds
 * aggregate into one bar: size-weighted price, summed size and orders).  When t_sec moves
 * past a second, that second and any empty seconds up to t_sec-1 are closed: features
 * stepped exactly as the offline builder does, one decode each.  *n_out (may be NULL)
 * gets the number of positions decoded, last the newest forecast (unchanged if none). */
ti_err ti_stream_push_trade(ti_stream *s, int64_t t_sec, float price, float size, uint32_t orders,
                            ti_forecast *last, int *n_out);
/* Close every second before t_sec (no trade in them after the pending one). */
ti_err ti_stream_advance(ti_stream *s, int64_t t_sec, ti_forecast *last, int *n_out);
/* The feature row of the last closed second (F floats, raw), for checks. */
const float *ti_stream_last_features(const ti_stream *s);

typedef struct ti_stream_stats {
    int streams;
    ti_kv_layout layout;
    size_t kv_bytes;          /* all caches (paged: blocks in use) */
    size_t kv_bytes_reserved; /* ring: same; paged: blocks obtained from the system */
    size_t state_bytes;       /* per-stream scratch + feature state, all streams */
    ti_kv_pool_stats pool;    /* paged only */
    double utilisation;       /* positions held / position slots reserved */
} ti_stream_stats;
void ti_stream_engine_stats(ti_stream_engine *e, ti_stream_stats *st);

#ifdef __cplusplus
}
#endif
#endif
