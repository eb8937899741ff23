/* AVX2+FMA decode attention over quantized rows: 8 values per step, decoded in registers.
 * The body is kvq_attn_simd.h; this file only says how 8 codes become 8 floats. */
#include <math.h>

#include "kernels/simd_avx2.h"
#include "kv/kvq_internal.h"

/* 8 codes starting at element idx of the row, as floats without the scale. */
static inline vf kvq_load_codes(const uint8_t *codes, ti_kv_dtype dt, size_t idx)
{
    if (dt == TI_KV_INT8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(codes + idx));
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    }
    if (dt == TI_KV_FP8) {
        /* E4M3 -> f32 by bit placement: exponent+mantissa bits shifted to the top of f32's
         * mantissa, times 2^(127-7) to rebias (exponent-0 codes become f32 subnormals,
         * which the multiply scales exactly); sign moved to bit 31; codes 0x7F/0xFF (NaN)
         * patched to NaN.  Faster than gathering from the table. */
        __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(codes + idx)));
        __m256i em = _mm256_and_si256(c, _mm256_set1_epi32(0x7F));
        __m256i bits = _mm256_or_si256(_mm256_slli_epi32(em, 20),
                                       _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24));
        __m256 v = _mm256_mul_ps(_mm256_castsi256_ps(bits), _mm256_set1_ps(0x1p120f));
        __m256 nan = _mm256_castsi256_ps(_mm256_cmpeq_epi32(em, _mm256_set1_epi32(0x7F)));
        return _mm256_blendv_ps(v, _mm256_set1_ps(NAN), nan);
    }
    /* int4: idx is even (groups and vectors are multiples of 8); 4 bytes = 8 nibbles,
     * element 2i in the low nibble of byte i: split, interleave, subtract the offset 8. */
    uint32_t w;
    memcpy(&w, codes + idx / 2, sizeof w);
    __m128i b = _mm_cvtsi32_si128((int)w), mask = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    __m256i v = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(v, _mm256_set1_epi32(8)));
}

#define KVQ_ATTEND_NAME ti_kvq_attend_avx2
#include "kv/kvq_attn_simd.h"
