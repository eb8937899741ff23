/* Whole-model GPU benchmark: TinyRV full-window forward at batch 1 and 32 (device-resident
 * input, CUDA-event timing) and the graph-captured rv_causal decode step for 1k and 10k
 * symbols (host x in, host y out, so the copies are included), median / p95 / p99.
 *   build/release/bench/cuda/bench_model OUT.json [tinyrv.pt|.safetensors] [rv_causal.safetensors]
 * Without checkpoint paths the default configs are used with random weights (same cost).
 * Needs a GPU; exits 2 with the reason when there is none. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/cuda.h"
#include "tickinfer/transformer.h"

#define BENCH_NAME "bench_model"
#include "cuda_bench_common.h"

#define RUNS 200
static ti_cuda *cu;
static FILE *out;
static int first = 1;

static void bench(const char *what, const char *shape, ti_err (*fn)(void *), void *arg, double items)
{
    double med, p95, p99;
    time_runs(cu, fn, arg, 5, RUNS, &med, &p95, &p99);
    fprintf(out, "%s    {\"bench\": \"%s\", \"impl\": \"tickinfer-cuda\", \"shape\": \"%s\", \"median_us\": %.2f, "
                 "\"p95_us\": %.2f, \"p99_us\": %.2f, \"items_per_s\": %.0f}",
            first ? "" : ",\n", what, shape, med * 1e3, p95 * 1e3, p99 * 1e3, items / (med * 1e-3));
    first = 0;
    fprintf(stderr, "%-22s %-26s median %9.2f us  p95 %9.2f  p99 %9.2f  %.0f/s\n", what, shape, med * 1e3,
            p95 * 1e3, p99 * 1e3, items / (med * 1e-3));
}

static ti_tfm *get_model(const char *path, ti_tfm_arch kind)
{
    ti_tfm *m = NULL;
    if (path && *path) {
        CHECK(ti_tfm_load(&m, NULL, path, NULL));
        return m;
    }
    ti_tfm_config c;
    ti_tfm_config_default(&c, kind);
    CHECK(ti_tfm_create(&m, &c));
    ti_tfm_init(m, 1);
    return m;
}

typedef struct fw_a { ti_cuda_model *gm; float *y, *x; int B, T; } fw_a;
static ti_err run_fw(void *p) { fw_a *a = p; return ti_cuda_model_forward(a->gm, a->y, a->x, a->B, a->T); }
typedef struct dec_a { ti_cuda_decoder *d; float *y, *x; int steps, cap; } dec_a;
static ti_err run_dec(void *p)
{
    dec_a *a = p;
    if (++a->steps >= a->cap) { /* keep every symbol inside its context */
        ti_err e = ti_cuda_decoder_reset(a->d);
        if (e) return e;
        a->steps = 0;
    }
    return ti_cuda_decoder_step(a->d, a->y, a->x);
}

int main(int argc, char **argv)
{
    out = argc > 1 && strcmp(argv[1], "-") ? fopen(argv[1], "w") : stdout;
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    if (ti_cuda_create(&cu, 0)) {
        fprintf(stderr, "bench_model: %s\n", ti_errmsg());
        return 2;
    }
    ti_cuda_info info;
    CHECK(ti_cuda_get_info(cu, &info));
    fprintf(out, "{\"device\": \"%s\", \"runs\": %d, \"results\": [\n", info.name, RUNS);

    ti_tfm *tiny = get_model(argc > 2 ? argv[2] : NULL, TI_TFM_TINYRV);
    const ti_tfm_config *tc = ti_tfm_get_config(tiny);
    const int bs[2] = {1, 32};
    for (int i = 0; i < 2; i++) {
        fw_a a = {NULL, NULL, NULL, bs[i], tc->context};
        size_t nx = (size_t)a.B * a.T * tc->n_features;
        float *hx = calloc(nx, 4);
        CHECK(ti_cuda_model_create(cu, &a.gm, tiny, a.B, 0));
        CHECK(ti_cuda_malloc(cu, (void **)&a.x, nx * 4));
        CHECK(ti_cuda_malloc(cu, (void **)&a.y, (size_t)a.B * 4));
        CHECK(ti_cuda_upload(cu, a.x, hx, nx * 4));
        char sh[64];
        snprintf(sh, sizeof sh, "B=%d T=%d d=%d L=%d", a.B, a.T, tc->d_model, tc->n_layers);
        bench("tinyrv_forward", sh, run_fw, &a, a.B);
        ti_cuda_free(cu, a.x), ti_cuda_free(cu, a.y);
        ti_cuda_model_destroy(a.gm);
        free(hx);
    }
    ti_tfm_destroy(tiny);

    ti_tfm *causal = get_model(argc > 3 ? argv[3] : NULL, TI_TFM_RV_CAUSAL);
    const ti_tfm_config *cc = ti_tfm_get_config(causal);
    const int ss[2] = {1000, 10000};
    for (int i = 0; i < 2; i++) {
        const int ctx = 256;
        dec_a a = {NULL, malloc((size_t)ss[i] * 4), calloc((size_t)ss[i] * cc->n_features, 4), 0, ctx};
        CHECK(ti_cuda_decoder_create(cu, &a.d, causal, ss[i], ctx));
        char sh[64];
        snprintf(sh, sizeof sh, "S=%d ctx<=%d d=%d L=%d", ss[i], ctx, cc->d_model, cc->n_layers);
        bench("rv_causal_decode_step", sh, run_dec, &a, ss[i]);
        ti_cuda_decoder_destroy(a.d);
        free(a.y), free(a.x);
    }
    ti_tfm_destroy(causal);
    fprintf(out, "\n]}\n");
    if (out != stdout) fclose(out);
    ti_cuda_destroy(cu);
    return 0;
}
