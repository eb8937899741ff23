/* Elementwise ops, SIMD body (instantiated per ISA by act_avx2.c / act_avx512.c).
 * The act switch sits outside the loops so each loop body is branch-free. */
#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

/* Full vectors, then one partial: `w` is the constant VW in the main loop. */
#define EW_LOOP(body)                            \
    do {                                         \
        size_t i = 0;                            \
        for (; i + VW <= n; i += VW) {           \
            const int w = VW;                    \
            body;                                \
        }                                        \
        if (i < n) {                             \
            const int w = (int)(n - i);          \
            body;                                \
        }                                        \
    } while (0);

static void ew_act_forward(float *out, const float *inp, size_t n, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: EW_LOOP(vf_store_w(out + i, vf_act(vf_load_w(inp + i, w), TI_ACT_RELU), w)) break;
    case TI_ACT_GELU_TANH:
        EW_LOOP(vf_store_w(out + i, vf_act(vf_load_w(inp + i, w), TI_ACT_GELU_TANH), w)) break;
    case TI_ACT_GELU_ERF:
        EW_LOOP(vf_store_w(out + i, vf_act(vf_load_w(inp + i, w), TI_ACT_GELU_ERF), w)) break;
    default: EW_LOOP(vf_store_w(out + i, vf_load_w(inp + i, w), w)) break;
    }
}

#define EW_BWD(ACT)                                                              \
    EW_LOOP(vf_store_w(dinp + i,                                                 \
                       vf_fma(vf_act_grad(vf_load_w(inp + i, w), ACT),           \
                              vf_load_w(dout + i, w), vf_load_w(dinp + i, w)),  \
                       w))

static void ew_act_backward(float *dinp, const float *inp, const float *dout, size_t n, ti_act act)
{
    switch (act) {
    case TI_ACT_RELU: EW_BWD(TI_ACT_RELU) break;
    case TI_ACT_GELU_TANH: EW_BWD(TI_ACT_GELU_TANH) break;
    case TI_ACT_GELU_ERF: EW_BWD(TI_ACT_GELU_ERF) break;
    default: EW_LOOP(vf_store_w(dinp + i, vf_add(vf_load_w(dinp + i, w), vf_load_w(dout + i, w)), w)) break;
    }
}

static void ew_add_forward(float *out, const float *a, const float *b, size_t n)
{
    EW_LOOP(vf_store_w(out + i, vf_add(vf_load_w(a + i, w), vf_load_w(b + i, w)), w))
}

static void ew_accumulate(float *dst, const float *src, size_t n)
{
    EW_LOOP(vf_store_w(dst + i, vf_add(vf_load_w(dst + i, w), vf_load_w(src + i, w)), w))
}

void TI_SFX(ti_kern_fill_act)(ti_kernels *k)
{
    k->act_forward = ew_act_forward;
    k->act_backward = ew_act_backward;
    k->add_forward = ew_add_forward;
    k->accumulate = ew_accumulate;
}
