/* Task-queue kernel benchmark (issue 7, part 3): batched_gemv, batched_softmax and
 * process_price_vectors at the seed's sizes and larger, per SIMD level on one thread and
 * the best level over a pool of all cores.  Per case: median / p95 / p99 of `reps` timed
 * runs after warm-up, with GFLOP/s and GB/s from the median.  bench/taskq.sh adds numpy
 * and PyTorch and writes bench/results/taskq.{json,md}.
 *   build/release/bench/taskq [--quick] [--out PATH]   (default bench/results/taskq_c.json) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/taskq.h"
#include "tickinfer/threadpool.h"

typedef struct tcase {
    const char *kernel, *size;
    int B, d1, d2; /* gemv: in, out; softmax: dim; price: assets, features */
} tcase;

static const tcase g_cases[] = {
    {"batched_gemv", "seed", 1024, 256, 256},
    {"batched_gemv", "large", 64, 1024, 1024},
    {"batched_softmax", "seed", 1024, 1000, 0},
    {"batched_softmax", "large", 4096, 4096, 0},
    {"process_price_vectors", "seed", 1024, 50, 20},
    {"process_price_vectors", "large", 16384, 200, 64},
};
#define N_CASES ((int)(sizeof g_cases / sizeof g_cases[0]))

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *rnd(size_t n, uint64_t seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
    }
    return p;
}

/* One timed call: raw kernel of table k (pool NULL) or the checked pooled entry point. */
static void call(const tcase *c, const ti_taskq_kernels *k, ti_pool *pool, float *y, const float *a, const float *b)
{
    if (!strcmp(c->kernel, "batched_gemv")) {
        if (k) k->batched_gemv(y, a, b, c->B, c->d1, c->d2);
        else ti_taskq_batched_gemv(y, a, b, c->B, c->d1, c->d2, pool);
    } else if (!strcmp(c->kernel, "batched_softmax")) {
        if (k) k->batched_softmax(y, a, c->B, c->d1);
        else ti_taskq_batched_softmax(y, a, c->B, c->d1, pool);
    } else {
        if (k) k->process_price_vectors(y, a, b, c->B, c->d1, c->d2);
        else ti_taskq_process_price_vectors(y, a, b, c->B, c->d1, c->d2, pool);
    }
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *out = "bench/results/taskq_c.json";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--out PATH]\n", argv[0]);
            return 2;
        }
    }
    int ncores = ti_cpu_get()->n_cores_online;
    ti_pool *pool = NULL;
    if (ti_pool_create(&pool, ncores)) {
        fprintf(stderr, "taskq bench: %s\n", ti_errmsg());
        return 1;
    }
    FILE *jf = fopen(out, "w");
    if (!jf) {
        fprintf(stderr, "taskq bench: cannot write %s\n", out);
        ti_pool_destroy(pool);
        return 1;
    }
    fprintf(jf, "{\"cpu\": \"%s\", \"cores\": %d, \"results\": [\n", ti_cpu_get()->model, ncores);
    printf("%-22s %-6s %-8s %3s %10s %10s %10s %9s %8s\n", "kernel", "size", "level", "thr", "median_us", "p95_us",
           "p99_us", "GFLOP/s", "GB/s");
    int first = 1;
    for (int ci = 0; ci < N_CASES; ci++) {
        const tcase *c = &g_cases[ci];
        int gemv = !strcmp(c->kernel, "batched_gemv"), soft = !strcmp(c->kernel, "batched_softmax");
        size_t na = gemv ? (size_t)c->B * c->d1 * c->d2 : (size_t)c->B * c->d1;
        size_t nb = gemv ? (size_t)c->B * c->d1 : soft ? 1 : (size_t)c->d1 * c->d2;
        size_t ny = soft ? (size_t)c->B * c->d1 : (size_t)c->B * c->d2;
        double flops = soft ? 0 : 2.0 * (double)c->B * c->d1 * c->d2;
        /* softmax: read once, write once (the rescale pass finds its row in cache) */
        double bytes = soft ? 4.0 * 2 * (double)na : 4.0 * (double)(na + nb + ny);
        float *a = rnd(na, 1), *b = rnd(nb, 2), *y = malloc(ny * sizeof *y);
        if (!a || !b || !y) {
            fprintf(stderr, "taskq bench: out of memory for %s %s\n", c->kernel, c->size);
            return 1;
        }
        /* Enough reps for a p99 while keeping each case to ~1 s on 2 cores. */
        double t_one;
        {
            uint64_t t0 = ti_now_ns();
            call(c, ti_taskq_kernels_best(), NULL, y, a, b);
            t_one = (double)(ti_now_ns() - t0) / 1e9;
        }
        int reps = (int)(1.0 / (t_one > 1e-6 ? t_one : 1e-6));
        if (quick) reps /= 5;
        reps = reps < 20 ? 20 : reps > 2000 ? 2000 : reps;
        double *ts = malloc((size_t)reps * sizeof *ts);
        for (int variant = 0; variant <= TI_SIMD__COUNT; variant++) {
            const ti_taskq_kernels *k = variant < TI_SIMD__COUNT ? ti_taskq_kernels_get((ti_simd_level)variant) : NULL;
            if (variant < TI_SIMD__COUNT && !k) continue;
            if (variant == TI_SIMD_SCALAR && quick) continue;
            int threads = k ? 1 : ncores;
            const char *level = k ? k->name : ti_taskq_kernels_best()->name;
            for (int w = 0; w < 3; w++) call(c, k, pool, y, a, b); /* warm caches and pages */
            for (int r = 0; r < reps; r++) {
                uint64_t t0 = ti_now_ns();
                call(c, k, pool, y, a, b);
                ts[r] = (double)(ti_now_ns() - t0) / 1e3;
            }
            qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
            double med = ts[reps / 2], p95 = ts[(int)(0.95 * (reps - 1))], p99 = ts[(int)(0.99 * (reps - 1))];
            double gf = flops / (med * 1e3), gb = bytes / (med * 1e3);
            printf("%-22s %-6s %-8s %3d %10.1f %10.1f %10.1f %9.2f %8.2f\n", c->kernel, c->size, level, threads, med, p95,
                   p99, gf, gb);
            fprintf(jf, "%s  {\"kernel\": \"%s\", \"size\": \"%s\", \"B\": %d, \"d1\": %d, \"d2\": %d, \"level\": \"%s\", "
                        "\"threads\": %d, \"reps\": %d, \"median_us\": %.3f, \"p95_us\": %.3f, \"p99_us\": %.3f, "
                        "\"gflops\": %.4f, \"gbs\": %.4f}",
                    first ? "" : ",\n", c->kernel, c->size, c->B, c->d1, c->d2, level, threads, reps, med, p95, p99, gf, gb);
            first = 0;
            fflush(stdout);
        }
        free(ts);
        free(a), free(b), free(y);
    }
    fprintf(jf, "\n]}\n");
    fclose(jf);
    ti_pool_destroy(pool);
    printf("wrote %s\n", out);
    return 0;
}
