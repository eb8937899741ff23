/* tickinfer: one interface for every model kind.
 *
 * A model kind (transformer, linear, ensemble, trees, and the kinds to come: LSTM, text
 * encoders) is a table of functions, like a ggml backend or a SQLite VFS (ti_model_kind_ops
 * below).  Everything above the kinds -- the registry and server, eval, the load generator,
 * ONNX, ensembles, the embedding API -- holds a ti_model and calls these functions; only a
 * kind's own folder (src/model/<kind>/) knows its math.
 *
 *   ti_model *m;  ti_ctx *c;
 *   ti_model_open(&m, "model.safetensors", NULL);       // any supported file; kind sniffed
 *   const ti_model_info *mi = ti_model_get_info(m);      // named inputs/outputs, -1 = free dim
 *   ti_ctx_create(&c, m, 32);                             // scratch for batches of <= 32
 *   ti_model_normalise(m, x, rows);                       // raw features -> the model's space
 *   ti_ctx_forward(c, y, x, B, T, pool);                  // x [B,T,F] -> y [B] or [B,T]
 *
 * Streaming: ti_state_create / ti_state_step feed one new (normalised) input row at a time
 * and return the output for the newest position.  A kind with a native step (the causal
 * transformer's KV cache) does O(window) work per row; a stateless kind streams through the
 * generic window adapter (a ring of its last `context` rows, one forward per step).
 *
 * Conventions shared by every RV model: the main input is x [B,T,F] of per-second feature
 * rows (T free up to `context`, or exactly `context` when `fixed_context`), the main output
 * y is log RV ([B], or [B,T] when `per_step`), and a forecast of RV is exp(y) * rv_scale.
 *
 * Threads: a ti_model is read-only after open and shared by any number of threads; a
 * ti_ctx or ti_state belongs to one thread at a time.  Nothing here allocates in
 * ti_ctx_forward or ti_state_step. */
#ifndef TICKINFER_MODEL_H
#define TICKINFER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/kernels.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ti_dtype { TI_DTYPE_F32 = 0, TI_DTYPE_I64, TI_DTYPE_I32, TI_DTYPE__COUNT } ti_dtype;
const char *ti_dtype_name(ti_dtype t); /* "FP32", "INT64", "INT32" (KServe v2 names) */

#define TI_IO_MAX 8       /* named inputs / outputs per model */
#define TI_IO_MAX_DIMS 4
#define TI_IO_MAX_NAME 64

/* A named tensor a model takes or gives.  shape[0] is the batch (-1); -1 = free. */
typedef struct ti_tensor_desc {
    char name[TI_IO_MAX_NAME];
    ti_dtype dtype;
    int ndim;
    int64_t shape[TI_IO_MAX_DIMS];
} ti_tensor_desc;

/* A tensor handed to a kind: contiguous row-major data of `shape`. */
typedef struct ti_tensor {
    ti_dtype dtype;
    int ndim;
    int64_t shape[TI_IO_MAX_DIMS];
    void *data;
} ti_tensor;

typedef struct ti_model_info {
    const char *kind;        /* "transformer", "linear", "ensemble", "trees" (the kind's name) */
    char arch[32];           /* within the kind: "tinyrv", "rv_causal", "linear", ... */
    int n_inputs, n_outputs;
    ti_tensor_desc inputs[TI_IO_MAX], outputs[TI_IO_MAX];
    int n_features;          /* F of the main input x [B,T,F] */
    int context;             /* most rows per window the model reads (1: a row model) */
    int fixed_context;       /* 1: T must equal context (TinyRV) */
    int per_step;            /* 1: y [B,T] (an output per position); 0: y [B] */
    int native_step;         /* 1: the kind steps its own state (O(window) per row) */
    int missing_values;      /* 1: NaN (missing) and +-inf inputs are defined by the model's rules (tree files) */
    size_t n_params;         /* scalars of weights (members summed for an ensemble) */
} ti_model_info;

/* What a model file says besides its weights: feature names and the standardisation
 * x' = (x - mean) / std of its inputs, and the RV scale of its forecasts. */
typedef struct ti_model_norm {
    int n_features;
    char **feature_names;    /* [n_features] or NULL */
    float *mean, *std;       /* [n_features] or NULL (both or neither) */
    float rv_scale;          /* safetensors metadata "rv_scale", else 1 */
    char version[32];        /* tickinfer version that wrote the file ("" if unknown) */
} ti_model_norm;

typedef struct ti_model_opts {
    const char *kind;        /* NULL: sniff the file; else force a kind by name */
    int n_heads;             /* transformer: heads when the file has no config (0 = 4) */
    int context;             /* transformer: causal context when inferred (0 = 4096) */
    const ti_kernels *kernels; /* NULL = ti_kernels_best() */
    int num_iteration;       /* trees: keep only the first N boosting iterations (0 = all) */
} ti_model_opts;
void ti_model_default_opts(ti_model_opts *o);

typedef struct ti_model ti_model;
typedef struct ti_ctx ti_ctx;
typedef struct ti_state ti_state;

/* ---- the kind table ------------------------------------------------------------------- */

/* One kind.  `impl` is the kind's own object; the generic layer owns the rest. */
typedef struct ti_model_kind_ops {
    const char *name;
    /* > 0 if this kind reads the file (higher wins); head = its first bytes. */
    int (*probe)(const char *path, const uint8_t *head, size_t n);
    /* Load; fill info and norm (norm arrays malloc'ed: the generic layer frees them). */
    ti_err (*load)(void **impl, ti_model_info *info, ti_model_norm *norm, const char *path,
                   const ti_model_opts *opts);
    void (*destroy)(void *impl);
    /* Scratch for batches of <= max_batch rows; forward never allocates. */
    ti_err (*ctx_create)(void **ctx, const void *impl, int max_batch);
    void (*ctx_destroy)(void *ctx);
    /* Named tensors in the order of info.inputs / info.outputs (normalised inputs). */
    ti_err (*forward)(const void *impl, void *ctx, ti_tensor *out, int n_out, const ti_tensor *in,
                      int n_in, ti_pool *pool);
    /* Optional native streaming (NULL: the generic window adapter). */
    ti_err (*state_create)(void **st, const void *impl);
    void (*state_destroy)(void *st);
    void (*state_reset)(void *st);
    /* One normalised row x [F] -> y [n_step_out] for the newest position. */
    ti_err (*state_step)(const void *impl, void *st, float *y, const float *x);
    size_t (*state_bytes)(const void *st);
    /* Optional: models made of models (ensembles) list their members. */
    int (*n_members)(const void *impl);
    const ti_model *(*member)(const void *impl, int i, const char **name, uint64_t *count, uint64_t *ns);
} ti_model_kind_ops;

/* The kinds built in, in probe order (NULL-terminated), and lookup by name. */
const ti_model_kind_ops *const *ti_model_kinds(void);
const ti_model_kind_ops *ti_model_kind_find(const char *name);

/* ---- models ---------------------------------------------------------------------------- */

/* Open any supported file (safetensors, PyTorch .pt, ONNX, ensemble/linear JSON or
 * safetensors, LightGBM model.txt, XGBoost JSON/UBJSON, ONNX-ML tree ensembles).  Errors name the file and what is wrong with it.  opts may be NULL. */
ti_err ti_model_open(ti_model **out, const char *path, const ti_model_opts *opts);
void ti_model_free(ti_model *m);
const ti_model_info *ti_model_get_info(const ti_model *m);
const ti_model_norm *ti_model_get_norm(const ti_model *m);
const ti_model_kind_ops *ti_model_get_kind(const ti_model *m);
const char *ti_model_path(const ti_model *m);
/* The kind's own object (for code inside that kind's folder and its tests). */
const void *ti_model_impl(const ti_model *m);
/* 1 if the model standardises its inputs (mean/std present, every std > 0). */
int ti_model_has_norm(const ti_model *m);
/* x [rows, F] raw -> normalised in place (no-op without norm). */
void ti_model_normalise(const ti_model *m, float *x, size_t rows);
/* Members of a composite model (an ensemble; 0 for other kinds): each one's name (the
 * step) and, where not NULL, the forwards its step ran and the nanoseconds they took. */
int ti_model_n_members(const ti_model *m);
const ti_model *ti_model_member(const ti_model *m, int i, const char **name);
const ti_model *ti_model_member_stats(const ti_model *m, int i, const char **name, uint64_t *count, uint64_t *ns);
/* Wrap an already-made kind object (ensembles building members, tests).  Takes impl. */
ti_err ti_model_wrap(ti_model **out, const ti_model_kind_ops *ops, void *impl, const ti_model_info *info,
                     const ti_model_norm *norm, const char *path);

/* ---- run contexts ------------------------------------------------------------------------ */

ti_err ti_ctx_create(ti_ctx **out, const ti_model *m, int max_batch);
void ti_ctx_destroy(ti_ctx *c);
int ti_ctx_max_batch(const ti_ctx *c);
/* The main tensors: x [B,T,F] normalised -> y [B] or [B,T].  Checks B, T against the model. */
ti_err ti_ctx_forward(ti_ctx *c, float *y, const float *x, int B, int T, ti_pool *pool);
/* All named tensors, in info order. */
ti_err ti_ctx_run(ti_ctx *c, ti_tensor *out, int n_out, const ti_tensor *in, int n_in, ti_pool *pool);

/* ---- streaming state --------------------------------------------------------------------- */

ti_err ti_state_create(ti_state **out, const ti_model *m);
void ti_state_destroy(ti_state *s);
void ti_state_reset(ti_state *s);
/* One normalised row x [F]; y [1] = output at the newest position.  A fixed-context model
 * answers NaN until it has `context` rows (the window adapter). */
ti_err ti_state_step(ti_state *s, float *y, const float *x);
int64_t ti_state_len(const ti_state *s);
size_t ti_state_bytes(const ti_state *s);

#ifdef __cplusplus
}
#endif
#endif
