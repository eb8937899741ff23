/* Realized-volatility targets; definitions in include/tickinfer/targets.h. */
#include "tickinfer/targets.h"

#include <math.h>
#include <stddef.h>

double ti_rv_window(const ti_bar *bars, uint32_t n, int a, int b, uint32_t *n_trades)
{
    double sum = 0, prev = 0;
    uint32_t trades = 0;
    for (uint32_t i = 0; i < n; i++) {
        int sec = bars[i].sec;
        if (sec > b) break;
        double lp = log((double)bars[i].price);
        if (sec > a) {
            if (i > 0) {
                double r = lp - prev;
                sum += r * r;
            }
            trades += bars[i].n_trades;
        }
        prev = lp;
    }
    if (n_trades) *n_trades = trades;
    return sqrt(sum);
}

void ti_rv_forward_targets(float *out, double *scratch, const ti_bar *bars, uint32_t n, int n_out, int horizon)
{
    /* scratch[i] = sum of r_j^2 for j < i, r_0 = 0 (no earlier price). */
    double *pre = scratch;
    pre[0] = 0;
    double prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        double lp = log((double)bars[i].price);
        double r = i > 0 ? lp - prev : 0.0;
        pre[i + 1] = pre[i] + r * r;
        prev = lp;
    }
    /* Two pointers: lo = first bar with sec > t, hi = first bar with sec > t + horizon. */
    uint32_t lo = 0, hi = 0;
    for (int t = 0; t < n_out; t++) {
        while (lo < n && bars[lo].sec <= t) lo++;
        while (hi < n && bars[hi].sec <= t + horizon) hi++;
        double s = hi > lo ? pre[hi] - pre[lo] : 0.0;
        out[t] = (float)(s > 0 ? sqrt(s) : 0.0);
    }
}

void ti_bucket_summarize(ti_bucket_summary *out, const ti_bar *bars, uint32_t n)
{
    const int h = TI_HISTORY_LEN - 1; /* last history second */
    uint32_t tr_h = 0, tr_f = 0;
    out->target_rv = (float)ti_rv_window(bars, n, h, h + TI_HORIZON_LEN, &tr_f);
    out->rv_hist[0] = (float)ti_rv_window(bars, n, h - 300, h, &tr_h);
    out->rv_hist[1] = (float)ti_rv_window(bars, n, h - 120, h, NULL);
    out->rv_hist[2] = (float)ti_rv_window(bars, n, h - 30, h, NULL);
    double vol = 0, orders = 0;
    uint32_t nb = 0;
    for (uint32_t i = 0; i < n && bars[i].sec <= h; i++) {
        vol += bars[i].size;
        orders += bars[i].order_count;
        nb++;
    }
    out->volume_hist = (float)vol;
    out->orders_hist = (float)orders;
    out->n_trades_hist = tr_h;
    out->n_trades_horizon = tr_f;
    out->n_hist_bars = nb;
    if (tr_f < TI_TARGET_MIN_TRADES) out->exclusion = TI_EXCLUDE_FEW_TRADES;
    else if (!(out->target_rv >= TI_TARGET_MIN_RV)) out->exclusion = TI_EXCLUDE_LOW_TARGET;
    else out->exclusion = TI_KEEP;
}
