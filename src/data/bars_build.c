/* Time-stamped trades -> per-second bars in fixed buckets (LOBSTER, simulator). */
#include "bars_build.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ti_err ti_bars_from_trades(ti_symbol_data *out, const char *name, const double *time, const double *price, const double *size,
                           const int32_t *order_count, size_t n, double t0, int bucket_len, size_t n_buckets)
{
    out->n_buckets = n_buckets;
    out->time_ids = malloc((n_buckets ? n_buckets : 1) * sizeof *out->time_ids);
    out->bar_start = malloc((n_buckets + 1) * sizeof *out->bar_start);
    out->bars = malloc((n ? n : 1) * sizeof *out->bars);
    if (!out->time_ids || !out->bar_start || !out->bars) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory building bars", name);
    size_t nb = 0, k = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        out->time_ids[b] = (int32_t)b;
        out->bar_start[b] = nb;
        const double start = t0 + (double)b * bucket_len, end = start + bucket_len;
        while (k < n && time[k] < start) k++;
        double pv = 0, v = 0, psum = 0;
        int cur = -1;
        ti_bar *bar = NULL;
        for (; k < n && time[k] < end; k++) {
            if (!(price[k] > 0) || !isfinite(price[k]) || !(size[k] >= 0))
                return ti_errorf(TI_ERR_RANGE, "%s: trade %zu at t=%.6f has price %g size %g", name, k, time[k], price[k], size[k]);
            int sec = (int)floor(time[k] - start);
            if (sec >= bucket_len) sec = bucket_len - 1; /* rounding at the edge */
            if (sec != cur) {
                bar = &out->bars[nb++];
                memset(bar, 0, sizeof *bar);
                bar->sec = (uint16_t)sec;
                cur = sec;
                pv = v = psum = 0;
            }
            pv += price[k] * size[k];
            v += size[k];
            psum += price[k];
            bar->n_trades = (uint16_t)(bar->n_trades < UINT16_MAX ? bar->n_trades + 1 : UINT16_MAX);
            bar->order_count += order_count ? (uint32_t)order_count[k] : 1u;
            bar->size = (float)v;
            bar->price = (float)(v > 0 ? pv / v : psum / bar->n_trades);
        }
    }
    out->bar_start[n_buckets] = nb;
    return TI_OK;
}
