/* tickinfer eval --model CKPT --dataset DIR [--out DIR]: RMSPE on val/test beside the
 * baselines, JSON + Markdown report, calibration plot (SVG). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/baseline.h"
#include "tickinfer/fileio.h"
#include "tickinfer/plot.h"
#include "tickinfer/train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer eval --model CKPT --dataset DIR [--out DIR] [--threads N]\n\n"
            "Score a trained model (safetensors from `tickinfer train`) on the val and test splits,\n"
            "next to the baselines fitted on train.  Writes OUT/eval.json, OUT/eval.md and\n"
            "OUT/calibration.svg (predicted vs realised RV on test).  Default OUT: the model's folder.\n");
}

/* The model must have been trained on this dataset's features and normalisation. */
typedef struct member_row {
    const char *name;
    double rmspe[2]; /* val, test */
} member_row;

static ti_err check_compat(const ti_model_norm *meta, const ti_dataset_info *in, const char *ckpt)
{
    if (meta->n_features != in->n_features)
        return ti_errorf(TI_ERR_INVALID_ARG, "eval: %s expects %d features, the dataset has %d", ckpt, meta->n_features, in->n_features);
    for (int f = 0; f < in->n_features; f++) {
        if (meta->feature_names && strcmp(meta->feature_names[f], in->feature_names[f]) != 0)
            return ti_errorf(TI_ERR_INVALID_ARG, "eval: %s feature %d is '%s', the dataset's is '%s'", ckpt, f, meta->feature_names[f],
                             in->feature_names[f]);
    }
    /* Other statistics are no reason to refuse: the model is scored with its own (an
     * out-of-sample check on other stocks or another period); say so. */
    int differ = 0;
    for (int f = 0; meta->mean && f < in->n_features; f++)
        differ |= fabsf(meta->mean[f] - in->norm.mean[f]) > 1e-5f * (1 + fabsf(in->norm.mean[f])) ||
                  fabsf(meta->std[f] - in->norm.std[f]) > 1e-5f * in->norm.std[f];
    if (differ)
        fprintf(stderr, "eval: %s was trained on data with other feature statistics; scoring it with its own "
                        "normalisation\n", ckpt);
    return TI_OK;
}

static ti_err write_plot(const char *path, const float *pred, const float *y, size_t n, double rmspe)
{
    double *px = malloc(sizeof(double) * (n + 1)), *py = malloc(sizeof(double) * (n + 1));
    if (!px || !py) {
        free(px);
        free(py);
        return ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
    }
    for (size_t i = 0; i < n; i++) px[i] = pred[i], py[i] = y[i];
    /* Binned means (20 log-spaced bins of predicted RV): the calibration curve. */
    double lo = INFINITY, hi = 0, bx[20], by[20], bs[20] = {0}, cnt[20] = {0};
    for (size_t i = 0; i < n; i++)
        if (px[i] > 0) lo = fmin(lo, px[i]), hi = fmax(hi, px[i]);
    int nb = 0;
    if (hi > lo) {
        for (size_t i = 0; i < n; i++) {
            if (!(px[i] > 0)) continue;
            int k = (int)((log(px[i]) - log(lo)) / (log(hi) - log(lo)) * 20);
            k = k < 0 ? 0 : k > 19 ? 19 : k;
            bs[k] += py[i], cnt[k]++;
        }
        for (int k = 0; k < 20; k++)
            if (cnt[k] >= 20) {
                bx[nb] = exp(log(lo) + (k + 0.5) / 20 * (log(hi) - log(lo)));
                by[nb++] = bs[k] / cnt[k];
            }
    }
    char title[128];
    snprintf(title, sizeof title, "Calibration on test (%zu buckets, RMSPE %.4f)", n, rmspe);
    ti_plot p = {.title = title, .xlabel = "predicted RV (next 300 s)", .ylabel = "realised RV", .log_x = 1, .log_y = 1, .diagonal = 1,
                 .n_series = nb ? 2 : 1};
    p.series[0] = (ti_plot_series){"buckets", px, py, n, TI_PLOT_POINTS};
    if (nb) p.series[1] = (ti_plot_series){"mean per bin", bx, by, (size_t)nb, TI_PLOT_LINE_POINTS};
    ti_err e = ti_plot_write_svg(&p, path);
    free(px);
    free(py);
    return e;
}

#define EVAL_BOOT 2000

/* Sorted per-stock test RMSPE: one point per stock, the overall RMSPE as a line. */
static ti_err write_stock_plot(const char *path, const ti_stock_rmspe *per, size_t n, double overall)
{
    double *x = malloc(sizeof(double) * (n + 1)), *yv = malloc(sizeof(double) * (n + 1)), lx[2] = {1, (double)n}, ly[2] = {overall, overall};
    if (!x || !yv) {
        free(x);
        free(yv);
        return ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
    }
    for (size_t i = 0; i < n; i++) x[i] = (double)(i + 1), yv[i] = per[i].rmspe;
    char title[128];
    snprintf(title, sizeof title, "Test RMSPE per stock (%zu stocks, sorted)", n);
    ti_plot p = {.title = title, .xlabel = "stock rank", .ylabel = "test RMSPE", .n_series = 2};
    p.series[0] = (ti_plot_series){"stock", x, yv, n, TI_PLOT_LINE_POINTS};
    p.series[1] = (ti_plot_series){"all test buckets", lx, ly, 2, TI_PLOT_LINE};
    ti_err e = ti_plot_write_svg(&p, path);
    free(x);
    free(yv);
    return e;
}

/* Markdown: the distribution of per-stock test RMSPE and its extremes. */
static int format_per_stock(char *buf, size_t cap, const ti_stock_rmspe *per, size_t n)
{
#define Q(f) per[(size_t)floor((f) * (double)(n - 1) + 0.5)].rmspe
    int k = snprintf(buf, cap,
                     "\n## Per-stock test RMSPE\n\n%zu stocks: min %.4f, p10 %.4f, median %.4f, p90 %.4f, max %.4f "
                     "(every stock in eval.json, plot per_stock.svg).\n\n| | stock | buckets | test RMSPE |\n|---|---:|---:|---:|\n",
                     n, per[0].rmspe, Q(0.1), Q(0.5), Q(0.9), per[n - 1].rmspe);
#undef Q
    /* up to 10 stocks: all of them; more: the 5 best and the 5 worst */
    for (size_t i = 0; i < n && k < (int)cap; i++) {
        if (n > 10 && i >= 5 && i < n - 5) continue;
        k += snprintf(buf + k, cap - (size_t)k, "| %s %zu | %d | %u | %.4f |\n", i < n - i - 1 || n <= 10 ? "best" : "worst",
                      i < n - i - 1 || n <= 10 ? i + 1 : n - i, per[i].stock_id, per[i].n, per[i].rmspe);
    }
    return k;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"dataset", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},   {"threads", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *ckpt = NULL, *dsdir = NULL, *out = NULL;
    int threads = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:d:o:j:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': ckpt = optarg; break;
        case 'd': dsdir = optarg; break;
        case 'o': out = optarg; break;
        case 'j': threads = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!ckpt || !dsdir || optind != argc) {
        usage(stderr);
        return 2;
    }
    char outdir[2048];
    if (out) snprintf(outdir, sizeof outdir, "%s", out);
    else {
        const char *sl = strrchr(ckpt, '/');
        snprintf(outdir, sizeof outdir, "%.*s", sl ? (int)(sl - ckpt) : 1, sl ? ckpt : ".");
    }
    ti_dataset *ds = NULL;
    ti_model *m = NULL;
    ti_pool *pool = NULL;
    float *pred[2] = {0}, *y[2] = {0};
    size_t n[2] = {0};
    double rmspe[2] = {0}, ci[2][2] = {{0}}, scale = 1;
    int32_t *stock = NULL;
    ti_stock_rmspe *per = NULL;
    size_t n_per = 0;
    ti_baseline_report br;
    ti_err e = ti_dataset_open(&ds, dsdir, 0);
    if (!e) e = ti_model_open(&m, ckpt, NULL);
    if (!e && ti_model_get_info(m)->n_features != ti_dataset_get_info(ds)->n_features)
        e = ti_errorf(TI_ERR_INVALID_ARG, "eval: %s expects %d features, the dataset has %d", ckpt,
                      ti_model_get_info(m)->n_features, ti_dataset_get_info(ds)->n_features);
    if (!e && ti_model_has_norm(m)) e = check_compat(ti_model_get_norm(m), ti_dataset_get_info(ds), ckpt);
    if (!e) e = ti_pool_create(&pool, threads);
    if (!e) e = ti_eval_fit_scale(&scale, m, ds, 8192, pool);
    for (int s = 0; s < 2 && !e; s++) {
        const uint32_t *idx;
        n[s] = ti_dataset_split(ds, (ti_split)(s + 1), &idx);
        pred[s] = malloc(sizeof(float) * (n[s] + 1));
        y[s] = malloc(sizeof(float) * (n[s] + 1));
        if (!pred[s] || !y[s]) e = ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
        if (!e) e = ti_eval_predict(pred[s], y[s], m, ds, (ti_split)(s + 1), 0, scale, pool);
        if (!e) rmspe[s] = ti_rmspe(y[s], pred[s], n[s]);
        if (!e) e = ti_rmspe_bootstrap(&ci[s][0], &ci[s][1], y[s], pred[s], n[s], EVAL_BOOT, 0x5eed + (uint64_t)s);
        if (!e && s == 1) {
            /* test buckets per stock: the distribution users look at before trusting a mean */
            stock = malloc(sizeof(int32_t) * (n[s] + 1));
            per = malloc(sizeof(ti_stock_rmspe) * (n[s] + 1));
            if (!stock || !per) e = ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
            for (size_t i = 0; !e && i < n[s]; i++) stock[i] = ti_dataset_record(ds, idx[i])->stock_id;
            if (!e) e = ti_rmspe_per_stock(per, n[s] + 1, &n_per, y[s], pred[s], stock, n[s]);
        }
    }
    /* An ensemble's members, scored on test the same way (each with its own fitted scale). */
    member_row mem[TI_IO_MAX];
    int n_mem = 0;
    for (int i = 0; !e && i < ti_model_n_members(m) && i < TI_IO_MAX; i++, n_mem++) {
        const ti_model *mm = ti_model_member(m, i, &mem[i].name);
        double ms = 1;
        e = ti_eval_fit_scale(&ms, mm, ds, 8192, pool);
        for (int s = 0; s < 2 && !e; s++) {
            float *mp = malloc(sizeof(float) * (n[s] + 1)), *my = malloc(sizeof(float) * (n[s] + 1));
            e = mp && my ? ti_eval_predict(mp, my, mm, ds, (ti_split)(s + 1), 0, ms, pool)
                         : ti_errorf(TI_ERR_NOMEM, "eval: out of memory");
            if (!e) mem[i].rmspe[s] = ti_rmspe(my, mp, n[s]);
            free(mp);
            free(my);
        }
    }
    if (!e) e = ti_baselines_run(&br, ds);
    if (!e) e = ti_mkdirs(outdir);
    char path[4096];
    if (!e) {
        snprintf(path, sizeof path, "%s/calibration.svg", outdir);
        e = write_plot(path, pred[1], y[1], n[1], rmspe[1]);
    }
    if (!e && n_per) {
        snprintf(path, sizeof path, "%s/per_stock.svg", outdir);
        e = write_stock_plot(path, per, n_per, rmspe[1]);
    }
    if (!e) {
        const ti_dataset_info *in = ti_dataset_get_info(ds);
        char cfgjson[1024];
        static char md[16384], js[65536];
        const ti_tfm *tf = ti_tfm_of_model(m);
        if (tf) ti_tfm_config_to_json(cfgjson, sizeof cfgjson, ti_tfm_get_config(tf));
        else
            snprintf(cfgjson, sizeof cfgjson, "{\"kind\":\"%s\",\"arch\":\"%s\",\"n_params\":%zu}", ti_model_get_info(m)->kind,
                     ti_model_get_info(m)->arch, ti_model_get_info(m)->n_params);
        double best_base = INFINITY;
        const char *best_name = "";
        for (int i = 0; i < br.n; i++)
            if (strncmp(br.r[i].name, "oracle", 6) != 0 && br.r[i].rmspe[2] < best_base) best_base = br.r[i].rmspe[2], best_name = br.r[i].name;
        int k = snprintf(md, sizeof md,
                         "# Evaluation: %s\n\nDataset `%s` (%s): val %zu, test %zu buckets. Model config: `%s`; output scale %.4f "
                         "(fitted on train). Split by %s.\n\n| predictor | val RMSPE | test RMSPE |\n|---|---:|---:|\n"
                         "| **model** | **%.4f** [%.4f, %.4f] | **%.4f** [%.4f, %.4f] |\n",
                         ckpt, in->source, in->source_kind, n[0], n[1], cfgjson, scale, ti_split_by_name(in->split_by), rmspe[0], ci[0][0],
                         ci[0][1], rmspe[1], ci[1][0], ci[1][1]);
        for (int i = 0; i < n_mem && k < (int)sizeof md; i++)
            k += snprintf(md + k, sizeof md - (size_t)k, "| member `%s` | %.4f | %.4f |\n", mem[i].name, mem[i].rmspe[0], mem[i].rmspe[1]);
        for (int i = 0; i < br.n && k < (int)sizeof md; i++)
            k += snprintf(md + k, sizeof md - (size_t)k, "| %s | %.4f | %.4f |\n", br.r[i].name, br.r[i].rmspe[1], br.r[i].rmspe[2]);
        if (k < (int)sizeof md)
            k += snprintf(md + k, sizeof md - (size_t)k,
                          "\n[lo, hi]: 95%% percentile bootstrap interval over buckets (%d resamples). Test RMSPE vs the best "
                          "baseline (%s, %.4f): %+.1f%%.\n\n![calibration](calibration.svg)\n",
                          EVAL_BOOT, best_name, best_base, 100.0 * (rmspe[1] - best_base) / best_base);
        if (n_per && k < (int)sizeof md) k += format_per_stock(md + k, sizeof md - (size_t)k, per, n_per);
        int j = snprintf(js, sizeof js,
                         "{\n  \"model\": \"%s\",\n  \"config\": %s,\n  \"scale\": %.6f,\n  \"split_by\": \"%s\",\n  \"val\": {\"n\": %zu, "
                         "\"rmspe\": %.6f, \"ci95\": [%.6f, %.6f]},\n  \"test\": {\"n\": %zu, \"rmspe\": %.6f, \"ci95\": [%.6f, %.6f]},\n"
                         "  \"bootstrap_resamples\": %d,\n  \"best_baseline\": {\"name\": \"%s\", \"test_rmspe\": %.6f},\n  \"baselines\": [",
                         ckpt, cfgjson, scale, ti_split_by_name(in->split_by), n[0], rmspe[0], ci[0][0], ci[0][1], n[1], rmspe[1], ci[1][0],
                         ci[1][1], EVAL_BOOT, best_name, best_base);
        for (int i = 0; i < br.n && j < (int)sizeof js; i++)
            j += snprintf(js + j, sizeof js - (size_t)j, "%s\n    {\"name\": \"%s\", \"val\": %.6f, \"test\": %.6f}", i ? "," : "", br.r[i].name,
                          br.r[i].rmspe[1], br.r[i].rmspe[2]);
        if (j < (int)sizeof js) j += snprintf(js + j, sizeof js - (size_t)j, "\n  ],\n  \"members\": [");
        for (int i = 0; i < n_mem && j < (int)sizeof js; i++)
            j += snprintf(js + j, sizeof js - (size_t)j, "%s\n    {\"name\": \"%s\", \"val\": %.6f, \"test\": %.6f}", i ? "," : "",
                          mem[i].name, mem[i].rmspe[0], mem[i].rmspe[1]);
        if (j < (int)sizeof js) j += snprintf(js + j, sizeof js - (size_t)j, "\n  ],\n  \"per_stock_test\": [");
        for (size_t i = 0; i < n_per && j < (int)sizeof js; i++)
            j += snprintf(js + j, sizeof js - (size_t)j, "%s\n    {\"stock_id\": %d, \"n\": %u, \"rmspe\": %.6f}", i ? "," : "", per[i].stock_id,
                          per[i].n, per[i].rmspe);
        if (j < (int)sizeof js) j += snprintf(js + j, sizeof js - (size_t)j, "\n  ]\n}\n");
        if (k >= (int)sizeof md || j >= (int)sizeof js) e = ti_errorf(TI_ERR_LIMIT, "eval: report too long");
        snprintf(path, sizeof path, "%s/eval.md", outdir);
        if (!e) e = ti_write_file_atomic(path, md, strlen(md));
        snprintf(path, sizeof path, "%s/eval.json", outdir);
        if (!e) e = ti_write_file_atomic(path, js, strlen(js));
        if (!e) printf("%s\nreport: %s/eval.{md,json}, plot: %s/calibration.svg\n", md, outdir, outdir);
    }
    for (int s = 0; s < 2; s++) free(pred[s]), free(y[s]);
    free(stock);
    free(per);
    ti_model_free(m);
    ti_pool_destroy(pool);
    ti_dataset_close(ds);
    return e ? cli_fail("eval", e) : 0;
}
