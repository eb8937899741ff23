/* Internal: scalar per-head dot / axpy against one quantized row, dequantising on the fly.
 * The scalar kernel is built from these; the SIMD kernels use them for tails and for
 * shapes their vectors do not divide.  `row` is one token's K or V row (layout in
 * kvquant.h), h the head, [i0, i1) the element range inside the head. */
#ifndef TICKINFER_KV_KVQ_REF_OPS_H
#define TICKINFER_KV_KVQ_REF_OPS_H

#include "kv/kvq_internal.h"

/* Element i of head h, dequantised except for the scale (int8/fp8: one scale per head,
 * applied by the caller; int4: applied here per group since groups may split a head). */
static inline float kvq_ref_elem(const uint8_t *codes, ti_kv_dtype dt, int hd, int h, int i)
{
    size_t idx = (size_t)h * (size_t)hd + (size_t)i;
    switch (dt) {
    case TI_KV_INT8: return (float)(int8_t)codes[idx];
    case TI_KV_FP8: return ti_kvq_fp8_lut[codes[idx]];
    default: {
        uint8_t b = codes[idx / 2];
        return (float)((idx % 2 == 0 ? (b & 0xF) : (b >> 4)) - 8);
    }
    }
}

/* sum_{i in [i0,i1)} q[i] * K_h[i] (q indexed within the head). */
static inline float kvq_ref_dot(const float *q, const uint8_t *row, ti_kv_dtype dt, int H, int hd, int h,
                                int i0, int i1)
{
    if (dt == TI_KV_F32) {
        const float *k = (const float *)(const void *)row + (size_t)h * hd;
        float s = 0.0f;
        for (int i = i0; i < i1; i++) s += q[i] * k[i];
        return s;
    }
    const uint8_t *codes = row + (size_t)ti_kvq_n_scales(dt, H, hd) * sizeof(float);
    if (dt == TI_KV_INT4) {
        int G = ti_kvq_int4_group(hd), gph = hd / G;
        float s = 0.0f;
        for (int i = i0; i < i1;) {
            int g = i / G, end = (g + 1) * G < i1 ? (g + 1) * G : i1;
            float part = 0.0f;
            for (; i < end; i++) part += q[i] * kvq_ref_elem(codes, dt, hd, h, i);
            s += ti_kvq_scale_at(row, h * gph + g) * part;
        }
        return s;
    }
    float s = 0.0f;
    for (int i = i0; i < i1; i++) s += q[i] * kvq_ref_elem(codes, dt, hd, h, i);
    return ti_kvq_scale_at(row, h) * s;
}

/* acc[i] += p * V_h[i] for i in [i0, i1). */
static inline void kvq_ref_axpy(float *acc, float p, const uint8_t *row, ti_kv_dtype dt, int H, int hd,
                                int h, int i0, int i1)
{
    if (dt == TI_KV_F32) {
        const float *v = (const float *)(const void *)row + (size_t)h * hd;
        for (int i = i0; i < i1; i++) acc[i] += p * v[i];
        return;
    }
    const uint8_t *codes = row + (size_t)ti_kvq_n_scales(dt, H, hd) * sizeof(float);
    if (dt == TI_KV_INT4) {
        int G = ti_kvq_int4_group(hd), gph = hd / G;
        for (int i = i0; i < i1; i++)
            acc[i] += p * ti_kvq_scale_at(row, h * gph + i / G) * kvq_ref_elem(codes, dt, hd, h, i);
        return;
    }
    float ps = p * ti_kvq_scale_at(row, h);
    for (int i = i0; i < i1; i++) acc[i] += ps * kvq_ref_elem(codes, dt, hd, h, i);
}

#endif
