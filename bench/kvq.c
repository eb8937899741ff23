/* Quantized KV benchmark: bytes per token and decode-attention time per query for each KV
 * dtype, at 600 and 4096 cached tokens, for the bundled model's shape (H=4, hd=16) and a
 * wider one (H=8, hd=64); every time also as a ratio to fp32 from the same run.
 * Writes bench/results/kvq.json and bench/results/kvq.md.
 * Single thread; ~10 s.
 *   build/release/bench/kvq [--quick] [--out-dir DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/kvquant.h"

typedef struct shape { int H, hd; } shape;
static const shape k_shapes[] = {{4, 16}, {8, 64}};
static const int k_ctx[] = {600, 4096};
#define NS (int)(sizeof k_shapes / sizeof k_shapes[0])
#define NC (int)(sizeof k_ctx / sizeof k_ctx[0])

static uint64_t g_rng = 42;
static float frand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-query time (ns) of one batch of `iters` calls. */
static double time_batch(ti_simd_level lvl, float *out, const float *q, const ti_kvq_seg *seg, ti_kv_dtype dt,
                         int H, int hd, int T, int iters, const float *alibi)
{
    uint64_t t0 = ti_now_ns();
    for (int i = 0; i < iters; i++)
        if (ti_kvq_attend_level(lvl, out, NULL, q, seg, 1, dt, H, hd, T, alibi, 0.0f)) return -1.0;
    return (double)(ti_now_ns() - t0) / iters;
}

#define MAXREP 101

int main(int argc, char **argv)
{
    const char *dir = "bench/results";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) dir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--out-dir DIR]\n", argv[0]);
            return 2;
        }
    }
    ti_simd_level lvl = ti_simd_active();
    const ti_cpu_info *ci = ti_cpu_get();
    int reps = quick ? 7 : MAXREP;
    printf("cpu: %s; kernel level %s; single thread; %d interleaved rounds\n", ci->model, ti_simd_name(lvl), reps);
    /* times[s][c][d][0 = active level, 1 = scalar]: the minimum over rounds (the least
     * disturbed on a shared machine); med: the median.  Each round times every dtype in
     * turn, so a load change hits all dtypes alike and the ratios stay fair. */
    static double times[NS][NC][TI_KV_DTYPE__COUNT][2], med[NS][NC][TI_KV_DTYPE__COUNT];
    static double samp[NC][TI_KV_DTYPE__COUNT][MAXREP];
    size_t bytes[NS][TI_KV_DTYPE__COUNT];
    for (int s = 0; s < NS; s++) {
        int H = k_shapes[s].H, hd = k_shapes[s].hd, C = H * hd, Tmax = k_ctx[NC - 1];
        float *src = malloc(sizeof(float) * (size_t)C * 2), q[8 * 64], out[8 * 64], alibi[8];
        uint8_t *k[TI_KV_DTYPE__COUNT], *v[TI_KV_DTYPE__COUNT];
        size_t rb[TI_KV_DTYPE__COUNT];
        if (!src) return 1;
        for (int i = 0; i < C; i++) q[i] = frand();
        for (int h = 0; h < H; h++) alibi[h] = 1.0f / (float)(1 << (h + 1));
        for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
            ti_kv_dtype dt = (ti_kv_dtype)d;
            rb[d] = ti_kvq_row_bytes(dt, H, hd);
            bytes[s][d] = 2 * rb[d]; /* K and V rows of one token, one layer */
            k[d] = malloc(rb[d] * (size_t)Tmax);
            v[d] = malloc(rb[d] * (size_t)Tmax);
            if (!k[d] || !v[d]) {
                fprintf(stderr, "kvq bench: out of memory\n");
                return 1;
            }
            for (int t = 0; t < Tmax; t++) {
                for (int i = 0; i < 2 * C; i++) src[i] = frand();
                if (ti_kvq_quantize_row(k[d] + (size_t)t * rb[d], src, dt, H, hd) ||
                    ti_kvq_quantize_row(v[d] + (size_t)t * rb[d], src + C, dt, H, hd)) {
                    fprintf(stderr, "kvq bench: %s\n", ti_errmsg());
                    return 1;
                }
            }
        }
        for (int r = 0; r < reps; r++) {
            for (int c = 0; c < NC; c++) {
                int T = k_ctx[c];
                /* ~1 ms per batch (one core) */
                int iters = (int)(400000 / ((size_t)T * C / 4 + 1)) + 1;
                for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
                    ti_kvq_seg seg = {k[d] + (size_t)(Tmax - T) * rb[d], v[d] + (size_t)(Tmax - T) * rb[d], rb[d], T,
                                      0, NULL};
                    samp[c][d][r] = time_batch(lvl, out, q, &seg, (ti_kv_dtype)d, H, hd, T, iters, alibi);
                    /* Scalar anchors the SIMD numbers: a few rounds are enough. */
                    if (r < 3) {
                        double ts = time_batch(TI_SIMD_SCALAR, out, q, &seg, (ti_kv_dtype)d, H, hd, T,
                                               iters / 4 + 1, alibi);
                        if (r == 0 || ts < times[s][c][d][1]) times[s][c][d][1] = ts;
                    }
                }
            }
        }
        for (int c = 0; c < NC; c++)
            for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
                qsort(samp[c][d], (size_t)reps, sizeof(double), cmp_d);
                times[s][c][d][0] = samp[c][d][0];
                med[s][c][d] = samp[c][d][reps / 2];
            }
        free(src);
        for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
            free(k[d]);
            free(v[d]);
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/kvq.md", dir);
    FILE *md = fopen(path, "w");
    snprintf(path, sizeof path, "%s/kvq.json", dir);
    FILE *js = fopen(path, "w");
    if (!md || !js) {
        fprintf(stderr, "kvq bench: cannot write %s/kvq.{md,json}\n", dir);
        return 1;
    }
    fprintf(md, "# Quantized KV cache: memory and decode-attention time\n\n"
                "`build/release/bench/kvq` (bench/kvq.c); CPU: %s; kernel level %s; one thread; "
                "minimum over interleaved rounds (every dtype timed in turn each round; the median is "
                "shown too: this machine is shared, so medians carry other jobs' load).  Bytes = K+V rows of one token in one layer.  Time = one decode "
                "query attending over all cached tokens (all heads, ALiBi on, fused dequantisation).\n\n",
            ci->model, ti_simd_name(lvl));
    fprintf(js, "{\n  \"cpu\": \"%s\",\n  \"level\": \"%s\",\n  \"results\": [\n", ci->model, ti_simd_name(lvl));
    int first = 1;
    for (int s = 0; s < NS; s++) {
        fprintf(md, "## H=%d, hd=%d\n\n| dtype | bytes/token/layer | saved vs f32 |", k_shapes[s].H, k_shapes[s].hd);
        for (int c = 0; c < NC; c++) fprintf(md, " ctx %d ns/query (min) | vs f32 | median ns | scalar ns |", k_ctx[c]);
        fprintf(md, "\n|---|---|---|");
        for (int c = 0; c < NC; c++) fprintf(md, "---|---|---|---|");
        fprintf(md, "\n");
        for (int d = 0; d < TI_KV_DTYPE__COUNT; d++) {
            double saved = 1.0 - (double)bytes[s][d] / (double)bytes[s][0];
            fprintf(md, "| %s | %zu | %.1f%% |", ti_kv_dtype_name((ti_kv_dtype)d), bytes[s][d], 100.0 * saved);
            for (int c = 0; c < NC; c++) {
                double t = times[s][c][d][0], r = t / times[s][c][0][0];
                fprintf(md, " %.0f | %.2fx | %.0f | %.0f |", t, r, med[s][c][d], times[s][c][d][1]);
                fprintf(js,
                        "%s    {\"H\": %d, \"hd\": %d, \"dtype\": \"%s\", \"bytes_per_token_layer\": %zu, "
                        "\"saved_vs_f32\": %.4f, \"ctx\": %d, \"ns_per_query\": %.1f, \"time_vs_f32\": %.3f, "
                        "\"median_ns_per_query\": %.1f, \"scalar_ns_per_query\": %.1f}",
                        first ? "" : ",\n", k_shapes[s].H, k_shapes[s].hd, ti_kv_dtype_name((ti_kv_dtype)d),
                        bytes[s][d], saved, k_ctx[c], t, r, med[s][c][d], times[s][c][d][1]);
                first = 0;
                printf("H=%d hd=%-3d %-5s %5zu B/token/layer (%5.1f%% saved)  ctx %4d: %9.0f ns/query (%.2fx f32; scalar %9.0f)\n",
                       k_shapes[s].H, k_shapes[s].hd, ti_kv_dtype_name((ti_kv_dtype)d), bytes[s][d], 100.0 * saved,
                       k_ctx[c], t, r, times[s][c][d][1]);
            }
            fprintf(md, "\n");
        }
        fprintf(md, "\n");
    }
    fprintf(js, "\n  ]\n}\n");
    fclose(md);
    fclose(js);
    return 0;
}
