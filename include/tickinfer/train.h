/* tickinfer: training and evaluation of the RV models on a dataset.
 *
 * Loss: MSE on log RV (default) or RMSPE.  TinyRV predicts log RV of the horizon from
 * the CLS token; the causal model predicts, at every history second t, log RV over
 * (t, t+300], trained on positions t >= warm (default 30) and scored at t = 299.
 * Optimiser: AdamW (decay on matmul weights only), linear warmup then cosine decay to
 * min_lr_frac * lr, global-norm gradient clipping.  Deterministic given the seed.
 * Checkpoints in out_dir: best.safetensors (lowest val RMSPE), last.safetensors +
 * last.state (AdamW moments, step, data cursor, best so far) for resuming after a kill.
 * Predictions are RV = scale * exp(y_log), scale fitted on train (RMSPE-optimal, as
 * for the baselines). */
#ifndef TICKINFER_TRAIN_H
#define TICKINFER_TRAIN_H

#include <stdint.h>

#include "tickinfer/dataset.h"
#include "tickinfer/transformer.h"
#include "tickinfer/model.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ti_loss_kind { TI_LOSS_MSE_LOG = 0, TI_LOSS_RMSPE = 1 } ti_loss_kind;

typedef struct ti_train_config {
    const char *dataset, *out_dir;
    ti_tfm_config model;     /* n_features/context are taken from the dataset */
    int batch_size;
    int epochs;                /* used when max_steps == 0 */
    int64_t max_steps;
    float lr, min_lr_frac, weight_decay, beta1, beta2, eps, grad_clip;
    int warmup_steps;
    ti_loss_kind loss;
    int warm;                  /* causal: first trained position */
    uint64_t seed;
    int threads;               /* <= 0: all cores */
    int eval_every;            /* steps between val evaluations (0: once per epoch) */
    int64_t eval_max;          /* cap on val buckets per evaluation (0: all) */
    int resume;                /* continue from out_dir/last.* if present */
    int64_t stop_after;        /* stop after this step as if interrupted (0: run to the end);
                                * the schedule still spans the whole run */
    int progress;
} ti_train_config;

void ti_train_config_default(ti_train_config *c);
/* Read a JSON config file (keys documented in docs/training.md). */
ti_err ti_train_config_load(ti_train_config *c, const char *path, char *strings, size_t strings_cap);

typedef struct ti_train_report {
    int64_t steps;
    double seconds, samples_per_s;
    double best_val_rmspe;
    int64_t best_step;
    double final_train_loss;
} ti_train_report;

ti_err ti_train(const ti_train_config *cfg, ti_train_report *rep);

/* Evaluate any model kind: predictions (RV) for every bucket of `split` in dataset order; pred, y of
 * length ti_dataset_split(...).  y_log_scale: the fitted multiplicative scale. */
ti_err ti_eval_predict(float *pred, float *y, const ti_model *m, const ti_dataset *ds, ti_split split, int64_t max_n,
                       double scale, ti_pool *pool);
/* RMSPE-optimal scale on (a subset of) train. */
ti_err ti_eval_fit_scale(double *scale, const ti_model *m, const ti_dataset *ds, int64_t max_n, ti_pool *pool);

/* Percentile bootstrap of RMSPE over n (y, pred) pairs: n_boot resamples of n buckets
 * drawn with replacement (splitmix64 stream from seed, so reports are reproducible);
 * [lo, hi] = the 2.5th and 97.5th percentiles.  n_boot in [100, 100000]. */
ti_err ti_rmspe_bootstrap(double *lo, double *hi, const float *y, const float *pred, size_t n, int n_boot, uint64_t seed);

/* RMSPE of each stock's buckets.  stock[i] is bucket i's stock id; out receives one row
 * per distinct stock, sorted by RMSPE ascending; *n_out <= cap (TI_ERR_LIMIT beyond). */
typedef struct ti_stock_rmspe {
    int32_t stock_id;
    uint32_t n;
    double rmspe;
} ti_stock_rmspe;
ti_err ti_rmspe_per_stock(ti_stock_rmspe *out, size_t cap, size_t *n_out, const float *y, const float *pred, const int32_t *stock,
                          size_t n);

#ifdef __cplusplus
}
#endif
#endif
