/* Decode attention over quantized segments: argument checks and choice of ISA variant. */
#include <limits.h>
#include <math.h>

#include "kv/kvq_internal.h"

ti_err ti_kvq_attend_level(ti_simd_level level, float *out, float *tok_weight, const float *q,
                           const ti_kvq_seg *segs, int nseg, ti_kv_dtype dt, int H, int hd,
                           int64_t q_pos, const float *alibi, float scale)
{
    size_t rb = ti_kvq_row_bytes(dt, H, hd);
    if (rb == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "kvq_attend: unsupported shape dtype=%s H=%d hd=%d",
                         ti_kv_dtype_name(dt), H, hd);
    if (!out || !q || nseg < 0 || (nseg > 0 && !segs))
        return ti_errorf(TI_ERR_INVALID_ARG, "kvq_attend: out, q and segs (nseg=%d) are required", nseg);
    if (!isfinite(scale) || scale < 0.0f)
        return ti_errorf(TI_ERR_INVALID_ARG, "kvq_attend: scale must be finite and >= 0 (0 = 1/sqrt(hd))");
    int64_t total = 0;
    for (int s = 0; s < nseg; s++) {
        const ti_kvq_seg *g = &segs[s];
        if (g->n < 0 || (g->n > 0 && (!g->k || !g->v)) || (g->n > 1 && g->stride < rb))
            return ti_errorf(TI_ERR_INVALID_ARG,
                             "kvq_attend: segment %d: n=%d, stride %zu < row bytes %zu or missing k/v", s,
                             g->n, g->stride, rb);
        /* fp32 rows are read as floats: they must be float-aligned. */
        if (dt == TI_KV_F32 && g->n > 0 &&
            (((uintptr_t)g->k | (uintptr_t)g->v | (uintptr_t)g->stride) % sizeof(float)) != 0)
            return ti_errorf(TI_ERR_INVALID_ARG, "kvq_attend: segment %d: f32 rows not 4-byte aligned", s);
        total += g->n;
        if (total > INT_MAX) return ti_errorf(TI_ERR_LIMIT, "kvq_attend: more than %d cached tokens", INT_MAX);
    }
    ti_kvq_attend_fn fn = ti_kvq_attend_scalar;
    if (level == TI_SIMD_AVX2 || level == TI_SIMD_AVX512) {
        if (ti_simd_supported() < level)
            return ti_errorf(TI_ERR_UNSUPPORTED, "kvq_attend: this CPU lacks %s", ti_simd_name(level));
        fn = level == TI_SIMD_AVX2 ? ti_kvq_attend_avx2 : ti_kvq_attend_avx512;
    } else if (level != TI_SIMD_SCALAR) {
        return ti_errorf(TI_ERR_INVALID_ARG, "kvq_attend: bad SIMD level %d", (int)level);
    }
    if (scale == 0.0f) scale = 1.0f / sqrtf((float)hd);
    fn(out, tok_weight, q, segs, nseg, dt, H, hd, q_pos, alibi, scale);
    return TI_OK;
}

ti_err ti_kvq_attend(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs, int nseg,
                     ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi, float scale)
{
    return ti_kvq_attend_level(ti_simd_active(), out, tok_weight, q, segs, nseg, dt, H, hd, q_pos, alibi,
                               scale);
}
