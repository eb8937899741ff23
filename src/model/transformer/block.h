/* The pre-norm transformer block, written once (block.c) and run by every path:
 *   res_mid = res_in  + out_proj(attention(qkv(ln1(res_in))))
 *   res_out = res_mid + linear2(act(linear1(ln2(res_mid))))
 * The block owns the order of the steps; a backend (tfm_ops) owns how each step runs:
 * the CPU kernels (ops.c: full forward, training forward; decode.c: one position against
 * a KV cache) or the CUDA kernels (src/kernels/cuda/model_gpu.cu).  The attention step is
 * the backend's, because that is where the modes differ (full or causal sequence, KV
 * cache); everything else is the same call on different rows.
 *
 * Weights come as views (tfm_layer), resolved once from the tensor table against any base
 * with the parameter layout: the parameters, the device copy, or a gradient block (the
 * backward reads its gradient pointers from the same views).
 *
 * Plain C, also compiled as C++ by nvcc (model_gpu.cu). */
#ifndef TICKINFER_TFM_BLOCK_H
#define TICKINFER_TFM_BLOCK_H

#include "tickinfer/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out [M,n_out] = act(inp [M,n_in] @ w^T + b): w [n_out,n_in] (nn.Linear), b [n_out];
 * packed: the CPU kernel table's packed copy of w, or NULL. */
typedef struct tfm_lin {
    const float *w, *b, *packed;
    int n_out, n_in;
} tfm_lin;

/* LayerNorm over C with w, b [C]. */
typedef struct tfm_norm {
    const float *w, *b;
    int C;
    float eps;
} tfm_norm;

/* One layer's weights. */
typedef struct tfm_layer {
    tfm_norm ln1, ln2;
    tfm_lin qkv;     /* [3C,C]: Wq, Wk, Wv stacked */
    tfm_lin q, kv;   /* its first C rows and last 2C rows (the CLS-only layer) */
    tfm_lin out;     /* [C,C] */
    tfm_lin fc1;     /* [D,C], followed by act */
    tfm_lin fc2;     /* [C,D] */
    ti_act act;
} tfm_layer;

/* The tensors around the layers. */
typedef struct tfm_stem {
    const float *cls, *pos; /* TinyRV [C], [T+1,C]; NULL for the causal model */
    tfm_lin proj;           /* [C,F] input projection */
    tfm_norm head_ln;
    tfm_lin head;           /* [1,C] */
} tfm_stem;

/* Views of m's tensors at base (a block with the parameter layout: ti_tfm_params, a
 * device copy, gradients); packed pointers NULL.  layers [L]. */
void tfm_bind(const ti_tfm *m, const float *base, tfm_stem *stem, tfm_layer *layers);

/* Buffers of one block over n rows (C wide unless noted).  Inference aliases them
 * (res_in = res_mid = res_out, ln1 = ln2, fc_pre = fc_act: activation fused into linear1);
 * training gives each its own, so that backward finds them. */
typedef struct tfm_block_io {
    float *res_in;                    /* [n,C] input (the residual stream) */
    float *ln1, *ln1_mean, *ln1_rstd; /* [n,C]; [n] kept when not NULL */
    float *qkv;                       /* [n,3C] (CLS-only: [n,2C] keys | values) */
    float *att;                       /* [nq,C] attention output, before out_proj */
    float *lse;                       /* [B,H,Tq] log-sum-exp kept for backward, or NULL */
    float *proj;                      /* [nq,C] out_proj output (may alias res_mid) */
    float *res_mid;                   /* [nq,C] after the attention residual */
    float *ln2, *ln2_mean, *ln2_rstd; /* [nq,C]; [nq] */
    float *fc_pre;                    /* [nq,D] before the activation (== fc_act: fused) */
    float *fc_act;                    /* [nq,D] */
    float *ffn;                       /* [nq,C] linear2 output (may alias res_out) */
    float *res_out;                   /* [nq,C] output */
    /* CLS-only (TinyRV's last layer in inference, whose head reads row 0 of each
     * sequence): keys and values for all n rows, everything else for the n_seq rows 0 of
     * the sequences of n / n_seq rows.  n_seq 0: every row (nq = n). */
    int n_seq;
    float *q_ln, *q;                  /* [n_seq,C] ln1 of those rows, their queries */
} tfm_block_io;

/* The inference io: one layer's working set, in place on the residual stream h [n,C];
 * each branch writes its output into a buffer its input is done with (out_proj -> ln,
 * fc2 -> att) and adds it into h; the activation fuses into linear1 (fc [n,D]). */
tfm_block_io tfm_block_io_inplace(float *h, float *ln, float *qkv, float *att, float *fc);

/* How a backend runs the steps.  ctx is the backend's.  Every step returns TI_OK or the
 * backend's error. */
typedef struct tfm_ops {
    /* out [n,C] = LN(inp [n,C]); mean, rstd [n] kept when not NULL */
    ti_err (*norm)(void *ctx, float *out, float *mean, float *rstd, const float *inp, const tfm_norm *w, int n);
    /* out [n,w->n_out] = act(inp [n,w->n_in] @ W^T + b) */
    ti_err (*linear)(void *ctx, float *out, const float *inp, const tfm_lin *w, int n, ti_act act);
    /* out [n] = a [n] + b [n]; out may alias a or b */
    ti_err (*add)(void *ctx, float *out, const float *a, const float *b, size_t n);
    /* out [n] = act(inp [n]) */
    ti_err (*act)(void *ctx, float *out, const float *inp, size_t n, ti_act act);
    /* att [n,C] = attention of layer l, every row a query: q the qkv rows [n,3C] (kv = q + C)
     * of a sequence batch, or of new positions against the backend's KV cache. */
    ti_err (*attend)(void *ctx, int l, float *att, float *lse, const float *q, const float *kv, int n);
    /* CLS-only: att [n_seq,C] = attention of the query rows q [n_seq,C] over kv [n,2C]
     * (NULL: the backend has no CLS-only layer). */
    ti_err (*attend_cls)(void *ctx, int l, float *att, const float *q, const float *kv, int n_seq, int n);
    /* out [n_seq,C] = row 0 of each sequence of inp [n_seq, n/n_seq, C] */
    ti_err (*rows0)(void *ctx, float *out, const float *inp, int n_seq, int n, int C);
} tfm_ops;

/* Layer l (weights w) on io over n rows. */
ti_err tfm_block_forward(const tfm_ops *ops, void *ctx, const tfm_layer *w, int l, const tfm_block_io *io, int n);

/* y [n] = head(LN(inp [n,C])); ln [n,C] scratch (mean, rstd [n] kept when not NULL). */
ti_err tfm_head_forward(const tfm_ops *ops, void *ctx, const tfm_stem *s, float *y, float *ln, float *mean,
                        float *rstd, const float *inp, int n);

#ifdef __cplusplus
}
#endif
#endif
