/* Fitting the composable kinds on a dataset: a HAR-style linear model on train (OLS of
 * log RV on the terms, then the RMSPE-optimal scale), and an ensemble's stacking weights
 * on a held-out split (OLS of log RV on the members' log forecasts).  Both read raw
 * feature windows, as the models themselves do. */
#include "tickinfer/model_fit.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ensemble/ensemble.h"
#include "model/linear/linear.h"
#include "tickinfer/baseline.h"
#include "tickinfer/batch.h"
#include "tickinfer/features.h"
#include "tickinfer/fileio.h"
#include "tickinfer/train.h"

#define FIT_BATCH 256

/* The HAR terms over per-second windows (without the per-stock mean, which is not a
 * function of the window): log rv_300, rv_120, rv_30 at the last second, log1p of the
 * trades and of the volume over the window, and with market context the market's mean
 * log RV over 300 s and 30 s at the last second. */
static void har_terms(ti_linear *lm, const ti_dataset_info *in)
{
    memset(lm, 0, sizeof *lm);
    lm->n_features = in->n_features, lm->context = in->history_len;
    const int T = in->history_len;
    const ti_wterm t[5] = {
        {TI_FEAT_RV_300, 1, TI_WAGG_LAST, TI_WTR_LOG, 1e-5},  {TI_FEAT_RV_120, 1, TI_WAGG_LAST, TI_WTR_LOG, 1e-5},
        {TI_FEAT_RV_30, 1, TI_WAGG_LAST, TI_WTR_LOG, 1e-5},   {TI_FEAT_N_TRADES, T, TI_WAGG_SUM, TI_WTR_LOG1P, 1e-5},
        {TI_FEAT_LOG_SIZE, T, TI_WAGG_SUM_EXPM1, TI_WTR_LOG1P, 1e-5}};
    memcpy(lm->terms, t, sizeof t);
    lm->n_terms = 5;
    if (in->has_market) { /* mkt_logrv_300, mkt_logrv_30: already logs */
        const int m0 = in->n_features - TI_MKT_FEATURES;
        lm->terms[lm->n_terms++] = (ti_wterm){m0 + 2, 1, TI_WAGG_LAST, TI_WTR_NONE, 1e-5};
        lm->terms[lm->n_terms++] = (ti_wterm){m0 + 0, 1, TI_WAGG_LAST, TI_WTR_NONE, 1e-5};
    }
}

/* k minimising sum((1 - k p / y)^2): sum(p/y) / sum((p/y)^2). */
static double rmspe_scale(const double *lp, const float *y, size_t n)
{
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        const double r = exp(lp[i]) / y[i];
        a += r, b += r * r;
    }
    return b > 0 ? a / b : 1.0;
}

/* sum((1 - exp(X c) / y)^2), the RMSPE objective of log-linear forecasts. */
static double rmspe_obj(const double *c, const double *X, const float *y, size_t n, int k)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double z = 0;
        for (int t = 0; t < k; t++) z += c[t] * X[i * (size_t)k + (size_t)t];
        const double r = 1 - exp(z) / y[i];
        s += r * r;
    }
    return s;
}

/* Gauss-Newton on the RMSPE objective from the log-OLS start (the log model predicts a
 * median; RMSPE wants a smaller, differently weighted forecast), halving steps that do
 * not improve it. */
static ti_err rmspe_refine(double *c, const double *X, const float *y, size_t n, int k)
{
    double *J = malloc(sizeof(double) * n * (size_t)k), *r = malloc(sizeof(double) * n);
    if (!J || !r) {
        free(J), free(r);
        return ti_errorf(TI_ERR_NOMEM, "fit: out of memory");
    }
    double f = rmspe_obj(c, X, y, n, k);
    for (int it = 0; it < 20; it++) {
        for (size_t i = 0; i < n; i++) {
            double z = 0;
            for (int t = 0; t < k; t++) z += c[t] * X[i * (size_t)k + (size_t)t];
            const double q = exp(z) / y[i];
            r[i] = 1 - q; /* minimise |r - J d|^2 with J = q x: the step d */
            for (int t = 0; t < k; t++) J[i * (size_t)k + (size_t)t] = q * X[i * (size_t)k + (size_t)t];
        }
        double d[1 + 32], trial[1 + 32];
        if (ti_ols(d, J, r, n, k) != TI_OK) {
            ti_error_clear();
            break;
        }
        double step = 1, ft = f;
        for (int h = 0; h < 12; h++, step *= 0.5) {
            for (int t = 0; t < k; t++) trial[t] = c[t] + step * d[t];
            ft = rmspe_obj(trial, X, y, n, k);
            if (ft < f) break;
        }
        if (!(ft < f)) break;
        const double gain = (f - ft) / f;
        memcpy(c, trial, sizeof(double) * (size_t)k);
        f = ft;
        if (gain < 1e-9) break;
    }
    free(J), free(r);
    return TI_OK;
}

ti_err ti_fit_linear_har(const ti_dataset *ds, const char *out_path, ti_fit_report *rep)
{
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    ti_linear lm;
    har_terms(&lm, in);
    const int k = 1 + lm.n_terms;
    ti_batch_config bc = {.split = TI_SPLIT_TRAIN, .batch_size = FIT_BATCH, .normalize = 0};
    ti_batcher *b = NULL;
    ti_err e = ti_batcher_create(&b, ds, &bc, NULL);
    if (e) return e;
    const size_t n = (size_t)ti_batcher_epoch_rows(b);
    if (n < (size_t)(4 * k)) {
        ti_batcher_destroy(b);
        return ti_errorf(TI_ERR_RANGE, "fit linear: %zu train buckets; need at least %d", n, 4 * k);
    }
    double *X = malloc(sizeof(double) * n * (size_t)k), *ly = malloc(sizeof(double) * n), *lp = malloc(sizeof(double) * n);
    float *y = malloc(sizeof(float) * n);
    if (!X || !ly || !lp || !y) e = ti_errorf(TI_ERR_NOMEM, "fit linear: out of memory for %zu buckets", n);
    size_t i = 0;
    int done = 0;
    while (!e && !done && i < n) {
        ti_batch *bt;
        ti_batcher_next(b, &bt, &done);
        for (int r = 0; r < bt->n && i < n; r++, i++) {
            const float *xb = bt->x + (size_t)r * (size_t)bt->T * (size_t)bt->F;
            X[i * (size_t)k] = 1;
            for (int t = 0; t < lm.n_terms; t++) X[i * (size_t)k + 1 + (size_t)t] = ti_wterm_eval(&lm.terms[t], xb, bt->T, bt->F);
            y[i] = bt->y[r];
            ly[i] = log(bt->y[r]);
        }
    }
    if (!e) e = ti_ols(lm.coef, X, ly, i, k);
    if (!e) e = rmspe_refine(lm.coef, X, y, i, k);
    double scale = 1;
    if (!e) {
        for (size_t j = 0; j < i; j++) {
            double z = 0;
            for (int t = 0; t < k; t++) z += lm.coef[t] * X[j * (size_t)k + (size_t)t];
            lp[j] = z;
        }
        scale = rmspe_scale(lp, y, i);
        const char *names[TI_FEAT_DATASET_MAX];
        for (int f = 0; f < in->n_features; f++) names[f] = in->feature_names[f];
        e = ti_linear_save(&lm, out_path, names, (float)scale);
    }
    if (!e && rep) {
        rep->n = i, rep->k = k, rep->scale = scale;
        memcpy(rep->coef, lm.coef, sizeof(double) * (size_t)k);
    }
    free(X), free(ly), free(lp), free(y);
    ti_batcher_destroy(b);
    return e ? ti_error_wrap(e, "fit linear") : TI_OK;
}

ti_err ti_fit_ensemble(const ti_model *ens, const ti_dataset *ds, ti_split split, const char *config_in,
                       const char *out_path, ti_fit_report *rep)
{
    const int n_m = ti_model_n_members(ens);
    if (n_m < 1) return ti_errorf(TI_ERR_INVALID_ARG, "fit ensemble: %s is not an ensemble", config_in);
    const uint32_t *idx;
    const size_t n = ti_dataset_split(ds, split, &idx);
    const int k = 1 + n_m;
    if (n < (size_t)(4 * k)) return ti_errorf(TI_ERR_RANGE, "fit ensemble: %zu buckets in the split; need %d", n, 4 * k);
    double *X = malloc(sizeof(double) * n * (size_t)k), *ly = malloc(sizeof(double) * n);
    float *p = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    ti_err e = X && ly && p && y ? TI_OK : ti_errorf(TI_ERR_NOMEM, "fit ensemble: out of memory");
    for (int m = 0; !e && m < n_m; m++) {
        const char *name = NULL;
        const ti_model *mm = ti_model_member(ens, m, &name);
        /* the member's log forecast z = y + log(rv_scale), as the ensemble combines it */
        e = ti_eval_predict(p, y, mm, ds, split, 0, ti_model_get_norm(mm)->rv_scale, NULL);
        for (size_t i = 0; !e && i < n; i++) {
            X[i * (size_t)k] = 1;
            X[i * (size_t)k + 1 + (size_t)m] = log(p[i]);
            ly[i] = log(y[i]);
        }
        if (e) e = ti_error_wrap(e, "member '%s'", name);
    }
    double coef[1 + TI_IO_MAX];
    if (!e) e = ti_ols(coef, X, ly, n, k);
    if (!e) e = rmspe_refine(coef, X, y, n, k);
    double scale = 1;
    if (!e) {
        double *lp = (double *)ly; /* reuse: fitted log forecasts */
        for (size_t i = 0; i < n; i++) {
            double z = 0;
            for (int t = 0; t < k; t++) z += coef[t] * X[i * (size_t)k + (size_t)t];
            lp[i] = z;
        }
        scale = rmspe_scale(lp, y, n);
    }
    /* The same config with the fitted linear combiner (member order = combiner input order). */
    json_error_t je;
    json_t *root = e ? NULL : json_load_file(config_in, 0, &je);
    if (!e && !root) e = ti_errorf(TI_ERR_FORMAT, "fit ensemble: %s: %s", config_in, je.text);
    if (!e) {
        json_t *cb = json_object(), *w = json_array(), *inputs = json_array();
        for (int m = 0; m < n_m; m++) {
            json_array_append_new(w, json_real(coef[1 + m]));
            json_array_append_new(inputs, json_string(ti_ensemble_output_name(ens, m)));
        }
        json_object_set_new(cb, "type", json_string("linear"));
        json_object_set_new(cb, "inputs", inputs);
        json_object_set_new(cb, "weights", w);
        json_object_set_new(cb, "bias", json_real(coef[0]));
        json_object_set_new(cb, "fitted_on", json_string(ti_split_name(split)));
        json_object_set_new(root, "combiner", cb);
        json_object_set_new(root, "rv_scale", json_real(scale));
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        e = text ? ti_write_file_atomic(out_path, text, strlen(text)) : ti_errorf(TI_ERR_NOMEM, "fit ensemble: out of memory");
        free(text);
    }
    json_decref(root);
    if (!e && rep) {
        rep->n = n, rep->k = k, rep->scale = scale;
        memcpy(rep->coef, coef, sizeof(double) * (size_t)k);
    }
    free(X), free(ly), free(p), free(y);
    return e ? ti_error_wrap(e, "fit ensemble") : TI_OK;
}
