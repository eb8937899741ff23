/* Backward pass of both models over the activations a training forward kept.
 *
 * d_res carries the gradient of the residual stream from the head down to the input;
 * each layer's branches add into it (the kernels accumulate, so scratch is zeroed before
 * each use).  Parameter gradients are accumulated into `grads`, which has the layout of
 * the parameter block (offsets from the same tensor table). */
#include <string.h>

#include "model/transformer/tfm_internal.h"

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* grads + offset of a global / layer slot (NULL for an absent tensor) */
static float *gw(const ti_tfm *m, float *grads, int slot)
{
    return m->glob[slot] == TI_NO_TENSOR ? NULL : grads + m->glob[slot];
}

/* One pre-norm layer.  On entry d_res = dL/d(layer output); on exit dL/d(layer input). */
static ti_err layer_backward(const ti_tfm *m, ti_runstate *rs, float *grads, int l, int B, int tq,
                             ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int C = c->d_model, D = c->d_ff, N = B * tq;
    const size_t NC = (size_t)N * C, ND = (size_t)N * D;
    const layer_acts *a = &rs->acts[l];
    const size_t *o = m->layer[l];
    float *d_res = rs->d_res, *d_ln = rs->d_ln;

    /* feed-forward branch: out = res_mid + fc2(act(fc1(ln2(res_mid)))) */
    zero(rs->d_fc_act, ND);
    k->matmul_backward(rs->d_fc_act, grads + o[LW_FC2_W], grads + o[LW_FC2_B], d_res, a->fc_act,
                       lw(m, l, LW_FC2_W), N, C, D, pool);
    zero(rs->d_fc_pre, ND);
    k->act_backward(rs->d_fc_pre, a->fc_pre, rs->d_fc_act, ND, c->activation);
    zero(d_ln, NC);
    k->matmul_backward(d_ln, grads + o[LW_FC1_W], grads + o[LW_FC1_B], rs->d_fc_pre, a->ln2,
                       lw(m, l, LW_FC1_W), N, D, C, pool);
    k->layernorm_backward(d_res, grads + o[LW_LN2_W], grads + o[LW_LN2_B], d_ln, a->res_mid,
                          lw(m, l, LW_LN2_W), a->ln2_mean, a->ln2_rstd, N, C);

    /* attention branch: res_mid = res_in + out_proj(attn(in_proj(ln1(res_in)))) */
    zero(rs->d_att, NC);
    k->matmul_backward(rs->d_att, grads + o[LW_OUT_W], grads + o[LW_OUT_B], d_res, a->att,
                       lw(m, l, LW_OUT_W), N, C, C, pool);
    zero(rs->d_qkv, 3 * NC);
    ti_attn_cfg acfg = {.B = B, .T = tq, .H = c->n_heads, .hd = C / c->n_heads};
    if (c->kind == TI_TFM_RV_CAUSAL) {
        acfg.causal = 1;
        acfg.alibi = m->alibi;
    }
    ti_err e = k->attention_backward(rs->d_qkv, rs->d_att, a->qkv, a->att, a->lse, &acfg, pool);
    if (e) return e;
    zero(d_ln, NC);
    k->matmul_backward(d_ln, grads + o[LW_QKV_W], grads + o[LW_QKV_B], rs->d_qkv, a->ln1,
                       lw(m, l, LW_QKV_W), N, 3 * C, C, pool);
    k->layernorm_backward(d_res, grads + o[LW_LN1_W], grads + o[LW_LN1_B], d_ln, a->res_in,
                          lw(m, l, LW_LN1_W), a->ln1_mean, a->ln1_rstd, N, C);
    return TI_OK;
}

ti_err ti_tfm_backward(const ti_tfm *m, ti_runstate *rs, float *grads, float *dx, const float *dy,
                         ti_pool *pool)
{
    if (!m || !rs || !grads || !dy) return ti_errorf(TI_ERR_INVALID_ARG, "model backward: NULL argument");
    if (rs->model != m) return ti_errorf(TI_ERR_INVALID_ARG, "model backward: run state made for another model");
    if (!rs->training)
        return ti_errorf(TI_ERR_STATE, "model backward: the run state was not created with TI_RS_TRAINING");
    if (!rs->have_forward) return ti_errorf(TI_ERR_STATE, "model backward: no forward to differentiate");
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int B = rs->B, T = rs->T, C = c->d_model, F = c->n_features, tq = model_tq(c, T), N = B * tq;
    const int tiny = c->kind == TI_TFM_TINYRV;
    const int Nh = tiny ? B : N;

    /* head: y = head_ln @ w^T + b, head_ln = LN(head_in) */
    zero(rs->d_head, (size_t)Nh * C);
    k->matmul_backward(rs->d_head, gw(m, grads, MW_HEAD_W), gw(m, grads, MW_HEAD_B), dy, rs->head_ln,
                       mw(m, MW_HEAD_W), Nh, 1, C, pool);
    zero(rs->d_res, (size_t)N * C);
    float *d_head_in = tiny ? rs->d_ln : rs->d_res; /* TinyRV: CLS rows, scattered below */
    if (tiny) zero(d_head_in, (size_t)B * C);
    k->layernorm_backward(d_head_in, gw(m, grads, MW_HEADLN_W), gw(m, grads, MW_HEADLN_B), rs->d_head,
                          tiny ? rs->head_in : rs->res_out, mw(m, MW_HEADLN_W), rs->head_mean,
                          rs->head_rstd, Nh, C);
    if (tiny)
        for (int b = 0; b < B; b++)
            memcpy(rs->d_res + (size_t)b * tq * C, d_head_in + (size_t)b * C, (size_t)C * sizeof(float));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        ti_err e = layer_backward(m, rs, grads, l, B, tq, pool);
        if (e) return e;
    }

    /* embedding: res_in[0] = TinyRV [cls; proj(x)] + pos, causal proj(x) */
    if (dx) zero(dx, (size_t)B * T * F);
    if (!tiny) {
        k->matmul_backward(dx, gw(m, grads, MW_PROJ_W), gw(m, grads, MW_PROJ_B), rs->d_res, rs->x,
                           mw(m, MW_PROJ_W), N, C, F, pool);
        return TI_OK;
    }
    ti_pos_add_backward(gw(m, grads, MW_POS), rs->d_res, B, tq, C);
    float *dcls = gw(m, grads, MW_CLS);
    for (int b = 0; b < B; b++) {
        const float *db = rs->d_res + (size_t)b * tq * C;
        k->accumulate(dcls, db, (size_t)C);
        k->matmul_backward(dx ? dx + (size_t)b * T * F : NULL, gw(m, grads, MW_PROJ_W),
                           gw(m, grads, MW_PROJ_B), db + C, rs->x + (size_t)b * T * F, mw(m, MW_PROJ_W),
                           T, C, F, pool);
    }
    return TI_OK;
}
