/* Row-wise softmax, SIMD body (instantiated per ISA by softmax_avx2.c / softmax_avx512.c). */
#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

static inline int sm_w(int C, int c) { return C - c < VW ? C - c : VW; }

static void sm_forward(float *out, const float *inp, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        vf mx = vf_set1(-INFINITY);
        for (int c = 0; c < C; c += VW) {
            int n = sm_w(C, c);
            vf v = vf_load_w(x + c, n);
            if (n < VW) v = vf_sel(vf_lt(vf_iota(), vf_set1((float)n)), v, vf_set1(-INFINITY));
            mx = vf_max(mx, v);
        }
        vf vmx = vf_set1(vf_reduce_max(mx));
        vf sum = vf_zero();
        for (int c = 0; c < C; c += VW) {
            int n = sm_w(C, c);
            vf e = vf_exp(vf_sub(vf_load_w(x + c, n), vmx));
            if (n < VW) e = vf_sel(vf_lt(vf_iota(), vf_set1((float)n)), e, vf_zero());
            sum = vf_add(sum, e);
            vf_store_w(o + c, e, n);
        }
        vf inv = vf_set1(1.0f / vf_reduce_add(sum));
        for (int c = 0; c < C; c += VW) {
            int n = sm_w(C, c);
            vf_store_w(o + c, vf_mul(vf_load_w(o + c, n), inv), n);
        }
    }
}

static void sm_backward(float *dinp, const float *dout, const float *out, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        vf acc = vf_zero();
        for (int c = 0; c < C; c += VW) {
            int n = sm_w(C, c);
            acc = vf_fma(vf_load_w(d + c, n), vf_load_w(y + c, n), acc);
        }
        vf dot = vf_set1(vf_reduce_add(acc));
        for (int c = 0; c < C; c += VW) {
            int n = sm_w(C, c);
            vf t = vf_mul(vf_load_w(y + c, n), vf_sub(vf_load_w(d + c, n), dot));
            vf_store_w(dx + c, vf_add(vf_load_w(dx + c, n), t), n);
        }
    }
}

void TI_SFX(ti_kern_fill_softmax)(ti_kernels *k)
{
    k->softmax_forward = sm_forward;
    k->softmax_backward = sm_backward;
}
