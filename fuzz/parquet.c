/* Fuzz driver for the Parquet reader: open from memory, then read every column of a
 * readable type in its own type and as double, whole and one row group at a time.
 * Invariants (a violation aborts, which the fuzzer reports): a failed open leaves NULL;
 * the two reads agree value for value and null for null; null slots hold 0; the
 * row-group reads concatenate to the whole read; unreadable columns are refused with
 * TI_ERR_UNSUPPORTED. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS (1u << 20) /* bigger claims are legal but would only test malloc */

static double as_double(const void *p, ti_pq_type t, size_t i)
{
    switch (t) {
    case TI_PQ_INT32: return ((const int32_t *)p)[i];
    case TI_PQ_INT64: return (double)((const int64_t *)p)[i];
    case TI_PQ_FLOAT: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
    }
}

static void check_column(const ti_parquet_file *f, int c, size_t rows)
{
    const ti_pq_column_info *ci = ti_parquet_column(f, c);
    size_t es = ci->type == TI_PQ_INT64 || ci->type == TI_PQ_DOUBLE ? 8 : 4;
    void *nat = malloc(rows * es + 8), *part = malloc(rows * es + 8);
    double *dbl = malloc(rows * 8 + 8);
    uint8_t *v1 = malloc(rows + 1), *v2 = malloc(rows + 1), *vp = malloc(rows + 1);
    if (!nat || !part || !dbl || !v1 || !v2 || !vp) abort();
    ti_err e1 = ti_parquet_read_column(f, c, -1, ci->type, nat, v1);
    ti_err e2 = ti_parquet_read_f64(f, c, dbl, v2);
    if ((e1 == TI_OK) != (e2 == TI_OK)) abort();
    if (e1 == TI_OK) {
        for (size_t i = 0; i < rows; i++) {
            if (v1[i] != v2[i] || v1[i] > 1) abort();
            double a = as_double(nat, ci->type, i), b = dbl[i];
            if (a != b && !(a != a && b != b)) abort(); /* NaN == NaN here */
            if (!v1[i] && b != 0.0) abort();
        }
        size_t off = 0;
        for (int g = 0; g < ti_parquet_num_row_groups(f); g++) {
            size_t n = (size_t)ti_parquet_row_group_num_rows(f, g);
            if (ti_parquet_read_column(f, c, g, ci->type, (char *)part + off * es, vp + off) != TI_OK) abort();
            off += n;
        }
        if (off != rows || (rows && (memcmp(part, nat, rows * es) != 0 || memcmp(vp, v1, rows) != 0))) abort();
    }
    free(nat);
    free(part);
    free(dbl);
    free(v1);
    free(v2);
    free(vp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ti_parquet_file *f = NULL;
    if (ti_parquet_open_memory(&f, data, size, "fuzz.parquet") != TI_OK) {
        if (f) abort();
        return 0;
    }
    size_t rows = (size_t)ti_parquet_num_rows(f);
    for (int c = 0; c < ti_parquet_num_columns(f); c++) {
        const ti_pq_column_info *ci = ti_parquet_column(f, c);
        if (!ci || !ci->name || ti_parquet_find_column(f, ci->name) < 0) abort();
        int readable = !ci->nested && (ci->type == TI_PQ_INT32 || ci->type == TI_PQ_INT64 || ci->type == TI_PQ_FLOAT || ci->type == TI_PQ_DOUBLE);
        if (!readable) {
            double x;
            if (ti_parquet_read_f64(f, c, rows ? &x : NULL, NULL) != TI_ERR_UNSUPPORTED) abort();
        } else if (rows <= MAX_ROWS) {
            check_column(f, c, rows);
        }
    }
    ti_parquet_close(f);
    return 0;
}
