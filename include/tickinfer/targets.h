/* tickinfer: realized-volatility targets and per-bucket summaries.
 *
 * RV over a window (a, b] of seconds: sqrt of the sum of squared log returns between
 * consecutive bar prices, over the bars with a < sec <= b, where the first return is
 * taken from the last bar at or before a (if any).  The task's target is
 * RV over (299, 599] = seconds 300..599, its first return from the last trade of the
 * history.  For streaming training, the target at history second t is RV over
 * (t, t + 300]. */
#ifndef TICKINFER_TARGETS_H
#define TICKINFER_TARGETS_H

#include <stdint.h>

#include "tickinfer/bars.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_TARGET_MIN_TRADES 10   /* buckets with fewer horizon trades are excluded */
#define TI_TARGET_MIN_RV 1e-4     /* ... and buckets whose target is below this */

/* RV over (a, b]; *n_trades (may be NULL) gets the prints in the window. */
double ti_rv_window(const ti_bar *bars, uint32_t n, int a, int b, uint32_t *n_trades);

/* out[t] = RV over (t, t + horizon] for t in [0, n_out).  O(n_bars + n_out) with a
 * prefix sum; scratch must hold n_bars + 1 doubles. */
void ti_rv_forward_targets(float *out, double *scratch, const ti_bar *bars, uint32_t n, int n_out, int horizon);

typedef enum ti_exclusion {
    TI_KEEP = 0,
    TI_EXCLUDE_FEW_TRADES = 1,   /* < TI_TARGET_MIN_TRADES prints in the horizon */
    TI_EXCLUDE_LOW_TARGET = 2,   /* target RV < TI_TARGET_MIN_RV */
} ti_exclusion;

/* What baselines and the dataset index need about one bucket. */
typedef struct ti_bucket_summary {
    float target_rv;        /* RV over (299, 599] */
    float rv_hist[3];       /* RV over the last 300, 120, 30 s of the history */
    float volume_hist;      /* shares traded in the history */
    float orders_hist;      /* orders in the history */
    uint32_t n_trades_hist, n_trades_horizon;
    uint32_t n_hist_bars;   /* bars with sec < TI_HISTORY_LEN */
    ti_exclusion exclusion;
} ti_bucket_summary;

void ti_bucket_summarize(ti_bucket_summary *out, const ti_bar *bars, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
