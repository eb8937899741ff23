/* Kernel benchmark: fp32 FMA peak of this core per SIMD level (measured in the same run),
 * then GFLOP/s and % of that peak for the linear layer at the TinyRV shapes and for
 * attention at T=601, per level, on one thread.  OpenBLAS sgemm is added when
 * libopenblas.so.0 can be dlopen'ed (nothing needs it at build time).
 * Prints a table; writes bench/results/kernels.json.  Runs in well under a minute.
 *   build/release/bench/kernels [--quick] [--out PATH] */
#include "bench_json.h"
#include <dlfcn.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/kernels.h"

/* ---- peak probe: independent FMA chains ----------------------------------------------------- */
/* 12 chains: latency 4 x 2 FMA ports needs 8; 12 + 2 constants fit AVX2's 16 registers */
#define PROBE_ACC 12

/* One probe per ISA: PROBE_ACC independent chains a = a*x + y, fully unrolled so the
 * chains live in registers; returns GFLOP/s. */
#define DEFINE_PROBE(NAME, TARGET, VT, SET1, FMA, LANES)                      \
    static double NAME(long iters) __attribute__((target(TARGET)));           \
    static double NAME(long iters)                                            \
    {                                                                         \
        VT a[PROBE_ACC];                                                      \
        const VT x = SET1(0.999999f), y = SET1(1e-7f);                        \
        _Pragma("GCC unroll 16") for (int i = 0; i < PROBE_ACC; i++)          \
            a[i] = SET1((float)i);                                            \
        double t0 = ti_now_s();                                               \
        for (long n = 0; n < iters; n++) {                                    \
            _Pragma("GCC unroll 16") for (int i = 0; i < PROBE_ACC; i++)      \
                a[i] = FMA(a[i], x, y);                                       \
        }                                                                     \
        double t = ti_now_s() - t0;                                           \
        float keep[LANES], s = 0;                                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < PROBE_ACC; i++) {        \
            memcpy(keep, &a[i], sizeof keep);                                 \
            s += keep[0];                                                     \
        }                                                                     \
        if (s == 12345.0f) printf("!"); /* the chains' results are used */   \
        return 2.0 * LANES * (double)iters * PROBE_ACC / t * 1e-9;            \
    }
DEFINE_PROBE(probe_scalar, "fma", __m128, _mm_set_ss, _mm_fmadd_ss, 1)
DEFINE_PROBE(probe_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
DEFINE_PROBE(probe_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)

/* best of a few runs: the probe measures what the core can do, not what it did once */
static double peak_gflops(ti_simd_level l, long iters)
{
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double g = l == TI_SIMD_AVX512 ? probe_avx512(iters) : l == TI_SIMD_AVX2 ? probe_avx2(iters) : probe_scalar(iters);
        best = g > best ? g : best;
    }
    return best;
}

/* ---- timing -------------------------------------------------------------------------------- */
typedef void (*bench_fn)(void *ctx);

/* min seconds per call over repetitions lasting about `budget` seconds (at least 2) */
static double time_min(bench_fn fn, void *ctx, double budget)
{
    fn(ctx); /* warm caches, fault pages */
    double best = 1e30, start = ti_now_s();
    int reps = 0;
    do {
        double t0 = ti_now_s();
        fn(ctx);
        double t = ti_now_s() - t0;
        best = t < best ? t : best;
        reps++;
    } while (reps < 2 || (ti_now_s() - start < budget && reps < 1000));
    return best;
}

static float *rand_buf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint32_t s = 12345u + (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

/* ---- matmul ----------------------------------------------------------------------------------- */
typedef void (*sgemm_fn)(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc);

typedef struct mm_ctx {
    const ti_kernels *k;
    sgemm_fn sgemm;
    float *out, *inp, *W, *packed, *bias, *dinp, *dW;
    int M, N, K;
} mm_ctx;

static void run_packed(void *p)
{
    mm_ctx *c = p;
    c->k->matmul_forward_packed(c->out, c->inp, c->packed, c->bias, c->M, c->N, c->K, TI_ACT_NONE, NULL);
}

static void run_unpacked(void *p)
{
    mm_ctx *c = p;
    c->k->matmul_forward(c->out, c->inp, c->W, c->bias, c->M, c->N, c->K, TI_ACT_NONE, NULL);
}

static void run_backward(void *p)
{
    mm_ctx *c = p; /* dout = out */
    c->k->matmul_backward(c->dinp, c->dW, NULL, c->out, c->inp, c->W, c->M, c->N, c->K, NULL);
}

static void run_sgemm(void *p)
{
    mm_ctx *c = p; /* row-major: out = inp @ W^T */
    c->sgemm(101, 111, 112, c->M, c->N, c->K, 1.0f, c->inp, c->K, c->W, c->K, 0.0f, c->out, c->N);
}

/* ---- attention --------------------------------------------------------------------------------- */
typedef struct at_ctx {
    const ti_kernels *k;
    ti_attn_cfg cfg;
    float *qkv, *out, *lse, *dout, *dqkv, *q1;
} at_ctx;

static void run_attn_fwd(void *p)
{
    at_ctx *c = p;
    c->k->attention_forward(c->out, c->lse, c->qkv, &c->cfg, NULL);
}

static void run_attn_bwd(void *p)
{
    at_ctx *c = p;
    c->k->attention_backward(c->dqkv, c->dout, c->qkv, c->out, c->lse, &c->cfg, NULL);
}

static void run_attn_decode(void *p)
{
    at_ctx *c = p;
    const int C = c->cfg.H * c->cfg.hd;
    c->k->attention_decode(c->q1, c->qkv + (size_t)(c->cfg.T - 1) * 3 * C, c->qkv + C, c->qkv + 2 * C, c->cfg.T,
                           c->cfg.H, c->cfg.hd, 3 * (size_t)C, c->cfg.T - 1, c->cfg.alibi, 0.0f);
}

/* ---- report -------------------------------------------------------------------------------------- */
#define MAX_ROWS 256
typedef struct row {
    char kind[24], level[16], shape[48];
    double seconds, gflops, pct_peak;
} row;
static row g_rows[MAX_ROWS];
static int g_nrows;

static void add_row(const char *kind, const char *level, const char *shape, double sec, double flops, double peak)
{
    if (g_nrows >= MAX_ROWS) return;
    row *r = &g_rows[g_nrows++];
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->level, sizeof r->level, "%s", level);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    r->seconds = sec;
    r->gflops = flops / sec * 1e-9;
    r->pct_peak = peak > 0 ? 100.0 * r->gflops / peak : 0;
    printf("%-16s %-9s %-26s %10.3f ms %8.1f GFLOP/s %6.1f%%\n", kind, level, shape, sec * 1e3, r->gflops, r->pct_peak);
    fflush(stdout);
}

static int write_json(const char *path, const double *peak, const char *blas)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const ti_cpu_info *ci = ti_cpu_get();
    fprintf(f, "{\n  \"benchmark\": \"kernels\",\n  \"cpu\": ");
    bench_json_str(f, ci->model);
    fprintf(f, ",\n  \"cores_online\": %d,\n  \"flags\": {\"avx2\": %d, \"fma\": %d, \"avx512f\": %d, "
               "\"avx512bw\": %d, \"avx512dq\": %d, \"avx512vl\": %d, \"avx512_bf16\": %d, "
               "\"avx512_vnni\": %d, \"amx_bf16\": %d},\n",
            ci->n_cores_online, !!ci->has_avx2, !!ci->has_fma, !!ci->has_avx512f, !!ci->has_avx512bw,
            !!ci->has_avx512dq, !!ci->has_avx512vl, !!ci->has_avx512_bf16, !!ci->has_avx512_vnni, !!ci->has_amx_bf16);
    fprintf(f, "  \"threads\": 1,\n  \"openblas\": ");
    bench_json_str(f, blas);
    fprintf(f, ",\n  \"peak_gflops\": {");
    for (int l = 0; l < TI_SIMD__COUNT; l++)
        fprintf(f, "%s\"%s\": %.2f", l ? ", " : "", ti_simd_name((ti_simd_level)l), peak[l]);
    fprintf(f, "},\n  \"results\": [\n");
    for (int i = 0; i < g_nrows; i++) {
        const row *r = &g_rows[i];
        fprintf(f, "    {\"kind\": \"%s\", \"level\": \"%s\", \"shape\": \"%s\", \"ms\": %.4f, \"gflops\": %.2f, "
                   "\"pct_peak\": %.1f}%s\n",
                r->kind, r->level, r->shape, r->seconds * 1e3, r->gflops, r->pct_peak, i + 1 < g_nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f);
}

int main(int argc, char **argv)
{
    const char *out_path = "bench/results/kernels.json";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--out PATH]\n", argv[0]);
            return 2;
        }
    }
    const double budget = quick ? 0.05 : 0.3;
    const ti_cpu_info *ci = ti_cpu_get();
    printf("cpu: %s, %d cores online; supported level %s; single thread\n", ci->model, ci->n_cores_online,
           ti_simd_name(ti_simd_supported()));

    double peak[TI_SIMD__COUNT] = {0};
    for (int l = 0; l <= (int)ti_simd_supported(); l++) {
        peak[l] = peak_gflops((ti_simd_level)l, quick ? 2000000 : 10000000);
        printf("fp32 FMA peak %-7s %8.1f GFLOP/s\n", ti_simd_name((ti_simd_level)l), peak[l]);
    }

    sgemm_fn sgemm = NULL;
    void *blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (blas) {
        sgemm = (sgemm_fn)(uintptr_t)dlsym(blas, "cblas_sgemm");
        void (*set_threads)(int) = (void (*)(int))(uintptr_t)dlsym(blas, "openblas_set_num_threads");
        if (set_threads) set_threads(1);
    }
    printf("openblas: %s\n\n", sgemm ? "libopenblas.so.0" : "not found (skipped)");
    printf("%-16s %-9s %-26s %13s %16s %7s\n", "kernel", "level", "shape", "time", "rate", "%peak");

    /* TinyRV linear layers: M = 601*B tokens, (K -> N) */
    const int KN[][2] = {{14, 128}, {128, 384}, {128, 128}, {128, 256}, {256, 128}};
    const int Bs[] = {1, 32};
    for (int bi = 0; bi < 2; bi++)
        for (int s = 0; s < 5; s++) {
            const int M = 601 * Bs[bi], K = KN[s][0], N = KN[s][1];
            char shape[48];
            snprintf(shape, sizeof shape, "M=%d K=%d N=%d", M, K, N);
            const double flops = 2.0 * M * N * K;
            mm_ctx c = {.M = M, .N = N, .K = K, .inp = rand_buf((size_t)M * K), .W = rand_buf((size_t)N * K),
                        .out = rand_buf((size_t)M * N), .bias = rand_buf((size_t)N), .sgemm = sgemm,
                        .dinp = rand_buf((size_t)M * K), .dW = rand_buf((size_t)N * K)};
            for (int l = 0; l <= (int)ti_simd_supported(); l++) {
                if (l == TI_SIMD_SCALAR && (bi > 0 || quick)) continue; /* seconds per call */
                c.k = ti_kernels_get((ti_simd_level)l);
                size_t np = c.k->matmul_packed_floats(N, K);
                c.packed = rand_buf(np);
                c.k->matmul_pack(c.packed, c.W, N, K);
                add_row("matmul_packed", c.k->name, shape, time_min(run_packed, &c, budget), flops, peak[l]);
                if (l == (int)ti_simd_supported()) {
                    add_row("matmul_unpacked", c.k->name, shape, time_min(run_unpacked, &c, budget), flops, peak[l]);
                    add_row("matmul_backward", c.k->name, shape, time_min(run_backward, &c, budget), 2 * flops, peak[l]);
                }
                free(c.packed);
            }
            if (sgemm)
                add_row("openblas_sgemm", "blas", shape, time_min(run_sgemm, &c, budget), flops, peak[ti_simd_supported()]);
            free(c.inp), free(c.W), free(c.out), free(c.bias), free(c.dinp), free(c.dW);
        }

    /* attention T=601 H=4 hd=32 (TinyRV), B=1 */
    float slopes[4];
    ti_alibi_slopes(slopes, 4);
    for (int mode = 0; mode < 3; mode++) {
        at_ctx c = {.cfg = {.B = 1, .T = 601, .H = 4, .hd = 32, .causal = mode == 1, .alibi = mode == 2 ? slopes : NULL}};
        const int C = c.cfg.H * c.cfg.hd, T = c.cfg.T;
        const char *shape = mode == 0 ? "B=1 T=601 H=4 hd=32 full" : mode == 1 ? "B=1 T=601 H=4 hd=32 causal"
                                                                            : "B=1 T=601 H=4 hd=32 alibi";
        /* useful flops: q k^T and p v, halved by the causal mask */
        const double flops = 4.0 * c.cfg.B * c.cfg.H * (double)T * T * c.cfg.hd * (c.cfg.causal ? 0.5 : 1.0);
        c.qkv = rand_buf((size_t)T * 3 * C);
        c.out = rand_buf((size_t)T * C);
        c.lse = rand_buf((size_t)c.cfg.H * T);
        c.dout = rand_buf((size_t)T * C);
        c.dqkv = rand_buf((size_t)T * 3 * C);
        c.q1 = rand_buf((size_t)C);
        for (int l = 0; l <= (int)ti_simd_supported(); l++) {
            c.k = ti_kernels_get((ti_simd_level)l);
            add_row("attention_fwd", c.k->name, shape, time_min(run_attn_fwd, &c, budget), flops, peak[l]);
            if (mode != 1) continue;
            add_row("attention_bwd", c.k->name, shape, time_min(run_attn_bwd, &c, budget), 2.5 * flops, peak[l]);
            add_row("attention_decode", c.k->name, "T=601 H=4 hd=32", time_min(run_attn_decode, &c, budget),
                    4.0 * c.cfg.H * T * c.cfg.hd, peak[l]);
        }
        free(c.qkv), free(c.out), free(c.lse), free(c.dout), free(c.dqkv), free(c.q1);
    }
    if (blas) dlclose(blas);

    if (write_json(out_path, peak, sgemm ? "libopenblas.so.0" : "") != 0) {
        fprintf(stderr, "kernels bench: cannot write %s\n", out_path);
        return 1;
    }
    printf("\nwrote %s\n", out_path);
    return 0;
}
