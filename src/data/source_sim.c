/* Simulator source: "sim:SYMBOLS:BUCKETS[:SEED]" (defaults of ti_sim_config otherwise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bars_build.h"
#include "tickinfer/ingest.h"
#include "tickinfer/sim.h"

typedef struct sim_impl {
    ti_sim_result res;
    int n_buckets;
} sim_impl;

static void sim_destroy(ti_source *src)
{
    sim_impl *im = src->impl;
    if (im) ti_sim_free(&im->res);
    free(im);
    free(src);
}

static ti_err sim_load(ti_source *src, size_t i, ti_symbol_data *out)
{
    sim_impl *im = src->impl;
    const ti_sim_symbol *s = &im->res.sym[i];
    const int L = src->bucket_len;
    memset(out, 0, sizeof *out);
    out->symbol_id = (int32_t)i;
    snprintf(out->symbol, sizeof out->symbol, "sim_%zu", i);
    out->n_rows_read = s->n_trades;
    double *sz = malloc((s->n_trades ? s->n_trades : 1) * sizeof *sz);
    out->true_rv = malloc((size_t)(im->n_buckets ? im->n_buckets : 1) * sizeof *out->true_rv);
    if (!sz || !out->true_rv) {
        free(sz);
        ti_symbol_data_free(out);
        return ti_errorf(TI_ERR_NOMEM, "sim: out of memory");
    }
    for (size_t k = 0; k < s->n_trades; k++) sz[k] = s->size[k];
    char name[64];
    snprintf(name, sizeof name, "sim symbol %zu", i);
    ti_err e = ti_bars_from_trades(out, name, s->time, s->price, sz, s->order_count, s->n_trades, 0.0, L, (size_t)im->n_buckets);
    free(sz);
    if (e) {
        ti_symbol_data_free(out);
        return e;
    }
    /* The true volatility of each bucket's horizon, seconds [300, 600). */
    for (int b = 0; b < im->n_buckets; b++) {
        int64_t a = (int64_t)b * L + TI_HISTORY_LEN;
        out->true_rv[b] = (float)sqrt(ti_sim_true_iv(&im->res, (int)i, a, a + TI_HORIZON_LEN));
    }
    return TI_OK;
}

ti_err ti_source_open_sim(ti_source **out, const char *spec)
{
    *out = NULL;
    ti_sim_config cfg;
    ti_sim_config_default(&cfg);
    long symbols = cfg.n_symbols, buckets = 100;
    unsigned long long seed = cfg.seed;
    if (strcmp(spec, "sim") != 0) {
        char extra;
        int n = sscanf(spec, "sim:%ld:%ld:%llu%c", &symbols, &buckets, &seed, &extra);
        if (n < 2 || n > 3)
            return ti_errorf(TI_ERR_INVALID_ARG, "ingest: bad simulator spec '%s' (want sim:SYMBOLS:BUCKETS[:SEED], e.g. sim:4:200:7)", spec);
    }
    if (symbols < 1 || symbols > 10000 || buckets < 1 || buckets > 1000000 || (double)symbols * (double)buckets > 2e6)
        return ti_errorf(TI_ERR_RANGE, "ingest: simulator spec '%s': need 1..10000 symbols, 1..1e6 buckets, at most 2e6 buckets in all",
                         spec);
    cfg.seed = seed;
    cfg.n_symbols = (int)symbols;
    cfg.seconds = buckets * TI_BUCKET_LEN;
    sim_impl *im = calloc(1, sizeof *im);
    ti_source *src = calloc(1, sizeof *src);
    if (!im || !src) {
        free(im);
        free(src);
        return ti_errorf(TI_ERR_NOMEM, "sim: out of memory");
    }
    src->impl = im;
    src->destroy = sim_destroy;
    src->load = sim_load;
    src->bucket_len = TI_BUCKET_LEN;
    src->n_symbols = (size_t)symbols;
    im->n_buckets = (int)buckets;
    snprintf(src->kind, sizeof src->kind, "sim");
    snprintf(src->desc, sizeof src->desc, "sim:%ld:%ld:%llu", symbols, buckets, seed);
    ti_err e = ti_sim_generate(&im->res, &cfg);
    if (e) {
        sim_destroy(src);
        return ti_error_wrap(e, "ingest %s", spec);
    }
    *out = src;
    return TI_OK;
}
