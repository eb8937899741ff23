/* CUDA backend: full-window forward of both models (TinyRV, rv_causal) on the GPU, built
 * from the backend's kernels with the exact math of src/model/forward.c (pre-norm layers;
 * TinyRV: [cls; proj(x)] + pos, full attention, head on the CLS row; rv_causal: proj(x),
 * causal attention with ALiBi, head on every row).  The weights are one upload of the
 * model's contiguous parameter block; tensors are found by name, as the loader names them.
 * TinyRV computes its last layer for every row (the CPU computes it for the CLS row only):
 * the CLS row's result is the same, the GPU just skips the special case. */
#include <stdio.h>
#include <stdlib.h>
#include "cuda_internal.cuh"
#include "tickinfer/transformer.h"

enum { GW_QKV_W, GW_QKV_B, GW_OUT_W, GW_OUT_B, GW_FC1_W, GW_FC1_B, GW_FC2_W, GW_FC2_B,
       GW_LN1_W, GW_LN1_B, GW_LN2_W, GW_LN2_B, GW__COUNT };

struct ti_cuda_model {
    ti_cuda *cu;
    ti_tfm_config cfg;
    int B_max, T_max;
    float *d_params;
    const float *cls, *pos, *proj_w, *proj_b, *hln_w, *hln_b, *head_w, *head_b;
    const float **lw; /* [L][GW__COUNT] device pointers */
    float alibi[TI_CUDA_MAX_HEADS];
    float *h, *ln, *qkv, *att, *fc, *tmp, *cls_h, *x_dev, *y_dev; /* activations */
};

static ti_err find(const ti_tfm *m, float *d_params, const float **out, size_t want,
                   const char *fmt, int l)
{
    char name[TI_MODEL_MAX_NAME];
    snprintf(name, sizeof name, fmt, l);
    const ti_tfm_tensor *t = ti_tfm_find_tensor(m, name);
    if (!t) return ti_errorf(TI_ERR_NOT_FOUND, "cuda model: tensor '%s' missing", name);
    if (want && t->numel != want)
        return ti_errorf(TI_ERR_FORMAT, "cuda model: tensor '%s' has %zu values, expected %zu", name,
                         t->numel, want);
    *out = d_params + t->offset;
    return TI_OK;
}

static ti_err bind_weights(ti_cuda_model *g, const ti_tfm *m)
{
    const ti_tfm_config *c = &g->cfg;
    const size_t C = c->d_model, D = c->d_ff, F = c->n_features;
    const int tiny = c->kind == TI_TFM_TINYRV;
    float *p = g->d_params;
    ti_err e = TI_OK;
    if (tiny && !e) e = find(m, p, &g->cls, C, "cls", 0);
    if (tiny && !e) e = find(m, p, &g->pos, (size_t)(c->context + 1) * C, "pos", 0);
    if (!e) e = find(m, p, &g->proj_w, C * F, "proj.weight", 0);
    if (!e) e = find(m, p, &g->proj_b, C, "proj.bias", 0);
    if (!e) e = find(m, p, &g->hln_w, C, "head.0.weight", 0);
    if (!e) e = find(m, p, &g->hln_b, C, "head.0.bias", 0);
    if (!e) e = find(m, p, &g->head_w, C, "head.1.weight", 0);
    if (!e) e = find(m, p, &g->head_b, 1, "head.1.bias", 0);
    static const char *const tiny_names[GW__COUNT] = {
        "enc.layers.%d.self_attn.in_proj_weight", "enc.layers.%d.self_attn.in_proj_bias",
        "enc.layers.%d.self_attn.out_proj.weight", "enc.layers.%d.self_attn.out_proj.bias",
        "enc.layers.%d.linear1.weight", "enc.layers.%d.linear1.bias",
        "enc.layers.%d.linear2.weight", "enc.layers.%d.linear2.bias",
        "enc.layers.%d.norm1.weight", "enc.layers.%d.norm1.bias",
        "enc.layers.%d.norm2.weight", "enc.layers.%d.norm2.bias"};
    static const char *const causal_names[GW__COUNT] = {
        "layers.%d.in_proj.weight", "layers.%d.in_proj.bias", "layers.%d.out_proj.weight",
        "layers.%d.out_proj.bias", "layers.%d.linear1.weight", "layers.%d.linear1.bias",
        "layers.%d.linear2.weight", "layers.%d.linear2.bias", "layers.%d.norm1.weight",
        "layers.%d.norm1.bias", "layers.%d.norm2.weight", "layers.%d.norm2.bias"};
    const size_t sizes[GW__COUNT] = {3 * C * C, 3 * C, C * C, C, D * C, D, C * D, C, C, C, C, C};
    for (int l = 0; l < c->n_layers && !e; l++)
        for (int w = 0; w < GW__COUNT && !e; w++)
            e = find(m, p, &g->lw[l * GW__COUNT + w], sizes[w], (tiny ? tiny_names : causal_names)[w], l);
    return e;
}

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
    g->lw = (const float **)calloc((size_t)c->n_layers * GW__COUNT, sizeof *g->lw);
    const float *al = ti_tfm_alibi(m);
    for (int h = 0; h < c->n_heads && al; h++) g->alibi[h] = al[h];
    const size_t tq = (size_t)T_max + (c->kind == TI_TFM_TINYRV), N = (size_t)B_max * tq;
    const size_t C = c->d_model, D = c->d_ff, np = ti_tfm_n_params(m);
    ti_err e = g->lw ? TI_OK : ti_errorf(TI_ERR_NOMEM, "cuda model: out of memory");
    if (!e) e = ti_cuda_malloc(cu, (void **)&g->d_params, np * 4);
    if (!e) e = ti_cuda_upload(cu, g->d_params, ti_tfm_params(m), np * 4);
    if (!e) e = bind_weights(g, m);
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
    const int C = c->d_model, D = c->d_ff, tq = T + tiny, N = B * tq;
    ti_err e;
    if (tiny) {
        if ((e = ti_cuda_matmul(cu, g->tmp, d_x, g->proj_w, g->proj_b, B * T, C, c->n_features, TI_ACT_NONE)))
            return e;
        const size_t total = (size_t)N * C;
        k_tiny_embed<<<(unsigned)((total + 255) / 256), 256, 0, cu->stream>>>(g->h, g->tmp, g->cls, g->pos, B,
                                                                              T, C);
        TI_CU_LAUNCHED("tiny_embed");
    } else if ((e = ti_cuda_matmul(cu, g->h, d_x, g->proj_w, g->proj_b, N, C, c->n_features, TI_ACT_NONE))) {
        return e;
    }
    ti_attn_cfg acfg = {.B = B, .T = tq, .H = c->n_heads, .hd = C / c->n_heads, .causal = !tiny,
                        .alibi = tiny ? NULL : g->alibi, .scale = 0.f};
    for (int l = 0; l < c->n_layers; l++) {
        const float *const *w = g->lw + (size_t)l * GW__COUNT;
        if ((e = ti_cuda_layernorm(cu, g->ln, g->h, w[GW_LN1_W], w[GW_LN1_B], N, C, c->ln_eps)) ||
            (e = ti_cuda_matmul(cu, g->qkv, g->ln, w[GW_QKV_W], w[GW_QKV_B], N, 3 * C, C, TI_ACT_NONE)) ||
            (e = ti_cuda_attention(cu, g->att, g->qkv, &acfg)) ||
            (e = ti_cuda_matmul(cu, g->ln, g->att, w[GW_OUT_W], w[GW_OUT_B], N, C, C, TI_ACT_NONE)) ||
            (e = ti_cuda_add(cu, g->h, g->h, g->ln, (size_t)N * C)) ||
            (e = ti_cuda_layernorm(cu, g->ln, g->h, w[GW_LN2_W], w[GW_LN2_B], N, C, c->ln_eps)) ||
            (e = ti_cuda_matmul(cu, g->fc, g->ln, w[GW_FC1_W], w[GW_FC1_B], N, D, C, c->activation)) ||
            (e = ti_cuda_matmul(cu, g->att, g->fc, w[GW_FC2_W], w[GW_FC2_B], N, C, D, TI_ACT_NONE)) ||
            (e = ti_cuda_add(cu, g->h, g->h, g->att, (size_t)N * C)))
            return e;
    }
    const float *rows = g->h;
    int n_out = N;
    if (tiny) { /* the CLS rows: row 0 of every sequence */
        TI_CU(cudaMemcpy2DAsync(g->cls_h, (size_t)C * 4, g->h, (size_t)tq * C * 4, (size_t)C * 4, (size_t)B,
                                cudaMemcpyDeviceToDevice, cu->stream));
        rows = g->cls_h;
        n_out = B;
    }
    if ((e = ti_cuda_layernorm(cu, g->ln, rows, g->hln_w, g->hln_b, n_out, C, c->ln_eps))) return e;
    return ti_cuda_matmul(cu, d_y, g->ln, g->head_w, g->head_b, n_out, 1, C, TI_ACT_NONE);
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

static ti_err dec_body(void *arg)
{
    ti_cuda_decoder *d = (ti_cuda_decoder *)arg;
    ti_cuda_model *g = d->gm;
    ti_cuda *cu = g->cu;
    const ti_tfm_config *c = &g->cfg;
    const int S = d->S, C = c->d_model, D = c->d_ff, H = c->n_heads;
    ti_err e;
    k_dec_advance<<<(S + 255) / 256, 256, 0, cu->stream>>>(d->len, d->overflow, S, d->max_blocks * TI_CUDA_KV_BLOCK);
    TI_CU_LAUNCHED("dec_advance");
    if ((e = ti_cuda_matmul(cu, g->h, g->x_dev, g->proj_w, g->proj_b, S, C, c->n_features, TI_ACT_NONE))) return e;
    ti_cuda_paged_kv kv = {}; /* value-initialised: no int8 buffers */
    kv.H = H, kv.hd = C / H, kv.n_blocks = S * d->max_blocks, kv.max_blocks = d->max_blocks;
    kv.table = d->table, kv.len = d->len;
    for (int l = 0; l < c->n_layers; l++) {
        const float *const *w = g->lw + (size_t)l * GW__COUNT;
        if ((e = ti_cuda_layernorm(cu, g->ln, g->h, w[GW_LN1_W], w[GW_LN1_B], S, C, c->ln_eps)) ||
            (e = ti_cuda_matmul(cu, g->qkv, g->ln, w[GW_QKV_W], w[GW_QKV_B], S, 3 * C, C, TI_ACT_NONE)))
            return e;
        const size_t n = (size_t)S * C;
        k_dec_append<<<(unsigned)((n + 255) / 256), 256, 0, cu->stream>>>(d->k[l], d->v[l], g->qkv, d->len,
                                                                         d->table, S, C, d->max_blocks);
        TI_CU_LAUNCHED("dec_append");
        kv.k = d->k[l], kv.v = d->v[l];
        if ((e = dec_q(cu, g->tmp, g->qkv, S, C)) ||
            (e = ti_cuda_paged_decode(cu, g->att, g->tmp, &kv, S, g->alibi, 0.f)) ||
            (e = ti_cuda_matmul(cu, g->ln, g->att, w[GW_OUT_W], w[GW_OUT_B], S, C, C, TI_ACT_NONE)) ||
            (e = ti_cuda_add(cu, g->h, g->h, g->ln, n)) ||
            (e = ti_cuda_layernorm(cu, g->ln, g->h, w[GW_LN2_W], w[GW_LN2_B], S, C, c->ln_eps)) ||
            (e = ti_cuda_matmul(cu, g->fc, g->ln, w[GW_FC1_W], w[GW_FC1_B], S, D, C, c->activation)) ||
            (e = ti_cuda_matmul(cu, g->att, g->fc, w[GW_FC2_W], w[GW_FC2_B], S, C, D, TI_ACT_NONE)) ||
            (e = ti_cuda_add(cu, g->h, g->h, g->att, n)))
            return e;
    }
    if ((e = ti_cuda_layernorm(cu, g->ln, g->h, g->hln_w, g->hln_b, S, C, c->ln_eps))) return e;
    return ti_cuda_matmul(cu, g->y_dev, g->ln, g->head_w, g->head_b, S, 1, C, TI_ACT_NONE);
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
