/* tickinfer: accuracy of the streaming engine on a dataset split.
 *
 * Each bucket of the split is replayed as the batch evaluation sees it: its history_len
 * raw feature rows go through one stream of the engine (which standardises them with the
 * model's statistics it was created with, as ti_eval_predict does), reset per bucket, and
 * the last forecast, times `scale`, is the prediction.  With fp32 KV and a window >= history_len this equals
 * ti_eval_predict (the streaming exactness contract); with a quantized KV (kvquant.h), a
 * shorter window or sinks it measures what those cost in RMSPE.  Lives on the training
 * side (it reads a dataset): the stream engine itself never reads shards. */
#ifndef TICKINFER_STREAM_EVAL_H
#define TICKINFER_STREAM_EVAL_H

#include <stdint.h>

#include "tickinfer/dataset.h"
#include "tickinfer/err.h"
#include "tickinfer/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pred, y [min(max_n, buckets in split)] (max_n <= 0: all), in dataset order, or with
 * sample_seed != 0 in a seeded random order over the whole split (so max_n buckets are a
 * sample across all stocks, as ti_eval_fit_scale samples train); *n_out gets the count.  The engine's model must take the dataset's features; one stream named
 * "eval" is opened on it and closed again.  No allocation per bucket. */
ti_err ti_stream_eval_predict(float *pred, float *y, int64_t *n_out, ti_stream_engine *e, const ti_dataset *ds,
                              ti_split split, int64_t max_n, uint64_t sample_seed, double scale);

#ifdef __cplusplus
}
#endif
#endif
