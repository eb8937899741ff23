/* tickinfer: flat features, one row of window terms per dataset bucket, for models
 * trained outside tickinfer (gradient-boosted trees in LightGBM/XGBoost).
 *
 * A row is ti_wterm_eval of each term on the bucket's raw (not normalised) history
 * x [history_len, F]; the same terms in a "tickinfer-trees" model file recompute the row
 * from the same window when the model is served, so training and serving see the same
 * numbers.  `tickinfer dataset export DIR --flat -o OUT` writes, atomically:
 *   X.npy        float32 [N, K]   the rows
 *   y.npy        float32 [N]      target RV of the horizon
 *   split.npy    int8 [N]         0 train, 1 val, 2 test
 *   stock_id.npy int32 [N], time_id.npy int32 [N]
 *   features.json {"format": "tickinfer-flat", "version": 1, "names": [K], "terms": [K],
 *                  "n_features": F, "context": history_len, "feature_names": [F],
 *                  "dataset": DIR, "rows": N}
 * Buckets are in dataset order. */
#ifndef TICKINFER_FLAT_H
#define TICKINFER_FLAT_H

#include "tickinfer/dataset.h"
#include "tickinfer/window_terms.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_FLAT_MAX_TERMS 64

/* The default terms for a dataset (its features, book and market columns): RVs over
 * several windows and their range, trade counts and volumes, VWAP deviation, ranges,
 * returns, and the book/market columns where present.  Returns the count. */
int ti_flat_default_terms(const ti_dataset_info *info, ti_wterm *out, int max);

/* Write the export of `ds` (splits with bit (1 << split) set in split_mask) to dir. */
ti_err ti_flat_export(const ti_dataset *ds, const char *dataset_dir, const ti_wterm *terms, int n_terms, unsigned split_mask,
                      const char *dir, int progress);

#ifdef __cplusplus
}
#endif
#endif
