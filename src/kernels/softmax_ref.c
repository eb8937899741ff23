/* Row-wise softmax, scalar reference (max-subtracted, so no overflow). */
#include "kernels/kernels_internal.h"

static void softmax_forward_ref(float *out, const float *inp, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float mx = -INFINITY;
        for (int c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) {
            o[c] = expf(x[c] - mx);
            sum += o[c];
        }
        float inv = 1.0f / sum;
        for (int c = 0; c < C; c++) o[c] *= inv;
    }
}

static void softmax_backward_ref(float *dinp, const float *dout, const float *out, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float dot = 0.0f;
        for (int c = 0; c < C; c++) dot += d[c] * y[c];
        for (int c = 0; c < C; c++) dx[c] += y[c] * (d[c] - dot);
    }
}

void ti_kern_fill_softmax_ref(ti_kernels *k)
{
    k->softmax_forward = softmax_forward_ref;
    k->softmax_backward = softmax_backward_ref;
}
