/* tickinfer: batches for training and evaluation, straight from a dataset.
 *
 * A batcher walks one split of a dataset in a seeded, per-epoch shuffled order (or in
 * order for evaluation) and fills, per bucket, the normalised history features
 * x[B, T, F] (T = history_len, features recomputed from bars with the same code as
 * streaming), the target RV y[B] and, optionally, the per-second forward targets
 * y_seq[B, T] (RV over (t, t+300]) for causal models.  Buffers are allocated once at
 * creation; next() never allocates.  The cursor (epoch, position) can be saved and
 * restored, so a resumed run sees exactly the batches it would have seen. */
#ifndef TICKINFER_BATCH_H
#define TICKINFER_BATCH_H

#include <stdint.h>

#include "tickinfer/dataset.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_batch_config {
    ti_split split;
    int batch_size;
    uint64_t seed;      /* shuffle seed (epoch e uses seed + e) */
    int shuffle;        /* 0: dataset order (evaluation) */
    int drop_last;      /* 1: skip a final partial batch */
    int seq_targets;    /* 1: fill y_seq */
    int normalize;      /* 1: apply the dataset's train normalisation */
} ti_batch_config;

typedef struct ti_batch {
    int n;              /* rows filled (<= batch_size; < only for a last partial batch) */
    int T, F;
    float *x;           /* [batch_size, T, F] */
    float *y;           /* [batch_size] target RV */
    float *y_seq;       /* [batch_size, T] or NULL */
    uint32_t *bucket;   /* [batch_size] dataset bucket index of each row */
    int64_t epoch;      /* epoch this batch belongs to */
} ti_batch;

typedef struct ti_batch_cursor {
    int64_t epoch;
    int64_t pos;        /* rows of this epoch already handed out */
} ti_batch_cursor;

typedef struct ti_batcher ti_batcher;

/* pool may be NULL (single thread).  The dataset must outlive the batcher. */
ti_err ti_batcher_create(ti_batcher **out, const ti_dataset *ds, const ti_batch_config *cfg, ti_pool *pool);
void ti_batcher_destroy(ti_batcher *b);

/* Fill the next batch.  At the end of an epoch the next epoch starts (reshuffled);
 * *epoch_done is set to 1 on the call that returned the epoch's last batch. */
void ti_batcher_next(ti_batcher *b, ti_batch **batch, int *epoch_done);

/* Rows per epoch (after drop_last) and batches per epoch. */
int64_t ti_batcher_epoch_rows(const ti_batcher *b);
int64_t ti_batcher_epoch_batches(const ti_batcher *b);

ti_batch_cursor ti_batcher_get_cursor(const ti_batcher *b);
ti_err ti_batcher_set_cursor(ti_batcher *b, ti_batch_cursor c);

/* Features of one bucket, normalised or not: out[T, F] (T = history_len). */
void ti_batch_bucket_features(float *out, ti_feat_state *scratch, const ti_dataset *ds, uint32_t bucket, int normalize);

#ifdef __cplusplus
}
#endif
#endif
