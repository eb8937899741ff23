/* tickinfer stream: streaming-engine utilities.  `stream stats` sizes the per-symbol state
 * of the streaming engine for a model: it builds the real structures (an engine with N open
 * streams for the scratch/feature state, and N KV caches filled to --fill positions through
 * ti_kv_append for the caches) and reports what they hold, per layout.  Filling writes rows
 * directly instead of decoding, so sizing 100k symbols takes no model time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/kv.h"
#include "tickinfer/model.h"
#include "tickinfer/stream.h"

#define STATS_MAX_SYMBOLS 1000000

static void usage(void)
{
    printf("usage: tickinfer stream stats --model CKPT [--window W] [--symbols N] [--fill T]\n"
           "                              [--layout ring|paged] [--kv f32|int8|fp8|int4] [--block B]\n\n"
           "Bytes the streaming engine holds per symbol and in total for N symbols, measured on\n"
           "the real structures: N open streams (scratch + feature state) and N KV caches filled\n"
           "with T positions each (default T = W; the cache keeps the last W).\n"
           "  --window W   positions kept per symbol (default: the model's context)\n"
           "  --symbols N  symbols (default 1000)\n"
           "  --fill T     positions pushed into each symbol (default W)\n"
           "  --layout L   ring or paged (default: both, one table row each)\n"
           "  --kv D       cache element type; only f32 is built in so far\n"
           "  --block B    paged: positions per block (default 16)\n");
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
static ti_err measure_kv(stats_row *r, const ti_model_config *c, ti_kv_layout layout, int W, int N, int fill, int bs)
{
    ti_kv_pool *pool = NULL;
    ti_err err = TI_OK;
    if (layout == TI_KV_PAGED && (err = ti_kv_pool_create(&pool, c->n_layers, c->d_model, bs, 0, 0))) return err;
    ti_kv_cache *kv = calloc((size_t)N, sizeof *kv);
    float **rows = calloc((size_t)c->n_layers, sizeof *rows);
    int n_init = 0;
    if (!kv || !rows) err = ti_errorf(TI_ERR_NOMEM, "stream stats: %d caches", N);
    for (; !err && n_init < N; n_init++) {
        if ((err = ti_kv_cache_init(&kv[n_init], layout, c->n_layers, c->d_model, W, pool))) break;
        for (int t = 0; !err && t < fill; t++) {
            err = ti_kv_append(&kv[n_init], rows);
            /* the rows are only sized here; write them so the pages are really touched */
            for (int l = 0; !err && l < c->n_layers; l++) memset(rows[l], 0, sizeof(float) * 2 * (size_t)c->d_model);
        }
    }
    if (!err) {
        r->layout = layout;
        r->kv_bytes = 0;
        for (int i = 0; i < N; i++) r->kv_bytes += ti_kv_cache_bytes(&kv[i]);
        const size_t held = (size_t)(fill < W ? fill : W);
        size_t slots;
        if (pool) {
            ti_kv_pool_stats_get(pool, &r->pool);
            r->kv_reserved = r->pool.blocks_alloc * r->pool.block_bytes;
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
static ti_err measure_state(size_t *state_bytes, const ti_model *m, ti_kv_layout layout, int W, int N)
{
    ti_stream_engine *e;
    ti_err err = ti_stream_engine_create(&e, m, NULL, 1.0f, &(ti_stream_opts){.window = W, .layout = layout,
                                                                              .max_streams = N});
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
    int W = 0, N = 1000, fill = -1, bs = 16, want_layout = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--model") && v) model_path = v, i++;
        else if (!strcmp(a, "--window") && v) bad = parse_int(&W, v, 1, 1 << 20), i++;
        else if (!strcmp(a, "--symbols") && v) bad = parse_int(&N, v, 1, STATS_MAX_SYMBOLS), i++;
        else if (!strcmp(a, "--fill") && v) bad = parse_int(&fill, v, 0, 1 << 24), i++;
        else if (!strcmp(a, "--block") && v) bad = parse_int(&bs, v, 1, 4096), i++;
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
    if (strcmp(kv_name, "f32") != 0) {
        if (!strcmp(kv_name, "int8") || !strcmp(kv_name, "fp8") || !strcmp(kv_name, "int4"))
            return cli_fail("stream stats", ti_errorf(TI_ERR_UNSUPPORTED,
                                                      "stream stats: --kv %s: quantized KV caches are not built into "
                                                      "the streaming engine yet (f32 only)", kv_name));
        fprintf(stderr, "tickinfer stream stats: --kv must be f32, int8, fp8 or int4, not '%s'\n", kv_name);
        return 2;
    }
    ti_model *m;
    ti_err err = ti_model_load(&m, NULL, model_path, NULL);
    if (err) return cli_fail("stream stats", err);
    const ti_model_config *c = ti_model_get_config(m);
    if (c->kind != TI_MODEL_RV_CAUSAL) {
        ti_model_destroy(m);
        return cli_fail("stream stats", ti_errorf(TI_ERR_UNSUPPORTED, "stream stats: %s is not an rv_causal model "
                                                                      "(only causal models stream)", model_path));
    }
    if (W == 0) W = c->context;
    if (fill < 0) fill = W;
    printf("model %s: rv_causal d%d, %d heads, %d layers, context %d\n", model_path, c->d_model, c->n_heads,
           c->n_layers, c->context);
    printf("window %d, %d symbols, %d positions pushed each, kv f32 (row %zu B per token per layer)\n\n", W, N, fill,
           sizeof(float) * 2 * (size_t)c->d_model);
    printf("%-7s %14s %14s %14s %14s %14s %12s %8s\n", "layout", "KV/symbol", "state/symbol", "total/symbol",
           "total", "reserved", "blocks u/a", "util");
    for (int l = 0; l < TI_KV_LAYOUT__COUNT; l++) {
        if (want_layout >= 0 && l != want_layout) continue;
        stats_row r;
        size_t state = 0;
        if ((err = measure_kv(&r, c, (ti_kv_layout)l, W, N, fill, bs)) ||
            (err = measure_state(&state, m, (ti_kv_layout)l, W, N))) {
            ti_model_destroy(m);
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
        printf("%-7s %14s %14s %14s %14s %14s %12s %8.3f\n", ti_kv_layout_name((ti_kv_layout)l), b_kv, b_st, b_ps,
               b_tot, b_res, blk, r.utilisation);
    }
    printf("\nKV/symbol: cache bytes (paged: blocks in use, shared ones split by refcount); state: per-stream\n"
           "scratch + feature state; reserved: ring = total, paged = blocks obtained from the system;\n"
           "util = positions held / position slots allocated.\n");
    ti_model_destroy(m);
    return 0;
}

int cmd_stream(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "stats")) {
        if (cli_wants_help(argc - 1, argv + 1)) {
            usage();
            return 0;
        }
        return cmd_stream_stats(argc - 2, argv + 2);
    }
    fprintf(stderr, "tickinfer stream: unknown subcommand '%s' (stats)\n", argv[1]);
    return 2;
}
