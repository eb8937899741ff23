/* AdamW step, SIMD body (instantiated per ISA by adamw_avx2.c / adamw_avx512.c);
 * the same operations as adamw_ref.c, lane by lane (sqrt and divide are exact in IEEE). */
#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

static void aw_step(float *param, float *m, float *v, const float *grad, size_t n,
                    const ti_adamw_cfg *cfg, int t)
{
    const float b1 = cfg->beta1, b2 = cfg->beta2;
    const float bc1 = (float)(1.0 - pow((double)b1, t)), bc2 = (float)(1.0 - pow((double)b2, t));
    const vf step = vf_set1(cfg->lr / bc1), bc2_sqrt = vf_set1(sqrtf(bc2));
    const vf decay = vf_set1(1.0f - cfg->lr * cfg->weight_decay), eps = vf_set1(cfg->eps);
    const vf omb1 = vf_set1(1.0f - b1), vb2 = vf_set1(b2), omb2 = vf_set1(1.0f - b2);
    for (size_t i = 0; i < n; i += VW) {
        const int w = n - i < VW ? (int)(n - i) : VW;
        vf g = vf_load_w(grad + i, w);
        vf p = vf_mul(vf_load_w(param + i, w), decay);
        vf mm = vf_load_w(m + i, w);
        mm = vf_add(mm, vf_mul(omb1, vf_sub(g, mm)));
        vf vv = vf_add(vf_mul(vf_load_w(v + i, w), vb2), vf_mul(vf_mul(omb2, g), g));
        vf denom = vf_add(vf_div(vf_sqrt(vv), bc2_sqrt), eps);
        p = vf_sub(p, vf_mul(step, vf_div(mm, denom)));
        vf_store_w(param + i, p, w);
        vf_store_w(m + i, mm, w);
        vf_store_w(v + i, vv, w);
    }
}

void TI_SFX(ti_kern_fill_adamw)(ti_kernels *k) { k->adamw_step = aw_step; }
