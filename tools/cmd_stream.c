/* tickinfer stream: streaming-engine utilities.  `stream stats` sizes the per-symbol state
 * of the streaming engine for a model: it builds the real structures (an engine with N open
 * streams for the scratch/feature state, and N KV caches filled to --fill positions through
 * ti_kv_append for the caches) and reports what they hold, per layout.  Filling writes rows
 * directly instead of decoding, so sizing 100k symbols takes no model time.  `stream replay`
 * pushes real Optiver trades of many symbols through one engine, interleaved in time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/clock.h"
#include "tickinfer/dataset.h"
#include "tickinfer/features.h"
#include "tickinfer/hist.h"
#include "tickinfer/ingest.h"
#include "tickinfer/kv.h"
#include "tickinfer/kvquant.h"
#include "tickinfer/model.h"
#include "tickinfer/transformer.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/stream.h"

/* The transformer behind a model whose kind steps a KV cache (the trade stream engine's
 * model), else NULL. */
static const ti_tfm *stream_model(const ti_model *gm)
{
    return ti_model_get_info(gm)->native_step ? ti_tfm_of_model(gm) : NULL;
}

#define STATS_MAX_SYMBOLS 1000000

static void usage(void)
{
    printf("usage: tickinfer stream stats --model CKPT [--window W] [--symbols N] [--fill T]\n"
           "                              [--layout ring|paged] [--kv f32|int8|fp8|int4|all] [--block B] [--sinks K]\n\n"
           "Bytes the streaming engine holds per symbol and in total for N symbols, measured on\n"
           "the real structures: N open streams (scratch + feature state) and N KV caches filled\n"
           "with T positions each (default T = W; the cache keeps the last W).\n"
           "  --window W   positions kept per symbol (default: the model's context)\n"
           "  --symbols N  symbols (default 1000)\n"
           "  --fill T     positions pushed into each symbol (default W; alias --ticks)\n"
           "  --layout L   ring or paged (default: both, one table row each)\n"
           "  --kv D       cache element type: f32 (default), int8, fp8, int4 or all (see kvquant.h)\n"
           "  --block B    paged: positions per block (default 16)\n"
           "  --sinks K    attention sinks kept besides the window (default 0)\n");
}

static int parse_int(int *out, const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

typedef struct stats_row {
    ti_kv_layout layout;
    size_t kv_bytes, kv_reserved, state_bytes;
    ti_kv_pool_stats pool;
    double utilisation;
} stats_row;

/* KV side: N caches of the layout, each appended `fill` times. */
static ti_err measure_kv(stats_row *r, const ti_tfm_config *c, ti_kv_layout layout, ti_kv_dtype dt, int W, int K,
                         int N, int fill, int bs)
{
    ti_kv_pool *pool = NULL;
    ti_err err = TI_OK;
    const size_t slot = ti_kv_slot_bytes(dt, c->n_heads, c->d_model); /* one token's k|v, one layer */
    if (slot == 0)
        return ti_errorf(TI_ERR_UNSUPPORTED, "stream stats: kv %s unsupported for %d heads of width %d",
                         ti_kv_dtype_name(dt), c->n_heads, c->d_model);
    if (layout == TI_KV_PAGED &&
        (err = ti_kv_pool_create_dtype(&pool, c->n_layers, c->d_model, dt, c->n_heads, bs, 0, 0)))
        return err;
    ti_kv_cache *kv = calloc((size_t)N, sizeof *kv);
    float **rows = calloc((size_t)c->n_layers, sizeof *rows);
    int n_init = 0;
    if (!kv || !rows) err = ti_errorf(TI_ERR_NOMEM, "stream stats: %d caches", N);
    for (; !err && n_init < N; n_init++) {
        if ((err = ti_kv_cache_init_ex(&kv[n_init], layout, c->n_layers, c->d_model, W,
                                        &(ti_kv_cache_opts){.sinks = K, .dtype = dt, .H = c->n_heads}, pool))) break;
        for (int t = 0; !err && t < fill; t++) {
            err = ti_kv_append(&kv[n_init], rows);
            /* the rows are only sized here; write them so the pages are really touched */
            for (int l = 0; !err && l < c->n_layers; l++) memset(rows[l], 0, slot);
        }
    }
    if (!err) {
        r->layout = layout;
        r->kv_bytes = 0;
        for (int i = 0; i < N; i++) r->kv_bytes += ti_kv_cache_bytes(&kv[i]);
        /* positions in the window part (the sinks live in their own small buffer) */
        const int in_win = fill - K < W ? fill - K : W;
        const size_t held = (size_t)(in_win > 0 ? in_win : 0);
        size_t slots;
        if (pool) {
            ti_kv_pool_stats_get(pool, &r->pool);
            /* plus the sink rows, which every cache keeps outside the pool */
            r->kv_reserved = r->pool.blocks_alloc * r->pool.block_bytes +
                             (size_t)N * c->n_layers * (size_t)K * slot;
            slots = r->pool.blocks_used * r->pool.block_size;
        } else {
            memset(&r->pool, 0, sizeof r->pool);
            r->kv_reserved = r->kv_bytes;
            slots = (size_t)N * (size_t)W;
        }
        r->utilisation = slots ? (double)(held * (size_t)N) / (double)slots : 0.0;
    }
    for (int i = 0; i < n_init; i++) ti_kv_cache_free(&kv[i]);
    free(kv);
    free(rows);
    ti_kv_pool_destroy(pool);
    return err;
}

/* Stream side: an engine with N open (empty) streams, for the scratch + feature state. */
static ti_err measure_state(size_t *state_bytes, const ti_tfm *m, ti_kv_layout layout, ti_kv_dtype dt, int W, int K,
                            int N)
{
    ti_stream_engine *e;
    ti_err err = ti_stream_engine_create(&e, m, NULL, 1.0f, &(ti_stream_opts){.window = W, .layout = layout,
                                                                              .max_streams = N, .sinks = K,
                                                                              .kv_dtype = dt});
    if (err) return err;
    for (int i = 0; i < N && !err; i++) {
        char name[32];
        ti_stream *s;
        snprintf(name, sizeof name, "SYM%07d", i);
        err = ti_stream_open(e, &s, name);
    }
    if (!err) {
        ti_stream_stats st;
        ti_stream_engine_stats(e, &st);
        *state_bytes = st.state_bytes;
    }
    ti_stream_engine_destroy(e); /* closes the streams */
    return err;
}

static void print_bytes(char *buf, size_t cap, double b)
{
    if (b >= 1 << 30) snprintf(buf, cap, "%.2f GiB", b / (1 << 30));
    else if (b >= 1 << 20) snprintf(buf, cap, "%.2f MiB", b / (1 << 20));
    else if (b >= 1 << 10) snprintf(buf, cap, "%.1f KiB", b / (1 << 10));
    else snprintf(buf, cap, "%.0f B", b);
}

static int cmd_stream_stats(int argc, char **argv)
{
    const char *model_path = NULL, *kv_name = "f32";
    int W = 0, N = 1000, fill = -1, bs = 16, want_layout = -1, K = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--model") && v) model_path = v, i++;
        else if (!strcmp(a, "--window") && v) bad = parse_int(&W, v, 1, 1 << 20), i++;
        else if (!strcmp(a, "--symbols") && v) bad = parse_int(&N, v, 1, STATS_MAX_SYMBOLS), i++;
        else if ((!strcmp(a, "--fill") || !strcmp(a, "--ticks")) && v) bad = parse_int(&fill, v, 0, 1 << 24), i++;
        else if (!strcmp(a, "--block") && v) bad = parse_int(&bs, v, 1, 4096), i++;
        else if (!strcmp(a, "--sinks") && v) bad = parse_int(&K, v, 0, TI_KV_MAX_SINKS), i++;
        else if (!strcmp(a, "--kv") && v) kv_name = v, i++;
        else if (!strcmp(a, "--layout") && v) {
            ti_kv_layout l;
            ti_err err = ti_kv_layout_parse(&l, v);
            if (err) return cli_fail("stream stats", err);
            want_layout = (int)l;
            i++;
        } else {
            fprintf(stderr, "tickinfer stream stats: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "tickinfer stream stats: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "tickinfer stream stats: --model is required (see --help)\n");
        return 2;
    }
    int dt_lo = 0, dt_hi = TI_KV_DTYPE__COUNT - 1; /* --kv all: one row per dtype and layout */
    if (strcmp(kv_name, "all") != 0) {
        ti_kv_dtype dt;
        ti_err derr = ti_kv_dtype_parse(&dt, kv_name);
        if (derr) return cli_fail("stream stats", derr);
        dt_lo = dt_hi = (int)dt;
    }
    ti_model *gm = NULL;
    ti_err err = ti_model_open(&gm, model_path, NULL);
    if (err) return cli_fail("stream stats", err);
    const ti_tfm *m = stream_model(gm);
    if (!m) {
        err = ti_errorf(TI_ERR_UNSUPPORTED, "stream stats: %s is a %s model; only models with a KV-cache step "
                                            "stream (rv_causal)", model_path, ti_model_get_info(gm)->arch);
        ti_model_free(gm);
        return cli_fail("stream stats", err);
    }
    const ti_tfm_config *c = ti_tfm_get_config(m);
    if (W == 0) W = c->context;
    if (fill < 0) fill = W;
    printf("model %s: rv_causal d%d, %d heads, %d layers, context %d\n", model_path, c->d_model, c->n_heads,
           c->n_layers, c->context);
    printf("window %d + %d sinks, %d symbols, %d positions pushed each, kv %s\n\n", W, K, N, fill, kv_name);
    printf("%-7s %-5s %10s %14s %14s %14s %14s %14s %12s %8s\n", "layout", "kv", "B/token", "KV/symbol",
           "state/symbol", "total/symbol", "total", "reserved", "blocks u/a", "util");
    for (int d = dt_lo; d <= dt_hi; d++)
    for (int l = 0; l < TI_KV_LAYOUT__COUNT; l++) {
        if (want_layout >= 0 && l != want_layout) continue;
        const ti_kv_dtype dt = (ti_kv_dtype)d;
        stats_row r;
        size_t state = 0;
        if ((err = measure_kv(&r, c, (ti_kv_layout)l, dt, W, K, N, fill, bs)) ||
            (err = measure_state(&state, m, (ti_kv_layout)l, dt, W, K, N))) {
            ti_model_free(gm);
            return cli_fail("stream stats", err);
        }
        char b_kv[32], b_st[32], b_ps[32], b_tot[32], b_res[32], blk[40];
        print_bytes(b_kv, sizeof b_kv, (double)r.kv_bytes / N);
        print_bytes(b_st, sizeof b_st, (double)state / N);
        print_bytes(b_ps, sizeof b_ps, (double)(r.kv_bytes + state) / N);
        print_bytes(b_tot, sizeof b_tot, (double)(r.kv_bytes + state));
        print_bytes(b_res, sizeof b_res, (double)(r.kv_reserved + state));
        if (l == TI_KV_PAGED) snprintf(blk, sizeof blk, "%zu/%zu", r.pool.blocks_used, r.pool.blocks_alloc);
        else snprintf(blk, sizeof blk, "-");
        printf("%-7s %-5s %10zu %14s %14s %14s %14s %14s %12s %8.3f\n", ti_kv_layout_name((ti_kv_layout)l),
               ti_kv_dtype_name(dt), (size_t)c->n_layers * ti_kv_slot_bytes(dt, c->n_heads, c->d_model), b_kv, b_st,
               b_ps, b_tot, b_res, blk, r.utilisation);
    }
    printf("\nB/token: k|v bytes of one position over all layers.\nKV/symbol: cache bytes (paged: blocks in use, shared ones split by refcount); state: per-stream\n"
           "scratch + feature state; reserved: ring = total, paged = blocks obtained from the system\n"
           "(+ sink rows); "
           "util = window positions held / window position slots allocated.\n");
    ti_model_free(gm);
    return 0;
}

/* ---- replay ------------------------------------------------------------------------------ */

#define REPLAY_MAX_SYMBOLS 4096

static void replay_usage(void)
{
    printf("usage: tickinfer stream replay --model CKPT --source DIR [--symbols N] [--buckets B]\n"
           "                               [--layout ring|paged] [--window W] [--sinks K] [--kv f32|int8|fp8|int4]\n"
           "                               [--out CSV]\n\n"
           "Replays the raw trades of an Optiver folder (DIR with trade_train.parquet) through the\n"
           "streaming engine: the first N symbols (default all), their first B buckets (default 5),\n"
           "each bucket a new session, all symbols interleaved in time order, one push per trade\n"
           "(each push closes the finished seconds: features + one decode each).  Prints the\n"
           "per-push latency percentiles; --out writes one CSV row per push that produced a\n"
           "forecast: symbol,time_id,second,y_log,rv.\n");
}


static int cmd_stream_replay(int argc, char **argv)
{
    const char *model_path = NULL, *src_path = NULL, *out_path = NULL;
    int n_sym = REPLAY_MAX_SYMBOLS, n_buckets = 5, W = 0, K = 0;
    ti_kv_layout layout = TI_KV_RING;
    ti_kv_dtype dt = TI_KV_F32;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--model") && v) model_path = v, i++;
        else if (!strcmp(a, "--source") && v) src_path = v, i++;
        else if (!strcmp(a, "--out") && v) out_path = v, i++;
        else if (!strcmp(a, "--symbols") && v) bad = parse_int(&n_sym, v, 1, REPLAY_MAX_SYMBOLS), i++;
        else if (!strcmp(a, "--buckets") && v) bad = parse_int(&n_buckets, v, 1, 1 << 20), i++;
        else if (!strcmp(a, "--window") && v) bad = parse_int(&W, v, 1, 1 << 20), i++;
        else if (!strcmp(a, "--sinks") && v) bad = parse_int(&K, v, 0, TI_KV_MAX_SINKS), i++;
        else if (!strcmp(a, "--kv") && v) {
            ti_err err = ti_kv_dtype_parse(&dt, v);
            if (err) return cli_fail("stream replay", err);
            i++;
        } else if (!strcmp(a, "--layout") && v) {
            ti_err err = ti_kv_layout_parse(&layout, v);
            if (err) return cli_fail("stream replay", err);
            i++;
        } else {
            fprintf(stderr, "tickinfer stream replay: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "tickinfer stream replay: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (!model_path || !src_path) {
        fprintf(stderr, "tickinfer stream replay: --model and --source are required (see --help)\n");
        return 2;
    }
    ti_ckpt_meta meta;
    ti_model *gm = NULL;
    const ti_tfm *m = NULL;
    ti_source *src = NULL;
    ti_stream_engine *e = NULL;
    ti_symbol_data *sd = NULL;
    ti_stream **s = NULL;
    size_t *cur = NULL;
    FILE *csv = NULL;
    ti_hist h = {0};
    int n_loaded = 0, rc = 1;
    ti_err err = ti_model_open(&gm, model_path, NULL);
    if (err) return cli_fail("stream replay", err);
    if (!(m = stream_model(gm))) {
        err = ti_errorf(TI_ERR_UNSUPPORTED, "stream replay: %s is a %s model; only models with a KV-cache step "
                                            "stream trades (rv_causal)", model_path, ti_model_get_info(gm)->arch);
        goto done;
    }
    meta = (ti_ckpt_meta){.n_features = ti_model_get_norm(gm)->n_features};
    if ((err = ti_source_open_optiver(&src, src_path))) goto done;
    if (src->has_book != 0 || meta.n_features != ti_features_count(0)) {
        err = ti_errorf(TI_ERR_UNSUPPORTED, "stream replay: %s takes %d features; the stream computes the %d trade "
                        "features", model_path, meta.n_features, ti_features_count(0));
        goto done;
    }
    if ((size_t)n_sym > src->n_symbols) n_sym = (int)src->n_symbols;
    if ((err = ti_stream_engine_create_for(&e, gm,
                                       &(ti_stream_opts){.window = W, .layout = layout, .max_streams = n_sym,
                                                         .sinks = K, .kv_dtype = dt})))
        goto done;
    sd = calloc((size_t)n_sym, sizeof *sd);
    s = calloc((size_t)n_sym, sizeof *s);
    cur = calloc((size_t)n_sym, sizeof *cur);
    if (!sd || !s || !cur) {
        err = ti_errorf(TI_ERR_NOMEM, "stream replay: %d symbols", n_sym);
        goto done;
    }
    while (n_loaded < n_sym) {
        if ((err = src->load(src, (size_t)n_loaded, &sd[n_loaded]))) goto done;
        n_loaded++;
        if ((err = ti_stream_open(e, &s[n_loaded - 1], sd[n_loaded - 1].symbol))) goto done;
    }
    if (out_path && !(csv = fopen(out_path, "w"))) {
        err = ti_errorf(TI_ERR_IO, "stream replay: %s: cannot create", out_path);
        goto done;
    }
    if (csv) fprintf(csv, "symbol,time_id,second,y_log,rv\n");
    if ((err = ti_hist_init(&h, 10000000000ull, 7))) goto done;
    const int blen = src->bucket_len;
    uint64_t n_push = 0, n_fc = 0;
    const uint64_t t_start = ti_now_ns();
    for (int b = 0; b < n_buckets; b++) {
        int any = 0;
        for (int i = 0; i < n_sym; i++) {
            ti_stream_reset(s[i]);
            if ((size_t)b < sd[i].n_buckets) cur[i] = sd[i].bar_start[b], any = 1;
        }
        if (!any) break;
        /* all symbols' trades in time order: second by second, symbol by symbol */
        for (int sec = 0; sec <= blen; sec++) {
            for (int i = 0; i < n_sym; i++) {
                if ((size_t)b >= sd[i].n_buckets) continue;
                const uint64_t end = sd[i].bar_start[b + 1];
                ti_forecast fc;
                int n = 0;
                if (sec == blen) { /* close the bucket's last seconds */
                    if ((err = ti_stream_advance(s[i], blen, &fc, &n))) goto done;
                } else {
                    if (cur[i] >= end || sd[i].bars[cur[i]].sec != sec) continue;
                    const ti_bar *br = &sd[i].bars[cur[i]++];
                    const uint64_t t0 = ti_now_ns();
                    err = ti_stream_push_trade(s[i], br->sec, br->price, br->size, br->order_count, &fc, &n);
                    ti_hist_record(&h, ti_now_ns() - t0);
                    if (err) goto done;
                    n_push++;
                }
                if (n > 0) {
                    n_fc += (uint64_t)n;
                    if (csv)
                        fprintf(csv, "%s,%d,%lld,%.6f,%.8g\n", sd[i].symbol, (int)sd[i].time_ids[b], (long long)fc.t,
                                fc.y_log, fc.rv);
                }
            }
        }
    }
    const double el = (double)(ti_now_ns() - t_start) / 1e9;
    ti_stream_stats st;
    ti_stream_engine_stats(e, &st);
    printf("replayed %llu trades of %d symbols (%s, window %d + %d sinks, %s, kv %s): %llu forecasts in %.2f s\n",
           (unsigned long long)n_push, n_sym, src_path, ti_stream_engine_opts(e)->window, K, ti_kv_layout_name(layout),
           ti_kv_dtype_name(dt),
           (unsigned long long)n_fc, el);
    printf("per push (features + decodes of the seconds it closes): p50 %.2f us, p99 %.2f us, max %.2f us\n",
           ti_hist_quantile(&h, 0.5) / 1e3, ti_hist_quantile(&h, 0.99) / 1e3, ti_hist_quantile(&h, 1.0) / 1e3);
    printf("KV held: %.2f MiB (%.0f B per symbol)\n", st.kv_bytes / 1048576.0, (double)st.kv_bytes / n_sym);
    if (out_path) printf("wrote %s\n", out_path);
    rc = 0;
done:
    if (csv && fclose(csv) && !err) err = ti_errorf(TI_ERR_IO, "stream replay: %s: write failed", out_path);
    if (err) rc = cli_fail("stream replay", err);
    if (h.counts) ti_hist_free(&h);
    ti_stream_engine_destroy(e); /* closes the streams */
    for (int i = 0; i < n_loaded && sd; i++) ti_symbol_data_free(&sd[i]);
    free(sd), free(s), free(cur);
    ti_source_close(src);
    ti_model_free(gm);
    return rc;
}

int cmd_stream(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        printf("\n");
        replay_usage();
        printf("\ntickinfer stream eval ...: RMSPE of streamed forecasts per KV dtype (= tickinfer kveval --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "stats")) {
        if (cli_wants_help(argc - 1, argv + 1)) {
            usage();
            return 0;
        }
        return cmd_stream_stats(argc - 2, argv + 2);
    }
    if (!strcmp(argv[1], "replay")) {
        if (cli_wants_help(argc - 1, argv + 1)) {
            replay_usage();
            return 0;
        }
        return cmd_stream_replay(argc - 2, argv + 2);
    }
    /* accuracy of quantized KV / window / sinks on a dataset split: same as `tickinfer kveval` */
    if (!strcmp(argv[1], "eval")) return cmd_kveval(argc - 1, argv + 1);
    fprintf(stderr, "tickinfer stream: unknown subcommand '%s' (stats, replay, eval)\n", argv[1]);
    return 2;
}
