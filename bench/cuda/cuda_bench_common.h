/* Shared by the CUDA benchmarks: abort-on-error wrapper (bench programs only) and the
 * timing loop (warm-ups, CUDA-event timings, median / p95 / p99 in milliseconds). */
#ifndef TICKINFER_BENCH_CUDA_COMMON_H
#define TICKINFER_BENCH_CUDA_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "tickinfer/cuda.h"

#define CHECK(expr)                                                                   \
    do {                                                                              \
        ti_err e_ = (expr);                                                           \
        if (e_) {                                                                     \
            fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, #expr, ti_errmsg());          \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Runs fn(arg) `warm` times, then times it `runs` times; quantiles in ms. */
static void time_runs(ti_cuda *cu, ti_err (*fn)(void *), void *arg, int warm, int runs, double *med, double *p95,
                      double *p99)
{
    float *ms = malloc((size_t)runs * sizeof *ms);
    if (!ms) CHECK(ti_errorf(TI_ERR_NOMEM, "out of memory"));
    for (int i = 0; i < warm; i++) CHECK(fn(arg));
    CHECK(ti_cuda_sync(cu));
    for (int i = 0; i < runs; i++) CHECK(ti_cuda_time_ms(cu, &ms[i], fn, arg));
    qsort(ms, (size_t)runs, sizeof *ms, cmp_f);
    *med = ms[runs / 2], *p95 = ms[(int)(runs * 0.95)], *p99 = ms[(int)(runs * 0.99)];
    free(ms);
}

#endif
