/* tickinfer: fp32 math kernels of the transformer (forward and backward).
 *
 * Each kernel has a scalar reference and AVX2 / AVX-512 variants; a table of function
 * pointers (ti_kernels) per SIMD level is filled once, and callers pick one:
 *
 *   const ti_kernels *k = ti_kernels_best();          // level = ti_simd_active()
 *   k->matmul_forward(out, inp, W, bias, M, N, K, TI_ACT_GELU_TANH, pool);
 *
 * Conventions (like llm.c):
 *   - outputs first, then inputs, then sizes; shapes are given in the comments;
 *   - no hidden state and no allocation: scratch lives in fixed stack buffers (at most
 *     ~130 KB, in attention), so call from threads with ordinary (>= 256 KB) stacks;
 *   - backward kernels ACCUMULATE into gradients (+=), so grads are zeroed once per step;
 *     any gradient output documented "may be NULL" is skipped when NULL;
 *   - outputs must not alias inputs unless the comment says so;
 *   - `pool` may be NULL (run on the calling thread); kernels without a pool argument
 *     are cheap enough to be split by the caller (e.g. over batch rows);
 *   - kernels that can be given impossible sizes return ti_err, the rest return void and
 *     expect sizes >= 0 (0 rows is a no-op).
 * Every SIMD variant matches the scalar reference to an NMSE below 1e-10 (see
 * tests/kernels/test_kernels.c); results differ from it only by fp32 rounding order and
 * few-ulp exp / erf approximations.  docs/kernels.md describes the design. */
#ifndef TICKINFER_KERNELS_H
#define TICKINFER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/cpu.h"
#include "tickinfer/err.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation applied elementwise (also as a fused matmul epilogue).  Append-only. */
typedef enum ti_act {
    TI_ACT_NONE = 0,
    TI_ACT_RELU,      /* max(x, 0) (PyTorch TransformerEncoderLayer default) */
    TI_ACT_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), gelu(approximate='tanh') */
    TI_ACT_GELU_ERF,  /* 0.5 x (1 + erf(x / sqrt(2))), PyTorch's exact gelu */
    TI_ACT__COUNT
} ti_act;

/* Attention shape and options.  q, k, v of token (b,t) are the three C-wide slices of
 * row qkv[b,t,0:3C] (PyTorch in_proj layout: Wq, Wk, Wv stacked), C = H*hd, and head h
 * uses columns [h*hd, (h+1)*hd) of each slice. */
#define TI_ATTN_MAX_HD 128
typedef struct ti_attn_cfg {
    int B, T, H, hd;    /* batch, sequence length, heads, head dim (<= TI_ATTN_MAX_HD) */
    int causal;         /* 0: every query sees every key; 1: query t sees keys <= t */
    const float *alibi; /* [H] ALiBi slopes or NULL: score(i,j) -= slope[h] * |i - j|
                         * (for causal this is the paper's slope * (j - i)) */
    float scale;        /* score multiplier; 0 means 1/sqrt(hd) (PyTorch default) */
} ti_attn_cfg;

/* AdamW hyper-parameters (PyTorch torch.optim.AdamW semantics). */
typedef struct ti_adamw_cfg {
    float lr, beta1, beta2, eps, weight_decay;
} ti_adamw_cfg;

typedef struct ti_kernels {
    ti_simd_level level;
    const char *name; /* "scalar", "avx2", "avx512" */

    /* ---- linear layer: W is [N,K] (PyTorch nn.Linear layout) -------------------------
     * out [M,N] = act(inp [M,K] @ W^T + bias [N]); bias may be NULL. */
    void (*matmul_forward)(float *out, const float *inp, const float *W, const float *bias,
                           int M, int N, int K, ti_act act, ti_pool *pool);
    /* Packed weights: a kernel-specific layout made once at model load.  The layout
     * belongs to this table (level): pack and run with the same table. */
    size_t (*matmul_packed_floats)(int N, int K); /* size of the packed buffer */
    void (*matmul_pack)(float *packed, const float *W, int N, int K);
    void (*matmul_forward_packed)(float *out, const float *inp, const float *packed,
                                  const float *bias, int M, int N, int K, ti_act act,
                                  ti_pool *pool);
    /* dinp [M,K] += dout [M,N] @ W;  dW [N,K] += dout^T @ inp;  dbias [N] += sum_m dout.
     * dinp, dW, dbias may each be NULL.  (A fused activation is not differentiated here:
     * training runs matmul with TI_ACT_NONE and act_forward/act_backward separately.) */
    void (*matmul_backward)(float *dinp, float *dW, float *dbias, const float *dout,
                            const float *inp, const float *W, int M, int N, int K,
                            ti_pool *pool);

    /* ---- layer norm over the last dim (biased variance, eps inside the sqrt) ---------
     * out [N,C]; mean, rstd [N] saved for backward (may be NULL); inp [N,C]; w, b [C]. */
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int N, int C, float eps);
    /* dinp [N,C] +=, dw [C] +=, db [C] += (dw, db may be NULL). */
    void (*layernorm_backward)(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int N, int C);

    /* ---- softmax over the last dim (max-subtracted) ------------------------------------
     * out [N,C] = softmax(inp [N,C]); out may alias inp. */
    void (*softmax_forward)(float *out, const float *inp, int N, int C);
    /* dinp [N,C] += out * (dout - sum(dout * out)) with out the forward result. */
    void (*softmax_backward)(float *dinp, const float *dout, const float *out, int N, int C);

    /* ---- elementwise ----------------------------------------------------------------------
     * out [n] = act(inp [n]); out may alias inp. */
    void (*act_forward)(float *out, const float *inp, size_t n, ti_act act);
    /* dinp [n] += act'(inp) * dout; inp is the pre-activation input. */
    void (*act_backward)(float *dinp, const float *inp, const float *dout, size_t n, ti_act act);
    /* out [n] = a + b (residual add); out may alias a or b. */
    void (*add_forward)(float *out, const float *a, const float *b, size_t n);
    /* dst [n] += src [n] (residual / broadcast backward). */
    void (*accumulate)(float *dst, const float *src, size_t n);

    /* ---- rotary position embedding (half-split / rotate_half convention) ---------------
     * In place on x: rows of `stride` floats, row (b,t) at x + (b*T + t)*stride, whose
     * first H*hd floats are H heads of hd (hd even).  Pair (x[i], x[i+hd/2]) of the token
     * at position pos0+t is rotated by angle (pos0+t) * theta^(-2i/hd), taken from tables
     * rcos, rsin [pos0+T, hd/2] made by ti_rope_table.  Apply to q (x = qkv) and to k
     * (x = qkv + C) with stride 3C.  Backward rotates the gradient back, in place. */
    void (*rope_forward)(float *x, const float *rcos, const float *rsin, int B, int T, int H,
                         int hd, size_t stride, int pos0);
    void (*rope_backward)(float *dx, const float *rcos, const float *rsin, int B, int T, int H,
                          int hd, size_t stride, int pos0);

    /* ---- attention (fused, flash-style: never stores the [T,T] scores) -----------------
     * out [B,T,C] = softmax(q k^T * scale + alibi + mask) v per head;
     * lse [B,H,T] (may be NULL) = log-sum-exp of each score row, kept for backward;
     * qkv [B,T,3C].  Fails (TI_ERR_INVALID_ARG / TI_ERR_LIMIT) on impossible shapes. */
    ti_err (*attention_forward)(float *out, float *lse, const float *qkv,
                                const ti_attn_cfg *cfg, ti_pool *pool);
    /* dqkv [B,T,3C] += gradient of the forward above (scores recomputed from lse);
     * dout, out [B,T,C]; qkv [B,T,3C]; lse [B,H,T]. */
    ti_err (*attention_backward)(float *dqkv, const float *dout, const float *qkv,
                                 const float *out, const float *lse, const ti_attn_cfg *cfg,
                                 ti_pool *pool);
    /* One query against a cache (streaming decode).  out [H,hd], q [H,hd];
     * key t of head h at k + t*kv_stride + h*hd (same for v), t in [0,T); the query sits at
     * position q_pos (usually T-1) for ALiBi.  No causal mask: the cache holds only the
     * past.  alibi [H] or NULL; scale 0 means 1/sqrt(hd). */
    ti_err (*attention_decode)(float *out, const float *q, const float *k, const float *v,
                               int T, int H, int hd, size_t kv_stride, int q_pos,
                               const float *alibi, float scale);
    /* Decode over a cache held in pieces (ring halves, paged blocks): accumulates keys
     * t in [0,T), at absolute positions pos0 + t, into the running online-softmax state of
     * each head: acc [H,hd] (un-normalised output), m [H] (running max, start -INFINITY),
     * l [H] (running sum, start 0).  After the last piece out = acc / l per head.  ALiBi
     * bias -slope[h] * (q_pos - pos); every key must satisfy pos <= q_pos.  T may be 0. */
    ti_err (*attention_decode_accum)(float *acc, float *m, float *l, const float *q,
                                     const float *k, const float *v, int T, int H, int hd,
                                     size_t kv_stride, int64_t q_pos, int64_t pos0,
                                     const float *alibi, float scale);

    /* ---- optimizer ----------------------------------------------------------------------
     * One AdamW step t (1-based) over n params, in place on param, m, v [n]; grad [n]. */
    void (*adamw_step)(float *param, float *m, float *v, const float *grad, size_t n,
                       const ti_adamw_cfg *cfg, int t);
} ti_kernels;

/* Table for `level`, or NULL when the CPU lacks it (or level is out of range). */
const ti_kernels *ti_kernels_get(ti_simd_level level);
/* Table for ti_simd_active() (the env var TI_SIMD caps it); cached after the first call. */
const ti_kernels *ti_kernels_best(void);

/* ---- scalar helpers (not per level) ---------------------------------------------------- */

/* ALiBi slopes [H] as in Press et al.: for H a power of two, slope_h = 2^(-8(h+1)/H);
 * otherwise the slopes of the nearest lower power of two n, then every other slope of 2n. */
void ti_alibi_slopes(float *slopes, int H);

/* RoPE tables rcos, rsin [T, hd/2]: angle(t, i) = t * theta^(-2i/hd) (theta usually 10000).
 * Fails on odd or non-positive hd, T < 0 or theta <= 0. */
ti_err ti_rope_table(float *rcos, float *rsin, int T, int hd, float theta);

/* Token + position embedding: out [B,T,C] = wte[tokens[b,t]] + wpe[t] (wpe may be NULL).
 * tokens [B,T] are checked against V (TI_ERR_RANGE names the first bad one). */
ti_err ti_embedding_forward(float *out, const int32_t *tokens, const float *wte,
                            const float *wpe, int B, int T, int C, int V);
/* dwte [V,C] +=, dwpe [T,C] += (either may be NULL); dout [B,T,C]. */
ti_err ti_embedding_backward(float *dwte, float *dwpe, const float *dout,
                             const int32_t *tokens, int B, int T, int C, int V);
/* Position add for continuous inputs: out [B,T,C] = inp [B,T,C] + pos [T,C]
 * (out may alias inp); backward: dpos [T,C] += sum_b dout (dinp is dout itself). */
void ti_pos_add_forward(float *out, const float *inp, const float *pos, int B, int T, int C);
void ti_pos_add_backward(float *dpos, const float *dout, int B, int T, int C);

/* Losses, computed in double.  loss = mean((pred - target)^2) (targets are log-RV);
 * dpred [n] (may be NULL) = dscale * dloss/dpred (overwritten, not accumulated). */
ti_err ti_loss_mse(double *loss, float *dpred, const float *pred, const float *target,
                   size_t n, float dscale);
/* RMSPE = sqrt(mean(((y - yhat) / y)^2)) with y = target, yhat = pred (both RV, not log);
 * dpred as above (0 where the loss is 0).  TI_ERR_RANGE if a target is 0 or not finite. */
ti_err ti_loss_rmspe(double *loss, float *dpred, const float *pred, const float *target,
                     size_t n, float dscale);

#ifdef __cplusplus
}
#endif
#endif
