/* tickinfer: fitting the composable model kinds on a dataset (src/train/model_fit.c).
 *
 *   ti_fit_linear_har   a HAR-style linear model (include/tickinfer/model.h, kind "linear")
 *                       fitted on the train split: OLS of log RV on log rv_300/120/30,
 *                       log1p trades and volume over the window (+ the market's mean log RV
 *                       over 300 s / 30 s with market context), refined by Gauss-Newton on
 *                       the RMSPE objective, then the RMSPE-optimal scale (saved as rv_scale).
 *   ti_fit_ensemble     an ensemble's linear stacking combiner fitted on a split (val: the
 *                       members were trained on train): OLS of log RV on the members' log
 *                       forecasts; writes config_in with the fitted combiner to out_path. */
#ifndef TICKINFER_MODEL_FIT_H
#define TICKINFER_MODEL_FIT_H

#include <stddef.h>

#include "tickinfer/dataset.h"
#include "tickinfer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_fit_report {
    size_t n;           /* buckets fitted on */
    int k;              /* coefficients, intercept first */
    double coef[1 + 32];
    double scale;       /* RMSPE-optimal multiplier on the fitted split */
} ti_fit_report;

ti_err ti_fit_linear_har(const ti_dataset *ds, const char *out_path, ti_fit_report *rep);
ti_err ti_fit_ensemble(const ti_model *ens, const ti_dataset *ds, ti_split split, const char *config_in,
                       const char *out_path, ti_fit_report *rep);

#ifdef __cplusplus
}
#endif
#endif
