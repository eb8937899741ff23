/* Forward pass of both models.
 *
 * Inference (a run state without TI_RS_TRAINING): one layer's working set reused by every
 * layer, packed weights with the activation fused into the matmul epilogue, the flash
 * attention without log-sum-exp.  Large batches are split over the pool by rows (each
 * worker runs the whole network on its rows, no per-op synchronisation); small ones
 * hand the pool to every op (matmuls split M, attention splits (b, head, query block)).
 * TinyRV reads only the CLS row of the last layer, so that layer computes keys and values
 * for all rows but everything else (query, attention, out_proj, feed-forward) for the CLS
 * row alone: one attention_decode per sequence.
 *
 * Training: every layer's activations are kept (see layer_acts), matmuls run unfused on
 * the plain weights, and layer norms keep mean and rstd. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"

/* out [M,N] = act(inp [M,K] @ W^T + bias); the packed copy when the model has one. */
static void linear(const ti_tfm *m, int use_packed, float *out, const float *inp, const float *W,
                   size_t pack_off, const float *bias, int M, int N, int K, ti_act act, ti_pool *pool)
{
    if (use_packed && m->packed)
        m->k->matmul_forward_packed(out, inp, m->packed + pack_off, bias, M, N, K, act, pool);
    else
        m->k->matmul_forward(out, inp, W, bias, M, N, K, act, pool);
}

/* h [nb,Tq,C] = input embedding of x [nb,T,F]: TinyRV [cls; proj(x)] + pos, causal proj(x). */
static void embed(const ti_tfm *m, int use_packed, float *h, const float *x, int nb, int T, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, F = c->n_features;
    if (c->kind == TI_TFM_RV_CAUSAL) {
        linear(m, use_packed, h, x, mw(m, MW_PROJ_W), m->proj_pack, mw(m, MW_PROJ_B), nb * T, C, F,
               TI_ACT_NONE, pool);
        return;
    }
    const int tq = T + 1;
    for (int b = 0; b < nb; b++) {
        float *hb = h + (size_t)b * tq * C;
        memcpy(hb, mw(m, MW_CLS), (size_t)C * sizeof(float));
        linear(m, use_packed, hb + C, x + (size_t)b * T * F, mw(m, MW_PROJ_W), m->proj_pack,
               mw(m, MW_PROJ_B), T, C, F, TI_ACT_NONE, pool);
    }
    ti_pos_add_forward(h, h, mw(m, MW_POS), nb, tq, C);
}

static ti_attn_cfg attn_cfg(const ti_tfm *m, int nb, int tq)
{
    const ti_tfm_config *c = &m->cfg;
    ti_attn_cfg a = {.B = nb, .T = tq, .H = c->n_heads, .hd = c->d_model / c->n_heads};
    if (c->kind == TI_TFM_RV_CAUSAL) {
        a.causal = 1;
        a.alibi = m->alibi;
    }
    return a;
}

/* ---- inference --------------------------------------------------------------------------- */

/* One full pre-norm layer in place on h [N,C] (N = nb*tq rows). */
static ti_err infer_layer(const ti_tfm *m, ti_runstate *rs, size_t ro, int l, int nb, int tq,
                          ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int C = c->d_model, D = c->d_ff, N = nb * tq;
    const model_packs *pk = &m->packs[l];
    float *h = rs->h + ro * C, *ln = rs->ln + ro * C, *qkv = rs->qkv + ro * 3 * C;
    float *att = rs->att + ro * C, *fc = rs->fc + ro * D;
    model_layernorm(k, ln, NULL, NULL, h, lw(m, l, LW_LN1_W), lw(m, l, LW_LN1_B), N, C, c->ln_eps, pool);
    linear(m, 1, qkv, ln, lw(m, l, LW_QKV_W), pk->qkv, lw(m, l, LW_QKV_B), N, 3 * C, C, TI_ACT_NONE, pool);
    const ti_attn_cfg acfg = attn_cfg(m, nb, tq);
    ti_err e = k->attention_forward(att, NULL, qkv, &acfg, pool);
    if (e) return e;
    linear(m, 1, ln, att, lw(m, l, LW_OUT_W), pk->out, lw(m, l, LW_OUT_B), N, C, C, TI_ACT_NONE, pool);
    model_add(k, h, h, ln, (size_t)N * C, pool);
    model_layernorm(k, ln, NULL, NULL, h, lw(m, l, LW_LN2_W), lw(m, l, LW_LN2_B), N, C, c->ln_eps, pool);
    linear(m, 1, fc, ln, lw(m, l, LW_FC1_W), pk->fc1, lw(m, l, LW_FC1_B), N, D, C, c->activation, pool);
    linear(m, 1, att, fc, lw(m, l, LW_FC2_W), pk->fc2, lw(m, l, LW_FC2_B), N, C, D, TI_ACT_NONE, pool);
    model_add(k, h, h, att, (size_t)N * C, pool);
    return TI_OK;
}

/* TinyRV's last layer and head for the CLS rows only: y [nb]. */
static ti_err infer_cls_tail(const ti_tfm *m, ti_runstate *rs, float *y, size_t ro, int b0, int nb,
                             int tq, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int C = c->d_model, D = c->d_ff, N = nb * tq, l = c->n_layers - 1, H = c->n_heads;
    const model_packs *pk = &m->packs[l];
    const size_t C2 = 2 * (size_t)C, bo = (size_t)b0 * C;
    float *h = rs->h + ro * C, *ln = rs->ln + ro * C, *kv = rs->qkv + ro * 3 * C; /* kv [N,2C] */
    float *ch = rs->cls_h + bo, *cln = rs->cls_ln + bo, *cq = rs->cls_q + bo, *catt = rs->cls_att + bo;
    float *ctmp = rs->cls_tmp + bo, *cfc = rs->cls_fc + (size_t)b0 * D;
    const float *wqkv = lw(m, l, LW_QKV_W), *bqkv = lw(m, l, LW_QKV_B);
    model_layernorm(k, ln, NULL, NULL, h, lw(m, l, LW_LN1_W), lw(m, l, LW_LN1_B), N, C, c->ln_eps, pool);
    linear(m, 1, kv, ln, wqkv + (size_t)C * C, pk->kv, bqkv + C, N, 2 * C, C, TI_ACT_NONE, pool);
    for (int b = 0; b < nb; b++) {
        memcpy(ch + (size_t)b * C, h + (size_t)b * tq * C, (size_t)C * sizeof(float));
        memcpy(cln + (size_t)b * C, ln + (size_t)b * tq * C, (size_t)C * sizeof(float));
    }
    linear(m, 1, cq, cln, wqkv, pk->q, bqkv, nb, C, C, TI_ACT_NONE, pool);
    for (int b = 0; b < nb; b++) {
        const float *kb = kv + (size_t)b * tq * C2;
        ti_err e = k->attention_decode(catt + (size_t)b * C, cq + (size_t)b * C, kb, kb + C, tq, H, C / H,
                                       C2, 0, NULL, 0.0f);
        if (e) return e;
    }
    linear(m, 1, ctmp, catt, lw(m, l, LW_OUT_W), pk->out, lw(m, l, LW_OUT_B), nb, C, C, TI_ACT_NONE, pool);
    k->add_forward(ch, ch, ctmp, (size_t)nb * C);
    k->layernorm_forward(cln, NULL, NULL, ch, lw(m, l, LW_LN2_W), lw(m, l, LW_LN2_B), nb, C, c->ln_eps);
    linear(m, 1, cfc, cln, lw(m, l, LW_FC1_W), pk->fc1, lw(m, l, LW_FC1_B), nb, D, C, c->activation, pool);
    linear(m, 1, ctmp, cfc, lw(m, l, LW_FC2_W), pk->fc2, lw(m, l, LW_FC2_B), nb, C, D, TI_ACT_NONE, pool);
    k->add_forward(ch, ch, ctmp, (size_t)nb * C);
    k->layernorm_forward(cln, NULL, NULL, ch, mw(m, MW_HEADLN_W), mw(m, MW_HEADLN_B), nb, C, c->ln_eps);
    k->matmul_forward(y, cln, mw(m, MW_HEAD_W), mw(m, MW_HEAD_B), nb, 1, C, TI_ACT_NONE, NULL);
    return TI_OK;
}

/* Rows [b0, b0+nb) of the batch, start to end. */
static ti_err infer_rows(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int b0, int nb,
                         int T, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, L = c->n_layers, tq = model_tq(c, T);
    const int tiny = c->kind == TI_TFM_TINYRV;
    const size_t ro = (size_t)b0 * tq; /* first row of this slice in every [N, *] buffer */
    embed(m, 1, rs->h + ro * C, x + (size_t)b0 * T * c->n_features, nb, T, pool);
    for (int l = 0; l < L - tiny; l++) {
        ti_err e = infer_layer(m, rs, ro, l, nb, tq, pool);
        if (e) return e;
    }
    if (tiny) return infer_cls_tail(m, rs, y + b0, ro, b0, nb, tq, pool);
    float *h = rs->h + ro * C, *ln = rs->ln + ro * C;
    const int N = nb * tq;
    model_layernorm(m->k, ln, NULL, NULL, h, mw(m, MW_HEADLN_W), mw(m, MW_HEADLN_B), N, C, c->ln_eps, pool);
    m->k->matmul_forward(y + ro, ln, mw(m, MW_HEAD_W), mw(m, MW_HEAD_B), N, 1, C, TI_ACT_NONE, pool);
    return TI_OK;
}

typedef struct rows_job {
    const ti_tfm *m;
    ti_runstate *rs;
    float *y;
    const float *x;
    int T;
    atomic_int failed;   /* first failing worker claims err/msg */
    ti_err err;
    char msg[256];
} rows_job;

static void rows_task(void *ctx, size_t begin, size_t end, int worker)
{
    rows_job *j = ctx;
    (void)worker;
    ti_err e = infer_rows(j->m, j->rs, j->y, j->x, (int)begin, (int)(end - begin), j->T, NULL);
    if (e && atomic_exchange(&j->failed, 1) == 0) { /* messages are per thread: carry it back */
        j->err = e;
        snprintf(j->msg, sizeof j->msg, "%s", ti_errmsg());
    }
}

/* Split by rows when every worker gets a fair share of whole sequences. */
static int split_by_rows(int B, ti_pool *pool)
{
    const int nt = ti_pool_size(pool);
    return nt > 1 && (B % nt == 0 || B >= 4 * nt);
}

static ti_err infer(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int B, int T, ti_pool *pool)
{
    if (!split_by_rows(B, pool)) return infer_rows(m, rs, y, x, 0, B, T, pool);
    rows_job j = {.m = m, .rs = rs, .y = y, .x = x, .T = T};
    atomic_init(&j.failed, 0);
    ti_pool_parallel_for(pool, (size_t)B, 1, rows_task, &j);
    if (atomic_load(&j.failed)) return ti_errorf(j.err, "%s", j.msg);
    return TI_OK;
}

/* ---- training ------------------------------------------------------------------------------ */

static ti_err train_forward(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int B, int T,
                            ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int C = c->d_model, D = c->d_ff, L = c->n_layers, tq = model_tq(c, T), N = B * tq;
    const float eps = c->ln_eps;
    memcpy(rs->x, x, (size_t)B * T * c->n_features * sizeof(float));
    embed(m, 0, rs->acts[0].res_in, rs->x, B, T, pool);
    const ti_attn_cfg acfg = attn_cfg(m, B, tq);
    for (int l = 0; l < L; l++) {
        layer_acts *a = &rs->acts[l];
        float *out = l + 1 < L ? rs->acts[l + 1].res_in : rs->res_out;
        model_layernorm(k, a->ln1, a->ln1_mean, a->ln1_rstd, a->res_in, lw(m, l, LW_LN1_W),
                        lw(m, l, LW_LN1_B), N, C, eps, pool);
        k->matmul_forward(a->qkv, a->ln1, lw(m, l, LW_QKV_W), lw(m, l, LW_QKV_B), N, 3 * C, C, TI_ACT_NONE, pool);
        ti_err e = k->attention_forward(a->att, a->lse, a->qkv, &acfg, pool);
        if (e) return e;
        k->matmul_forward(a->res_mid, a->att, lw(m, l, LW_OUT_W), lw(m, l, LW_OUT_B), N, C, C, TI_ACT_NONE, pool);
        model_add(k, a->res_mid, a->res_mid, a->res_in, (size_t)N * C, pool);
        model_layernorm(k, a->ln2, a->ln2_mean, a->ln2_rstd, a->res_mid, lw(m, l, LW_LN2_W),
                        lw(m, l, LW_LN2_B), N, C, eps, pool);
        k->matmul_forward(a->fc_pre, a->ln2, lw(m, l, LW_FC1_W), lw(m, l, LW_FC1_B), N, D, C, TI_ACT_NONE, pool);
        model_act(k, a->fc_act, a->fc_pre, (size_t)N * D, c->activation, pool);
        k->matmul_forward(out, a->fc_act, lw(m, l, LW_FC2_W), lw(m, l, LW_FC2_B), N, C, D, TI_ACT_NONE, pool);
        model_add(k, out, out, a->res_mid, (size_t)N * C, pool);
    }
    const float *head_in = rs->res_out;
    int Nh = N;
    if (c->kind == TI_TFM_TINYRV) { /* the head reads the CLS rows */
        for (int b = 0; b < B; b++)
            memcpy(rs->head_in + (size_t)b * C, rs->res_out + (size_t)b * tq * C, (size_t)C * sizeof(float));
        head_in = rs->head_in;
        Nh = B;
    }
    model_layernorm(k, rs->head_ln, rs->head_mean, rs->head_rstd, head_in, mw(m, MW_HEADLN_W),
                    mw(m, MW_HEADLN_B), Nh, C, eps, pool);
    k->matmul_forward(y, rs->head_ln, mw(m, MW_HEAD_W), mw(m, MW_HEAD_B), Nh, 1, C, TI_ACT_NONE, pool);
    return TI_OK;
}

ti_err ti_tfm_forward(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int B, int T,
                        ti_pool *pool)
{
    if (!m || !rs || !y || !x) return ti_errorf(TI_ERR_INVALID_ARG, "model forward: NULL argument");
    if (rs->model != m) return ti_errorf(TI_ERR_INVALID_ARG, "model forward: run state made for another model");
    if (B < 1 || B > rs->B_max)
        return ti_errorf(TI_ERR_INVALID_ARG, "model forward: batch %d outside [1, B_max %d]", B, rs->B_max);
    if (m->cfg.kind == TI_TFM_TINYRV && T != m->cfg.context)
        return ti_errorf(TI_ERR_INVALID_ARG, "model forward: TinyRV needs T = its context %d, got %d",
                         m->cfg.context, T);
    if (T < 1 || T > rs->T_max)
        return ti_errorf(TI_ERR_INVALID_ARG, "model forward: T %d outside [1, T_max %d]", T, rs->T_max);
    rs->have_forward = 0;
    ti_err e = rs->training ? train_forward(m, rs, y, x, B, T, pool) : infer(m, rs, y, x, B, T, pool);
    if (e) return e;
    rs->B = B;
    rs->T = T;
    rs->have_forward = rs->training;
    return TI_OK;
}
