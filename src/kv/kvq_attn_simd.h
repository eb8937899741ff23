/* Internal: the SIMD decode-attention body, written once against the vector layer
 * (kernels/simd_avx2.h or kernels/simd_avx512.h: vf, VW, vf_*).  The including file
 * provides the one ISA-specific piece,
 *   static inline vf kvq_load_codes(const uint8_t *codes, ti_kv_dtype dt, size_t idx)
 * (VW codes from element idx of the row, decoded to floats without the scale), and
 * defines KVQ_ATTEND_NAME.  Tails, and int4 groups VW does not divide, go through the
 * scalar ops. */
#include <math.h>

#include "kernels/simd_math.h"
#include "kv/kvq_ref_ops.h"

static float kvq_dot(const float *q, const uint8_t *row, ti_kv_dtype dt, int H, int hd, int h)
{
    int nv = hd - hd % VW;
    if (dt == TI_KV_F32) {
        const float *k = (const float *)(const void *)row + (size_t)h * hd;
        vf a = vf_zero();
        for (int i = 0; i < nv; i += VW) a = vf_fma(vf_load(q + i), vf_load(k + i), a);
        return vf_reduce_add(a) + kvq_ref_dot(q, row, dt, H, hd, h, nv, hd);
    }
    const uint8_t *codes = row + (size_t)ti_kvq_n_scales(dt, H, hd) * sizeof(float);
    size_t base = (size_t)h * (size_t)hd;
    if (dt == TI_KV_INT4) {
        int G = ti_kvq_int4_group(hd), gph = hd / G;
        if (G % VW != 0) return kvq_ref_dot(q, row, dt, H, hd, h, 0, hd);
        vf a = vf_zero();
        for (int g = 0; g < gph; g++) {
            vf part = vf_zero();
            for (int i = g * G; i < (g + 1) * G; i += VW)
                part = vf_fma(vf_load(q + i), kvq_load_codes(codes, dt, base + (size_t)i), part);
            a = vf_fma(vf_set1(ti_kvq_scale_at(row, h * gph + g)), part, a);
        }
        return vf_reduce_add(a);
    }
    vf a = vf_zero();
    for (int i = 0; i < nv; i += VW) a = vf_fma(vf_load(q + i), kvq_load_codes(codes, dt, base + (size_t)i), a);
    /* The tail's scale is applied inside kvq_ref_dot. */
    return ti_kvq_scale_at(row, h) * vf_reduce_add(a) + kvq_ref_dot(q, row, dt, H, hd, h, nv, hd);
}

static void kvq_axpy(float *acc, float p, const uint8_t *row, ti_kv_dtype dt, int H, int hd, int h)
{
    int nv = hd - hd % VW;
    if (dt == TI_KV_F32) {
        const float *v = (const float *)(const void *)row + (size_t)h * hd;
        vf pv = vf_set1(p);
        for (int i = 0; i < nv; i += VW) vf_store(acc + i, vf_fma(pv, vf_load(v + i), vf_load(acc + i)));
        kvq_ref_axpy(acc, p, row, dt, H, hd, h, nv, hd);
        return;
    }
    const uint8_t *codes = row + (size_t)ti_kvq_n_scales(dt, H, hd) * sizeof(float);
    size_t base = (size_t)h * (size_t)hd;
    if (dt == TI_KV_INT4) {
        int G = ti_kvq_int4_group(hd), gph = hd / G;
        if (G % VW != 0) {
            kvq_ref_axpy(acc, p, row, dt, H, hd, h, 0, hd);
            return;
        }
        for (int g = 0; g < gph; g++) {
            vf ps = vf_set1(p * ti_kvq_scale_at(row, h * gph + g));
            for (int i = g * G; i < (g + 1) * G; i += VW)
                vf_store(acc + i, vf_fma(ps, kvq_load_codes(codes, dt, base + (size_t)i), vf_load(acc + i)));
        }
        return;
    }
    vf ps = vf_set1(p * ti_kvq_scale_at(row, h));
    for (int i = 0; i < nv; i += VW)
        vf_store(acc + i, vf_fma(ps, kvq_load_codes(codes, dt, base + (size_t)i), vf_load(acc + i)));
    kvq_ref_axpy(acc, p, row, dt, H, hd, h, nv, hd);
}

/* Vector exp (simd_math.h, a few ulp from libm) for whole vectors, libm for the tail. */
static float kvq_exp_sum(float *p, int n, float m)
{
    vf sum = vf_zero(), vm_ = vf_set1(m);
    int j = 0;
    for (; j + VW <= n; j += VW) {
        vf e = vf_exp(vf_sub(vf_load(p + j), vm_));
        vf_store(p + j, e);
        sum = vf_add(sum, e);
    }
    float s = vf_reduce_add(sum);
    for (; j < n; j++) s += (p[j] = expf(p[j] - m));
    return s;
}

#include "kv/kvq_attn_tmpl.h"
