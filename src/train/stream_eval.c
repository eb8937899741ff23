/* Streaming forecasts over a dataset split: one stream per engine, reset per bucket. */
#include <math.h>

#include "tickinfer/batch.h"
#include "tickinfer/stream_eval.h"

#define STREAM_EVAL_BATCH 32

ti_err ti_stream_eval_predict(float *pred, float *y, int64_t *n_out, ti_stream_engine *e, const ti_dataset *ds,
                              ti_split split, int64_t max_n, uint64_t sample_seed, double scale)
{
    *n_out = 0;
    const int F = ti_stream_engine_n_features(e);
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    if (in->n_features != F)
        return ti_errorf(TI_ERR_INVALID_ARG, "stream eval: the model takes %d features, the dataset has %d", F,
                         in->n_features);
    /* same rows and order as ti_eval_predict; raw rows, standardised by the engine with the
     * model's statistics, as ti_eval_predict does with the same arithmetic */
    ti_batch_config bc = {.split = split, .batch_size = STREAM_EVAL_BATCH, .normalize = 0,
                          .shuffle = sample_seed != 0, .seed = sample_seed};
    ti_batcher *b = NULL;
    ti_err err = ti_batcher_create(&b, ds, &bc, NULL);
    if (err) return ti_error_wrap(err, "stream eval");
    ti_stream *s = NULL;
    err = ti_stream_open(e, &s, "eval");
    int64_t n = ti_batcher_epoch_rows(b), done = 0;
    if (max_n > 0 && max_n < n) n = max_n;
    int epoch_done = 0;
    while (!err && done < n && !epoch_done) {
        ti_batch *bt;
        ti_batcher_next(b, &bt, &epoch_done);
        for (int r = 0; !err && r < bt->n && done < n; r++, done++) {
            ti_stream_reset(s);
            ti_forecast fc = {0};
            const float *x = bt->x + (size_t)r * bt->T * bt->F; /* [T, F] */
            for (int t = 0; !err && t < bt->T; t++) err = ti_stream_push_features(s, x + (size_t)t * bt->F, &fc);
            if (err) err = ti_error_wrap(err, "stream eval: bucket %u", bt->bucket[r]);
            pred[done] = (float)(scale * exp((double)fc.y_log));
            y[done] = bt->y[r];
        }
    }
    ti_stream_close(s);
    ti_batcher_destroy(b);
    *n_out = done;
    return err;
}
