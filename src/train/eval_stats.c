/* Statistics of an evaluation: bootstrap interval of RMSPE, RMSPE per stock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/split.h"
#include "tickinfer/train.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

ti_err ti_rmspe_bootstrap(double *lo, double *hi, const float *y, const float *pred, size_t n, int n_boot, uint64_t seed)
{
    *lo = *hi = NAN;
    if (n == 0) return ti_errorf(TI_ERR_INVALID_ARG, "bootstrap: no buckets");
    if (n_boot < 100 || n_boot > 100000) return ti_errorf(TI_ERR_INVALID_ARG, "bootstrap: %d resamples, use 100..100000", n_boot);
    double *sq = malloc(n * sizeof *sq), *stat = malloc((size_t)n_boot * sizeof *stat);
    if (!sq || !stat) {
        free(sq);
        free(stat);
        return ti_errorf(TI_ERR_NOMEM, "bootstrap: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const double e = ((double)y[i] - (double)pred[i]) / (double)y[i];
        sq[i] = e * e;
    }
    uint64_t state = seed;
    for (int b = 0; b < n_boot; b++) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) {
            state += 1;
            /* unbiased enough for n << 2^64: the modulo bias is below n / 2^64 */
            acc += sq[ti_splitmix64(state) % n];
        }
        stat[b] = sqrt(acc / (double)n);
    }
    qsort(stat, (size_t)n_boot, sizeof *stat, cmp_double);
    /* nearest-rank percentiles */
    size_t ilo = (size_t)floor(0.025 * (double)(n_boot - 1) + 0.5), ihi = (size_t)floor(0.975 * (double)(n_boot - 1) + 0.5);
    *lo = stat[ilo];
    *hi = stat[ihi];
    free(sq);
    free(stat);
    return TI_OK;
}

static int cmp_stock_id(const void *a, const void *b)
{
    const ti_stock_rmspe *x = a, *y = b;
    return x->stock_id < y->stock_id ? -1 : x->stock_id > y->stock_id;
}

static int cmp_stock_rmspe(const void *a, const void *b)
{
    const ti_stock_rmspe *x = a, *y = b;
    if (x->rmspe != y->rmspe) return x->rmspe < y->rmspe ? -1 : 1;
    return cmp_stock_id(a, b);
}

ti_err ti_rmspe_per_stock(ti_stock_rmspe *out, size_t cap, size_t *n_out, const float *y, const float *pred, const int32_t *stock,
                          size_t n)
{
    *n_out = 0;
    size_t k = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        /* datasets keep a stock's buckets together: try the previous row first, then a
         * linear probe of the (few) rows so far */
        size_t j = k && out[last].stock_id == stock[i] ? last : 0;
        while (j < k && out[j].stock_id != stock[i]) j++;
        last = j;
        if (j == k) {
            if (k == cap) return ti_errorf(TI_ERR_LIMIT, "per-stock RMSPE: more than %zu stocks", cap);
            out[k++] = (ti_stock_rmspe){stock[i], 0, 0.0};
        }
        const double e = ((double)y[i] - (double)pred[i]) / (double)y[i];
        out[j].rmspe += e * e;
        out[j].n++;
    }
    for (size_t j = 0; j < k; j++) out[j].rmspe = sqrt(out[j].rmspe / (double)out[j].n);
    qsort(out, k, sizeof *out, cmp_stock_rmspe);
    *n_out = k;
    return TI_OK;
}
