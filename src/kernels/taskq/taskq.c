/* Task-queue kernels: per-level tables (filled once, like dispatch.c) and the checked,
 * pool-parallel entry points. */
#include <pthread.h>

#include "kernels/taskq/taskq_simd.h"
#include "tickinfer/kernels.h"

static ti_taskq_kernels g_tq[TI_SIMD__COUNT];
static int g_tq_have[TI_SIMD__COUNT];
static pthread_once_t g_tq_once = PTHREAD_ONCE_INIT;

static void tq_init(void)
{
    ti_simd_level sup = ti_simd_supported();
    for (int l = 0; l < TI_SIMD__COUNT; l++) {
        ti_taskq_fill_scalar(&g_tq[l]);
        g_tq[l].level = (ti_simd_level)l;
        g_tq[l].name = ti_simd_name((ti_simd_level)l);
        g_tq_have[l] = (ti_simd_level)l <= sup;
    }
    /* The SIMD fills are compiled with their ISA flags: call them only on such a CPU. */
    if (sup >= TI_SIMD_AVX2) ti_taskq_fill_avx2(&g_tq[TI_SIMD_AVX2]);
    if (sup >= TI_SIMD_AVX512) ti_taskq_fill_avx512(&g_tq[TI_SIMD_AVX512]);
    /* The row softmax is the model's (kernels.h): one max-subtracted softmax per level. */
    for (int l = 0; l <= (int)sup && l < TI_SIMD__COUNT; l++) g_tq[l].batched_softmax = ti_kernels_get((ti_simd_level)l)->softmax_forward;
    for (int l = (int)sup + 1; l < TI_SIMD__COUNT; l++) g_tq[l].batched_softmax = ti_kernels_get(TI_SIMD_SCALAR)->softmax_forward;
}

const ti_taskq_kernels *ti_taskq_kernels_get(ti_simd_level level)
{
    if ((int)level < 0 || level >= TI_SIMD__COUNT) return NULL;
    pthread_once(&g_tq_once, tq_init);
    return g_tq_have[level] ? &g_tq[level] : NULL;
}

const ti_taskq_kernels *ti_taskq_kernels_best(void)
{
    pthread_once(&g_tq_once, tq_init);
    return &g_tq[ti_simd_active()];
}

static ti_err check(const char *op, const void *a, const void *b, const void *c, int B, int d1, int d2)
{
    if (!a || !b || !c) return ti_errorf(TI_ERR_INVALID_ARG, "taskq: %s: NULL pointer", op);
    if (B < 0 || d1 < 0 || d2 < 0) return ti_errorf(TI_ERR_INVALID_ARG, "taskq: %s: negative size (B=%d, %d, %d)", op, B, d1, d2);
    if (B > TI_TASKQ_MAX_B || d1 > TI_TASKQ_MAX_DIM || d2 > TI_TASKQ_MAX_DIM)
        return ti_errorf(TI_ERR_LIMIT, "taskq: %s: size over the limit (B=%d <= %d, dims %d, %d <= %d)", op, B,
                         TI_TASKQ_MAX_B, d1, d2, TI_TASKQ_MAX_DIM);
    return TI_OK;
}

static ti_err check_elems(const char *op, unsigned long long a, unsigned long long b, unsigned long long c)
{
    if (a * b > TI_TASKQ_MAX_ELEMS / (c ? c : 1))
        return ti_errorf(TI_ERR_LIMIT, "taskq: %s: tensor over %llu elements", op, (unsigned long long)TI_TASKQ_MAX_ELEMS);
    return TI_OK;
}

/* Row-range jobs for the pool. */
typedef struct tq_job {
    int op; /* 0 gemv, 1 softmax, 2 price */
    float *y;
    const float *a, *b;
    int d1, d2;
} tq_job;

static void tq_run(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const tq_job *j = ctx;
    const ti_taskq_kernels *k = ti_taskq_kernels_best();
    int n = (int)(end - begin);
    size_t r = begin;
    if (j->op == 0)
        k->batched_gemv(j->y + r * (size_t)j->d2, j->a + r * (size_t)j->d1 * (size_t)j->d2, j->b + r * (size_t)j->d1, n,
                        j->d1, j->d2);
    else if (j->op == 1)
        k->batched_softmax(j->y + r * (size_t)j->d1, j->a + r * (size_t)j->d1, n, j->d1);
    else
        k->process_price_vectors(j->y + r * (size_t)j->d2, j->a + r * (size_t)j->d1, j->b, n, j->d1, j->d2);
}

static void run(tq_job *j, int B, size_t row_cost, ti_pool *pool)
{
    /* Aim for >= 64K multiply-adds per task so the pool's overhead stays small, and stay on
     * the calling thread below 4M in all (about 100 us): waking the pool costs tens of us
     * on a VM, so the seed's price vectors (1M, 30 us) ran no faster on 2 threads. */
    size_t grain = row_cost ? 65536 / row_cost + 1 : 1;
    if (pool && (size_t)B > grain && (size_t)B * row_cost >= ((size_t)4 << 20))
        ti_pool_parallel_for(pool, (size_t)B, grain, tq_run, j);
    else tq_run(j, 0, (size_t)B, 0);
}

ti_err ti_taskq_batched_gemv(float *y, const float *W, const float *x, int B, int in, int out, ti_pool *pool)
{
    ti_err e = check("batched_gemv", y, W, x, B, in, out);
    if (!e) e = check_elems("batched_gemv", (unsigned long long)B, (unsigned long long)in, (unsigned long long)out);
    if (e) return e;
    tq_job j = {0, y, W, x, in, out};
    run(&j, B, (size_t)in * (size_t)out, pool);
    return TI_OK;
}

ti_err ti_taskq_batched_softmax(float *out, const float *inp, int B, int dim, ti_pool *pool)
{
    ti_err e = check("batched_softmax", out, inp, inp, B, dim, 0);
    if (!e) e = check_elems("batched_softmax", (unsigned long long)B, (unsigned long long)dim, 1);
    if (e) return e;
    tq_job j = {1, out, inp, NULL, dim, 0};
    run(&j, B, (size_t)dim * 8, pool);
    return TI_OK;
}

ti_err ti_taskq_process_price_vectors(float *out, const float *prices, const float *W, int B, int assets,
                                      int features, ti_pool *pool)
{
    ti_err e = check("process_price_vectors", out, prices, W, B, assets, features);
    if (!e) e = check_elems("process_price_vectors", (unsigned long long)B, (unsigned long long)(assets > features ? assets : features), 1);
    if (e) return e;
    tq_job j = {2, out, prices, W, assets, features};
    run(&j, B, (size_t)assets * (size_t)features, pool);
    return TI_OK;
}
