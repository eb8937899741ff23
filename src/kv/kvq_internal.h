/* Internal: row layout helpers and the per-ISA decode-attention entry points. */
#ifndef TICKINFER_KV_KVQ_INTERNAL_H
#define TICKINFER_KV_KVQ_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "tickinfer/kvquant.h"

/* FP8 E4M3 code -> float (index 0x7F / 0xFF are NaN). */
extern const float ti_kvq_fp8_lut[256];

/* Scale `i` of a row (memcpy: rows may sit at any byte offset). */
static inline float ti_kvq_scale_at(const uint8_t *row, int i)
{
    float s;
    memcpy(&s, row + (size_t)i * sizeof(float), sizeof s);
    return s;
}

/* Number of fp32 scales at the head of a row. */
static inline int ti_kvq_n_scales(ti_kv_dtype dt, int H, int hd)
{
    switch (dt) {
    case TI_KV_INT8:
    case TI_KV_FP8: return H;
    case TI_KV_INT4: return H * (hd / ti_kvq_int4_group(hd));
    default: return 0;
    }
}

/* One implementation per ISA; arguments already validated by ti_kvq_attend_level. */
typedef void (*ti_kvq_attend_fn)(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs,
                                 int nseg, ti_kv_dtype dt, int H, int hd, int64_t q_pos,
                                 const float *alibi, float scale);
void ti_kvq_attend_scalar(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs,
                          int nseg, ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi,
                          float scale);
void ti_kvq_attend_avx2(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs,
                        int nseg, ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi,
                        float scale);
void ti_kvq_attend_avx512(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs,
                          int nseg, ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi,
                          float scale);

#endif
