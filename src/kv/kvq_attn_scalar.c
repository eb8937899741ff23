/* Scalar reference decode attention over quantized rows (the oracle for the SIMD ones). */
#include <math.h>

#include "kv/kvq_ref_ops.h"

static float kvq_dot(const float *q, const uint8_t *row, ti_kv_dtype dt, int H, int hd, int h)
{
    return kvq_ref_dot(q, row, dt, H, hd, h, 0, hd);
}

static void kvq_axpy(float *acc, float p, const uint8_t *row, ti_kv_dtype dt, int H, int hd, int h)
{
    kvq_ref_axpy(acc, p, row, dt, H, hd, h, 0, hd);
}

static float kvq_exp_sum(float *p, int n, float m)
{
    float sum = 0.0f;
    for (int j = 0; j < n; j++) sum += (p[j] = expf(p[j] - m));
    return sum;
}

#define KVQ_ATTEND_NAME ti_kvq_attend_scalar
#include "kv/kvq_attn_tmpl.h"
