/* CUDA backend: full-window forward of both models (TinyRV, rv_causal) and the rv_causal
 * decode step on the GPU.  The layers are the shared block (src/model/transformer/block.c,
 * the same code the CPU runs) with this file's CUDA steps (tfm_ops): cuBLAS matmuls with our
 * epilogue, layer norm, adds, and the attention (full / causal sequence, or the paged KV
 * cache of the decoder).  What stays here is the GPU's own: the embedding, the decoder's
 * cache bookkeeping, graph capture.  The weights are one upload of the model's contiguous
 * parameter block, viewed through the model's tensor table (tfm_bind).
 * TinyRV computes its last layer for every row (the CPU computes it for the CLS row only):
 * the CLS row's result is the same, the GPU just skips the special case. */
#include <stdio.h>
#include <stdlib.h>
#include "cuda_internal.cuh"
#include "model/transformer/block.h"
#include "tickinfer/transformer.h"

struct ti_cuda_model {
    ti_cuda *cu;
    ti_tfm_config cfg;
    int B_max, T_max;
    float *d_params;
    tfm_stem stem;    /* views of d_params */
    tfm_layer *lw;    /* [L] */
    float alibi[TI_CUDA_MAX_HEADS];
    float *h, *ln, *qkv, *att, *fc, *tmp, *cls_h, *x_dev, *y_dev; /* activations */
};

extern "C" void ti_cuda_model_destroy(ti_cuda_model *g)
{
    if (!g) return;
    float *bufs[] = {g->d_params, g->h, g->ln, g->qkv, g->att, g->fc, g->tmp, g->cls_h, g->x_dev, g->y_dev};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ti_cuda_free(g->cu, bufs[i]);
    free(g->lw);
    free(g);
}

extern "C" ti_err ti_cuda_model_create(ti_cuda *cu, ti_cuda_model **out, const ti_tfm *m, int B_max,
                                       int T_max)
{
    TI_CU_CHECK_CTX(cu, "model_create");
    if (!out || !m) return ti_errorf(TI_ERR_INVALID_ARG, "cuda model: NULL argument");
    *out = NULL;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    if (T_max <= 0) T_max = c->context;
    if (B_max <= 0 || T_max > c->context || (c->kind == TI_TFM_TINYRV && T_max != c->context))
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda model: B_max %d / T_max %d invalid (context %d)", B_max,
                         T_max, c->context);
    if (c->n_heads > TI_CUDA_MAX_HEADS)
        return ti_errorf(TI_ERR_LIMIT, "cuda model: %d heads > %d", c->n_heads, TI_CUDA_MAX_HEADS);
    ti_cuda_model *g = (ti_cuda_model *)calloc(1, sizeof *g);
    if (!g) return ti_errorf(TI_ERR_NOMEM, "cuda model: out of memory");
    g->cu = cu, g->cfg = *c, g->B_max = B_max, g->T_max = T_max;
    g->lw = (tfm_layer *)calloc((size_t)c->n_layers, sizeof *g->lw);
    const float *al = ti_tfm_alibi(m);
    for (int h = 0; h < c->n_heads && al; h++) g->alibi[h] = al[h];
    const size_t tq = (size_t)T_max + (c->kind == TI_TFM_TINYRV), N = (size_t)B_max * tq;
    const size_t C = c->d_model, D = c->d_ff, np = ti_tfm_n_params(m);
    ti_err e = g->lw ? TI_OK : ti_errorf(TI_ERR_NOMEM, "cuda model: out of memory");
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->d_params, np * 4);
    if (!e) e = ti_cuda_upload(cu, g->d_params, ti_tfm_params(m), np * 4);
    if (!e) tfm_bind(m, g->d_params, &g->stem, g->lw);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->h, N * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->ln, N * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->qkv, N * 3 * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->att, N * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->fc, N * D * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->tmp, N * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->cls_h, (size_t)B_max * C * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->x_dev, (size_t)B_max * T_max * c->n_features * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->y_dev, (size_t)B_max * T_max * 4);
    if (!e) e = ti_cuda_sync(cu);
    if (e) {
        ti_cuda_model_destroy(g);
        return e;
    }
    *out = g;
    return TI_OK;
}

/* ---- the block's steps on the GPU (block.h) --------------------------------------------- */

/* The backend: the context, and the attention of a sequence batch (forward) or of the
 * decoder's paged cache (dec below). */
struct gpu_ctx {
    ti_cuda *cu;
    ti_attn_cfg acfg;        /* forward: B sequences of T rows */
    ti_cuda_decoder *dec;    /* decode step: its cache; NULL in the forward */
};

static ti_err gpu_norm(void *ctx, float *out, float *mean, float *rstd, const float *inp, const tfm_norm *w, int n)
{
    if (mean || rstd) return ti_errorf(TI_ERR_UNSUPPORTED, "cuda model: layer-norm statistics (training)");
    return ti_cuda_layernorm(((gpu_ctx *)ctx)->cu, out, inp, w->w, w->b, n, w->C, w->eps);
}

static ti_err gpu_linear(void *ctx, float *out, const float *inp, const tfm_lin *w, int n, ti_act act)
{
    return ti_cuda_matmul(((gpu_ctx *)ctx)->cu, out, inp, w->w, w->b, n, w->n_out, w->n_in, act);
}

static ti_err gpu_add(void *ctx, float *out, const float *a, const float *b, size_t n)
{
    return ti_cuda_add(((gpu_ctx *)ctx)->cu, out, a, b, n);
}

static ti_err gpu_act(void *ctx, float *out, const float *inp, size_t n, ti_act act)
{
    return ti_cuda_act(((gpu_ctx *)ctx)->cu, out, inp, n, act);
}

/* att [n,C]: full or causal (ALiBi) attention over the acfg.B sequences of qkv [n,3C]. */
static ti_err gpu_attend(void *ctx, int l, float *att, float *lse, const float *qkv, const float *kv, int n)
{
    if (lse) return ti_errorf(TI_ERR_UNSUPPORTED, "cuda model: attention log-sum-exp (training)");
    const gpu_ctx *g = (const gpu_ctx *)ctx;
    return ti_cuda_attention(g->cu, att, qkv, &g->acfg);
}

/* out [n_seq,C] = row 0 of each sequence of inp. */
static ti_err gpu_rows0(void *ctx, float *out, const float *inp, int n_seq, int n, int C)
{
    const size_t tq = (size_t)(n / n_seq);
    TI_CU(cudaMemcpy2DAsync(out, (size_t)C * 4, inp, tq * C * 4, (size_t)C * 4, (size_t)n_seq,
                            cudaMemcpyDeviceToDevice, ((gpu_ctx *)ctx)->cu->stream));
    return TI_OK;
}

/* No CLS-only layer on the GPU: TinyRV runs its last layer for every row. */
static const tfm_ops GPU_OPS = {gpu_norm, gpu_linear, gpu_add, gpu_act, gpu_attend, NULL, gpu_rows0};

/* h [nb,T+1,C]: row 0 = cls + pos[0], row 1+t = proj [nb,T,C] row t + pos[1+t]. */
__global__ void k_tiny_embed(float *h, const float *proj, const float *cls, const float *pos, int nb,
                             int T, int C)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t per = (size_t)(T + 1) * C;
    if (i >= (size_t)nb * per) return;
    const size_t b = i / per, r = i % per, t = r / C, c = r % C;
    const float v = t == 0 ? cls[c] : proj[(b * T + t - 1) * C + c];
    h[i] = v + pos[r];
}

extern "C" ti_err ti_cuda_model_forward(ti_cuda_model *g, float *d_y, const float *d_x, int B, int T)
{
    if (!g || !d_y || !d_x) return ti_errorf(TI_ERR_INVALID_ARG, "cuda model forward: NULL argument");
    const ti_tfm_config *c = &g->cfg;
    const int tiny = c->kind == TI_TFM_TINYRV;
    if (B <= 0 || B > g->B_max || T <= 0 || T > g->T_max || (tiny && T != c->context))
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda model forward: B %d / T %d out of range (B_max %d, T_max %d)",
                         B, T, g->B_max, g->T_max);
    ti_cuda *cu = g->cu;
    const int C = c->d_model, tq = T + tiny, N = B * tq;
    gpu_ctx ctx = {};
    ctx.cu = cu;
    ctx.acfg = {.B = B, .T = tq, .H = c->n_heads, .hd = C / c->n_heads, .causal = !tiny,
                .alibi = tiny ? NULL : g->alibi, .scale = 0.f};
    ti_err e;
    if (tiny) {
        if ((e = gpu_linear(&ctx, g->tmp, d_x, &g->stem.proj, B * T, TI_ACT_NONE))) return e;
        const size_t total = (size_t)N * C;
        k_tiny_embed<<<(unsigned)((total + 255) / 256), 256, 0, cu->stream>>>(g->h, g->tmp, g->stem.cls,
                                                                              g->stem.pos, B, T, C);
        TI_CU_LAUNCHED("tiny_embed");
    } else if ((e = gpu_linear(&ctx, g->h, d_x, &g->stem.proj, N, TI_ACT_NONE))) {
        return e;
    }
    const tfm_block_io io = tfm_block_io_inplace(g->h, g->ln, g->qkv, g->att, g->fc);
    for (int l = 0; l < c->n_layers; l++)
        if ((e = tfm_block_forward(&GPU_OPS, &ctx, &g->lw[l], l, &io, N))) return e;
    const float *rows = g->h;
    int n_out = N;
    if (tiny) { /* the CLS rows: row 0 of every sequence */
        if ((e = gpu_rows0(&ctx, g->cls_h, g->h, B, N, C))) return e;
        rows = g->cls_h;
        n_out = B;
    }
    return tfm_head_forward(&GPU_OPS, &ctx, &g->stem, d_y, g->ln, NULL, NULL, rows, n_out);
}

extern "C" ti_err ti_cuda_model_forward_host(ti_cuda_model *g, float *y, const float *x, int B, int T)
{
    if (!g || !y || !x) return ti_errorf(TI_ERR_INVALID_ARG, "cuda model forward: NULL argument");
    if (B <= 0 || B > g->B_max || T <= 0 || T > g->T_max)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda model forward: B %d / T %d out of range", B, T);
    const int tiny = g->cfg.kind == TI_TFM_TINYRV;
    ti_err e = ti_cuda_upload(g->cu, g->x_dev, x, (size_t)B * T * g->cfg.n_features * 4);
    if (!e) e = ti_cuda_model_forward(g, g->y_dev, g->x_dev, B, T);
    if (!e) e = ti_cuda_download(g->cu, y, g->y_dev, (size_t)B * (tiny ? 1 : T) * 4);
    return e;
}

/* ---- rv_causal decode step for S symbols, captured as one CUDA graph -------------------
 * Every symbol owns max_blocks blocks of each layer's paged cache (table row s = blocks
 * s*max_blocks ...), so the table is fixed and the graph never changes; the lengths live
 * on the device and the step's first kernel advances them, so replaying the same graph
 * moves every symbol one token on. */
struct ti_cuda_decoder {
    ti_cuda_model *gm; /* weights + [S]-row activations (B_max = S, T_max = 1) */
    int S, max_blocks;
    float **k, **v;    /* per layer [S*max_blocks*BS, C] */
    int32_t *table, *len, *overflow;
    ti_cuda_graph *graph;
};

__global__ void k_dec_advance(int32_t *len, int32_t *overflow, int S, int cap)
{
    const int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= S) return;
    if (len[s] >= cap) *overflow = 1; /* full: keep the length, report at the next sync */
    else len[s] += 1;
}

/* Write k|v of qkv [S,3C] at position len[s]-1 of symbol s's blocks. */
__global__ void k_dec_append(float *kc, float *vc, const float *qkv, const int32_t *len, const int32_t *table,
                             int S, int C, int max_blocks)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)S * C) return;
    const int s = (int)(i / C), c = (int)(i % C), t = len[s] - 1;
    if (t < 0 || t >= max_blocks * TI_CUDA_KV_BLOCK) return;
    const size_t slot = (size_t)table[s * max_blocks + t / TI_CUDA_KV_BLOCK] * TI_CUDA_KV_BLOCK + t % TI_CUDA_KV_BLOCK;
    kc[slot * C + c] = qkv[(size_t)s * 3 * C + C + c];
    vc[slot * C + c] = qkv[(size_t)s * 3 * C + 2 * C + c];
}

__global__ void k_iota(int32_t *x, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = i;
}

/* Gather q [S,C] out of qkv [S,3C]: the decode kernel reads q rows C apart. */
static ti_err dec_q(ti_cuda *cu, float *q, const float *qkv, int S, int C)
{
    TI_CU(cudaMemcpy2DAsync(q, (size_t)C * 4, qkv, (size_t)3 * C * 4, (size_t)C * 4, (size_t)S,
                            cudaMemcpyDeviceToDevice, cu->stream));
    return TI_OK;
}

/* The block's attention step in the decoder: append each symbol's new k|v (of qkv [S,3C])
 * to layer l's cache at position len[s]-1, then one query per symbol over its cache. */
static ti_err dec_attend(void *ctx, int l, float *att, float *lse, const float *qkv, const float *kv_row, int S)
{
    const gpu_ctx *g = (const gpu_ctx *)ctx;
    ti_cuda_decoder *d = g->dec;
    ti_cuda *cu = g->cu;
    const int C = d->gm->cfg.d_model, H = d->gm->cfg.n_heads;
    const size_t n = (size_t)S * C;
    k_dec_append<<<(unsigned)((n + 255) / 256), 256, 0, cu->stream>>>(d->k[l], d->v[l], qkv, d->len, d->table, S, C,
                                                                     d->max_blocks);
    TI_CU_LAUNCHED("dec_append");
    ti_cuda_paged_kv kv = {}; /* value-initialised: no int8 buffers */
    kv.H = H, kv.hd = C / H, kv.n_blocks = S * d->max_blocks, kv.max_blocks = d->max_blocks;
    kv.table = d->table, kv.len = d->len;
    kv.k = d->k[l], kv.v = d->v[l];
    ti_err e = dec_q(cu, d->gm->tmp, qkv, S, C);
    if (!e) e = ti_cuda_paged_decode(cu, att, d->gm->tmp, &kv, S, d->gm->alibi, 0.f);
    return e;
}

static const tfm_ops DEC_OPS = {gpu_norm, gpu_linear, gpu_add, gpu_act, dec_attend, NULL, NULL};

static ti_err dec_body(void *arg)
{
    ti_cuda_decoder *d = (ti_cuda_decoder *)arg;
    ti_cuda_model *g = d->gm;
    ti_cuda *cu = g->cu;
    const int S = d->S;
    gpu_ctx ctx = {};
    ctx.cu = cu, ctx.dec = d;
    k_dec_advance<<<(S + 255) / 256, 256, 0, cu->stream>>>(d->len, d->overflow, S, d->max_blocks * TI_CUDA_KV_BLOCK);
    TI_CU_LAUNCHED("dec_advance");
    ti_err e = gpu_linear(&ctx, g->h, g->x_dev, &g->stem.proj, S, TI_ACT_NONE);
    if (e) return e;
    const tfm_block_io io = tfm_block_io_inplace(g->h, g->ln, g->qkv, g->att, g->fc);
    for (int l = 0; l < g->cfg.n_layers; l++)
        if ((e = tfm_block_forward(&DEC_OPS, &ctx, &g->lw[l], l, &io, S))) return e;
    return tfm_head_forward(&DEC_OPS, &ctx, &g->stem, g->y_dev, g->ln, NULL, NULL, g->h, S);
}

extern "C" void ti_cuda_decoder_destroy(ti_cuda_decoder *d)
{
    if (!d) return;
    ti_cuda *cu = d->gm ? d->gm->cu : NULL;
    ti_cuda_graph_destroy(d->graph);
    for (int l = 0; d->k && d->gm && l < d->gm->cfg.n_layers; l++) {
        ti_cuda_free(cu, d->k[l]);
        ti_cuda_free(cu, d->v[l]);
    }
    ti_cuda_free(cu, d->table), ti_cuda_free(cu, d->len), ti_cuda_free(cu, d->overflow);
    free(d->k), free(d->v);
    ti_cuda_model_destroy(d->gm);
    free(d);
}

extern "C" ti_err ti_cuda_decoder_reset(ti_cuda_decoder *d)
{
    if (!d) return ti_errorf(TI_ERR_INVALID_ARG, "cuda decoder: NULL");
    ti_err e = ti_cuda_memset0(d->gm->cu, d->len, (size_t)d->S * 4);
    if (!e) e = ti_cuda_memset0(d->gm->cu, d->overflow, 4);
    return e;
}

extern "C" ti_err ti_cuda_decoder_create(ti_cuda *cu, ti_cuda_decoder **out, const ti_tfm *m, int S,
                                         int max_ctx)
{
    TI_CU_CHECK_CTX(cu, "decoder_create");
    if (!out || !m) return ti_errorf(TI_ERR_INVALID_ARG, "cuda decoder: NULL argument");
    *out = NULL;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    if (c->kind != TI_TFM_RV_CAUSAL)
        return ti_errorf(TI_ERR_UNSUPPORTED, "cuda decoder: only rv_causal models decode step by step");
    if (S <= 0 || max_ctx <= 0 || max_ctx > TI_MODEL_MAX_CONTEXT)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda decoder: S %d / max_ctx %d invalid", S, max_ctx);
    ti_cuda_decoder *d = (ti_cuda_decoder *)calloc(1, sizeof *d);
    if (!d) return ti_errorf(TI_ERR_NOMEM, "cuda decoder: out of memory");
    d->S = S;
    d->max_blocks = (max_ctx + TI_CUDA_KV_BLOCK - 1) / TI_CUDA_KV_BLOCK;
    const int L = c->n_layers, C = c->d_model, nb = S * d->max_blocks;
    ti_err e = ti_cuda_model_create(cu, &d->gm, m, S, 1);
    d->k = (float **)calloc((size_t)L, sizeof *d->k);
    d->v = (float **)calloc((size_t)L, sizeof *d->v);
    if (!e && (!d->k || !d->v)) e = ti_errorf(TI_ERR_NOMEM, "cuda decoder: out of memory");
    const size_t kv_bytes = (size_t)nb * TI_CUDA_KV_BLOCK * C * 4;
    for (int l = 0; l < L && !e; l++) {
        e = ti_cuda_malloc(cu, (void **)&d->k[l], kv_bytes);
        if (!e) e = ti_cuda_malloc(cu, (void **)&d->v[l], kv_bytes);
    }
    if (!e) e = ti_cuda_malloc(cu, (void **)&d->table, (size_t)nb * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&d->len, (size_t)S * 4);
    if (!e) e = ti_cuda_malloc(cu, (void **)&d->overflow, 4);
    if (!e) {
        k_iota<<<(nb + 255) / 256, 256, 0, cu->stream>>>(d->table, nb);
        cudaError_t ce = cudaGetLastError();
        if (ce != cudaSuccess) e = ti_cuda__err(ce, "iota");
    }
    if (!e) e = ti_cuda_decoder_reset(d);
    if (!e) e = ti_cuda_sync(cu);
    if (!e) e = ti_cuda_graph_capture(cu, &d->graph, dec_body, d);
    if (e) {
        ti_cuda_decoder_destroy(d);
        return e;
    }
    *out = d;
    return TI_OK;
}

extern "C" ti_err ti_cuda_decoder_step(ti_cuda_decoder *d, float *y, const float *x)
{
    if (!d || !y || !x) return ti_errorf(TI_ERR_INVALID_ARG, "cuda decoder step: NULL argument");
    ti_cuda_model *g = d->gm;
    ti_err e = ti_cuda_upload(g->cu, g->x_dev, x, (size_t)d->S * g->cfg.n_features * 4);
    if (!e) e = ti_cuda_graph_launch(g->cu, d->graph);
    if (!e) e = ti_cuda_download(g->cu, y, g->y_dev, (size_t)d->S * 4);
    int32_t of = 0;
    if (!e) e = ti_cuda_download(g->cu, &of, d->overflow, 4);
    if (!e && of)
        return ti_errorf(TI_ERR_LIMIT, "cuda decoder: a symbol's context is full (%d positions); reset it",
                         d->max_blocks * TI_CUDA_KV_BLOCK);
    return e;
}
