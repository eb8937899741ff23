/* Flat features: the default window terms and the export (include/tickinfer/flat.h). */
#include "tickinfer/flat.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tickinfer/batch.h"
#include "tickinfer/fileio.h"
#include "tickinfer/npy.h"
#include "tickinfer/progress.h"

static int add(ti_wterm *out, int n, int max, int feature, int agg, int window, int transform)
{
    if (n < max) out[n] = (ti_wterm){feature, window, agg, transform, 1e-5};
    return n + 1;
}

int ti_flat_default_terms(const ti_dataset_info *info, ti_wterm *out, int max)
{
    const int T = info->history_len, n_sym = info->n_features - (info->has_market ? TI_MKT_FEATURES : 0);
    const int t60 = T < 60 ? T : 60, t120 = T < 120 ? T : 120;
    int n = 0;
    /* realized volatility: current windows, and how it moved over the history */
    n = add(out, n, max, TI_FEAT_RV_30, TI_WAGG_LAST, 1, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_120, TI_WAGG_LAST, 1, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_300, TI_WAGG_LAST, 1, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_30, TI_WAGG_MEAN, T, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_30, TI_WAGG_MAX, T, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_30, TI_WAGG_MIN, T, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_RV_120, TI_WAGG_MEAN, T, TI_WTR_LOG);
    n = add(out, n, max, TI_FEAT_LOG_RETURN, TI_WAGG_STD, T, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_LOG_RETURN, TI_WAGG_STD, t60, TI_WTR_NONE);
    /* activity */
    n = add(out, n, max, TI_FEAT_N_TRADES, TI_WAGG_SUM, T, TI_WTR_LOG1P);
    n = add(out, n, max, TI_FEAT_N_TRADES, TI_WAGG_SUM, t60, TI_WTR_LOG1P);
    n = add(out, n, max, TI_FEAT_LOG_SIZE, TI_WAGG_SUM_EXPM1, T, TI_WTR_LOG1P);
    n = add(out, n, max, TI_FEAT_LOG_SIZE, TI_WAGG_SUM_EXPM1, t60, TI_WTR_LOG1P);
    n = add(out, n, max, TI_FEAT_LOG_ORDERS, TI_WAGG_SUM_EXPM1, T, TI_WTR_LOG1P);
    n = add(out, n, max, TI_FEAT_TRADES_60, TI_WAGG_LAST, 1, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_SECS_SINCE_TRADE, TI_WAGG_LAST, 1, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_SECS_SINCE_TRADE, TI_WAGG_MEAN, T, TI_WTR_NONE);
    /* price path */
    n = add(out, n, max, TI_FEAT_VWAP_DEV_120, TI_WAGG_LAST, 1, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_HL_RANGE_30, TI_WAGG_LAST, 1, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_HL_RANGE_30, TI_WAGG_MEAN, T, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_HL_RANGE_30, TI_WAGG_MAX, T, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_RET_60, TI_WAGG_LAST, 1, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_LOG_RETURN, TI_WAGG_SUM, T, TI_WTR_NONE);
    n = add(out, n, max, TI_FEAT_LOG_RETURN, TI_WAGG_SUM, t120, TI_WTR_NONE);
    if (info->has_book) {
        n = add(out, n, max, TI_FEAT_WAP_MID_DEV, TI_WAGG_MEAN, T, TI_WTR_NONE);
        n = add(out, n, max, TI_FEAT_REL_SPREAD, TI_WAGG_LAST, 1, TI_WTR_NONE);
        n = add(out, n, max, TI_FEAT_REL_SPREAD, TI_WAGG_MEAN, T, TI_WTR_NONE);
        n = add(out, n, max, TI_FEAT_IMBALANCE, TI_WAGG_MEAN, T, TI_WTR_NONE);
    }
    if (info->has_market) {
        n = add(out, n, max, n_sym + 0, TI_WAGG_LAST, 1, TI_WTR_NONE);
        n = add(out, n, max, n_sym + 1, TI_WAGG_LAST, 1, TI_WTR_NONE);
        n = add(out, n, max, n_sym + 2, TI_WAGG_LAST, 1, TI_WTR_NONE);
        n = add(out, n, max, n_sym + 0, TI_WAGG_MEAN, T, TI_WTR_NONE);
    }
    return n;
}

static ti_err write_npy(const char *dir, const char *name, const char *descr, int ndim, const int64_t *shape, const void *data,
                        size_t bytes)
{
    char path[1200], hdr[256];
    size_t hl;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ti_err e = ti_npy_header(hdr, sizeof hdr, &hl, descr, ndim, shape);
    ti_atomic_file *f = NULL;
    if (!e) e = ti_atomic_open(&f, path);
    if (!e) e = ti_atomic_write(f, hdr, hl);
    if (!e) e = ti_atomic_write(f, data, bytes);
    if (!e) e = ti_atomic_commit(f);
    else if (f) ti_atomic_abort(f);
    return e ? ti_error_wrap(e, "flat export %s", path) : TI_OK;
}

static ti_err write_features_json(const char *dir, const char *dataset_dir, const ti_dataset_info *in, const ti_wterm *terms,
                                  int n_terms, size_t rows)
{
    json_t *root = json_object(), *names = json_array(), *tj = json_array(), *fn = json_array();
    json_object_set_new(root, "format", json_string("tickinfer-flat"));
    json_object_set_new(root, "version", json_integer(1));
    for (int k = 0; k < n_terms; k++) {
        char label[128];
        ti_wterm_label(label, sizeof label, &terms[k], in->feature_names[terms[k].feature]);
        json_array_append_new(names, json_string(label));
        json_array_append_new(tj, ti_wterm_to_json(&terms[k]));
    }
    for (int f = 0; f < in->n_features; f++) json_array_append_new(fn, json_string(in->feature_names[f]));
    json_object_set_new(root, "names", names);
    json_object_set_new(root, "terms", tj);
    json_object_set_new(root, "n_features", json_integer(in->n_features));
    json_object_set_new(root, "context", json_integer(in->history_len));
    json_object_set_new(root, "feature_names", fn);
    json_object_set_new(root, "dataset", json_string(dataset_dir));
    json_object_set_new(root, "split_by", json_string(ti_split_by_name(in->split_by)));
    json_object_set_new(root, "rows", json_integer((json_int_t)rows));
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "flat export: out of memory");
    char path[1200];
    snprintf(path, sizeof path, "%s/features.json", dir);
    ti_err e = ti_write_file_atomic(path, s, strlen(s));
    free(s);
    return e;
}

ti_err ti_flat_export(const ti_dataset *ds, const char *dataset_dir, const ti_wterm *terms, int n_terms, unsigned split_mask,
                      const char *dir, int progress)
{
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    if (n_terms < 1 || n_terms > TI_FLAT_MAX_TERMS)
        return ti_errorf(TI_ERR_INVALID_ARG, "flat export: %d terms (1..%d)", n_terms, TI_FLAT_MAX_TERMS);
    for (int k = 0; k < n_terms; k++)
        if (terms[k].feature < 0 || terms[k].feature >= in->n_features || terms[k].window < 1 || terms[k].window > in->history_len)
            return ti_errorf(TI_ERR_INVALID_ARG, "flat export: term %d reads feature %d over %d s; the dataset has %d features "
                             "and %d s of history", k, terms[k].feature, terms[k].window, in->n_features, in->history_len);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return ti_errorf(TI_ERR_IO, "flat export: cannot create %s: %s", dir, strerror(errno));
    const size_t nb = ti_dataset_num_buckets(ds);
    size_t n = 0;
    for (size_t i = 0; i < nb; i++)
        if (split_mask & (1u << ti_dataset_record(ds, i)->split)) n++;
    if (n == 0) return ti_errorf(TI_ERR_RANGE, "flat export: no bucket of %s is in the chosen splits", dataset_dir);
    const int T = in->history_len, F = in->n_features;
    float *X = malloc(n * (size_t)n_terms * sizeof *X), *y = malloc(n * sizeof *y), *win = malloc((size_t)T * (size_t)F * sizeof *win);
    int8_t *sp = malloc(n);
    int32_t *sid = malloc(n * sizeof *sid), *tid = malloc(n * sizeof *tid);
    ti_feat_state *st = malloc(sizeof *st);
    ti_err e = TI_OK;
    if (!X || !y || !win || !sp || !sid || !tid || !st) e = ti_errorf(TI_ERR_NOMEM, "flat export: out of memory for %zu rows", n);
    ti_progress *pg = !e && progress ? ti_progress_start("flat export", "buckets", n) : NULL;
    size_t r = 0;
    for (size_t i = 0; !e && i < nb; i++) {
        const ti_shard_bucket *rec = ti_dataset_record(ds, i);
        if (!(split_mask & (1u << rec->split))) continue;
        ti_batch_bucket_features(win, st, ds, (uint32_t)i, 0);
        for (int k = 0; k < n_terms; k++) X[r * (size_t)n_terms + (size_t)k] = (float)ti_wterm_eval(&terms[k], win, T, F);
        y[r] = rec->target_rv;
        sp[r] = (int8_t)rec->split;
        sid[r] = rec->stock_id;
        tid[r] = rec->time_id;
        r++;
        if (pg && (r & 1023) == 0) ti_progress_add(pg, 1024);
    }
    if (pg) {
        ti_progress_add(pg, r & 1023);
        ti_progress_finish(pg);
    }
    const int64_t s2[2] = {(int64_t)n, n_terms}, s1[1] = {(int64_t)n};
    if (!e) e = write_npy(dir, "X.npy", "<f4", 2, s2, X, n * (size_t)n_terms * sizeof *X);
    if (!e) e = write_npy(dir, "y.npy", "<f4", 1, s1, y, n * sizeof *y);
    if (!e) e = write_npy(dir, "split.npy", "|i1", 1, s1, sp, n);
    if (!e) e = write_npy(dir, "stock_id.npy", "<i4", 1, s1, sid, n * sizeof *sid);
    if (!e) e = write_npy(dir, "time_id.npy", "<i4", 1, s1, tid, n * sizeof *tid);
    if (!e) e = write_features_json(dir, dataset_dir, in, terms, n_terms, n);
    free(X), free(y), free(win), free(sp), free(sid), free(tid), free(st);
    return e;
}
