/* Layer norm, SIMD body (instantiated per ISA by layernorm_avx2.c / layernorm_avx512.c).
 * Same two-pass algorithm as layernorm_ref.c; rows are independent. */
#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

static inline int ln_w(int C, int c) { return C - c < VW ? C - c : VW; }
/* w[c..c+n) or 1 when w is NULL (no affine weight) */
static inline vf ln_load_or(const float *p, int c, int n, float dflt)
{
    return p ? vf_load_w(p + c, n) : vf_set1(dflt);
}

static void ln_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        vf acc = vf_zero();
        for (int c = 0; c < C; c += VW) acc = vf_add(acc, vf_load_w(x + c, ln_w(C, c)));
        float m = vf_reduce_add(acc) / (float)C;
        vf vm_ = vf_set1(m);
        acc = vf_zero();
        for (int c = 0; c < C; c += VW) {
            int n = ln_w(C, c);
            /* masked-off lanes load 0; zero them after centering too */
            vf d = vf_sub(vf_load_w(x + c, n), vm_);
            if (n < VW) d = vf_sel(vf_lt(vf_iota(), vf_set1((float)n)), d, vf_zero());
            acc = vf_fma(d, d, acc);
        }
        float s = 1.0f / sqrtf(vf_reduce_add(acc) / (float)C + eps);
        vf vs = vf_set1(s);
        for (int c = 0; c < C; c += VW) {
            int n = ln_w(C, c);
            vf nrm = vf_mul(vf_sub(vf_load_w(x + c, n), vm_), vs);
            vf y = vf_fma(nrm, ln_load_or(w, c, n, 1.0f), ln_load_or(b, c, n, 0.0f));
            vf_store_w(o + c, y, n);
        }
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = s;
    }
}

static void ln_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        vf vmean = vf_set1(mean[i]), vs = vf_set1(rstd[i]);
        vf ga = vf_zero(), gna = vf_zero();
        for (int c = 0; c < C; c += VW) {
            int n = ln_w(C, c);
            vf g = vf_mul(vf_load_w(d + c, n), ln_load_or(w, c, n, 1.0f));
            vf nrm = vf_mul(vf_sub(vf_load_w(x + c, n), vmean), vs);
            ga = vf_add(ga, g);
            gna = vf_fma(g, nrm, gna); /* g is 0 in masked-off lanes */
        }
        vf g_mean = vf_set1(vf_reduce_add(ga) / (float)C);
        vf gn_mean = vf_set1(vf_reduce_add(gna) / (float)C);
        for (int c = 0; c < C; c += VW) {
            int n = ln_w(C, c);
            vf dd = vf_load_w(d + c, n);
            vf g = vf_mul(dd, ln_load_or(w, c, n, 1.0f));
            vf nrm = vf_mul(vf_sub(vf_load_w(x + c, n), vmean), vs);
            vf t = vf_mul(vf_fnma(nrm, gn_mean, vf_sub(g, g_mean)), vs);
            vf_store_w(dx + c, vf_add(vf_load_w(dx + c, n), t), n);
            if (dw) vf_store_w(dw + c, vf_fma(dd, nrm, vf_load_w(dw + c, n)), n);
            if (db) vf_store_w(db + c, vf_add(vf_load_w(db + c, n), dd), n);
        }
    }
}

void TI_SFX(ti_kern_fill_layernorm)(ti_kernels *k)
{
    k->layernorm_forward = ln_forward;
    k->layernorm_backward = ln_backward;
}
