/* Position encodings: rotary embedding (RoPE) kernels and tables, ALiBi slopes.
 * RoPE is a cheap elementwise rotation (O(T*C) next to attention's O(T^2*C)), so it has
 * only this scalar version, shared by all levels. */
#include "kernels/kernels_internal.h"

/* dir = +1 rotates forward, -1 applies the inverse rotation (the backward). */
static void rope_apply(float *x, const float *rcos, const float *rsin, int B, int T, int H, int hd,
                       size_t stride, int pos0, float dir)
{
    const int half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *row = x + ((size_t)b * T + t) * stride;
            const float *c = rcos + (size_t)(pos0 + t) * half, *s = rsin + (size_t)(pos0 + t) * half;
            for (int h = 0; h < H; h++) {
                float *x1 = row + (size_t)h * hd, *x2 = x1 + half;
                for (int i = 0; i < half; i++) {
                    const float a = x1[i], bb = x2[i], sn = dir * s[i];
                    x1[i] = a * c[i] - bb * sn;
                    x2[i] = bb * c[i] + a * sn;
                }
            }
        }
}

static void rope_forward_ref(float *x, const float *rcos, const float *rsin, int B, int T, int H,
                             int hd, size_t stride, int pos0)
{
    rope_apply(x, rcos, rsin, B, T, H, hd, stride, pos0, 1.0f);
}

static void rope_backward_ref(float *dx, const float *rcos, const float *rsin, int B, int T, int H,
                              int hd, size_t stride, int pos0)
{
    rope_apply(dx, rcos, rsin, B, T, H, hd, stride, pos0, -1.0f);
}

void ti_kern_fill_rope_ref(ti_kernels *k)
{
    k->rope_forward = rope_forward_ref;
    k->rope_backward = rope_backward_ref;
}

ti_err ti_rope_table(float *rcos, float *rsin, int T, int hd, float theta)
{
    if (hd <= 0 || hd % 2 != 0 || T < 0 || !(theta > 0.0f) || !isfinite(theta))
        return ti_errorf(TI_ERR_INVALID_ARG, "rope: need even hd > 0, T >= 0, theta > 0 (got hd=%d T=%d theta=%g)",
                         hd, T, (double)theta);
    const int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            /* in double: the angle reaches T radians, where fp32 would lose digits */
            double ang = (double)t * pow((double)theta, -2.0 * i / hd);
            rcos[(size_t)t * half + i] = (float)cos(ang);
            rsin[(size_t)t * half + i] = (float)sin(ang);
        }
    return TI_OK;
}

/* Slopes of a power-of-two head count n: 2^(-8/n), 2^(-16/n), ... */
static void alibi_pow2(float *slopes, int n, int count, int step)
{
    for (int i = 0; i < count; i++) slopes[i] = (float)pow(2.0, -8.0 * (double)(i * step + 1) / n);
}

void ti_alibi_slopes(float *slopes, int H)
{
    if (H <= 0) return;
    int n = 1;
    while (n * 2 <= H) n *= 2;
    alibi_pow2(slopes, n, n, 1);
    /* the rest: slopes 0, 2, 4, ... of 2n heads (geometric in between the first ones) */
    if (H > n) alibi_pow2(slopes + n, 2 * n, H - n, 2);
}
