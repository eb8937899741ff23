/* Streaming benchmark (one thread, the active SIMD level):
 *   1. per-tick cost with the KV cache (one decode step, window full and wrapping) vs the
 *      full-window recompute (ti_tfm_forward of the last ctx inputs, batch 1, last output),
 *      at ctx 64 ... 4096, ring and paged layouts;
 *   2. many symbols: N streams (paged pool), ticks round-robin across them, per-tick latency
 *      and the memory the caches hold.
 * Model: models/rv_causal_optiver.safetensors (d64, 4 heads, 2 layers) with its context
 * raised to 4096 (ALiBi has no position table, so the weights are unchanged).
 * Writes bench/results/stream.{json,md,svg}.
 *   build/release/bench/stream [--quick] [--model CKPT] [--out DIR] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/hist.h"
#include "tickinfer/plot.h"
#include "tickinfer/stream.h"

#define NCTX 6
static const int CTXS[NCTX] = {64, 256, 600, 1024, 2048, 4096};

static uint64_t rs = 88172645463325252ull;
static float frand(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 * 4.0 - 2.0);
}

typedef struct lat {
    double p50_us, p99_us, mean_us;
    long n;
} lat;

static lat hist_lat(ti_hist *h)
{
    return (lat){ti_hist_quantile(h, 0.5) / 1e3, ti_hist_quantile(h, 0.99) / 1e3, ti_hist_mean(h) / 1e3,
                 (long)h->total};
}

/* Decode latency with the window full: warm with ctx ticks, then time `n` ticks. */
static int bench_decode(lat *out, const ti_tfm *m, int ctx, ti_kv_layout layout, int n)
{
    const int F = ti_tfm_get_config(m)->n_features;
    ti_stream_engine *e;
    ti_stream *s;
    if (ti_stream_engine_create(&e, m, NULL, 1, &(ti_stream_opts){.window = ctx, .layout = layout}) ||
        ti_stream_open(e, &s, "B"))
        return -1;
    float *x = malloc(sizeof(float) * 4096 * F);
    for (int i = 0; i < 4096 * F; i++) x[i] = frand();
    for (int t = 0; t < ctx + 16; t++) ti_stream_push_normalized(s, x + (size_t)(t % 4096) * F, NULL);
    ti_hist h;
    ti_hist_init(&h, 10000000000ull, 7);
    for (int t = 0; t < n; t++) {
        const uint64_t t0 = ti_now_ns();
        ti_stream_push_normalized(s, x + (size_t)(t % 4096) * F, NULL);
        ti_hist_record(&h, ti_now_ns() - t0);
    }
    *out = hist_lat(&h);
    ti_hist_free(&h);
    free(x);
    ti_stream_engine_destroy(e);
    return 0;
}

/* Full-window recompute: ti_tfm_forward of ctx inputs, batch 1, one thread. */
static int bench_recompute(lat *out, const ti_tfm *m, int ctx, double seconds)
{
    const int F = ti_tfm_get_config(m)->n_features;
    ti_runstate *r;
    if (ti_runstate_create(&r, m, 1, ctx, 0)) return -1;
    float *x = malloc(sizeof(float) * (size_t)ctx * F), *y = malloc(sizeof(float) * (size_t)ctx);
    for (int i = 0; i < ctx * F; i++) x[i] = frand();
    ti_hist h;
    ti_hist_init(&h, 100000000000ull, 7);
    ti_tfm_forward(m, r, y, x, 1, ctx, NULL);
    const double t_end = ti_now_s() + seconds;
    while (h.total < 5 || (ti_now_s() < t_end && h.total < 2000)) {
        const uint64_t t0 = ti_now_ns();
        ti_tfm_forward(m, r, y, x, 1, ctx, NULL);
        ti_hist_record(&h, ti_now_ns() - t0);
    }
    *out = hist_lat(&h);
    ti_hist_free(&h);
    free(x), free(y);
    ti_runstate_destroy(r);
    return 0;
}

typedef struct many_row {
    int symbols, window, warm;
    lat l;
    double ticks_per_s, kv_mib, kv_reserved_mib, bytes_per_symbol, utilisation;
} many_row;

/* N symbols (paged), each warmed with `warm` ticks, then `n` ticks round-robin. */
static int bench_many(many_row *row, const ti_tfm *m, int N, int W, int warm, int n)
{
    const int F = ti_tfm_get_config(m)->n_features;
    ti_stream_engine *e;
    if (ti_stream_engine_create(&e, m, NULL, 1,
                                &(ti_stream_opts){.window = W, .layout = TI_KV_PAGED, .max_streams = N}))
        return -1;
    ti_stream **s = calloc((size_t)N, sizeof *s);
    float x[64];
    for (int i = 0; i < F; i++) x[i] = frand();
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "SYM%05d", i);
        if (ti_stream_open(e, &s[i], name)) return -1;
        for (int t = 0; t < warm; t++) ti_stream_push_normalized(s[i], x, NULL);
    }
    ti_hist h;
    ti_hist_init(&h, 10000000000ull, 7);
    const double t0s = ti_now_s();
    for (int t = 0; t < n; t++) {
        x[t % F] = frand();
        const uint64_t t0 = ti_now_ns();
        ti_stream_push_normalized(s[t % N], x, NULL);
        ti_hist_record(&h, ti_now_ns() - t0);
    }
    const double el = ti_now_s() - t0s;
    ti_stream_stats st;
    ti_stream_engine_stats(e, &st);
    *row = (many_row){.symbols = N, .window = W, .warm = warm, .l = hist_lat(&h), .ticks_per_s = n / el,
                      .kv_mib = st.kv_bytes / 1048576.0, .kv_reserved_mib = st.kv_bytes_reserved / 1048576.0,
                      .bytes_per_symbol = (double)(st.kv_bytes + st.state_bytes) / N, .utilisation = st.utilisation};
    ti_hist_free(&h);
    ti_stream_engine_destroy(e); /* closes the streams */
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = "models/rv_causal_optiver.safetensors", *out = "bench/results";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--model CKPT] [--out DIR]\n", argv[0]);
            return 2;
        }
    }
    ti_ckpt_meta meta;
    ti_tfm *probe;
    if (ti_tfm_load(&probe, &meta, model_path, NULL)) {
        fprintf(stderr, "stream bench: %s\n", ti_errmsg());
        return 1;
    }
    ti_tfm_config cfg = *ti_tfm_get_config(probe);
    ti_tfm_destroy(probe);
    cfg.context = 4096;
    ti_tfm *m;
    if (ti_tfm_load(&m, NULL, model_path, &(ti_tfm_load_opts){.config = &cfg})) {
        fprintf(stderr, "stream bench: %s\n", ti_errmsg());
        return 1;
    }
    const int n_dec = quick ? 500 : 5000;
    const double rec_s = quick ? 0.3 : 2.0;
    lat ring[NCTX], paged[NCTX], rec[NCTX];
    printf("stream bench: %s (d%d, %d heads, %d layers), one thread, simd %s\n\n", model_path, cfg.d_model,
           cfg.n_heads, cfg.n_layers, ti_simd_name(ti_simd_active()));
    printf("%-6s %14s %14s %16s %10s\n", "ctx", "decode p50 us", "paged p50 us", "recompute p50 us", "speed-up");
    for (int i = 0; i < NCTX; i++) {
        if (bench_decode(&ring[i], m, CTXS[i], TI_KV_RING, n_dec) ||
            bench_decode(&paged[i], m, CTXS[i], TI_KV_PAGED, n_dec) || bench_recompute(&rec[i], m, CTXS[i], rec_s)) {
            fprintf(stderr, "stream bench: %s\n", ti_errmsg());
            return 1;
        }
        printf("ctx %-4d %12.2f %14.2f %16.1f %9.1fx\n", CTXS[i], ring[i].p50_us, paged[i].p50_us, rec[i].p50_us,
               rec[i].p50_us / ring[i].p50_us);
        fflush(stdout);
    }
    const int syms[3] = {100, 1000, 10000};
    many_row many[3];
    const int nm = quick ? 2 : 3;
    printf("\n%-8s %6s %6s %10s %10s %12s %10s %14s %8s\n", "symbols", "window", "warm", "p50 us", "p99 us",
           "ticks/s", "KV MiB", "bytes/symbol", "util");
    for (int i = 0; i < nm; i++) {
        if (bench_many(&many[i], m, syms[i], 128, 128, quick ? 20000 : 100000)) {
            fprintf(stderr, "stream bench: %s\n", ti_errmsg());
            return 1;
        }
        const many_row *r = &many[i];
        printf("%-8d %6d %6d %10.2f %10.2f %12.0f %10.1f %14.0f %8.2f\n", r->symbols, r->window, r->warm, r->l.p50_us,
               r->l.p99_us, r->ticks_per_s, r->kv_mib, r->bytes_per_symbol, r->utilisation);
    }
    /* results */
    char path[512];
    snprintf(path, sizeof path, "%s/stream.json", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "{\"model\": \"%s\", \"simd\": \"%s\", \"threads\": 1, \"cache_vs_recompute\": [\n", model_path,
            ti_simd_name(ti_simd_active()));
    for (int i = 0; i < NCTX; i++)
        fprintf(f,
                "  {\"ctx\": %d, \"decode_ring_p50_us\": %.3f, \"decode_ring_p99_us\": %.3f, \"decode_paged_p50_us\": %.3f, "
                "\"decode_paged_p99_us\": %.3f, \"recompute_p50_us\": %.2f, \"recompute_p99_us\": %.2f, \"speedup\": %.2f}%s\n",
                CTXS[i], ring[i].p50_us, ring[i].p99_us, paged[i].p50_us, paged[i].p99_us, rec[i].p50_us, rec[i].p99_us,
                rec[i].p50_us / ring[i].p50_us, i + 1 < NCTX ? "," : "");
    fprintf(f, "], \"many_symbols\": [\n");
    for (int i = 0; i < nm; i++)
        fprintf(f,
                "  {\"symbols\": %d, \"window\": %d, \"warm_ticks\": %d, \"p50_us\": %.3f, \"p99_us\": %.3f, "
                "\"ticks_per_s\": %.0f, \"kv_mib\": %.2f, \"kv_reserved_mib\": %.2f, \"bytes_per_symbol\": %.0f, "
                "\"utilisation\": %.3f}%s\n",
                many[i].symbols, many[i].window, many[i].warm, many[i].l.p50_us, many[i].l.p99_us, many[i].ticks_per_s,
                many[i].kv_mib, many[i].kv_reserved_mib, many[i].bytes_per_symbol, many[i].utilisation,
                i + 1 < nm ? "," : "");
    fprintf(f, "]}\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/stream.md", out);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "# Streaming: per-tick cost with the KV cache vs full-window recompute\n\n");
    fprintf(f, "Model `%s` (rv_causal d%d, %d heads, %d layers, context raised to 4096), one thread, SIMD %s. "
               "Decode = one tick with the window full (wrapping); recompute = `ti_tfm_forward` of the last ctx "
               "inputs (batch 1). Latencies are medians (p99 in the JSON).\n\n",
            model_path, cfg.d_model, cfg.n_heads, cfg.n_layers, ti_simd_name(ti_simd_active()));
    fprintf(f, "| ctx | decode ring p50 us | decode paged p50 us | recompute p50 us | speed-up |\n|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < NCTX; i++)
        fprintf(f, "| ctx %d | %.2f | %.2f | %.1f | %.1fx |\n", CTXS[i], ring[i].p50_us, paged[i].p50_us, rec[i].p50_us,
                rec[i].p50_us / ring[i].p50_us);
    fprintf(f, "\n## Many symbols (paged pool, window 128, each symbol warmed with a full window, then ticks round-robin)\n\n");
    fprintf(f, "| symbols | p50 us | p99 us | ticks/s | KV MiB | bytes/symbol (KV + state) | utilisation |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nm; i++)
        fprintf(f, "| %d | %.2f | %.2f | %.0f | %.1f | %.0f | %.2f |\n", many[i].symbols, many[i].l.p50_us,
                many[i].l.p99_us, many[i].ticks_per_s, many[i].kv_mib, many[i].bytes_per_symbol, many[i].utilisation);
    fprintf(f, "\n![latency vs context](stream.svg)\n\nCommand: `make bench-stream` (or `build/release/bench/stream`).\n");
    fclose(f);
    double xs[NCTX], yd[NCTX], yp[NCTX], yr[NCTX];
    for (int i = 0; i < NCTX; i++)
        xs[i] = CTXS[i], yd[i] = ring[i].p50_us, yp[i] = paged[i].p50_us, yr[i] = rec[i].p50_us;
    ti_plot p = {.title = "Per-tick latency: KV-cache decode vs full-window recompute (p50, one thread)",
                 .xlabel = "context (ticks)", .ylabel = "microseconds", .log_x = 1, .log_y = 1, .n_series = 3};
    p.series[0] = (ti_plot_series){"decode (ring)", xs, yd, NCTX, TI_PLOT_LINE_POINTS};
    p.series[1] = (ti_plot_series){"decode (paged)", xs, yp, NCTX, TI_PLOT_LINE_POINTS};
    p.series[2] = (ti_plot_series){"full-window recompute", xs, yr, NCTX, TI_PLOT_LINE_POINTS};
    snprintf(path, sizeof path, "%s/stream.svg", out);
    if (ti_plot_write_svg(&p, path)) fprintf(stderr, "stream bench: %s\n", ti_errmsg());
    printf("\nwrote %s/stream.{json,md,svg}\n", out);
    ti_tfm_destroy(m);
    ti_ckpt_meta_free(&meta);
    return 0;
}
