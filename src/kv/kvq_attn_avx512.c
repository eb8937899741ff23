/* AVX-512 decode attention over quantized rows: 16 values per step, decoded in registers
 * the same way as the AVX2 variant (see there).  The body is kvq_attn_simd.h. */
#include <math.h>

#include "kernels/simd_avx512.h"
#include "kv/kvq_internal.h"

/* 16 codes starting at element idx of the row, as floats without the scale. */
static inline vf kvq_load_codes(const uint8_t *codes, ti_kv_dtype dt, size_t idx)
{
    if (dt == TI_KV_INT8)
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(codes + idx))));
    if (dt == TI_KV_FP8) {
        __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(codes + idx)));
        __m512i em = _mm512_and_si512(c, _mm512_set1_epi32(0x7F));
        __m512i bits = _mm512_or_si512(_mm512_slli_epi32(em, 20),
                                       _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24));
        __m512 v = _mm512_mul_ps(_mm512_castsi512_ps(bits), _mm512_set1_ps(0x1p120f));
        return _mm512_mask_mov_ps(v, _mm512_cmpeq_epi32_mask(em, _mm512_set1_epi32(0x7F)), _mm512_set1_ps(NAN));
    }
    /* int4: 8 bytes = 16 nibbles. */
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(codes + idx / 2)), mask = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    __m512i v = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(v, _mm512_set1_epi32(8)));
}

#define KVQ_ATTEND_NAME ti_kvq_attend_avx512
#include "kv/kvq_attn_simd.h"
