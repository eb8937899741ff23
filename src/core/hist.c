/* Log-linear histogram; see include/tickinfer/hist.h.
 *
 * With S = 2^sub_bucket_bits: values below S get one bucket each (exact).  A value v
 * >= S with top bit e (2^e <= v < 2^(e+1)) is in group g = e - bits, whose S buckets are
 * 2^g wide; its sub-bucket is (v >> g) - S.  The lowest value of a bucket in group g is
 * at least S * 2^g, so the width 2^g is at most 2^-bits of any value in the bucket:
 * that bounds the error of reporting the bucket's upper edge. */
#include "tickinfer/hist.h"

#include <stdlib.h>
#include <string.h>

static size_t bucket_of(int bits, uint64_t v)
{
    uint64_t s = (uint64_t)1 << bits;
    if (v < s) return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    int g = e - bits;
    return (size_t)(s + (uint64_t)g * s + ((v >> g) - s));
}

/* Highest value that falls in bucket i. */
static uint64_t bucket_upper(int bits, size_t i)
{
    uint64_t s = (uint64_t)1 << bits;
    if (i < s) return i;
    uint64_t k = i - s, g = k / s, sub = k % s;
    uint64_t lower = (s + sub) << g;
    return lower + (((uint64_t)1 << g) - 1);
}

ti_err ti_hist_init(ti_hist *h, uint64_t max_value, int sub_bucket_bits)
{
    if (!h) return ti_errorf(TI_ERR_INVALID_ARG, "hist: NULL histogram");
    memset(h, 0, sizeof *h);
    if (sub_bucket_bits < 1 || sub_bucket_bits > 16)
        return ti_errorf(TI_ERR_INVALID_ARG, "hist: sub_bucket_bits %d outside [1, 16]", sub_bucket_bits);
    if (max_value < 2) return ti_errorf(TI_ERR_INVALID_ARG, "hist: max_value %llu < 2", (unsigned long long)max_value);
    size_t n = bucket_of(sub_bucket_bits, max_value) + 1;
    uint64_t *counts = calloc(n, sizeof *counts);
    if (!counts) return ti_errorf(TI_ERR_NOMEM, "hist: out of memory for %zu buckets", n);
    h->max_value = max_value;
    h->sub_bucket_bits = sub_bucket_bits;
    h->n_buckets = n;
    h->counts = counts;
    return TI_OK;
}

void ti_hist_free(ti_hist *h)
{
    if (!h) return;
    free(h->counts);
    memset(h, 0, sizeof *h);
}

void ti_hist_reset(ti_hist *h)
{
    if (!h || !h->counts) return;
    memset(h->counts, 0, h->n_buckets * sizeof *h->counts);
    h->total = h->overflow = 0;
    h->min = h->max = 0;
    h->sum = 0;
}

void ti_hist_record_n(ti_hist *h, uint64_t value, uint64_t count)
{
    if (!h || !h->counts || count == 0) return;
    if (value > h->max_value) {
        value = h->max_value;
        h->overflow += count;
    }
    h->counts[bucket_of(h->sub_bucket_bits, value)] += count;
    if (h->total == 0 || value < h->min) h->min = value;
    if (h->total == 0 || value > h->max) h->max = value;
    h->total += count;
    h->sum += (long double)value * (long double)count;
}

void ti_hist_record(ti_hist *h, uint64_t value) { ti_hist_record_n(h, value, 1); }

uint64_t ti_hist_quantile(const ti_hist *h, double q)
{
    if (!h || !h->counts || h->total == 0) return 0;
    if (!(q > 0)) return h->min; /* also NaN */
    if (q >= 1) return h->max;
    /* Rank of the sample we want, 1-based: the smallest r with r >= q * total.  The
     * product is rounded to double on purpose: it absorbs q's representation error, so
     * p1 of 100 samples is the 1st, not the 2nd (0.01 is slightly above 1/100). */
    double want = q * (double)h->total;
    uint64_t rank = want >= (double)h->total ? h->total : (uint64_t)want;
    if ((double)rank < want) rank++;
    if (rank < 1) rank = 1;
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n_buckets; i++) {
        cum += h->counts[i];
        if (cum >= rank) {
            uint64_t v = bucket_upper(h->sub_bucket_bits, i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double ti_hist_mean(const ti_hist *h)
{
    if (!h || h->total == 0) return 0.0;
    return (double)(h->sum / (long double)h->total);
}

ti_err ti_hist_merge(ti_hist *dst, const ti_hist *src)
{
    if (!dst || !src || !dst->counts || !src->counts) return ti_errorf(TI_ERR_INVALID_ARG, "hist: merge of an uninitialised histogram");
    if (dst->max_value != src->max_value || dst->sub_bucket_bits != src->sub_bucket_bits)
        return ti_errorf(TI_ERR_INVALID_ARG, "hist: merge needs equal parameters (max %llu/%llu, bits %d/%d)",
                         (unsigned long long)dst->max_value, (unsigned long long)src->max_value, dst->sub_bucket_bits,
                         src->sub_bucket_bits);
    if (src->total == 0) return TI_OK;
    for (size_t i = 0; i < dst->n_buckets; i++) dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min) dst->min = src->min;
    if (dst->total == 0 || src->max > dst->max) dst->max = src->max;
    dst->total += src->total;
    dst->overflow += src->overflow;
    dst->sum += src->sum;
    return TI_OK;
}
