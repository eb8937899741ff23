/* Linear layer, scalar reference: out = act(inp @ W^T + bias), W [N,K] row-major.
 * Plain loops in the order a reader would write them; the SIMD variants are tested
 * against these.  The "packed" layout of this level is W itself. */
#include <string.h>

#include "kernels/kernels_internal.h"

typedef struct mm_ref_job {
    float *out, *dinp, *dW, *dbias;
    const float *inp, *W, *bias, *dout;
    int M, N, K;
    ti_act act;
} mm_ref_job;

/* rows [m0, m1) of out */
static void fwd_rows(void *ctx, size_t m0, size_t m1, int worker)
{
    const mm_ref_job *j = ctx;
    (void)worker;
    for (size_t m = m0; m < m1; m++) {
        const float *x = j->inp + m * (size_t)j->K;
        float *o = j->out + m * (size_t)j->N;
        for (int n = 0; n < j->N; n++) {
            const float *w = j->W + (size_t)n * j->K;
            float acc = 0.0f;
            for (int k = 0; k < j->K; k++) acc += x[k] * w[k];
            if (j->bias) acc += j->bias[n];
            o[n] = ti_act_scalar(acc, j->act);
        }
    }
}

static void matmul_forward_ref(float *out, const float *inp, const float *W, const float *bias,
                               int M, int N, int K, ti_act act, ti_pool *pool)
{
    if (M <= 0 || N <= 0) return;
    mm_ref_job j = {.out = out, .inp = inp, .W = W, .bias = bias, .M = M, .N = N, .K = K, .act = act};
    ti_pool_parallel_for(pool, (size_t)M, 16, fwd_rows, &j);
}

static size_t matmul_packed_floats_ref(int N, int K) { return (size_t)N * (size_t)K; }

static void matmul_pack_ref(float *packed, const float *W, int N, int K)
{
    if (N > 0 && K > 0) memcpy(packed, W, (size_t)N * (size_t)K * sizeof(float));
}

/* dinp rows [m0, m1): dinp[m,k] += sum_n dout[m,n] W[n,k] */
static void bwd_inp_rows(void *ctx, size_t m0, size_t m1, int worker)
{
    const mm_ref_job *j = ctx;
    (void)worker;
    for (size_t m = m0; m < m1; m++) {
        const float *d = j->dout + m * (size_t)j->N;
        float *di = j->dinp + m * (size_t)j->K;
        for (int n = 0; n < j->N; n++) {
            const float *w = j->W + (size_t)n * j->K;
            for (int k = 0; k < j->K; k++) di[k] += d[n] * w[k];
        }
    }
}

/* dW rows [n0, n1): dW[n,k] += sum_m dout[m,n] inp[m,k]; dbias[n] += sum_m dout[m,n] */
static void bwd_w_rows(void *ctx, size_t n0, size_t n1, int worker)
{
    const mm_ref_job *j = ctx;
    (void)worker;
    for (size_t n = n0; n < n1; n++) {
        float *dw = j->dW ? j->dW + n * (size_t)j->K : NULL;
        float db = 0.0f;
        for (int m = 0; m < j->M; m++) {
            float d = j->dout[(size_t)m * j->N + n];
            db += d;
            if (dw) {
                const float *x = j->inp + (size_t)m * j->K;
                for (int k = 0; k < j->K; k++) dw[k] += d * x[k];
            }
        }
        if (j->dbias) j->dbias[n] += db;
    }
}

static void matmul_backward_ref(float *dinp, float *dW, float *dbias, const float *dout,
                                const float *inp, const float *W, int M, int N, int K,
                                ti_pool *pool)
{
    if (M <= 0 || N <= 0) return;
    mm_ref_job j = {.dinp = dinp, .dW = dW, .dbias = dbias, .dout = dout, .inp = inp, .W = W,
                    .M = M, .N = N, .K = K};
    if (dinp && K > 0) ti_pool_parallel_for(pool, (size_t)M, 16, bwd_inp_rows, &j);
    if (dW || dbias) ti_pool_parallel_for(pool, (size_t)N, 4, bwd_w_rows, &j);
}

void ti_kern_fill_matmul_ref(ti_kernels *k)
{
    k->matmul_forward = matmul_forward_ref;
    k->matmul_packed_floats = matmul_packed_floats_ref;
    k->matmul_pack = matmul_pack_ref;
    k->matmul_forward_packed = matmul_forward_ref;
    k->matmul_backward = matmul_backward_ref;
}
