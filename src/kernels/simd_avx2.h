/* Vector layer for AVX2 + FMA: 8 fp32 lanes.  Same names as simd_avx512.h (see there). */
#ifndef TI_SIMD_LAYER_H
#define TI_SIMD_LAYER_H

#include <immintrin.h>
#include <stdint.h>

#define VW 8
#define TI_SFX(name) name##_avx2
/* matmul micro-tile: 6 rows x 16 columns = 12 ymm accumulators of 16. */
#define TI_MM_MR 6

typedef __m256 vf;
typedef __m256 vm; /* all-ones / all-zeros lanes */

static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline __m256i vf_mask_n(int n) /* n in [0, VW] */
{
    static const int32_t tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(tab + 8 - n));
}
/* First n lanes (n in [0, VW]); lanes past n are neither read nor written. */
static inline vf vf_load_n(const float *p, int n) { return _mm256_maskload_ps(p, vf_mask_n(n)); }
static inline void vf_store_n(float *p, vf v, int n) { _mm256_maskstore_ps(p, vf_mask_n(n), v); }
/* Either of the above: a plain access when w == VW (folds away when w is a constant). */
static inline vf vf_load_w(const float *p, int w) { return w == VW ? vf_load(p) : vf_load_n(p, w); }
static inline void vf_store_w(float *p, vf v, int w)
{
    if (w == VW) vf_store(p, v);
    else vf_store_n(p, v, w);
}
static inline vf vf_iota(void) { return _mm256_set_ps(7, 6, 5, 4, 3, 2, 1, 0); }

static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vf_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline vf vf_xorsign(vf a, vf s)
{
    return _mm256_xor_ps(a, _mm256_and_ps(s, _mm256_set1_ps(-0.0f)));
}
static inline vf vf_round(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* p * 2^n for integer-valued n in [-126, 127]: build 2^n in the exponent field. */
static inline vf vf_ldexp(vf p, vf n)
{
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline vm vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vm vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vf vf_sel(vm m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }

static inline float vf_reduce_add(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vf_reduce_max(vf a)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
