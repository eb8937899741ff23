/* The CPU backend of the block (block.h): the model's kernel table, packed matmuls in
 * inference, and row-parallel wrappers for the kernels that take no pool (layer norm,
 * elementwise ops).  Those are memory-bound and cheap, so below ~64K elements they run
 * on the calling thread (waking workers would cost more than the work). */
#include <string.h>

#include "model/transformer/tfm_internal.h"

#define OPS_PARALLEL_MIN 65536 /* elements */

typedef struct ops_job {
    const ti_kernels *k;
    float *out, *mean, *rstd;
    const float *a, *b, *w, *bias;
    int C;
    float eps;
    ti_act act;
} ops_job;

static size_t grain_for(size_t n, ti_pool *pool, size_t min_grain)
{
    size_t g = n / (4 * (size_t)ti_pool_size(pool));
    return g < min_grain ? min_grain : g;
}

static void ln_task(void *ctx, size_t begin, size_t end, int worker)
{
    const ops_job *j = ctx;
    const size_t C = (size_t)j->C;
    (void)worker;
    j->k->layernorm_forward(j->out + begin * C, j->mean ? j->mean + begin : NULL,
                            j->rstd ? j->rstd + begin : NULL, j->a + begin * C, j->w, j->bias,
                            (int)(end - begin), j->C, j->eps);
}

static void model_layernorm(const ti_kernels *k, float *out, float *mean, float *rstd, const float *inp,
                     const float *w, const float *b, int N, int C, float eps, ti_pool *pool)
{
    if (!pool || (size_t)N * (size_t)C < OPS_PARALLEL_MIN) {
        k->layernorm_forward(out, mean, rstd, inp, w, b, N, C, eps);
        return;
    }
    ops_job j = {.k = k, .out = out, .mean = mean, .rstd = rstd, .a = inp, .w = w, .bias = b, .C = C,
                 .eps = eps};
    ti_pool_parallel_for(pool, (size_t)N, grain_for((size_t)N, pool, 16), ln_task, &j);
}

static void add_task(void *ctx, size_t begin, size_t end, int worker)
{
    const ops_job *j = ctx;
    (void)worker;
    j->k->add_forward(j->out + begin, j->a + begin, j->b + begin, end - begin);
}

static void model_add(const ti_kernels *k, float *out, const float *a, const float *b, size_t n, ti_pool *pool)
{
    if (!pool || n < OPS_PARALLEL_MIN) {
        k->add_forward(out, a, b, n);
        return;
    }
    ops_job j = {.k = k, .out = out, .a = a, .b = b};
    ti_pool_parallel_for(pool, n, grain_for(n, pool, 4096), add_task, &j);
}

static void act_task(void *ctx, size_t begin, size_t end, int worker)
{
    const ops_job *j = ctx;
    (void)worker;
    j->k->act_forward(j->out + begin, j->a + begin, end - begin, j->act);
}

static void model_act(const ti_kernels *k, float *out, const float *inp, size_t n, ti_act act, ti_pool *pool)
{
    if (!pool || n < OPS_PARALLEL_MIN) {
        k->act_forward(out, inp, n, act);
        return;
    }
    ops_job j = {.k = k, .out = out, .a = inp, .act = act};
    ti_pool_parallel_for(pool, n, grain_for(n, pool, 4096), act_task, &j);
}

/* ---- the block's steps -------------------------------------------------------------- */

tfm_cpu tfm_cpu_for(const ti_tfm *m, int packed, int nb, int tq, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    tfm_cpu cpu = {.k = m->k, .pool = pool, .packed = packed};
    cpu.acfg = (ti_attn_cfg){.B = nb, .T = tq, .H = c->n_heads, .hd = c->d_model / c->n_heads};
    if (c->kind == TI_TFM_RV_CAUSAL) {
        cpu.acfg.causal = 1;
        cpu.acfg.alibi = m->alibi;
    }
    return cpu;
}

ti_err tfm_cpu_norm(void *ctx, float *out, float *mean, float *rstd, const float *inp, const tfm_norm *w, int n)
{
    const tfm_cpu *c = ctx;
    model_layernorm(c->k, out, mean, rstd, inp, w->w, w->b, n, w->C, w->eps, c->pool);
    return TI_OK;
}

ti_err tfm_cpu_linear(void *ctx, float *out, const float *inp, const tfm_lin *w, int n, ti_act act)
{
    const tfm_cpu *c = ctx;
    if (c->packed && w->packed)
        c->k->matmul_forward_packed(out, inp, w->packed, w->b, n, w->n_out, w->n_in, act, c->pool);
    else
        c->k->matmul_forward(out, inp, w->w, w->b, n, w->n_out, w->n_in, act, c->pool);
    return TI_OK;
}

ti_err tfm_cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n)
{
    const tfm_cpu *c = ctx;
    model_add(c->k, out, a, b, n, c->pool);
    return TI_OK;
}

ti_err tfm_cpu_act(void *ctx, float *out, const float *inp, size_t n, ti_act act)
{
    const tfm_cpu *c = ctx;
    model_act(c->k, out, inp, n, act, c->pool);
    return TI_OK;
}

/* att [n,C]: flash attention over the acfg.B sequences of qkv [n,3C] (kv is qkv + C). */
static ti_err cpu_attend(void *ctx, int l, float *att, float *lse, const float *qkv, const float *kv, int n)
{
    const tfm_cpu *c = ctx;
    return c->k->attention_forward(att, lse, qkv, &c->acfg, c->pool);
}

/* att [n_seq,C]: one query per sequence against its n/n_seq keys and values of kv [n,2C]. */
static ti_err cpu_attend_cls(void *ctx, int l, float *att, const float *q, const float *kv, int n_seq, int n)
{
    const tfm_cpu *c = ctx;
    const int H = c->acfg.H, hd = c->acfg.hd, C = H * hd, tq = n / n_seq;
    const size_t C2 = 2 * (size_t)C;
    for (int b = 0; b < n_seq; b++) {
        const float *kb = kv + (size_t)b * tq * C2;
        ti_err e = c->k->attention_decode(att + (size_t)b * C, q + (size_t)b * C, kb, kb + C, tq, H, hd, C2, 0,
                                          c->acfg.alibi, c->acfg.scale);
        if (e) return e;
    }
    return TI_OK;
}

static ti_err cpu_rows0(void *ctx, float *out, const float *inp, int n_seq, int n, int C)
{
    const size_t tq = (size_t)(n / n_seq);
    for (int b = 0; b < n_seq; b++)
        memcpy(out + (size_t)b * C, inp + (size_t)b * tq * C, (size_t)C * sizeof(float));
    return TI_OK;
}

const tfm_ops tfm_cpu_ops = {tfm_cpu_norm, tfm_cpu_linear, tfm_cpu_add, tfm_cpu_act,
                             cpu_attend,   cpu_attend_cls, cpu_rows0};
