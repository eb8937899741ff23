/* Vector layer for AVX-512 (F/BW/DQ/VL + FMA): 16 fp32 lanes.
 *
 * The SIMD kernel bodies (<op>_simd.h) are written once against this small set of
 * inline functions; simd_avx2.h provides the same names for 8 lanes.  Include exactly
 * one layer, then simd_math.h, then the bodies, in a file compiled with the ISA flags
 * (the Makefile adds them to *_avx512.c). */
#ifndef TI_SIMD_LAYER_H
#define TI_SIMD_LAYER_H

#include <immintrin.h>
#include <stdint.h>

#define VW 16
#define TI_SFX(name) name##_avx512
/* matmul micro-tile: TI_MM_MR rows x (2*VW) columns of accumulators (24 of 32 zmm). */
#define TI_MM_MR 12

typedef __m512 vf;
typedef __mmask16 vm;

static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vm vf_mask_n(int n) { return (vm)((1u << n) - 1u); } /* n in [0, VW] */
/* First n lanes (n in [0, VW]); lanes past n are neither read nor written. */
static inline vf vf_load_n(const float *p, int n) { return _mm512_maskz_loadu_ps(vf_mask_n(n), p); }
static inline void vf_store_n(float *p, vf v, int n) { _mm512_mask_storeu_ps(p, vf_mask_n(n), v); }
/* Either of the above: a plain access when w == VW (folds away when w is a constant). */
static inline vf vf_load_w(const float *p, int w) { return w == VW ? vf_load(p) : vf_load_n(p, w); }
static inline void vf_store_w(float *p, vf v, int w)
{
    if (w == VW) vf_store(p, v);
    else vf_store_n(p, v, w);
}
/* 0, 1, ..., VW-1 */
static inline vf vf_iota(void)
{
    return _mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}

static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }   /* a*b + c */
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); } /* c - a*b */
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
/* a with the sign of s flipped into it: |a| carrying sign(s) when a >= 0. */
static inline vf vf_xorsign(vf a, vf s)
{
    return _mm512_xor_ps(a, _mm512_and_ps(s, _mm512_set1_ps(-0.0f)));
}
static inline vf vf_round(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* p * 2^n for integer-valued n in [-126, 127]. */
static inline vf vf_ldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }

static inline vm vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vm vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
/* m ? a : b per lane */
static inline vf vf_sel(vm m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }

static inline float vf_reduce_add(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vf_reduce_max(vf a) { return _mm512_reduce_max_ps(a); }

#endif
