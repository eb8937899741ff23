/* Transcendental functions on the vector layer (include simd_avx2.h or simd_avx512.h
 * first).  fp32, accurate to a few ulp over the ranges the kernels use; the scalar
 * reference uses libm, and tests/kernels checks that the two agree.
 * Coefficients: exp is the degree-7 Taylor series on |r| <= ln2/2 (truncation < 1e-8
 * relative); the erf polynomials were fitted by relative least squares on Chebyshev
 * nodes against mpmath (max error 2e-7 relative on [0,1], 3e-7 on erfc*exp(x^2) over
 * [1,4]). */
#ifndef TI_SIMD_MATH_H
#define TI_SIMD_MATH_H

#include "tickinfer/kernels.h"

/* e^x; exactly 0 below -87.3 (no denormals) and finite (< 2^128) above 88. */
static inline vf vf_exp(vf x)
{
    const vf lo = vf_set1(-87.33654475f), hi = vf_set1(88.02f);
    vf xc = vf_min(vf_max(x, lo), hi);
    /* round to nearest by adding and removing 1.5*2^23 (cheaper than a round
     * instruction; exact for |x*log2e| < 2^22) */
    const vf magic = vf_set1(12582912.0f);
    vf n = vf_sub(vf_fma(xc, vf_set1(1.44269504088896341f), magic), magic);
    /* r = x - n ln2, with ln2 split in two so that n*ln2_hi is exact. */
    vf r = vf_fnma(n, vf_set1(0.693359375f), xc);
    r = vf_fnma(n, vf_set1(-2.12194440e-4f), r);
    vf p = vf_set1(1.0f / 5040.0f);
    p = vf_fma(p, r, vf_set1(1.0f / 720.0f));
    p = vf_fma(p, r, vf_set1(1.0f / 120.0f));
    p = vf_fma(p, r, vf_set1(1.0f / 24.0f));
    p = vf_fma(p, r, vf_set1(1.0f / 6.0f));
    p = vf_fma(p, r, vf_set1(0.5f));
    p = vf_fma(p, r, vf_set1(1.0f));
    p = vf_fma(p, r, vf_set1(1.0f));
    return vf_sel(vf_lt(x, lo), vf_zero(), vf_ldexp(p, n));
}

/* 1 / (1 + e^-x) */
static inline vf vf_sigmoid(vf x)
{
    const vf one = vf_set1(1.0f);
    return vf_div(one, vf_add(one, vf_exp(vf_sub(vf_zero(), x))));
}

/* erf(x): x*P(x^2) for |x| < 1, else 1 - e^{-x^2} Q(1/|x|) with |x| clamped to 4
 * (erf(4) rounds to 1 in fp32); odd symmetry restores the sign. */
static inline vf vf_erf(vf x)
{
    const vf one = vf_set1(1.0f);
    vf ax = vf_abs(x);
    vf s = vf_mul(ax, ax);
    vf p = vf_set1(-5.667995429e-04f);
    p = vf_fma(p, s, vf_set1(4.927420057e-03f));
    p = vf_fma(p, s, vf_set1(-2.672089450e-02f));
    p = vf_fma(p, s, vf_set1(1.128057912e-01f));
    p = vf_fma(p, s, vf_set1(-3.761239052e-01f));
    p = vf_fma(p, s, vf_set1(1.128379107e+00f));
    vf small = vf_mul(ax, p);

    vf axc = vf_min(vf_max(ax, one), vf_set1(4.0f));
    vf t = vf_div(one, axc);
    vf q = vf_set1(-1.694679633e-02f);
    q = vf_fma(q, t, vf_set1(1.168974862e-01f));
    q = vf_fma(q, t, vf_set1(-3.475888968e-01f));
    q = vf_fma(q, t, vf_set1(5.694930553e-01f));
    q = vf_fma(q, t, vf_set1(-5.024152994e-01f));
    q = vf_fma(q, t, vf_set1(4.987014830e-02f));
    q = vf_fma(q, t, vf_set1(5.579383373e-01f));
    q = vf_fma(q, t, vf_set1(3.356043017e-04f));
    vf large = vf_fnma(vf_exp(vf_sub(vf_zero(), vf_mul(axc, axc))), q, one);

    return vf_xorsign(vf_sel(vf_lt(ax, one), small, large), x);
}

/* Activations and their derivatives, same formulas as ti_act_scalar / ti_act_grad_scalar.
 * gelu_tanh uses 0.5 (1 + tanh u) = sigmoid(2u), which has no cancellation for x < 0. */
static inline vf vf_act(vf x, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: return vf_max(x, vf_zero());
    case TI_ACT_GELU_TANH: {
        vf x2 = vf_mul(x, x);
        vf u2 = vf_mul(vf_mul(x, vf_set1(2.0f * 0.7978845608028654f)),
                       vf_fma(x2, vf_set1(0.044715f), vf_set1(1.0f)));
        return vf_mul(x, vf_sigmoid(u2));
    }
    case TI_ACT_GELU_ERF: {
        vf e = vf_erf(vf_mul(x, vf_set1(0.70710678118654752f)));
        return vf_mul(vf_mul(x, vf_set1(0.5f)), vf_add(vf_set1(1.0f), e));
    }
    default: return x;
    }
}

static inline vf vf_act_grad(vf x, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: return vf_sel(vf_gt(x, vf_zero()), vf_set1(1.0f), vf_zero());
    case TI_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f;
        vf x2 = vf_mul(x, x);
        vf u2 = vf_mul(vf_mul(x, vf_set1(2.0f * c)), vf_fma(x2, vf_set1(0.044715f), vf_set1(1.0f)));
        /* 0.5(1+tanh u) = sg = 1/(1+e) with e = exp(-2u);  0.5 x (1 - tanh^2 u) du =
         * 2 x sg (1 - sg) du, and 1 - sg = e sg (no cancellation when sg -> 1) */
        vf e = vf_exp(vf_sub(vf_zero(), u2));
        vf sg = vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), e));
        vf du = vf_mul(vf_set1(c), vf_fma(x2, vf_set1(3.0f * 0.044715f), vf_set1(1.0f)));
        vf t = vf_mul(vf_mul(vf_mul(vf_set1(2.0f), x), vf_mul(sg, vf_mul(e, sg))), du);
        return vf_add(sg, t);
    }
    case TI_ACT_GELU_ERF: {
        vf e = vf_erf(vf_mul(x, vf_set1(0.70710678118654752f)));
        vf pdf = vf_mul(vf_set1(0.3989422804014327f), vf_exp(vf_mul(vf_set1(-0.5f), vf_mul(x, x))));
        return vf_fma(x, pdf, vf_mul(vf_set1(0.5f), vf_add(vf_set1(1.0f), e)));
    }
    default: return vf_set1(1.0f);
    }
}

#endif
