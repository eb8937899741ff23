/* tickinfer: honest baselines for the RV task, fitted on train, scored on val/test.
 *
 *   naive          yhat = RV of the 300 s history
 *   scaled_naive   yhat = k * RV_hist, k minimising train RMSPE (closed form)
 *   stock_mean     yhat = mean train target of the bucket's stock
 *   har_rv         log yhat = OLS on [1, log RV_300, log RV_120, log RV_30,
 *                  log1p(trades), log1p(volume), log stock_mean] (log terms floored at
 *                  1e-5), then one scale fitted like scaled_naive (the log model
 *                  predicts a median; RMSPE wants a smaller, scale-corrected value)
 *   har_rv_market  (datasets with market features) har_rv + the market's mean log RV over
 *                  the last 300 s and 30 s at second 299: the same time window across
 *                  all symbols, history only
 * RMSPE = sqrt(mean(((y - yhat) / y)^2)). */
#ifndef TICKINFER_BASELINE_H
#define TICKINFER_BASELINE_H

#include <stddef.h>

#include "tickinfer/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_BASELINE_MAX 8
#define TI_HAR_NCOEF 7

typedef struct ti_baseline_result {
    char name[32];
    char desc[160];
    double rmspe[TI_SPLIT__COUNT];
} ti_baseline_result;

typedef struct ti_baseline_report {
    int n;
    ti_baseline_result r[TI_BASELINE_MAX];
    uint64_t n_split[TI_SPLIT__COUNT];
    double scaled_naive_k;
    double har_coef[TI_HAR_NCOEF];
    double har_scale;
} ti_baseline_report;

/* RMSPE over n pairs (y > 0). */
double ti_rmspe(const float *y, const float *yhat, size_t n);

/* Solve the least-squares problem min |X b - y| via normal equations (double, k <= 16).
 * X is [n, k] row-major.  TI_ERR_RANGE if singular. */
ti_err ti_ols(double *b, const double *X, const double *y, size_t n, int k);

ti_err ti_baselines_run(ti_baseline_report *out, const ti_dataset *ds);
ti_err ti_baselines_write_json(const char *path, const ti_baseline_report *rep, const ti_dataset_info *info);
ti_err ti_baselines_write_markdown(const char *path, const ti_baseline_report *rep, const ti_dataset_info *info);
/* Markdown table into buf (for printing). */
void ti_baselines_format_table(char *buf, size_t cap, const ti_baseline_report *rep);

#ifdef __cplusplus
}
#endif
#endif
