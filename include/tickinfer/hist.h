/* tickinfer: log-linear latency histogram (HDR-style).
 *
 * Values (e.g. nanoseconds) from 1 to `max_value` are recorded with a relative error
 * below 2^-sub_bucket_bits (e.g. 7 bits -> < 0.8%); values below 2^sub_bucket_bits
 * (and 0) are exact.  Recording is O(1) and never
 * allocates; histograms with equal parameters can be merged (per-thread histograms,
 * summed at the end).  Values above max_value are clamped and counted in `overflow`. */
#ifndef TICKINFER_HIST_H
#define TICKINFER_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_hist {
    uint64_t max_value;
    int sub_bucket_bits;      /* linear sub-buckets per power of two = 2^bits */
    size_t n_buckets;
    uint64_t *counts;         /* [n_buckets] */
    uint64_t total, overflow;
    uint64_t min, max;        /* exact min/max recorded (max clamped to max_value); 0 if empty */
    long double sum;          /* of the (clamped) values, for the mean */
} ti_hist;

/* sub_bucket_bits in [1, 16]; max_value >= 2. */
ti_err ti_hist_init(ti_hist *h, uint64_t max_value, int sub_bucket_bits);
void ti_hist_free(ti_hist *h);
void ti_hist_reset(ti_hist *h);

void ti_hist_record(ti_hist *h, uint64_t value);
void ti_hist_record_n(ti_hist *h, uint64_t value, uint64_t count);

/* q in [0, 1] (0.5 = p50, 0.999 = p99.9): the smallest recorded-bucket value v such
 * that at least q of the samples are <= v (reported as the bucket's upper edge,
 * clamped to the exact max), i.e. the bucket of the sample of rank ceil(q * total).
 * q <= 0 gives the exact min, q >= 1 the exact max, 0 if empty. */
uint64_t ti_hist_quantile(const ti_hist *h, double q);
double ti_hist_mean(const ti_hist *h);

/* dst += src; both must have equal parameters (TI_ERR_INVALID_ARG otherwise). */
ti_err ti_hist_merge(ti_hist *dst, const ti_hist *src);

#ifdef __cplusplus
}
#endif
#endif
