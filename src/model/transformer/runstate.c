/* Run states: every activation buffer of a forward (and, for training, of a backward),
 * carved out of one aligned block at creation so the hot path never allocates. */
#include <stdlib.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"
#include "tickinfer/alloc.h"

#define RS_MAX_BYTES ((size_t)1 << 40) /* refuse run states above 1 TiB (a typo, not a plan) */

/* Two passes over the same carving code: the first (base NULL) only counts. */
typedef struct carver {
    float *base;
    size_t used; /* floats */
} carver;

static float *carve(carver *cv, size_t n)
{
    float *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (n + 15) & ~(size_t)15; /* every buffer starts on a cache line */
    return p;
}

static void carve_all(ti_runstate *rs, carver *cv)
{
    const ti_tfm_config *c = &rs->model->cfg;
    const size_t B = (size_t)rs->B_max, tq = (size_t)rs->Tq_max, N = B * tq;
    const size_t C = (size_t)c->d_model, D = (size_t)c->d_ff, H = (size_t)c->n_heads;
    const int tiny = c->kind == TI_TFM_TINYRV;
    if (!rs->training) {
        rs->h = carve(cv, N * C);
        rs->ln = carve(cv, N * C);
        rs->qkv = carve(cv, N * 3 * C);
        rs->att = carve(cv, N * C);
        rs->fc = carve(cv, N * D);
        if (tiny) {
            rs->cls_h = carve(cv, B * C);
            rs->cls_ln = carve(cv, B * C);
            rs->cls_q = carve(cv, B * C);
            rs->cls_att = carve(cv, B * C);
            rs->cls_tmp = carve(cv, B * C);
            rs->cls_fc = carve(cv, B * D);
        }
        return;
    }
    rs->x = carve(cv, B * (size_t)rs->T_max * (size_t)c->n_features);
    for (int l = 0; l < c->n_layers; l++) {
        tfm_block_io *a = &rs->acts[l];
        a->res_in = carve(cv, N * C);
        a->ln1 = carve(cv, N * C);
        a->ln1_mean = carve(cv, N);
        a->ln1_rstd = carve(cv, N);
        a->qkv = carve(cv, N * 3 * C);
        a->att = carve(cv, N * C);
        a->lse = carve(cv, B * H * tq);
        a->res_mid = carve(cv, N * C);
        a->ln2 = carve(cv, N * C);
        a->ln2_mean = carve(cv, N);
        a->ln2_rstd = carve(cv, N);
        a->fc_pre = carve(cv, N * D);
        a->fc_act = carve(cv, N * D);
    }
    const size_t Nh = tiny ? B : N;
    rs->res_out = carve(cv, N * C);
    /* the branches write where their residual add lands; layer l's output is the input of
     * layer l+1 */
    for (int l = 0; l < c->n_layers; l++) {
        tfm_block_io *a = &rs->acts[l];
        a->proj = a->res_mid;
        a->res_out = l + 1 < c->n_layers ? rs->acts[l + 1].res_in : rs->res_out;
        a->ffn = a->res_out;
    }
    rs->head_in = tiny ? carve(cv, B * C) : NULL; /* causal: the head reads res_out */
    rs->head_ln = carve(cv, Nh * C);
    rs->head_mean = carve(cv, Nh);
    rs->head_rstd = carve(cv, Nh);
    rs->d_res = carve(cv, N * C);
    rs->d_ln = carve(cv, N * C);
    rs->d_qkv = carve(cv, N * 3 * C);
    rs->d_att = carve(cv, N * C);
    rs->d_fc_act = carve(cv, N * D);
    rs->d_fc_pre = carve(cv, N * D);
    rs->d_head = carve(cv, Nh * C);
}

ti_err ti_runstate_create(ti_runstate **out, const ti_tfm *m, int B_max, int T_max, int flags)
{
    if (!out || !m) return ti_errorf(TI_ERR_INVALID_ARG, "runstate create: NULL argument");
    *out = NULL;
    const ti_tfm_config *c = &m->cfg;
    if (T_max == 0) T_max = c->context;
    if (B_max < 1 || B_max > (1 << 24))
        return ti_errorf(TI_ERR_INVALID_ARG, "runstate create: B_max %d must be in [1, %d]", B_max, 1 << 24);
    if (T_max < 1 || T_max > c->context)
        return ti_errorf(TI_ERR_INVALID_ARG, "runstate create: T_max %d must be in [1, context %d]", T_max,
                         c->context);
    if (c->kind == TI_TFM_TINYRV && T_max != c->context)
        return ti_errorf(TI_ERR_INVALID_ARG, "runstate create: TinyRV needs T_max = its context %d, got %d",
                         c->context, T_max);
    if (flags & ~TI_RS_TRAINING) return ti_errorf(TI_ERR_INVALID_ARG, "runstate create: unknown flags 0x%x", flags);
    /* What carve_all will ask for (both modes, rounded up), in double so that no size_t
     * product can overflow before the check. */
    const double C = c->d_model, D = c->d_ff;
    const double per_tok = (8 * C + 2 * D + c->n_heads + 4) * c->n_layers + 16 * C + 3 * D + 8;
    const double est = (double)B_max * (model_tq(c, T_max) + 1.0) * per_tok * sizeof(float);
    if (est > (double)RS_MAX_BYTES)
        return ti_errorf(TI_ERR_LIMIT, "runstate create: B_max %d x T %d needs ~%.0f GiB (limit %zu GiB)", B_max,
                         T_max, est / (1024.0 * 1024.0 * 1024.0), RS_MAX_BYTES >> 30);
    const int training = (flags & TI_RS_TRAINING) != 0;
    const size_t n_acts = training ? (size_t)c->n_layers : 0;
    ti_runstate *rs = calloc(1, sizeof *rs + n_acts * sizeof(tfm_block_io));
    if (!rs) return ti_errorf(TI_ERR_NOMEM, "runstate create: out of memory");
    rs->model = m;
    rs->B_max = B_max;
    rs->T_max = T_max;
    rs->Tq_max = model_tq(c, T_max);
    rs->training = training;
    rs->acts = training ? rs->layer_storage : NULL;
    carver cv = {NULL, 0};
    carve_all(rs, &cv);
    rs->bytes = cv.used * sizeof(float);
    rs->block = ti_calloc_aligned(cv.used, sizeof(float), TI_CACHELINE);
    if (!rs->block) {
        free(rs);
        return ti_errorf(TI_ERR_NOMEM, "runstate create: %zu MiB of activations (B_max %d, T %d%s)",
                         cv.used * sizeof(float) >> 20, B_max, T_max, training ? ", training" : "");
    }
    cv = (carver){rs->block, 0};
    carve_all(rs, &cv);
    *out = rs;
    return TI_OK;
}

void ti_runstate_destroy(ti_runstate *rs)
{
    if (!rs) return;
    ti_free_aligned(rs->block);
    free(rs);
}

size_t ti_runstate_bytes(const ti_runstate *rs) { return rs->bytes; }
int ti_runstate_is_training(const ti_runstate *rs) { return rs->training; }
