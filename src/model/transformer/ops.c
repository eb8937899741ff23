/* Row-parallel wrappers for the kernels that take no pool (layer norm, elementwise ops):
 * they are memory-bound and cheap, so below ~64K elements they run on the calling
 * thread (waking workers would cost more than the work). */
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

void model_layernorm(const ti_kernels *k, float *out, float *mean, float *rstd, const float *inp,
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

void model_add(const ti_kernels *k, float *out, const float *a, const float *b, size_t n, ti_pool *pool)
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

void model_act(const ti_kernels *k, float *out, const float *inp, size_t n, ti_act act, ti_pool *pool)
{
    if (!pool || n < OPS_PARALLEL_MIN) {
        k->act_forward(out, inp, n, act);
        return;
    }
    ops_job j = {.k = k, .out = out, .a = inp, .act = act};
    ti_pool_parallel_for(pool, n, grain_for(n, pool, 4096), act_task, &j);
}
