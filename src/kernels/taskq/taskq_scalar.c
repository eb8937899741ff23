/* Scalar reference of the task-queue kernels: the plainest loops, the truth the SIMD
 * variants are tested against. */
#include <string.h>

#include "kernels/taskq/taskq_simd.h"

static void gemv_ref(float *y, const float *W, const float *x, int B, int in, int out)
{
    for (int b = 0; b < B; b++) {
        const float *Wb = W + (size_t)b * (size_t)in * (size_t)out, *xb = x + (size_t)b * (size_t)in;
        float *yb = y + (size_t)b * (size_t)out;
        memset(yb, 0, (size_t)out * sizeof *yb);
        /* i outer, o inner: W is read row by row, as it lies in memory. */
        for (int i = 0; i < in; i++)
            for (int o = 0; o < out; o++) yb[o] += xb[i] * Wb[(size_t)i * (size_t)out + (size_t)o];
    }
}

static void price_ref(float *out, const float *prices, const float *W, int B, int assets, int features)
{
    for (int b = 0; b < B; b++) {
        const float *p = prices + (size_t)b * (size_t)assets;
        float *o = out + (size_t)b * (size_t)features;
        memset(o, 0, (size_t)features * sizeof *o);
        for (int a = 0; a < assets; a++)
            for (int f = 0; f < features; f++) o[f] += p[a] * W[(size_t)a * (size_t)features + (size_t)f];
    }
}

void ti_taskq_fill_scalar(ti_taskq_kernels *k)
{
    k->batched_gemv = gemv_ref;
    k->process_price_vectors = price_ref;
}
