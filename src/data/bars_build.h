/* Internal to src/data: aggregate time-stamped trades into per-second bars. */
#ifndef TICKINFER_DATA_BARS_BUILD_H
#define TICKINFER_DATA_BARS_BUILD_H

#include <stddef.h>

#include "tickinfer/dataset.h"

/* Trades (time in seconds on the source's clock, ascending) -> buckets of bucket_len
 * seconds starting at t0: bucket b covers [t0 + b*L, t0 + (b+1)*L), time_id = b.
 * Only buckets [0, n_buckets) are built; trades outside are ignored.  Trades in one
 * second become one bar (VWAP price, summed size and orders, print count).
 * order_count may be NULL (one order per print).  Fills time_ids, bar_start, bars. */
ti_err ti_bars_from_trades(ti_symbol_data *out, const char *name, const double *time, const double *price, const double *size,
                           const int32_t *order_count, size_t n, double t0, int bucket_len, size_t n_buckets);

#endif
