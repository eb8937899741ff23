/* tickinfer.h: the embedding API of tickinfer, a low-latency inference engine for trading
 * models.  This header and tickinfer/err_codes.h are all an application needs; link with
 * `pkg-config --cflags --libs tickinfer` (shared) or `pkg-config --static ...` (static).
 * Only the functions declared here are exported by libtickinfer.so.
 *
 *   ti_model *m;  ti_engine *e;  ti_prediction p;
 *   ti_model_load(&m, "model.safetensors", NULL);          // any supported file, kind sniffed
 *   ti_engine_opts eo = ti_engine_default_opts();
 *   ti_engine_create(&e, m, &eo);
 *   ti_engine_push_trade(e, "AAPL", t_sec, price, size, orders, &p);  // stream found or made
 *   if (p.n_new > 0) printf("%s %lld rv %g\n", "AAPL", (long long)p.t, p.rv);
 *   ti_engine_free(e);  ti_model_close(m);
 *
 * Batch inference: ti_runner_create + ti_runner_infer (x [B,T,F] -> y).  Per symbol
 * streaming: a ti_engine keeps one stream per symbol, found by name inside the engine
 * (hash table); a causal transformer decodes one step per closed second against the
 * symbol's KV cache, any other model kind streams feature rows through a window of its
 * last `context` rows.  See docs/embedding.md.
 *
 * Errors: every call that can fail returns a ti_err (TI_OK = 0) and leaves a message on the
 * calling thread, ti_last_error(), that says what failed and what to do
 * ("model m.bin: unknown file format ...").  Nothing here exits the process or prints.
 *
 * Threads (stated per call below):
 *   - a ti_model is read-only after ti_model_load: share it between any number of threads;
 *   - a ti_runner belongs to one thread at a time;
 *   - a ti_engine may be pushed from many threads at once, for different or the same
 *     symbols (each symbol's stream has its own lock); only ti_engine_close of a symbol
 *     must not race with other calls on that same symbol, and ti_engine_free with any call;
 *   - error messages are per thread.
 * Allocation: none per tick.  The first push of a new symbol creates its stream (allocates);
 * ti_engine_open creates streams ahead of time. */
#ifndef TICKINFER_H
#define TICKINFER_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err_codes.h" /* ti_err: TI_OK, TI_ERR_INVALID_ARG, ... */

#ifndef TI_API
#if defined(__GNUC__) || defined(__clang__)
#define TI_API __attribute__((visibility("default")))
#else
#define TI_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version, errors ------------------------------------------------------------------ */

#define TI_API_VERSION 1 /* bumped when this header changes incompatibly */

/* "0.1.0".  Any thread. */
TI_API const char *ti_version(void);
/* Message of the last failed call on this thread ("" if none); valid until the next failing
 * call on the same thread.  Any thread (per-thread buffer). */
TI_API const char *ti_last_error(void);
/* Stable name of a code: "TI_OK", "TI_ERR_FORMAT", ... ("TI_ERR_UNKNOWN" otherwise).  Any thread. */
TI_API const char *ti_error_name(ti_err code);

/* ---- models --------------------------------------------------------------------------- */

typedef struct ti_model ti_model;

typedef struct ti_model_load_opts {
    const char *kind; /* NULL: sniff the file; else "transformer", "linear", "ensemble" */
    int n_heads;      /* transformer without a config in the file: heads (0 = 4) */
    int context;      /* transformer without a config: causal context (0 = 4096) */
} ti_model_load_opts;
/* Defaults (all zero).  Any thread. */
TI_API ti_model_load_opts ti_model_load_default_opts(void);

/* Load a model from any supported file: safetensors (transformer, linear), PyTorch .pt,
 * ONNX, ensemble JSON.  opts may be NULL.  On error *out = NULL.  Any thread. */
TI_API ti_err ti_model_load(ti_model **out, const char *path, const ti_model_load_opts *opts);
/* Free (NULL is fine).  No runner or engine of the model may be in use. */
TI_API void ti_model_close(ti_model *m);

/* What a model computes.  Strings are owned by the model.  x [B,T,F] -> y [B] (y [B,T]
 * when per_step), y = log RV; a forecast of RV is exp(y) * rv_scale. */
typedef struct ti_model_desc {
    const char *kind;    /* "transformer", "linear", "ensemble" */
    const char *arch;    /* within the kind: "rv_causal", "tinyrv", "linear", ... */
    int n_features;      /* F */
    int context;         /* most rows per window (T <= context) */
    int fixed_context;   /* 1: T must equal context */
    int per_step;        /* 1: y [B,T], one output per position */
    int native_step;     /* 1: streams with O(window) work per row (KV cache) */
    int streams_trades;  /* 1: ti_engine_push_trade works (features computed in the engine) */
    size_t n_params;
} ti_model_desc;
/* Fill *out.  Any thread. */
TI_API ti_err ti_model_describe(const ti_model *m, ti_model_desc *out);

/* Checkpoint metadata.  Arrays and strings are owned by the model (valid until close). */
typedef struct ti_model_meta {
    const char *path;                 /* the file loaded */
    int n_features;
    const char *const *feature_names; /* [n_features] or NULL */
    const float *mean, *std;          /* [n_features] or NULL: x' = (x - mean) / std */
    float rv_scale;                   /* forecast RV = exp(y) * rv_scale (1 if absent) */
    const char *version;              /* tickinfer version that wrote the file ("" if unknown) */
} ti_model_meta;
/* Fill *out.  Any thread. */
TI_API ti_err ti_model_get_meta(const ti_model *m, ti_model_meta *out);

/* ---- batch inference ------------------------------------------------------------------ */

typedef struct ti_runner ti_runner;

typedef struct ti_runner_opts {
    int max_batch;  /* largest B per ti_runner_infer (default 32) */
    int n_threads;  /* worker threads incl. the caller (default 1; <= 0: one per core) */
    int raw_inputs; /* 1 (default): x is raw features, normalised with the model's mean/std
                       into the runner's scratch; 0: x is already normalised */
} ti_runner_opts;
/* Defaults.  Any thread. */
TI_API ti_runner_opts ti_runner_default_opts(void);
/* Scratch for batches of <= max_batch windows (allocated here, never in infer).  opts may
 * be NULL.  Any thread; the runner then belongs to one thread at a time. */
TI_API ti_err ti_runner_create(ti_runner **out, const ti_model *m, const ti_runner_opts *opts);
/* Free (NULL is fine). */
TI_API void ti_runner_free(ti_runner *r);
/* x [B,T,F] row-major -> y [B] (or [B,T] when desc.per_step).  B in 1..max_batch; T in
 * 1..context (= context when fixed_context).  No allocation.  One thread per runner. */
TI_API ti_err ti_runner_infer(ti_runner *r, float *y, const float *x, int B, int T);

/* ---- per-symbol streaming --------------------------------------------------------------- */

typedef struct ti_engine ti_engine;

typedef struct ti_engine_opts {
    int max_streams;      /* symbols open at once (default 1024; at most 1 << 20) */
    int window;           /* positions kept per symbol (0 = the model's context) */
    const char *kv_layout; /* causal transformer cache: "ring" (NULL, default) or "paged" */
    const char *kv_dtype;  /* "f32" (NULL, default), "int8", "fp8", "int4" */
    int sinks;            /* attention sinks kept besides the window (default 0) */
} ti_engine_opts;
/* Defaults.  Any thread. */
TI_API ti_engine_opts ti_engine_default_opts(void);
/* An engine of per-symbol streams over m (not owned: m must outlive the engine).  A causal
 * transformer streams raw trades and feature rows; other kinds stream feature rows
 * (push_trade answers TI_ERR_UNSUPPORTED).  opts may be NULL.  Any thread. */
TI_API ti_err ti_engine_create(ti_engine **out, const ti_model *m, const ti_engine_opts *opts);
/* Close every stream and free (NULL is fine).  No other call on e may be running. */
TI_API void ti_engine_free(ti_engine *e);

/* A forecast.  n_new = positions (seconds or rows) this call decoded; t, y_log, rv are
 * those of the newest forecast of the stream (t = -1, NaN before the first). */
typedef struct ti_prediction {
    int64_t t;     /* second (trades) or row index (feature rows) it was computed at */
    float y_log;   /* model output: log RV */
    float rv;      /* exp(y_log) * rv_scale */
    int n_new;
} ti_prediction;

/* Find the stream of `symbol` (1..63 bytes) or create it: *created (may be NULL) = 1 when it
 * was made now.  TI_ERR_LIMIT when max_streams are open.  Thread-safe. */
TI_API ti_err ti_engine_open(ti_engine *e, const char *symbol, int *created);
/* One raw trade of `symbol` (stream found or created).  t_sec = seconds since the
 * session started, non-decreasing per symbol; equal seconds aggregate into one bar.  A
 * trade past a second closes it (and any empty seconds before t_sec): features + one
 * decode each, as the offline pipeline computes them.  out may be NULL.  Thread-safe. */
TI_API ti_err ti_engine_push_trade(ti_engine *e, const char *symbol, int64_t t_sec, float price, float size,
                                   uint32_t orders, ti_prediction *out);
/* Close every second of `symbol` before t_sec (end of a session: t_sec = its length).
 * out may be NULL.  Thread-safe. */
TI_API ti_err ti_engine_advance(ti_engine *e, const char *symbol, int64_t t_sec, ti_prediction *out);
/* One feature row x [F] of `symbol` (raw, as the offline pipeline makes it; normalised
 * with the model's mean/std here) -> out (n_new = 1).  Thread-safe. */
TI_API ti_err ti_engine_push_row(ti_engine *e, const char *symbol, const float *x, ti_prediction *out);
/* Start `symbol` over (a new session), keeping its buffers; a symbol not open yet is opened
 * (fresh).  Thread-safe. */
TI_API ti_err ti_engine_reset(ti_engine *e, const char *symbol);
/* Close `symbol`'s stream and free it.  TI_ERR_NOT_FOUND if not open.  Must not race with
 * other calls on the same symbol. */
TI_API ti_err ti_engine_close(ti_engine *e, const char *symbol);
/* Streams open now.  Thread-safe. */
TI_API int ti_engine_count(const ti_engine *e);

/* ---- recorded trades (the bundled data, replays) ---------------------------------------- */

/* A tape plays recorded trades of many symbols in time order, session by session: the
 * order `tickinfer stream replay` pushes them.  Sources: an Optiver folder (DIR with
 * stock_id=N/ *.parquet, e.g. data/optiver/trade_train.parquet), a LOBSTER csv, or
 * sim:SYMBOLS:SESSIONS[:SEED]. */
typedef struct ti_tape ti_tape;

typedef struct ti_tape_opts {
    int max_symbols;  /* the first N symbols of the source (0 = all) */
    int max_sessions; /* the first N sessions (buckets) of each symbol (0 = all) */
} ti_tape_opts;
/* Defaults (all symbols, all sessions).  Any thread. */
TI_API ti_tape_opts ti_tape_default_opts(void);

typedef enum ti_tape_event_type {
    TI_TAPE_END = 0,       /* no more events */
    TI_TAPE_SESSION_START, /* a new session of `symbol`: ti_engine_reset it */
    TI_TAPE_TRADE,         /* a trade: ti_engine_push_trade */
    TI_TAPE_SESSION_END    /* the session of `symbol` is over at t_sec: ti_engine_advance */
} ti_tape_event_type;

typedef struct ti_tape_event {
    ti_tape_event_type type;
    const char *symbol;    /* owned by the tape */
    int64_t session;       /* the source's session id (Optiver time_id) */
    int64_t t_sec;         /* second in the session */
    float price, size;     /* TRADE: size-weighted price and summed size of the second */
    uint32_t orders;
} ti_tape_event;

/* Read the source (all its trades are loaded here).  opts may be NULL.  Any thread. */
TI_API ti_err ti_tape_open(ti_tape **out, const char *source, const ti_tape_opts *opts);
/* The next event (TI_TAPE_END at the end, and again after).  One thread per tape. */
TI_API ti_err ti_tape_next(ti_tape *t, ti_tape_event *ev);
/* Free (NULL is fine). */
TI_API void ti_tape_close(ti_tape *t);

#ifdef __cplusplus
}
#endif
#endif
