/* The pre-norm transformer block and the head, once for every backend (block.h):
 * inference and training forward (forward.c), the decode step (decode.c) and the CUDA
 * model (model_gpu.cu) all run their layers through tfm_block_forward.  backward.c walks
 * the same steps in reverse over the same io buffers and weight views. */
#include "model/transformer/block.h"
#include "model/transformer/tfm_internal.h"

/* Return the backend's error of a step. */
#define STEP(call)              \
    do {                        \
        ti_err e_ = (call);     \
        if (e_) return e_;      \
    } while (0)

ti_err tfm_block_forward(const tfm_ops *ops, void *ctx, const tfm_layer *w, int l, const tfm_block_io *io, int n)
{
    const int C = w->out.n_out;
    /* attention branch: res_mid = res_in + out_proj(attn(qkv(ln1(res_in)))) */
    STEP(ops->norm(ctx, io->ln1, io->ln1_mean, io->ln1_rstd, io->res_in, &w->ln1, n));
    const float *res = io->res_in; /* residual input of the rows that go on */
    int nq = n;
    if (!io->n_seq) {
        STEP(ops->linear(ctx, io->qkv, io->ln1, &w->qkv, n, TI_ACT_NONE));
        STEP(ops->attend(ctx, l, io->att, io->lse, io->qkv, io->qkv + C, n));
    } else {
        /* keys and values of every row, the query of row 0 of each sequence: the rest of
         * the layer runs on those rows alone */
        nq = io->n_seq;
        STEP(ops->linear(ctx, io->qkv, io->ln1, &w->kv, n, TI_ACT_NONE));
        STEP(ops->rows0(ctx, io->q_ln, io->ln1, nq, n, C));
        STEP(ops->rows0(ctx, io->res_mid, io->res_in, nq, n, C));
        STEP(ops->linear(ctx, io->q, io->q_ln, &w->q, nq, TI_ACT_NONE));
        STEP(ops->attend_cls(ctx, l, io->att, io->q, io->qkv, nq, n));
        res = io->res_mid;
    }
    STEP(ops->linear(ctx, io->proj, io->att, &w->out, nq, TI_ACT_NONE));
    STEP(ops->add(ctx, io->res_mid, res, io->proj, (size_t)nq * C));

    /* feed-forward branch: res_out = res_mid + fc2(act(fc1(ln2(res_mid)))) */
    STEP(ops->norm(ctx, io->ln2, io->ln2_mean, io->ln2_rstd, io->res_mid, &w->ln2, nq));
    if (io->fc_pre == io->fc_act) { /* inference: the activation fused into the matmul */
        STEP(ops->linear(ctx, io->fc_act, io->ln2, &w->fc1, nq, w->act));
    } else {                        /* training: backward needs the pre-activation */
        STEP(ops->linear(ctx, io->fc_pre, io->ln2, &w->fc1, nq, TI_ACT_NONE));
        STEP(ops->act(ctx, io->fc_act, io->fc_pre, (size_t)nq * w->fc1.n_out, w->act));
    }
    STEP(ops->linear(ctx, io->ffn, io->fc_act, &w->fc2, nq, TI_ACT_NONE));
    STEP(ops->add(ctx, io->res_out, io->res_mid, io->ffn, (size_t)nq * C));
    return TI_OK;
}

tfm_block_io tfm_block_io_inplace(float *h, float *ln, float *qkv, float *att, float *fc)
{
    return (tfm_block_io){.res_in = h, .ln1 = ln, .qkv = qkv, .att = att, .proj = ln, .res_mid = h, .ln2 = ln,
                          .fc_pre = fc, .fc_act = fc, .ffn = att, .res_out = h};
}

ti_err tfm_head_forward(const tfm_ops *ops, void *ctx, const tfm_stem *s, float *y, float *ln, float *mean,
                        float *rstd, const float *inp, int n)
{
    STEP(ops->norm(ctx, ln, mean, rstd, inp, &s->head_ln, n));
    return ops->linear(ctx, y, ln, &s->head, n, TI_ACT_NONE);
}

static tfm_lin lin_at(const float *base, size_t w_off, size_t b_off, int n_out, int n_in)
{
    return (tfm_lin){.w = base + w_off, .b = base + b_off, .n_out = n_out, .n_in = n_in};
}

static tfm_norm norm_at(const ti_tfm *m, const float *base, size_t w_off, size_t b_off)
{
    return (tfm_norm){.w = base + w_off, .b = base + b_off, .C = m->cfg.d_model, .eps = m->cfg.ln_eps};
}

void tfm_bind(const ti_tfm *m, const float *base, tfm_stem *stem, tfm_layer *layers)
{
    const ti_tfm_config *c = &m->cfg;
    const int C = c->d_model, D = c->d_ff;
    const size_t *g = m->glob, CC = (size_t)C * C;
    if (stem) {
        stem->cls = g[MW_CLS] == TI_NO_TENSOR ? NULL : base + g[MW_CLS];
        stem->pos = g[MW_POS] == TI_NO_TENSOR ? NULL : base + g[MW_POS];
        stem->proj = lin_at(base, g[MW_PROJ_W], g[MW_PROJ_B], C, c->n_features);
        stem->head_ln = norm_at(m, base, g[MW_HEADLN_W], g[MW_HEADLN_B]);
        stem->head = lin_at(base, g[MW_HEAD_W], g[MW_HEAD_B], 1, C);
    }
    for (int l = 0; layers && l < c->n_layers; l++) {
        const size_t *o = m->layer[l];
        tfm_layer *w = &layers[l];
        w->ln1 = norm_at(m, base, o[LW_LN1_W], o[LW_LN1_B]);
        w->ln2 = norm_at(m, base, o[LW_LN2_W], o[LW_LN2_B]);
        w->qkv = lin_at(base, o[LW_QKV_W], o[LW_QKV_B], 3 * C, C);
        w->q = lin_at(base, o[LW_QKV_W], o[LW_QKV_B], C, C);
        w->kv = lin_at(base, o[LW_QKV_W] + CC, o[LW_QKV_B] + (size_t)C, 2 * C, C);
        w->out = lin_at(base, o[LW_OUT_W], o[LW_OUT_B], C, C);
        w->fc1 = lin_at(base, o[LW_FC1_W], o[LW_FC1_B], D, C);
        w->fc2 = lin_at(base, o[LW_FC2_W], o[LW_FC2_B], C, D);
        w->act = c->activation;
    }
}
