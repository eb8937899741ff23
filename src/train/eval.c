/* Predictions of a model over a dataset split, and the RMSPE-optimal output scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/batch.h"
#include "tickinfer/train.h"

#define EVAL_BATCH 64

/* Log-RV prediction of each row of a batch: the model's output, at the last position
 * for a per-position model. */
static ti_err predict_log(float *out, const ti_model *m, ti_ctx *c, float *y, const ti_batch *bt, ti_pool *pool)
{
    ti_err e = ti_ctx_forward(c, y, bt->x, bt->n, bt->T, pool);
    if (e) return e;
    const int per_step = ti_model_get_info(m)->per_step;
    for (int r = 0; r < bt->n; r++) out[r] = per_step ? y[(size_t)r * bt->T + bt->T - 1] : y[r];
    return TI_OK;
}

/* shuffle: a fixed-seed sample across all stocks when max_n cuts the split short. */
/* Raw windows from the dataset, standardised with the MODEL's own statistics (a model
 * scored on other stocks or another period keeps the normalisation it was trained with);
 * a model without (linear, ensemble: its members normalise for themselves) reads them raw. */
static ti_err predict_split(float *pred, float *y, const ti_model *m, const ti_dataset *ds, ti_split split, int64_t max_n,
                            double scale, int shuffle, ti_pool *pool)
{
    ti_batch_config bc = {.split = split,
                          .batch_size = EVAL_BATCH,
                          .normalize = 0,
                          .shuffle = shuffle,
                          .seed = 12345};
    ti_batcher *b = NULL;
    ti_err e = ti_batcher_create(&b, ds, &bc, NULL);
    if (e) return e;
    const int T = ti_dataset_get_info(ds)->history_len;
    ti_ctx *rs = NULL;
    e = ti_ctx_create(&rs, m, EVAL_BATCH);
    float *ybuf = malloc(sizeof(float) * EVAL_BATCH * (size_t)T);
    if (!e && !ybuf) e = ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
    int64_t n = ti_batcher_epoch_rows(b), done = 0;
    if (max_n > 0 && max_n < n) n = max_n;
    int epoch_done = 0;
    while (!e && done < n && !epoch_done) {
        ti_batch *bt;
        ti_batcher_next(b, &bt, &epoch_done);
        float lp[EVAL_BATCH];
        ti_model_normalise(m, bt->x, (size_t)bt->n * (size_t)bt->T);
        e = predict_log(lp, m, rs, ybuf, bt, pool);
        for (int r = 0; !e && r < bt->n && done < n; r++, done++) {
            pred[done] = (float)(scale * exp((double)lp[r]));
            y[done] = bt->y[r];
        }
    }
    free(ybuf);
    ti_ctx_destroy(rs);
    ti_batcher_destroy(b);
    return e;
}

ti_err ti_eval_predict(float *pred, float *y, const ti_model *m, const ti_dataset *ds, ti_split split, int64_t max_n,
                       double scale, ti_pool *pool)
{
    return predict_split(pred, y, m, ds, split, max_n, scale, 0, pool);
}

ti_err ti_eval_fit_scale(double *scale, const ti_model *m, const ti_dataset *ds, int64_t max_n, ti_pool *pool)
{
    const uint32_t *idx;
    size_t n = ti_dataset_split(ds, TI_SPLIT_TRAIN, &idx);
    if (max_n > 0 && (size_t)max_n < n) n = (size_t)max_n;
    float *p = malloc(sizeof(float) * (n + 1)), *y = malloc(sizeof(float) * (n + 1));
    ti_err e = (!p || !y) ? ti_errorf(TI_ERR_NOMEM, "eval: out of memory") : TI_OK;
    if (!e) e = predict_split(p, y, m, ds, TI_SPLIT_TRAIN, (int64_t)n, 1.0, 1, pool);
    if (!e) {
        /* k minimising sum((1 - k p/y)^2). */
        double a = 0, bsum = 0;
        for (size_t i = 0; i < n; i++) {
            double r = (double)p[i] / y[i];
            a += r;
            bsum += r * r;
        }
        *scale = bsum > 0 && isfinite(a / bsum) ? a / bsum : 1.0;
    }
    free(p);
    free(y);
    return e;
}
