/* Backward pass of both models over the activations a training forward kept: the head,
 * then each layer's block (block.c) in reverse over the tfm_block_io it filled and the same
 * weight views, then the embedding.
 *
 * d_res carries the gradient of the residual stream from the head down to the input;
 * each layer's branches add into it (the kernels accumulate, so scratch is zeroed before
 * each use).  Parameter gradients are accumulated into `grads`, which has the layout of
 * the parameter block (offsets from the same tensor table). */
#include <string.h>

#include "model/transformer/tfm_internal.h"

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* The gradient of the parameter at p (a view into m->params): the gradient block has the
 * parameter layout, so it sits at the same offset.  NULL for an absent tensor. */
static float *grad_of(const ti_tfm *m, float *grads, const float *p)
{
    return p ? grads + (p - m->params) : NULL;
}

/* Backward of out [n,w->n_out] = inp @ W^T + b: dinp += dout @ W; the weight's gradients +=. */
static void lin_backward(const ti_tfm *m, float *grads, float *dinp, const tfm_lin *w, const float *dout,
                         const float *inp, int n, ti_pool *pool)
{
    m->k->matmul_backward(dinp, grad_of(m, grads, w->w), grad_of(m, grads, w->b), dout, inp, w->w, n, w->n_out,
                          w->n_in, pool);
}

/* Backward of out = LN(inp) with the kept mean, rstd: dinp +=; the norm's gradients +=. */
static void norm_backward(const ti_tfm *m, float *grads, float *dinp, const tfm_norm *w, const float *dout,
                          const float *inp, const float *mean, const float *rstd, int n)
{
    m->k->layernorm_backward(dinp, grad_of(m, grads, w->w), grad_of(m, grads, w->b), dout, inp, w->w, mean, rstd,
                             n, w->C);
}

/* tfm_block_forward's steps in reverse, over the buffers it kept (io) and the same weight
 * views.  On entry d_res = dL/d(res_out); on exit dL/d(res_in).  The residual adds pass
 * d_res through unchanged: each branch's input gradient is added into it by its norm. */
static ti_err block_backward(const ti_tfm *m, ti_runstate *rs, float *grads, const tfm_layer *w,
                             const tfm_block_io *a, int B, int tq, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, N = B * tq;
    const size_t NC = (size_t)N * C, ND = (size_t)N * w->fc1.n_out;
    float *d_res = rs->d_res, *d_ln = rs->d_ln;

    /* feed-forward branch: res_out = res_mid + fc2(act(fc1(ln2(res_mid)))) */
    zero(rs->d_fc_act, ND);
    lin_backward(m, grads, rs->d_fc_act, &w->fc2, d_res, a->fc_act, N, pool);
    zero(rs->d_fc_pre, ND);
    m->k->act_backward(rs->d_fc_pre, a->fc_pre, rs->d_fc_act, ND, w->act);
    zero(d_ln, NC);
    lin_backward(m, grads, d_ln, &w->fc1, rs->d_fc_pre, a->ln2, N, pool);
    norm_backward(m, grads, d_res, &w->ln2, d_ln, a->res_mid, a->ln2_mean, a->ln2_rstd, N);

    /* attention branch: res_mid = res_in + out_proj(attn(qkv(ln1(res_in)))) */
    zero(rs->d_att, NC);
    lin_backward(m, grads, rs->d_att, &w->out, d_res, a->att, N, pool);
    zero(rs->d_qkv, 3 * NC);
    const tfm_cpu cpu = tfm_cpu_for(m, 0, B, tq, pool); /* the attention the forward ran */
    ti_err e = m->k->attention_backward(rs->d_qkv, rs->d_att, a->qkv, a->att, a->lse, &cpu.acfg, pool);
    if (e) return e;
    zero(d_ln, NC);
    lin_backward(m, grads, d_ln, &w->qkv, rs->d_qkv, a->ln1, N, pool);
    norm_backward(m, grads, d_res, &w->ln1, d_ln, a->res_in, a->ln1_mean, a->ln1_rstd, N);
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
    const tfm_stem *st = &m->stem;
    zero(rs->d_head, (size_t)Nh * C);
    lin_backward(m, grads, rs->d_head, &st->head, dy, rs->head_ln, Nh, pool);
    zero(rs->d_res, (size_t)N * C);
    float *d_head_in = tiny ? rs->d_ln : rs->d_res; /* TinyRV: CLS rows, scattered below */
    if (tiny) zero(d_head_in, (size_t)B * C);
    norm_backward(m, grads, d_head_in, &st->head_ln, rs->d_head, tiny ? rs->head_in : rs->res_out, rs->head_mean,
                  rs->head_rstd, Nh);
    if (tiny)
        for (int b = 0; b < B; b++)
            memcpy(rs->d_res + (size_t)b * tq * C, d_head_in + (size_t)b * C, (size_t)C * sizeof(float));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        ti_err e = block_backward(m, rs, grads, &m->lv[l], &rs->acts[l], B, tq, pool);
        if (e) return e;
    }

    /* embedding: res_in[0] = TinyRV [cls; proj(x)] + pos, causal proj(x) */
    if (dx) zero(dx, (size_t)B * T * F);
    if (!tiny) {
        lin_backward(m, grads, dx, &st->proj, rs->d_res, rs->x, N, pool);
        return TI_OK;
    }
    ti_pos_add_backward(grad_of(m, grads, st->pos), rs->d_res, B, tq, C);
    float *dcls = grad_of(m, grads, st->cls);
    for (int b = 0; b < B; b++) {
        const float *db = rs->d_res + (size_t)b * tq * C;
        k->accumulate(dcls, db, (size_t)C);
        lin_backward(m, grads, dx ? dx + (size_t)b * T * F : NULL, &st->proj, db + C, rs->x + (size_t)b * T * F, T,
                     pool);
    }
    return TI_OK;
}
