/* Internal to src/kernels: how the per-level tables are assembled.
 *
 * Each op file fills its slots of a ti_kernels table: ti_kern_fill_<op>_<level>(k).
 * dispatch.c fills the scalar slots first, then overrides them with the SIMD ones the
 * CPU supports, so an op without a SIMD variant keeps its scalar reference.
 * The SIMD bodies are written once (<op>_simd.h, over the vector layer of simd_avx2.h or
 * simd_avx512.h) and instantiated per ISA by <op>_avx2.c / <op>_avx512.c. */
#ifndef TI_KERNELS_INTERNAL_H
#define TI_KERNELS_INTERNAL_H

#include <math.h>

#include "tickinfer/kernels.h"

#define TI_KERN_OPS(X) X(matmul) X(layernorm) X(softmax) X(act) X(attention) X(adamw)

#define TI_KERN_DECL_FILL(op)                        \
    void ti_kern_fill_##op##_ref(ti_kernels *k);     \
    void ti_kern_fill_##op##_avx2(ti_kernels *k);    \
    void ti_kern_fill_##op##_avx512(ti_kernels *k);
TI_KERN_OPS(TI_KERN_DECL_FILL)
#undef TI_KERN_DECL_FILL

/* Scalar-only ops (rope) fill every level from the reference. */
void ti_kern_fill_rope_ref(ti_kernels *k);

/* Attention shape checks shared by all levels; fills *scale with the effective scale. */
ti_err ti_attn_check(const ti_attn_cfg *cfg, float *scale);
ti_err ti_attn_decode_check(int T, int H, int hd, size_t kv_stride, int q_pos, float *scale);
/* Checks of attention_decode_accum (T may be 0; keys must not lie after the query). */
ti_err ti_attn_accum_check(int T, int H, int hd, size_t kv_stride, int64_t q_pos, int64_t pos0,
                           float *scale);
#define TI_ATTN_MAX_HEADS_DECODE 256

/* Scalar activations (also used by SIMD tails and the tests). */
static inline float ti_act_scalar(float x, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case TI_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f; /* sqrt(2/pi) */
        float u = c * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    case TI_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    default: return x;
    }
}

/* d act(x) / dx. */
static inline float ti_act_grad_scalar(float x, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case TI_ACT_GELU_TANH: {
        const float c = 0.7978845608028654f;
        float u = c * (x + 0.044715f * x * x * x);
        float th = tanhf(u);
        float du = c * (1.0f + 3.0f * 0.044715f * x * x);
        return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
    }
    case TI_ACT_GELU_ERF: {
        const float inv_sqrt_2pi = 0.3989422804014327f;
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
               x * inv_sqrt_2pi * expf(-0.5f * x * x);
    }
    default: return 1.0f;
    }
}

#endif
