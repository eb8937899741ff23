/* Forward pass of both models.
 *
 * Both run every layer through the block (block.c) on the CPU backend (ops.c).
 *
 * Inference (a run state without TI_RS_TRAINING): one layer's working set reused by every
 * layer, packed weights with the activation fused into the matmul epilogue, the flash
 * attention without log-sum-exp.  Large batches are split over the pool by rows (each
 * worker runs the whole network on its rows, no per-op synchronisation); small ones
 * hand the pool to every op (matmuls split M, attention splits (b, head, query block)).
 * TinyRV reads only the CLS row of the last layer, so that layer computes keys and values
 * for all rows but everything else (query, attention, out_proj, feed-forward) for the CLS
 * row alone: one attention_decode per sequence (the block's CLS-only variant).
 *
 * Training: every layer's activations are kept (rs->acts), matmuls run unfused on
 * the plain weights, and layer norms keep mean and rstd. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"

/* h [nb,Tq,C] = input embedding of x [nb,T,F]: TinyRV [cls; proj(x)] + pos, causal proj(x). */
static void embed(const ti_tfm *m, tfm_cpu *cpu, float *h, const float *x, int nb, int T)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, F = c->n_features;
    if (c->kind == TI_TFM_RV_CAUSAL) {
        tfm_cpu_linear(cpu, h, x, &m->stem.proj, nb * T, TI_ACT_NONE);
        return;
    }
    const int tq = T + 1;
    for (int b = 0; b < nb; b++) {
        float *hb = h + (size_t)b * tq * C;
        memcpy(hb, m->stem.cls, (size_t)C * sizeof(float));
        tfm_cpu_linear(cpu, hb + C, x + (size_t)b * T * F, &m->stem.proj, T, TI_ACT_NONE);
    }
    ti_pos_add_forward(h, h, m->stem.pos, nb, tq, C);
}

/* ---- inference --------------------------------------------------------------------------- */

/* Rows [b0, b0+nb) of the batch, start to end: one layer's working set, in place on h. */
static ti_err infer_rows(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int b0, int nb,
                         int T, ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, D = c->d_ff, L = c->n_layers, tq = model_tq(c, T), N = nb * tq;
    const int tiny = c->kind == TI_TFM_TINYRV;
    const size_t ro = (size_t)b0 * tq; /* first row of this slice in every [N, *] buffer */
    tfm_cpu cpu = tfm_cpu_for(m, 1, nb, tq, pool);
    float *h = rs->h + ro * C, *ln = rs->ln + ro * C, *att = rs->att + ro * C, *fc = rs->fc + ro * D;
    const tfm_block_io io = tfm_block_io_inplace(h, ln, rs->qkv + ro * 3 * C, att, fc);
    embed(m, &cpu, h, x + (size_t)b0 * T * c->n_features, nb, T);
    for (int l = 0; l < L - tiny; l++) {
        ti_err e = tfm_block_forward(&tfm_cpu_ops, &cpu, &m->lv[l], l, &io, N);
        if (e) return e;
    }
    if (!tiny) return tfm_head_forward(&tfm_cpu_ops, &cpu, &m->stem, y + ro, ln, NULL, NULL, h, N);
    /* TinyRV's head reads the CLS rows only: its last layer runs CLS-only ([nb, *] rows) */
    const size_t bo = (size_t)b0 * C;
    float *ch = rs->cls_h + bo, *cln = rs->cls_ln + bo, *ctmp = rs->cls_tmp + bo;
    const tfm_block_io cls = {.res_in = h, .ln1 = ln, .qkv = rs->qkv + ro * 3 * C, .n_seq = nb, .q_ln = cln,
                              .q = rs->cls_q + bo, .att = rs->cls_att + bo, .proj = ctmp, .res_mid = ch,
                              .ln2 = cln, .fc_pre = rs->cls_fc + (size_t)b0 * D,
                              .fc_act = rs->cls_fc + (size_t)b0 * D, .ffn = ctmp, .res_out = ch};
    ti_err e = tfm_block_forward(&tfm_cpu_ops, &cpu, &m->lv[L - 1], L - 1, &cls, N);
    if (e) return e;
    return tfm_head_forward(&tfm_cpu_ops, &cpu, &m->stem, y + b0, cln, NULL, NULL, ch, nb);
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

/* Each layer on its own buffers (rs->acts, chained res_out -> next res_in at creation),
 * unfused and unpacked, keeping what backward needs. */
static ti_err train_forward(const ti_tfm *m, ti_runstate *rs, float *y, const float *x, int B, int T,
                            ti_pool *pool)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, L = c->n_layers, tq = model_tq(c, T), N = B * tq;
    tfm_cpu cpu = tfm_cpu_for(m, 0, B, tq, pool);
    memcpy(rs->x, x, (size_t)B * T * c->n_features * sizeof(float));
    embed(m, &cpu, rs->acts[0].res_in, rs->x, B, T);
    for (int l = 0; l < L; l++) {
        ti_err e = tfm_block_forward(&tfm_cpu_ops, &cpu, &m->lv[l], l, &rs->acts[l], N);
        if (e) return e;
    }
    const float *head_in = rs->res_out;
    int Nh = N;
    if (c->kind == TI_TFM_TINYRV) { /* the head reads the CLS rows */
        tfm_cpu_ops.rows0(&cpu, rs->head_in, rs->res_out, B, N, C);
        head_in = rs->head_in;
        Nh = B;
    }
    return tfm_head_forward(&tfm_cpu_ops, &cpu, &m->stem, y, rs->head_ln, rs->head_mean, rs->head_rstd, head_in,
                            Nh);
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
