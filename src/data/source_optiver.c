/* Optiver source: hive-partitioned Parquet trade files (stock_id=N/ *.parquet). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/ingest.h"
#include "tickinfer/parquet.h"

typedef struct opt_file {
    char path[1024];
    int32_t stock_id;
} opt_file;

typedef struct opt_impl {
    opt_file *files;
    size_t n;
} opt_impl;

static int cmp_file(const void *a, const void *b)
{
    const opt_file *x = a, *y = b;
    if (x->stock_id != y->stock_id) return x->stock_id < y->stock_id ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void opt_destroy(ti_source *src)
{
    opt_impl *im = src->impl;
    if (im) free(im->files);
    free(im);
    free(src);
}

/* Read the five trade columns of one file; names checked, types converted. */
static ti_err read_columns(ti_parquet_file *f, const char *path, size_t n, int32_t *tid, int32_t *sec, float *price, int32_t *size,
                           int32_t *oc)
{
    static const char *const names[5] = {"time_id", "seconds_in_bucket", "price", "size", "order_count"};
    int col[5];
    for (int c = 0; c < 5; c++) {
        col[c] = ti_parquet_find_column(f, names[c]);
        if (col[c] < 0) return ti_errorf(TI_ERR_FORMAT, "optiver: column '%s' missing in %s (want time_id, seconds_in_bucket, price, size, order_count)", names[c], path);
    }
    (void)n;
    ti_err e = ti_parquet_read_i32(f, col[0], tid, NULL);
    if (!e) e = ti_parquet_read_i32(f, col[1], sec, NULL);
    if (!e) e = ti_parquet_read_f32(f, col[2], price, NULL);
    if (!e) e = ti_parquet_read_i32(f, col[3], size, NULL);
    if (!e) e = ti_parquet_read_i32(f, col[4], oc, NULL);
    return e;
}

ti_err ti_optiver_load_file(ti_symbol_data *out, const char *path, int32_t stock_id)
{
    memset(out, 0, sizeof *out);
    ti_parquet_file *f = NULL;
    ti_err e = ti_parquet_open(&f, path);
    if (e) return e;
    uint64_t n64 = ti_parquet_num_rows(f);
    if (n64 > 100000000ull) {
        ti_parquet_close(f);
        return ti_errorf(TI_ERR_LIMIT, "optiver: %s has %llu rows; at most 1e8 per file", path, (unsigned long long)n64);
    }
    size_t n = (size_t)n64, m = n ? n : 1;
    int32_t *tid = malloc(m * 4), *sec = malloc(m * 4), *size = malloc(m * 4), *oc = malloc(m * 4);
    float *price = malloc(m * 4);
    if (!tid || !sec || !size || !oc || !price) e = ti_errorf(TI_ERR_NOMEM, "optiver: out of memory reading %s", path);
    if (!e) e = read_columns(f, path, n, tid, sec, price, size, oc);
    ti_parquet_close(f);
    if (!e) e = ti_optiver_bars_from_columns(out, path, stock_id, n, tid, sec, price, size, oc);
    free(tid);
    free(sec);
    free(size);
    free(oc);
    free(price);
    return e;
}

static ti_err opt_load(ti_source *src, size_t i, ti_symbol_data *out)
{
    opt_impl *im = src->impl;
    return ti_optiver_load_file(out, im->files[i].path, im->files[i].stock_id);
}

static int32_t opt_symbol_id(const ti_source *src, size_t i)
{
    const opt_impl *im = src->impl;
    return im->files[i].stock_id;
}

ti_err ti_source_open_optiver(ti_source **out, const char *dir)
{
    *out = NULL;
    ti_parquet_part *parts = NULL;
    size_t n_parts = 0;
    ti_err e = ti_parquet_list_dataset(dir, &parts, &n_parts);
    if (e) return e;
    opt_impl *im = calloc(1, sizeof *im);
    ti_source *src = calloc(1, sizeof *src);
    if (im) im->files = calloc(n_parts ? n_parts : 1, sizeof *im->files);
    if (!im || !src || !im->files) {
        ti_parquet_free_parts(parts, n_parts);
        free(im ? im->files : NULL);
        free(im);
        free(src);
        return ti_errorf(TI_ERR_NOMEM, "optiver: out of memory");
    }
    src->impl = im;
    src->destroy = opt_destroy;
    src->load = opt_load;
    src->symbol_id = opt_symbol_id;
    src->bucket_len = TI_BUCKET_LEN;
    snprintf(src->kind, sizeof src->kind, "optiver");
    snprintf(src->desc, sizeof src->desc, "%s", dir);
    for (size_t p = 0; p < n_parts && !e; p++) {
        const ti_parquet_part *pt = &parts[p];
        int found = 0;
        for (int k = 0; k < pt->n_keys; k++)
            if (strcmp(pt->keys[k], "stock_id") == 0) {
                char *end = NULL;
                long v = strtol(pt->values[k], &end, 10);
                if (!end || *end || v < 0 || v > 1000000) {
                    e = ti_errorf(TI_ERR_FORMAT, "optiver: %s: partition stock_id=%s is not an integer in [0, 1e6]", pt->path, pt->values[k]);
                    break;
                }
                im->files[im->n].stock_id = (int32_t)v;
                found = 1;
            }
        if (e || !found) continue; /* files outside stock_id=N/ folders are not trade files */
        snprintf(im->files[im->n].path, sizeof im->files[im->n].path, "%s", pt->path);
        im->n++;
    }
    ti_parquet_free_parts(parts, n_parts);
    if (!e && im->n == 0) e = ti_errorf(TI_ERR_NOT_FOUND, "optiver: no stock_id=N/*.parquet files under %s", dir);
    if (!e) {
        qsort(im->files, im->n, sizeof *im->files, cmp_file);
        for (size_t i = 1; i < im->n; i++)
            if (im->files[i].stock_id == im->files[i - 1].stock_id) {
                e = ti_errorf(TI_ERR_UNSUPPORTED, "optiver: stock_id=%d has several files (%s, %s); one file per stock is supported",
                              im->files[i].stock_id, im->files[i - 1].path, im->files[i].path);
                break;
            }
    }
    if (e) {
        opt_destroy(src);
        return e;
    }
    src->n_symbols = im->n;
    *out = src;
    return TI_OK;
}
