/* Model forward benchmark: TinyRV over its full window (T=600, the seed's shape) and the
 * causal model at T=300, batch 1 and 32, 1 and 2 threads, inference run state with packed
 * weights at the active SIMD level (TI_SIMD caps it).  Latency median / p99 over repeated
 * runs (HDR histogram) and samples/s = B / median.  Prints a table; writes
 * bench/results/model_forward.json.
 *   build/release/bench/model_forward [--quick] [--seconds S] [--model CKPT] [--out PATH]
 * --model runs a checkpoint (safetensors or .pt) in place of the randomly initialised TinyRV. */
#include "bench_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/hist.h"
#include "tickinfer/transformer.h"

typedef struct result {
    const char *model;
    int T, B, threads;
    int reps;
    double p50_ms, p99_ms, mean_ms, min_ms, samples_per_s;
} result;

#define MAX_RESULTS 16

static void fill_inputs(float *x, size_t n)
{
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
}

/* Runs forward until `seconds` have passed and at least min_reps were timed. */
static int bench_one(result *r, const ti_tfm *m, int B, int T, int threads, double seconds, int min_reps)
{
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const size_t nx = (size_t)B * T * c->n_features;
    float *x = malloc(nx * sizeof *x), *y = malloc((size_t)B * T * sizeof *y);
    ti_runstate *rs = NULL;
    ti_pool *pool = NULL;
    ti_hist h;
    int ok = x && y && ti_hist_init(&h, 600ull * 1000000000ull, 7) == TI_OK;
    if (ok && ti_runstate_create(&rs, m, B, T, 0) != TI_OK) ok = 0;
    if (ok && threads > 1 && ti_pool_create(&pool, threads) != TI_OK) ok = 0;
    if (!ok) {
        fprintf(stderr, "model_forward: setup failed: %s\n", ti_errmsg());
        free(x), free(y);
        return -1;
    }
    fill_inputs(x, nx);
    for (int i = 0; i < 2; i++) /* warm: fault the run state in, train the branch predictors */
        if (ti_tfm_forward(m, rs, y, x, B, T, pool) != TI_OK) {
            fprintf(stderr, "model_forward: %s\n", ti_errmsg());
            ok = 0;
            break;
        }
    const double start = ti_now_s();
    int reps = 0;
    while (ok && (reps < min_reps || ti_now_s() - start < seconds) && reps < 100000) {
        uint64_t t0 = ti_now_ns();
        ti_tfm_forward(m, rs, y, x, B, T, pool);
        ti_hist_record(&h, ti_now_ns() - t0);
        reps++;
    }
    r->model = ti_tfm_arch_name(c->kind);
    r->T = T, r->B = B, r->threads = threads, r->reps = reps;
    r->p50_ms = (double)ti_hist_quantile(&h, 0.5) * 1e-6;
    r->p99_ms = (double)ti_hist_quantile(&h, 0.99) * 1e-6;
    r->mean_ms = ti_hist_mean(&h) * 1e-6;
    r->min_ms = (double)ti_hist_quantile(&h, 0.0) * 1e-6;
    r->samples_per_s = r->p50_ms > 0 ? B / (r->p50_ms * 1e-3) : 0;
    ti_hist_free(&h);
    ti_pool_destroy(pool);
    ti_runstate_destroy(rs);
    free(x), free(y);
    return ok ? 0 : -1;
}

static int write_json(const char *path, const result *res, int n, const char *tiny_src)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const ti_cpu_info *ci = ti_cpu_get();
    fprintf(f, "{\n  \"benchmark\": \"model_forward\",\n  \"cpu\": ");
    bench_json_str(f, ci->model);
    fprintf(f, ",\n  \"cores_online\": %d,\n  \"simd\": \"%s\",\n  \"tinyrv_weights\": ", ci->n_cores_online,
            ti_simd_name(ti_simd_active()));
    bench_json_str(f, tiny_src);
    fprintf(f, ",\n  \"results\": [\n");
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f,
                "    {\"model\": \"%s\", \"T\": %d, \"batch\": %d, \"threads\": %d, \"reps\": %d, "
                "\"p50_ms\": %.4f, \"p99_ms\": %.4f, \"mean_ms\": %.4f, \"min_ms\": %.4f, "
                "\"samples_per_s\": %.1f}%s\n",
                r->model, r->T, r->B, r->threads, r->reps, r->p50_ms, r->p99_ms, r->mean_ms, r->min_ms,
                r->samples_per_s, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *out_path = "bench/results/model_forward.json", *ckpt = NULL;
    double seconds = 2.0;
    int min_reps = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) seconds = 0.3, min_reps = 3;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) ckpt = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--seconds S] [--model CKPT] [--out PATH]\n", argv[0]);
            return 2;
        }
    }
    ti_tfm *models[2] = {NULL, NULL};
    ti_tfm_config c;
    if (ckpt) {
        if (ti_tfm_load(&models[0], NULL, ckpt, NULL) != TI_OK) {
            fprintf(stderr, "model_forward: %s\n", ti_errmsg());
            return 1;
        }
    } else {
        ti_tfm_config_default(&c, TI_TFM_TINYRV);
        if (ti_tfm_create(&models[0], &c) == TI_OK) ti_tfm_init(models[0], 1);
    }
    ti_tfm_config_default(&c, TI_TFM_RV_CAUSAL);
    if (ti_tfm_create(&models[1], &c) == TI_OK) ti_tfm_init(models[1], 2);
    for (int i = 0; i < 2; i++)
        if (!models[i] || (!ti_tfm_is_packed(models[i]) && ti_tfm_pack(models[i]) != TI_OK)) {
            fprintf(stderr, "model_forward: %s\n", ti_errmsg());
            return 1;
        }

    const ti_cpu_info *ci = ti_cpu_get();
    printf("model forward (inference, packed weights, %s) on %s, %d cores online\n",
           ti_simd_name(ti_simd_active()), ci->model, ci->n_cores_online);
    printf("%-10s %5s %5s %7s %6s %10s %10s %10s %12s\n", "model", "T", "batch", "threads", "reps", "p50 ms",
           "p99 ms", "min ms", "samples/s");
    result res[MAX_RESULTS];
    int n = 0;
    const int Ts[2] = {ti_tfm_get_config(models[0])->context, 300};
    const int batches[2] = {1, 32}, threads[2] = {1, 2};
    for (int mi = 0; mi < 2; mi++)
        for (int bi = 0; bi < 2; bi++)
            for (int ti = 0; ti < 2; ti++) {
                result *r = &res[n];
                if (bench_one(r, models[mi], batches[bi], Ts[mi], threads[ti], seconds, min_reps) != 0) return 1;
                printf("%-10s %5d %5d %7d %6d %10.3f %10.3f %10.3f %12.1f\n", r->model, r->T, r->B, r->threads,
                       r->reps, r->p50_ms, r->p99_ms, r->min_ms, r->samples_per_s);
                fflush(stdout);
                n++;
            }
    ti_tfm_destroy(models[0]);
    ti_tfm_destroy(models[1]);
    if (write_json(out_path, res, n, ckpt ? ckpt : "random init (ti_tfm_init seed 1)") != 0) {
        fprintf(stderr, "model_forward: cannot write %s\n", out_path);
        return 1;
    }
    printf("wrote %s\n", out_path);
    return 0;
}
