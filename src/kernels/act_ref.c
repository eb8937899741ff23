/* Elementwise ops, scalar reference: activations (relu, gelu tanh/erf) and residual adds. */
#include "kernels/kernels_internal.h"

static void act_forward_ref(float *out, const float *inp, size_t n, ti_act act)
{
    for (size_t i = 0; i < n; i++) out[i] = ti_act_scalar(inp[i], act);
}

static void act_backward_ref(float *dinp, const float *inp, const float *dout, size_t n, ti_act act)
{
    for (size_t i = 0; i < n; i++) dinp[i] += ti_act_grad_scalar(inp[i], act) * dout[i];
}

static void add_forward_ref(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void accumulate_ref(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

void ti_kern_fill_act_ref(ti_kernels *k)
{
    k->act_forward = act_forward_ref;
    k->act_backward = act_backward_ref;
    k->add_forward = add_forward_ref;
    k->accumulate = accumulate_ref;
}
