/* Baselines for the RV task; definitions in include/tickinfer/baseline.h. */
#include "tickinfer/baseline.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/fileio.h"

#define LOG_FLOOR 1e-5

double ti_rmspe(const float *y, const float *yhat, size_t n)
{
    if (n == 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = ((double)y[i] - (double)yhat[i]) / (double)y[i];
        s += e * e;
    }
    return sqrt(s / (double)n);
}

/* k minimising sum((1 - k x/y)^2): k = sum(x/y) / sum((x/y)^2). */
static double rmspe_scale(const float *y, const float *x, const uint32_t *idx, size_t n)
{
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)x[idx[i]] / (double)y[idx[i]];
        a += r;
        b += r * r;
    }
    return b > 0 ? a / b : 1.0;
}

static double lg(double v) { return log(v > LOG_FLOOR ? v : LOG_FLOOR); }

/* Regressors of one bucket; with market context (mk = the time window's market rows)
 * two more: the market's mean log RV over the last 300 s and 30 s at second 299. */
static int har_row(double *x, const ti_shard_bucket *r, double stock_mean, const float *mk)
{
    x[0] = 1.0;
    x[1] = lg(r->rv_hist[0]);
    x[2] = lg(r->rv_hist[1]);
    x[3] = lg(r->rv_hist[2]);
    x[4] = log1p(r->n_trades_hist);
    x[5] = log1p(r->volume_hist);
    x[6] = lg(stock_mean);
    if (!mk) return TI_HAR_NCOEF;
    x[7] = mk[(TI_HISTORY_LEN - 1) * TI_MKT_FEATURES + 2];
    x[8] = mk[(TI_HISTORY_LEN - 1) * TI_MKT_FEATURES + 0];
    return TI_HAR_NCOEF + 2;
}

/* Fit log y = b . x on train, predict every bucket, apply the RMSPE-optimal scale. */
static ti_err har_fit(float *pred, double *coef, double *scale, const ti_dataset *ds, const float *y, const double *stock_mean,
                      const uint32_t *train, size_t n_train, double *X, double *ly, int market)
{
    const size_t n = ti_dataset_num_buckets(ds);
    int k = 0;
    for (size_t i = 0; i < n_train; i++) {
        const ti_shard_bucket *r = ti_dataset_record(ds, train[i]);
        k = har_row(X + i * (TI_HAR_NCOEF + 2), r, stock_mean[train[i]], market ? ti_dataset_market(ds, r->time_id) : NULL);
        ly[i] = log(r->target_rv);
    }
    /* Rows were written with stride NCOEF+2; compact to stride k for ti_ols. */
    for (size_t i = 0; i < n_train; i++) memmove(X + i * (size_t)k, X + i * (TI_HAR_NCOEF + 2), sizeof(double) * (size_t)k);
    ti_err e = ti_ols(coef, X, ly, n_train, k);
    if (e) return e;
    for (size_t i = 0; i < n; i++) {
        const ti_shard_bucket *r = ti_dataset_record(ds, i);
        double x[TI_HAR_NCOEF + 2], z = 0;
        har_row(x, r, stock_mean[i], market ? ti_dataset_market(ds, r->time_id) : NULL);
        for (int j = 0; j < k; j++) z += coef[j] * x[j];
        pred[i] = (float)exp(z);
    }
    *scale = rmspe_scale(y, pred, train, n_train);
    for (size_t i = 0; i < n; i++) pred[i] = (float)(*scale * pred[i]);
    return TI_OK;
}

/* RMSPE of pred against y on each split. */
static void score(ti_baseline_result *res, const float *y, const float *pred, const uint32_t *const *idx, const size_t *ns)
{
    for (int s = 0; s < TI_SPLIT__COUNT; s++) {
        double acc = 0;
        for (size_t i = 0; i < ns[s]; i++) {
            uint32_t j = idx[s][i];
            double err = ((double)y[j] - (double)pred[j]) / (double)y[j];
            acc += err * err;
        }
        res->rmspe[s] = ns[s] ? sqrt(acc / (double)ns[s]) : NAN;
    }
}

typedef struct stock_stat {
    double sum;
    uint64_t n;
} stock_stat;

ti_err ti_baselines_run(ti_baseline_report *out, const ti_dataset *ds)
{
    memset(out, 0, sizeof *out);
    const size_t n = ti_dataset_num_buckets(ds);
    const uint32_t *idx[TI_SPLIT__COUNT];
    size_t ns[TI_SPLIT__COUNT];
    for (int s = 0; s < TI_SPLIT__COUNT; s++) {
        ns[s] = ti_dataset_split(ds, (ti_split)s, &idx[s]);
        out->n_split[s] = ns[s];
    }
    if (ns[TI_SPLIT_TRAIN] < 2 * TI_HAR_NCOEF)
        return ti_errorf(TI_ERR_RANGE, "baseline: only %zu train buckets; need at least %d to fit", ns[TI_SPLIT_TRAIN], 2 * TI_HAR_NCOEF);

    /* Per-stock mean target on train (stocks are small non-negative ints or symbol ids;
     * map through a sorted table to stay general). */
    int32_t max_stock = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t s = ti_dataset_record(ds, i)->stock_id;
        if (s < 0 || s > 1000000) return ti_errorf(TI_ERR_RANGE, "baseline: stock_id %d outside [0, 1e6]", s);
        if (s > max_stock) max_stock = s;
    }
    stock_stat *st = calloc((size_t)max_stock + 1, sizeof *st);
    float *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    double *X = malloc(ns[TI_SPLIT_TRAIN] * (TI_HAR_NCOEF + 2) * sizeof *X), *ly = malloc(ns[TI_SPLIT_TRAIN] * sizeof *ly);
    double *smean = malloc((n + 1) * sizeof *smean);
    ti_err e = TI_OK;
    if (!st || !y || !pred || !X || !ly || !smean) {
        e = ti_errorf(TI_ERR_NOMEM, "baseline: out of memory");
        goto done;
    }
    double all_sum = 0;
    for (size_t i = 0; i < ns[TI_SPLIT_TRAIN]; i++) {
        const ti_shard_bucket *r = ti_dataset_record(ds, idx[TI_SPLIT_TRAIN][i]);
        st[r->stock_id].sum += r->target_rv;
        st[r->stock_id].n++;
        all_sum += r->target_rv;
    }
    const double global_mean = all_sum / (double)ns[TI_SPLIT_TRAIN];
    for (size_t i = 0; i < n; i++) y[i] = ti_dataset_record(ds, i)->target_rv;
#define STOCK_MEAN(r) (st[(r)->stock_id].n ? st[(r)->stock_id].sum / (double)st[(r)->stock_id].n : global_mean)
    for (size_t i = 0; i < n; i++) smean[i] = STOCK_MEAN(ti_dataset_record(ds, i));

    /* Each baseline fills pred[] for all buckets, then is scored per split. */
    const int n_models = ti_dataset_get_info(ds)->has_market ? 5 : 4;
    for (int b = 0; b < n_models; b++) {
        ti_baseline_result *res = &out->r[out->n++];
        switch (b) {
        case 0:
            snprintf(res->name, sizeof res->name, "naive");
            snprintf(res->desc, sizeof res->desc, "RV of the 300 s history");
            for (size_t i = 0; i < n; i++) pred[i] = ti_dataset_record(ds, i)->rv_hist[0];
            break;
        case 1: {
            for (size_t i = 0; i < n; i++) pred[i] = ti_dataset_record(ds, i)->rv_hist[0];
            double k = rmspe_scale(y, pred, idx[TI_SPLIT_TRAIN], ns[TI_SPLIT_TRAIN]);
            out->scaled_naive_k = k;
            for (size_t i = 0; i < n; i++) pred[i] = (float)(k * pred[i]);
            snprintf(res->name, sizeof res->name, "scaled_naive");
            snprintf(res->desc, sizeof res->desc, "%.4f x RV of the history (scale fitted on train RMSPE)", k);
            break;
        }
        case 2:
            snprintf(res->name, sizeof res->name, "stock_mean");
            snprintf(res->desc, sizeof res->desc, "mean train target of the stock");
            for (size_t i = 0; i < n; i++) pred[i] = (float)STOCK_MEAN(ti_dataset_record(ds, i));
            break;
        case 3:
        case 4: {
            const int market = b == 4;
            double coef[TI_HAR_NCOEF + 2], k = 1;
            e = har_fit(pred, coef, &k, ds, y, smean, idx[TI_SPLIT_TRAIN], ns[TI_SPLIT_TRAIN], X, ly, market);
            if (e) {
                ti_error_wrap(e, "baseline %s", market ? "har_rv_market" : "har_rv");
                goto done;
            }
            if (!market) {
                memcpy(out->har_coef, coef, sizeof out->har_coef);
                out->har_scale = k;
                snprintf(res->name, sizeof res->name, "har_rv");
                snprintf(res->desc, sizeof res->desc, "OLS on log RV 300/120/30 s, log1p trades/volume, log stock mean; scale %.4f", k);
            } else {
                snprintf(res->name, sizeof res->name, "har_rv_market");
                snprintf(res->desc, sizeof res->desc, "har_rv + the market's mean log RV over 300 s and 30 s at second 299; scale %.4f", k);
            }
            break;
        }
        }
        score(res, y, pred, idx, ns);
    }
#undef STOCK_MEAN
    /* Simulated data carries the true volatility of each horizon: scoring it shows the
     * noise floor of the target itself (it uses the future, so it is not a forecast). */
    int have_truth = n > 0;
    for (size_t i = 0; i < n && have_truth; i++) have_truth = isfinite(ti_dataset_record(ds, i)->true_rv);
    if (have_truth) {
        ti_baseline_result *res = &out->r[out->n++];
        snprintf(res->name, sizeof res->name, "oracle_true_vol");
        snprintf(res->desc, sizeof res->desc, "simulator's true horizon volatility (uses the future: the noise floor, not a forecast)");
        for (size_t i = 0; i < n; i++) pred[i] = ti_dataset_record(ds, i)->true_rv;
        score(res, y, pred, idx, ns);
    }
done:
    free(st);
    free(y);
    free(pred);
    free(X);
    free(ly);
    free(smean);
    return e;
}

void ti_baselines_format_table(char *buf, size_t cap, const ti_baseline_report *rep)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, cap - off, "| baseline | train RMSPE | val RMSPE | test RMSPE |\n|---|---:|---:|---:|\n");
    for (int i = 0; i < rep->n && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "| %s | %.4f | %.4f | %.4f |\n", rep->r[i].name, rep->r[i].rmspe[0],
                                rep->r[i].rmspe[1], rep->r[i].rmspe[2]);
}

ti_err ti_baselines_write_markdown(const char *path, const ti_baseline_report *rep, const ti_dataset_info *info)
{
    char table[4096], text[8192];
    ti_baselines_format_table(table, sizeof table, rep);
    int n = snprintf(text, sizeof text,
                     "# Baselines: realized volatility of the next 300 s\n\n"
                     "Dataset: `%s` (%s), %llu buckets kept of %llu (excluded: %llu with < %d horizon trades, %llu with target < "
                     "%g).\nSplit: train %llu, val %llu, test %llu. Fitted on train only.\n\n%s\n",
                     info->source, info->source_kind, (unsigned long long)info->n_kept, (unsigned long long)info->n_total,
                     (unsigned long long)info->n_excluded_few_trades, TI_TARGET_MIN_TRADES,
                     (unsigned long long)info->n_excluded_low_target, TI_TARGET_MIN_RV, (unsigned long long)rep->n_split[0],
                     (unsigned long long)rep->n_split[1], (unsigned long long)rep->n_split[2], table);
    for (int i = 0; i < rep->n && n < (int)sizeof text; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "- `%s`: %s\n", rep->r[i].name, rep->r[i].desc);
    if (n >= (int)sizeof text) n = (int)sizeof text - 1;
    return ti_write_file_atomic(path, text, (size_t)n);
}

ti_err ti_baselines_write_json(const char *path, const ti_baseline_report *rep, const ti_dataset_info *info)
{
    json_t *root = json_object();
    json_object_set_new(root, "dataset",
                        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "source", info->source, "kind", info->source_kind, "buckets_total",
                                  (json_int_t)info->n_total, "kept", (json_int_t)info->n_kept, "train", (json_int_t)rep->n_split[0],
                                  "val", (json_int_t)rep->n_split[1], "test", (json_int_t)rep->n_split[2]));
    json_object_set_new(root, "metric", json_string("rmspe"));
    json_t *arr = json_array();
    for (int i = 0; i < rep->n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:f,s:f,s:f}", "name", rep->r[i].name, "desc", rep->r[i].desc, "train",
                                             rep->r[i].rmspe[0], "val", rep->r[i].rmspe[1], "test", rep->r[i].rmspe[2]));
    json_object_set_new(root, "baselines", arr);
    json_object_set_new(root, "scaled_naive_k", json_real(rep->scaled_naive_k));
    json_object_set_new(root, "har_scale", json_real(rep->har_scale));
    json_t *coef = json_array();
    for (int j = 0; j < TI_HAR_NCOEF; j++) json_array_append_new(coef, json_real(rep->har_coef[j]));
    json_object_set_new(root, "har_coef", coef);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    json_decref(root);
    if (!text) return ti_errorf(TI_ERR_NOMEM, "baseline: cannot serialise JSON report");
    ti_err e = ti_write_file_atomic(path, text, strlen(text));
    free(text);
    return e;
}
