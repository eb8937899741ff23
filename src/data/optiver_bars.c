/* Optiver trade rows -> per-second bars per time_id, with validation and repairs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/ingest.h"

typedef struct row_key {
    int64_t key;   /* time_id * 65536 + second */
    uint32_t row;
} row_key;

static int cmp_key(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row; /* stable */
}

ti_err ti_optiver_bars_from_columns(ti_symbol_data *out, const char *name, int32_t stock_id, size_t n, const int32_t *time_id,
                                    const int32_t *sec, const float *price, const int32_t *size, const int32_t *order_count)
{
    memset(out, 0, sizeof *out);
    out->symbol_id = stock_id;
    snprintf(out->symbol, sizeof out->symbol, "stock_%d", stock_id);
    out->n_rows_read = n;
    if (n > UINT32_MAX) return ti_errorf(TI_ERR_LIMIT, "optiver: %s: %zu rows, at most %u per file", name, n, UINT32_MAX);
    uint64_t unsorted = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(price[i] > 0) || !isfinite(price[i]))
            return ti_errorf(TI_ERR_RANGE, "optiver: %s: row %zu (time_id %d, second %d): price %g is not a positive finite number",
                             name, i, time_id[i], sec[i], (double)price[i]);
        if (sec[i] < 0 || sec[i] >= TI_BUCKET_LEN)
            return ti_errorf(TI_ERR_RANGE, "optiver: %s: row %zu (time_id %d): seconds_in_bucket %d outside [0, %d)", name, i,
                             time_id[i], sec[i], TI_BUCKET_LEN);
        if (size[i] < 0) return ti_errorf(TI_ERR_RANGE, "optiver: %s: row %zu (time_id %d): negative size %d", name, i, time_id[i], size[i]);
        if (order_count[i] < 0)
            return ti_errorf(TI_ERR_RANGE, "optiver: %s: row %zu (time_id %d): negative order_count %d", name, i, time_id[i], order_count[i]);
        if (time_id[i] < 0) return ti_errorf(TI_ERR_RANGE, "optiver: %s: row %zu: negative time_id %d", name, i, time_id[i]);
        if (i > 0 && ((int64_t)time_id[i] * 65536 + sec[i]) < ((int64_t)time_id[i - 1] * 65536 + sec[i - 1])) unsorted++;
    }
    /* Row order: identity, or a stable sort by (time_id, second) when the file is not
     * sorted (documented repair, counted in n_unsorted_fixed). */
    row_key *order = NULL;
    if (unsorted) {
        order = malloc((n ? n : 1) * sizeof *order);
        if (!order) return ti_errorf(TI_ERR_NOMEM, "optiver: %s: out of memory sorting %zu rows", name, n);
        for (size_t i = 0; i < n; i++) order[i] = (row_key){(int64_t)time_id[i] * 65536 + sec[i], (uint32_t)i};
        qsort(order, n, sizeof *order, cmp_key);
    }
    out->n_unsorted_fixed = unsorted;
    size_t n_buckets = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k].row : k, ip = k ? (order ? order[k - 1].row : k - 1) : 0;
        if (k == 0 || time_id[i] != time_id[ip]) n_buckets++;
    }
    out->time_ids = malloc((n_buckets ? n_buckets : 1) * sizeof *out->time_ids);
    out->bar_start = malloc((n_buckets + 1) * sizeof *out->bar_start);
    out->bars = malloc((n ? n : 1) * sizeof *out->bars);
    if (!out->time_ids || !out->bar_start || !out->bars) {
        free(order);
        ti_symbol_data_free(out);
        return ti_errorf(TI_ERR_NOMEM, "optiver: %s: out of memory", name);
    }
    size_t nb = 0, bi = 0;
    double pv = 0; /* price * size of the current (possibly merged) bar */
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k].row : k;
        int new_bucket = (bi == 0 && nb == 0) || time_id[i] != out->time_ids[bi - 1];
        if (new_bucket) {
            out->time_ids[bi] = time_id[i];
            out->bar_start[bi] = nb;
            bi++;
        }
        ti_bar *last = nb ? &out->bars[nb - 1] : NULL;
        if (!new_bucket && last && last->sec == sec[i]) {
            /* Duplicate (time_id, second): merge into one bar (VWAP, sums). */
            double s_old = last->size, s_new = size[i];
            pv += (double)price[i] * s_new;
            double tot = s_old + s_new;
            last->price = tot > 0 ? (float)(pv / tot) : (float)(0.5 * ((double)last->price + price[i]));
            last->size = (float)tot;
            last->order_count += (uint32_t)order_count[i];
            last->n_trades = (uint16_t)(last->n_trades < UINT16_MAX ? last->n_trades + 1 : UINT16_MAX);
            out->n_duplicates_merged++;
            continue;
        }
        ti_bar *b = &out->bars[nb++];
        b->sec = (uint16_t)sec[i];
        b->n_trades = 1;
        b->order_count = (uint32_t)order_count[i];
        b->price = price[i];
        b->size = (float)size[i];
        pv = (double)price[i] * size[i];
    }
    out->bar_start[bi] = nb;
    out->n_buckets = bi;
    free(order);
    return TI_OK;
}
