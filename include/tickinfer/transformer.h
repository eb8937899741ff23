/* tickinfer: the transformer models: config, weights, forward, backward, checkpoints.
 *
 * Two architectures (the PyTorch reference is tests/py/ti_models.py, whose docstring is
 * the contract; its state-dict key names are our tensor names):
 *   TI_TFM_TINYRV     the seed's TinyRVTransformer: x [B,T,F] -> proj -> [cls; h] + pos
 *                       -> L pre-norm encoder layers (full attention) -> LN -> Linear on
 *                       the CLS position -> y [B].  T must equal the context (pos table).
 *   TI_TFM_RV_CAUSAL  the streaming model: x [B,T,F] -> proj -> L pre-norm blocks with
 *                       causal ALiBi attention -> LN -> Linear at every position -> y [B,T].
 *                       Any T <= context.
 *
 * Objects (llama2.c / llm.c style):
 *   ti_tfm     config + ONE contiguous float block of all parameters, laid out in the
 *                PyTorch state-dict order (tensor table: name, shape, offset), plus packed
 *                copies of the matmul weights for inference.  Read-only after load, so
 *                one model is shared by any number of threads.
 *   ti_runstate  every activation for up to B_max rows, allocated at creation; forward and
 *                backward never allocate.  A run state belongs to one thread at a time.
 *   gradients    a caller-owned float block with the SAME layout as the parameters
 *                (ti_tfm_n_params floats), so AdamW runs over one flat array.
 *
 *   ti_tfm *m;  ti_runstate *rs;
 *   ti_tfm_load(&m, NULL, "model.safetensors", NULL);      // or ti_tfm_create + init
 *   ti_runstate_create(&rs, m, 32, 0, 0);                     // inference, B <= 32
 *   ti_tfm_forward(m, rs, y, x, B, T, pool);                // y [B] or [B,T]
 *
 * Training: create the run state with TI_RS_TRAINING; forward keeps what backward needs
 * (matmuls without fused activation, layer-norm statistics, attention log-sum-exp);
 * ti_tfm_backward then ADDS the parameter gradients of sum(y * dy) into `grads`. */
#ifndef TICKINFER_TRANSFORMER_H
#define TICKINFER_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/kernels.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ----------------------------------------------------------------- */

/* Append-only. */
typedef enum ti_tfm_arch {
    TI_TFM_TINYRV = 0,
    TI_TFM_RV_CAUSAL,
    TI_TFM__COUNT
} ti_tfm_arch;

/* Limits checked by ti_tfm_config_validate. */
#define TI_MODEL_MAX_FEATURES 4096
#define TI_MODEL_MAX_CONTEXT 65536
#define TI_MODEL_MAX_D 8192
#define TI_MODEL_MAX_LAYERS 256
#define TI_MODEL_MAX_FF 65536
#define TI_MODEL_MAX_HEADS 256

typedef struct ti_tfm_config {
    ti_tfm_arch kind;
    int n_features; /* F: input features per step */
    int context;    /* TinyRV: the window T (pos table has T+1 rows); causal: max T */
    int d_model;    /* C */
    int n_heads;    /* H; C % H == 0 and C/H <= TI_ATTN_MAX_HD */
    int n_layers;   /* L */
    int d_ff;       /* feed-forward width */
    ti_act activation; /* of the feed-forward: TinyRV relu, causal gelu_tanh */
    float ln_eps;   /* LayerNorm eps (1e-5 in both references) */
} ti_tfm_config;

/* The reference shapes: TinyRV = the seed (F 14, T 600, d 128, 4 heads, 3 layers, d_ff 256,
 * relu); causal = RVCausal's defaults (F 12, T 4096, d 64, 4 heads, 2 layers, d_ff 128,
 * gelu_tanh).  eps 1e-5. */
void ti_tfm_config_default(ti_tfm_config *cfg, ti_tfm_arch kind);
/* TI_ERR_INVALID_ARG / TI_ERR_LIMIT naming the field: "model config: d_model 100 is not a
 * multiple of n_heads 3". */
ti_err ti_tfm_config_validate(const ti_tfm_config *cfg);
/* Compact JSON object ({"kind":"tinyrv","n_features":14,...}) into buf (NUL-terminated);
 * TI_ERR_LIMIT if cap is too small (256 bytes always suffice). */
ti_err ti_tfm_config_to_json(char *buf, size_t cap, const ti_tfm_config *cfg);
/* Parse the JSON above (all keys required, unknown keys rejected) and validate it.
 * `label` names the source in messages. */
ti_err ti_tfm_config_from_json(ti_tfm_config *cfg, const char *json, const char *label);
/* "tinyrv", "rv_causal" ("?" if invalid); parse accepts those names. */
const char *ti_tfm_arch_name(ti_tfm_arch kind);
ti_err ti_tfm_arch_parse(ti_tfm_arch *out, const char *name);
/* "none", "relu", "gelu_tanh", "gelu_erf"; parse accepts those names. */
const char *ti_tfm_act_name(ti_act act);
ti_err ti_tfm_act_parse(ti_act *out, const char *name);
/* Number of float parameters of a valid config (0 if invalid). */
size_t ti_tfm_config_n_params(const ti_tfm_config *cfg);

/* ---- model (weights) --------------------------------------------------------------- */

#define TI_MODEL_MAX_NAME 64
#define TI_MODEL_MAX_DIMS 3

/* One entry of the tensor table: params + offset is the tensor (row-major, shape as in
 * PyTorch), and so is grads + offset. */
typedef struct ti_tfm_tensor {
    char name[TI_MODEL_MAX_NAME];
    int ndim;
    int64_t shape[TI_MODEL_MAX_DIMS];
    size_t offset; /* in floats */
    size_t numel;
    int decay;     /* 1 for matmul weights (AdamW weight decay applies), 0 for biases,
                    * LayerNorm parameters, cls and pos */
} ti_tfm_tensor;

typedef struct ti_tfm ti_tfm;

/* Allocate a model for `cfg` (validated) with all parameters zero and no packed copies.
 * Kernels: ti_kernels_best(). */
ti_err ti_tfm_create(ti_tfm **out, const ti_tfm_config *cfg);
void ti_tfm_destroy(ti_tfm *m);

/* Deterministic PyTorch-like init from `seed`: nn.Linear weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming-uniform a=sqrt(5)); TinyRV's attention
 * in_proj xavier-uniform with zero bias and out_proj bias zero (nn.MultiheadAttention);
 * LayerNorm ones/zeros; cls and pos N(0, 0.02).  Drops packed copies (ti_tfm_pack). */
void ti_tfm_init(ti_tfm *m, uint64_t seed);

const ti_tfm_config *ti_tfm_get_config(const ti_tfm *m);
size_t ti_tfm_n_params(const ti_tfm *m);
const float *ti_tfm_params(const ti_tfm *m);
/* Writable parameters (trainer, loader).  Drops the packed copies: inference then runs on
 * the plain weights until ti_tfm_pack is called again.  Not while other threads run
 * the model. */
float *ti_tfm_params_mut(ti_tfm *m);
size_t ti_tfm_tensor_count(const ti_tfm *m);
const ti_tfm_tensor *ti_tfm_tensor_at(const ti_tfm *m, size_t i);
const ti_tfm_tensor *ti_tfm_find_tensor(const ti_tfm *m, const char *name); /* NULL if absent */

/* Kernel table used by forward/backward (and the packed layout).  Changing it drops the
 * packed copies; call ti_tfm_pack again.  NULL = ti_kernels_best(). */
void ti_tfm_set_kernels(ti_tfm *m, const ti_kernels *k);
const ti_kernels *ti_tfm_kernels(const ti_tfm *m);
/* (Re)build the packed copies of every matmul weight from the current parameters (done
 * by ti_tfm_load).  Inference forward uses them; training forward never does. */
ti_err ti_tfm_pack(ti_tfm *m);
int ti_tfm_is_packed(const ti_tfm *m);
/* ALiBi slopes of the causal model [H]: 2^(-8 (h+1) / H) for every H (as ti_models.py;
 * note ti_alibi_slopes differs for H not a power of two).  NULL for TinyRV. */
const float *ti_tfm_alibi(const ti_tfm *m);

/* ---- run state, forward, backward ------------------------------------------------------ */

typedef struct ti_runstate ti_runstate;

enum { TI_RS_TRAINING = 1 }; /* ti_runstate_create flags */

/* Activations for B <= B_max rows of T <= T_max steps (T_max 0 = the context; TinyRV needs
 * T_max = context).  With TI_RS_TRAINING the state keeps every layer's activations for
 * backward, (8 C + 2 d_ff + H + 4) floats per token per layer, plus (7 C + 2 d_ff) per
 * token of head and backward scratch; without, it holds one layer's working set,
 * (6 C + d_ff) floats per token.  TI_ERR_LIMIT above 1 TiB. */
ti_err ti_runstate_create(ti_runstate **out, const ti_tfm *m, int B_max, int T_max, int flags);
void ti_runstate_destroy(ti_runstate *rs);
size_t ti_runstate_bytes(const ti_runstate *rs);
int ti_runstate_is_training(const ti_runstate *rs);

/* y = model(x).  x [B,T,F] row-major; y [B] (TinyRV) or [B,T] (causal).  pool may be NULL;
 * in inference large batches are split over the pool by rows, small ones per op (M).  The
 * result does not depend on the pool.  Errors: TI_ERR_INVALID_ARG (B, T out of range,
 * NULL pointers, run state made for another model).  Inference with a TinyRV model
 * computes the last layer for the CLS row only (its keys and values for all rows). */
ti_err ti_tfm_forward(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int B,
                        int T, ti_pool *pool);

/* Gradients of sum(y * dy) for the last forward on this (training) run state:
 * grads [n_params] += d/dparams (zero it once per step; same layout as the parameters);
 * dx [B,T,F] = d/dx (overwritten; may be NULL).  dy has y's shape.
 * TI_ERR_STATE if the run state is not a training one or holds no forward. */
ti_err ti_tfm_backward(const ti_tfm *m, ti_runstate *rs, float *grads, float *dx,
                         const float *dy, ti_pool *pool);

/* ---- checkpoints (safetensors; .pt read) ------------------------------------------------ */

/* Dataset information stored beside the weights: the input features the model was
 * trained on and the standardisation x' = (x - mean) / std applied to them. */
typedef struct ti_ckpt_data {
    int n_features;                    /* length of the arrays; must equal cfg.n_features */
    const char *const *feature_names;  /* [n] or NULL */
    const float *mean, *std;           /* [n] or NULL (both or neither) */
    /* Extra metadata strings (e.g. "step", "val_rmspe"); keys must not start with "tickinfer.". */
    size_t n_extra;
    const char *const *extra_keys, *const *extra_values;
} ti_ckpt_data;

/* Write m's parameters (F32, PyTorch names) and metadata atomically:
 *   tickinfer.format "model", tickinfer.format_version "1", tickinfer.version,
 *   tickinfer.config (JSON of the config), tickinfer.features (JSON array of names),
 *   tickinfer.norm_mean / tickinfer.norm_std (JSON arrays, %.9g), + the extras.
 * data may be NULL. */
ti_err ti_tfm_save(const ti_tfm *m, const char *path, const ti_ckpt_data *data);

/* What a checkpoint said besides the weights (owned; ti_ckpt_meta_free). */
typedef enum ti_config_source {
    TI_CONFIG_FROM_CALLER = 0, /* ti_tfm_load_opts.config */
    TI_CONFIG_FROM_METADATA,   /* tickinfer.config */
    TI_CONFIG_INFERRED         /* from tensor shapes (heads: opts.n_heads or 4) */
} ti_config_source;

typedef struct ti_ckpt_meta {
    ti_tfm_config config;
    ti_config_source config_source;
    int n_features;       /* entries in the arrays below (0 if absent) */
    char **feature_names; /* [n_features] or NULL */
    float *mean, *std;    /* [n_features] or NULL */
    char version[32];     /* tickinfer.version, "" if absent */
} ti_ckpt_meta;
void ti_ckpt_meta_free(ti_ckpt_meta *meta);

typedef struct ti_tfm_load_opts {
    const ti_tfm_config *config; /* NULL: tickinfer.config metadata, else infer from shapes */
    int n_heads;       /* heads when inferring (0 = 4, the seed's) */
    int context;       /* causal context when inferring (0 = 4096, RVCausal's max_len) */
    int no_pack;       /* 1: skip packing (training) */
    const ti_kernels *kernels; /* NULL = ti_kernels_best() */
} ti_tfm_load_opts;

/* Load a safetensors file or a PyTorch .pt (zip; the state dict is found automatically and
 * a torch.compile / DataParallel prefix "_orig_mod." / "module." is stripped).  Every tensor
 * the config needs must be present with its exact shape, and no other tensor may be:
 *   "checkpoint m.safetensors: tensor 'layers.1.in_proj.weight' has shape [384,64], config
 *    needs [192,64]".
 * F16 / BF16 / F64 tensors are converted to F32.  meta (may be NULL) receives the
 * metadata; opts may be NULL.  The model comes back packed unless opts->no_pack. */
ti_err ti_tfm_load(ti_tfm **out, ti_ckpt_meta *meta, const char *path,
                     const ti_tfm_load_opts *opts);

/* The transformer behind a generic model (include/tickinfer/model.h), or NULL if the
 * model is of another kind: for code that needs the transformer itself (the trade stream
 * engine's KV caches, ONNX export). */
struct ti_model;
const ti_tfm *ti_tfm_of_model(const struct ti_model *m);
/* A generic model around t (taken: freed with the model, even on error); meta (copied,
 * may be NULL) gives its feature names and normalisation. */
ti_err ti_model_from_tfm(struct ti_model **out, ti_tfm *t, const ti_ckpt_meta *meta, float rv_scale);
/* A generic view of t that does not own it (t must outlive the view; a trainer's model). */
ti_err ti_model_borrow_tfm(struct ti_model **out, const ti_tfm *t, const ti_ckpt_meta *meta);

#ifdef __cplusplus
}
#endif
#endif
