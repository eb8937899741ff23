/* AdamW step, scalar reference, in the operation order of torch.optim.AdamW
 * (single-tensor path): decay, lerp of m, v update, bias-corrected denominator. */
#include "kernels/kernels_internal.h"

static void adamw_step_ref(float *param, float *m, float *v, const float *grad, size_t n,
                           const ti_adamw_cfg *cfg, int t)
{
    const float b1 = cfg->beta1, b2 = cfg->beta2;
    const float bc1 = (float)(1.0 - pow((double)b1, t)), bc2 = (float)(1.0 - pow((double)b2, t));
    const float step = cfg->lr / bc1, bc2_sqrt = sqrtf(bc2), decay = 1.0f - cfg->lr * cfg->weight_decay;
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i];
        param[i] *= decay;
        m[i] += (1.0f - b1) * (g - m[i]);
        v[i] = v[i] * b2 + (1.0f - b2) * g * g;
        const float denom = sqrtf(v[i]) / bc2_sqrt + cfg->eps;
        param[i] -= step * (m[i] / denom);
    }
}

void ti_kern_fill_adamw_ref(ti_kernels *k) { k->adamw_step = adamw_step_ref; }
