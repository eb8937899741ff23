/* Layer norm over the last dim, scalar reference (two-pass mean / variance). */
#include "kernels/kernels_internal.h"

static void layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                                  const float *w, const float *b, int N, int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (float)C;
        float v = 0.0f;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * s;
            o[c] = n * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
        }
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = s;
    }
}

/* With norm = (x - mean) * rstd and g = dout * w:
 *   dx = rstd * (g - mean(g) - norm * mean(g * norm)). */
static void layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                   const float *inp, const float *w, const float *mean,
                                   const float *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        float g_mean = 0.0f, gn_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float g = d[c] * (w ? w[c] : 1.0f);
            g_mean += g;
            gn_mean += g * (x[c] - m) * s;
        }
        g_mean /= (float)C;
        gn_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * s;
            float g = d[c] * (w ? w[c] : 1.0f);
            dx[c] += (g - g_mean - n * gn_mean) * s;
            if (dw) dw[c] += d[c] * n;
            if (db) db[c] += d[c];
        }
    }
}

void ti_kern_fill_layernorm_ref(ti_kernels *k)
{
    k->layernorm_forward = layernorm_forward_ref;
    k->layernorm_backward = layernorm_backward_ref;
}
