/* tickinfer kveval: what a quantized KV cache (and a window / sinks) costs in forecast
 * accuracy on real data.  Every bucket of a split goes through the streaming engine once per
 * KV dtype; the table gives bytes per token, memory saved and RMSPE vs the fp32 cache. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/baseline.h"
#include "tickinfer/clock.h"
#include "tickinfer/fileio.h"
#include "tickinfer/stream_eval.h"
#include "tickinfer/threadpool.h"
#include "tickinfer/train.h"

#define KVEVAL_FIT_MAX 8192 /* train buckets for the output scale, as `tickinfer eval` */
#define KVEVAL_SAMPLE_SEED 12345

static void usage(FILE *f)
{
    fprintf(f, "usage: tickinfer kveval --model CKPT --dataset DIR [--kv all|f32|int8|fp8|int4] [--window W]\n"
               "                        [--sinks K] [--split val|test] [--max N | --sample N] [--out PREFIX]\n\n"
               "Runs each bucket's history through a stream (fp32 and each --kv dtype; default all),\n"
               "scores the last forecast with RMSPE (output scale fitted on train as `tickinfer eval`\n"
               "does) and prints dtype, KV bytes per token, memory saved, RMSPE and its change vs f32.\n"
               "--out PREFIX writes PREFIX.md and PREFIX.json.  --max N: the split's first N buckets;\n"
               "--sample N: N buckets drawn at random (fixed seed) across the whole split (no batch\n"
               "forward comparison then).\n");
}

typedef struct kveval_row {
    ti_kv_dtype dt;
    size_t bytes_per_token;
    double rmspe, max_dlog;
    double seconds;
} kveval_row;

static ti_err run_dtype(kveval_row *r, float *pred, float *y, int64_t *n, const ti_tfm *m, const ti_ckpt_meta *meta,
                        const ti_dataset *ds, ti_split split, int64_t max_n, uint64_t seed, double scale,
                        const ti_stream_opts *base)
{
    ti_stream_opts o = *base;
    o.kv_dtype = r->dt;
    ti_stream_engine *e = NULL;
    ti_err err = ti_stream_engine_create(&e, m, meta, 1.0f, &o);
    const double t0 = ti_now_s();
    if (!err) err = ti_stream_eval_predict(pred, y, n, e, ds, split, max_n, seed, scale);
    r->seconds = ti_now_s() - t0;
    ti_stream_engine_destroy(e);
    if (!err) r->rmspe = ti_rmspe(y, pred, (size_t)*n);
    return err;
}

static ti_err write_report(const char *prefix, const char *ckpt, const char *dsdir, const ti_stream_opts *o,
                           const char *split_name, int64_t n, uint64_t seed, double scale, double batch_rmspe,
                           const kveval_row *rows, int nrows)
{
    char md[8192], js[8192], path[4096], batch[256];
    if (seed) /* a random sample: the batch forward ran in dataset order, not on these rows */
        snprintf(batch, sizeof batch, "Buckets drawn at random across the split (seed %llu).",
                 (unsigned long long)seed);
    else
        snprintf(batch, sizeof batch,
                 "Batch forward RMSPE %.4f; the f32 stream's max abs d log-RV vs the batch forward: %.1e.",
                 batch_rmspe, rows[0].max_dlog);
    int k = snprintf(md, sizeof md,
                     "Model `%s`, dataset `%s`, %s split (%lld buckets), window %d, sinks %d; output scale %.4f "
                     "(fitted on train).  %s\n\n"
                     "| KV dtype | bytes/token | memory saved | RMSPE | change vs f32 | max abs d log-RV vs f32 |\n"
                     "|---|---:|---:|---:|---:|---:|\n",
                     ckpt, dsdir, split_name, (long long)n, o->window, o->sinks, scale, batch);
    int j = snprintf(js, sizeof js,
                     "{\n  \"model\": \"%s\",\n  \"dataset\": \"%s\",\n  \"split\": \"%s\",\n  \"buckets\": %lld,\n"
                     "  \"sample_seed\": %llu,\n  \"window\": %d,\n  \"sinks\": %d,\n  \"scale\": %.6f,\n",
                     ckpt, dsdir, split_name, (long long)n, (unsigned long long)seed, o->window, o->sinks, scale);
    if (!seed && j < (int)sizeof js)
        j += snprintf(js + j, sizeof js - (size_t)j,
                      "  \"batch_rmspe\": %.6f,\n  \"f32_stream_vs_batch_max_abs_dlog\": %.3g,\n", batch_rmspe,
                      rows[0].max_dlog);
    if (j < (int)sizeof js) j += snprintf(js + j, sizeof js - (size_t)j, "  \"rows\": [");
    const double f32_rmspe = rows[0].rmspe;
    const double f32_bytes = (double)rows[0].bytes_per_token;
    for (int i = 0; i < nrows && k < (int)sizeof md && j < (int)sizeof js; i++) {
        const kveval_row *r = &rows[i];
        const double saved = 1.0 - (double)r->bytes_per_token / f32_bytes;
        const double d = r->rmspe - f32_rmspe;
        const double dl = i == 0 ? 0.0 : r->max_dlog;
        k += snprintf(md + k, sizeof md - (size_t)k, "| %s | %zu | %.1f%% | %.4f | %+.5f (%+.3f%%) | %.2e |\n",
                      ti_kv_dtype_name(r->dt), r->bytes_per_token, 100.0 * saved, r->rmspe, d, 100.0 * d / f32_rmspe,
                      dl);
        j += snprintf(js + j, sizeof js - (size_t)j,
                      "%s\n    {\"dtype\": \"%s\", \"bytes_per_token\": %zu, \"memory_saved\": %.6f, \"rmspe\": %.6f, "
                      "\"rmspe_change\": %.6g, \"rmspe_change_rel\": %.6g, \"max_abs_dlog\": %.6g, \"seconds\": %.2f}",
                      i ? "," : "", ti_kv_dtype_name(r->dt), r->bytes_per_token, saved, r->rmspe, d, d / f32_rmspe,
                      dl, r->seconds);
    }
    if (j < (int)sizeof js) j += snprintf(js + j, sizeof js - (size_t)j, "\n  ]\n}\n");
    if (k >= (int)sizeof md || j >= (int)sizeof js) return ti_errorf(TI_ERR_LIMIT, "kveval: report too long");
    printf("%s", md);
    if (!prefix) return TI_OK;
    snprintf(path, sizeof path, "%s.md", prefix);
    ti_err e = ti_write_file_atomic(path, md, strlen(md));
    snprintf(path, sizeof path, "%s.json", prefix);
    if (!e) e = ti_write_file_atomic(path, js, strlen(js));
    if (!e) printf("report: %s.{md,json}\n", prefix);
    return e;
}

int cmd_kveval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"dataset", required_argument, 0, 'd'},
        {"kv", required_argument, 0, 'k'},    {"window", required_argument, 0, 'w'},
        {"sinks", required_argument, 0, 's'}, {"split", required_argument, 0, 'p'},
        {"max", required_argument, 0, 'n'},   {"out", required_argument, 0, 'o'},
        {"sample", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *ckpt = NULL, *dsdir = NULL, *kv = "all", *split_name = "test", *out = NULL;
    long window = 0, sinks = 0, max_n = 0;
    uint64_t seed = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:d:k:w:s:p:n:o:S:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'm': ckpt = optarg; break;
        case 'd': dsdir = optarg; break;
        case 'k': kv = optarg; break;
        case 'p': split_name = optarg; break;
        case 'o': out = optarg; break;
        case 'w': window = strtol(optarg, &end, 10); break;
        case 's': sinks = strtol(optarg, &end, 10); break;
        case 'n': max_n = strtol(optarg, &end, 10); break;
        case 'S': max_n = strtol(optarg, &end, 10), seed = KVEVAL_SAMPLE_SEED; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "tickinfer kveval: '%s' is not a number\n", optarg);
            return 2;
        }
    }
    if (!ckpt || !dsdir || optind != argc || window < 0 || window > (1 << 24) || sinks < 0 ||
        sinks > TI_KV_MAX_SINKS || max_n < 0) {
        usage(stderr);
        return 2;
    }
    ti_split split;
    if (!strcmp(split_name, "val")) split = TI_SPLIT_VAL;
    else if (!strcmp(split_name, "test")) split = TI_SPLIT_TEST;
    else {
        fprintf(stderr, "tickinfer kveval: --split must be val or test, not '%s'\n", split_name);
        return 2;
    }
    kveval_row rows[TI_KV_DTYPE__COUNT];
    int nrows = 0;
    rows[nrows++] = (kveval_row){.dt = TI_KV_F32}; /* the reference, always first */
    ti_err e = TI_OK;
    if (!strcmp(kv, "all")) {
        for (int d = 1; d < TI_KV_DTYPE__COUNT; d++) rows[nrows++] = (kveval_row){.dt = (ti_kv_dtype)d};
    } else {
        ti_kv_dtype dt;
        e = ti_kv_dtype_parse(&dt, kv);
        if (!e && dt != TI_KV_F32) rows[nrows++] = (kveval_row){.dt = dt};
    }
    ti_dataset *ds = NULL;
    ti_tfm *m = NULL;
    ti_pool *pool = NULL;
    ti_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    float *pred = NULL, *pred_f32 = NULL, *y = NULL;
    double scale = 1.0, batch_rmspe = 0.0;
    int64_t n = 0;
    ti_stream_opts so = {.window = (int)window, .sinks = (int)sinks};
    if (!e) e = ti_dataset_open(&ds, dsdir, 0);
    if (!e) e = ti_tfm_load(&m, &meta, ckpt, NULL);
    if (!e) e = ti_pool_create(&pool, 0);
    ti_model *gm = NULL; /* the generic view eval runs on */
    if (!e) e = ti_model_borrow_tfm(&gm, m, &meta);
    if (!e) e = ti_eval_fit_scale(&scale, gm, ds, KVEVAL_FIT_MAX, pool);
    size_t cap = 0;
    if (!e) {
        const uint32_t *idx;
        cap = ti_dataset_split(ds, split, &idx);
        if (max_n > 0 && (size_t)max_n < cap) cap = (size_t)max_n;
        pred = malloc(sizeof(float) * (cap + 1));
        pred_f32 = malloc(sizeof(float) * (cap + 1));
        y = malloc(sizeof(float) * (cap + 1));
        if (!pred || !pred_f32 || !y) e = ti_errorf(TI_ERR_NOMEM, "kveval: out of memory for %zu buckets", cap);
    }
    if (!e && seed == 0) {
        /* the batch forward on the same buckets: the fp32 stream must match it when W >= T */
        e = ti_eval_predict(pred, y, gm, ds, split, (int64_t)cap, scale, pool);
        if (!e) batch_rmspe = ti_rmspe(y, pred, cap);
    }
    const ti_tfm_config *c = m ? ti_tfm_get_config(m) : NULL;
    if (!e && so.window == 0) so.window = c->context;
    for (int i = 0; i < nrows && !e; i++) {
        kveval_row *r = &rows[i];
        r->bytes_per_token = (size_t)c->n_layers * ti_kv_slot_bytes(r->dt, c->n_heads, c->d_model);
        float *p = i == 0 ? pred_f32 : pred;
        e = run_dtype(r, p, y, &n, m, &meta, ds, split, (int64_t)cap, seed, scale, &so);
        /* f32: vs the batch forward (still in pred); others: vs the f32 stream */
        for (int64_t b = 0; !e && (i > 0 || seed == 0) && b < n; b++) {
            const double d = fabs(log((double)p[b]) - log((double)(i == 0 ? pred[b] : pred_f32[b])));
            if (d > r->max_dlog || isnan(d)) r->max_dlog = d;
        }
        if (!e) fprintf(stderr, "kveval: %s done (%.1f s)\n", ti_kv_dtype_name(r->dt), r->seconds);
    }
    if (!e) e = write_report(out, ckpt, dsdir, &so, split_name, n, seed, scale, batch_rmspe, rows, nrows);
    free(pred), free(pred_f32), free(y);
    ti_ckpt_meta_free(&meta);
    ti_model_free(gm);
    ti_tfm_destroy(m);
    ti_pool_destroy(pool);
    ti_dataset_close(ds);
    return e ? cli_fail("kveval", e) : 0;
}
