/* CUDA kernel benchmark: CUDA-event timing of each kernel (median / p95 / p99 over many
 * runs) against cuBLAS where it has an equivalent, with achieved GB/s and GFLOP/s as a
 * fraction of the device's peak.  Writes one JSON document (argv[1], default stdout).
 *   build/release/bench/cuda/bench_kernels bench/results/cuda_kernels.json [runs]
 * Needs a GPU; exits 2 with the reason when there is none. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/cuda.h"
#include "tickinfer/kernels.h"

#define BENCH_NAME "bench_kernels"
#include "cuda_bench_common.h"

static ti_cuda *cu;
static ti_cuda_info info;
static int runs = 200;
static FILE *out;
static int first = 1;

static void *dev_rand(size_t n, float lo, float hi)
{
    float *h = malloc(n * sizeof *h);
    if (!h) exit(1);
    uint64_t s = 0x1234567ull + n;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = lo + (hi - lo) * (float)((s >> 40) / 16777216.0);
    }
    void *d = NULL;
    CHECK(ti_cuda_malloc(cu, &d, n * sizeof *h));
    CHECK(ti_cuda_upload(cu, d, h, n * sizeof *h));
    free(h);
    return d;
}

/* Times fn(arg) `runs` times (after 10 warm-ups) and prints one JSON record.  bytes and
 * flops are the minimum traffic / arithmetic of one call, for the rates. */
static void bench(const char *kernel, const char *impl, const char *shape, ti_err (*fn)(void *),
                  void *arg, double bytes, double flops)
{
    double med, p95, p99;
    time_runs(cu, fn, arg, 10, runs, &med, &p95, &p99);
    const double gbs = bytes / (med * 1e-3) / 1e9, gfl = flops / (med * 1e-3) / 1e9;
    fprintf(out,
            "%s    {\"kernel\": \"%s\", \"impl\": \"%s\", \"shape\": \"%s\", \"median_us\": %.2f, "
            "\"p95_us\": %.2f, \"p99_us\": %.2f, \"gb_s\": %.1f, \"bw_frac\": %.3f, \"gflop_s\": %.1f, "
            "\"flop_frac\": %.3f}",
            first ? "" : ",\n", kernel, impl, shape, med * 1e3, p95 * 1e3, p99 * 1e3, gbs,
            gbs / info.peak_bw_gbs, gfl, gfl / (info.peak_fp32_tflops * 1e3));
    first = 0;
    fprintf(stderr, "%-16s %-14s %-22s median %9.2f us  p99 %9.2f us  %8.1f GB/s (%4.1f%%)  %9.1f GFLOP/s\n",
            kernel, impl, shape, med * 1e3, p99 * 1e3, gbs, 100 * gbs / info.peak_bw_gbs, gfl);
}

/* ---- one argument block per kernel family ---------------------------------------------- */
typedef struct gemv_a { float *y, *W, *x; int B, in, out; } gemv_a;
static ti_err run_gemv(void *p) { gemv_a *a = p; return ti_cuda_batched_gemv(cu, a->y, a->W, a->x, a->B, a->in, a->out); }
static ti_err run_gemv_blas(void *p)
{
    gemv_a *a = p; /* batch of [1,in] @ [in,out] */
    return ti_cuda_gemm_rowmajor(cu, a->y, a->x, a->W, 1, a->out, a->in, a->B, a->in,
                                 (long long)a->in * a->out, a->out);
}
typedef struct sm_a { float *y, *x; int B, D; } sm_a;
static ti_err run_softmax(void *p) { sm_a *a = p; return ti_cuda_batched_softmax(cu, a->y, a->x, a->B, a->D); }
typedef struct pv_a { float *y, *p, *W; int B, A, F; } pv_a;
static ti_err run_pv(void *p) { pv_a *a = p; return ti_cuda_price_vectors(cu, a->y, a->p, a->W, a->B, a->A, a->F); }
static ti_err run_pv_blas(void *p) { pv_a *a = p; return ti_cuda_gemm_rowmajor(cu, a->y, a->p, a->W, a->B, a->F, a->A, 1, 0, 0, 0); }
typedef struct rm_a { float *pred, *tgt, *g; size_t n; } rm_a;
static ti_err run_rmspe(void *p)
{
    rm_a *a = p;
    double l;
    return ti_cuda_rmspe(cu, &l, a->g, a->pred, a->tgt, a->n, 1.f);
}
typedef struct mm_a { float *y, *x, *W, *b; int M, N, K; ti_act act; } mm_a;
static ti_err run_mm(void *p) { mm_a *a = p; return ti_cuda_matmul(cu, a->y, a->x, a->W, a->b, a->M, a->N, a->K, a->act); }
static ti_err run_mm_raw(void *p) { mm_a *a = p; return ti_cuda_matmul(cu, a->y, a->x, a->W, NULL, a->M, a->N, a->K, TI_ACT_NONE); }
typedef struct ln_a { float *y, *x, *w, *b; int N, C; } ln_a;
static ti_err run_ln(void *p) { ln_a *a = p; return ti_cuda_layernorm(cu, a->y, a->x, a->w, a->b, a->N, a->C, 1e-5f); }
typedef struct at_a { float *y, *qkv; ti_attn_cfg cfg; } at_a;
static ti_err run_att(void *p) { at_a *a = p; return ti_cuda_attention(cu, a->y, a->qkv, &a->cfg); }
typedef struct pd_a { float *y, *q; ti_cuda_paged_kv kv; int S; const float *al; ti_cuda_graph *g; } pd_a;
static ti_err run_pd(void *p) { pd_a *a = p; return ti_cuda_paged_decode(cu, a->y, a->q, &a->kv, a->S, a->al, 0.f); }
static ti_err run_pd_graph(void *p) { pd_a *a = p; return ti_cuda_graph_launch(cu, a->g); }

static void bench_gemv(int B, int in, int o)
{
    gemv_a a = {dev_rand((size_t)B * o, 0, 0), dev_rand((size_t)B * in * o, -1, 1), dev_rand((size_t)B * in, -1, 1), B, in, o};
    char sh[64];
    snprintf(sh, sizeof sh, "B=%d in=%d out=%d", B, in, o);
    double bytes = 4.0 * ((double)B * in * o + (double)B * in + (double)B * o), fl = 2.0 * B * in * o;
    bench("batched_gemv", "tickinfer", sh, run_gemv, &a, bytes, fl);
    bench("batched_gemv", "cublas", sh, run_gemv_blas, &a, bytes, fl);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.W), ti_cuda_free(cu, a.x);
}
static void bench_softmax(int B, int D)
{
    sm_a a = {dev_rand((size_t)B * D, 0, 0), dev_rand((size_t)B * D, -5, 5), B, D};
    char sh[64];
    snprintf(sh, sizeof sh, "B=%d dim=%d", B, D);
    bench("batched_softmax", "tickinfer", sh, run_softmax, &a, 8.0 * B * D, 5.0 * B * D);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.x);
}
static void bench_pv(int B, int A, int F)
{
    pv_a a = {dev_rand((size_t)B * F, 0, 0), dev_rand((size_t)B * A, 10, 100), dev_rand((size_t)A * F, -1, 1), B, A, F};
    char sh[64];
    snprintf(sh, sizeof sh, "B=%d assets=%d features=%d", B, A, F);
    double bytes = 4.0 * ((double)B * A + (double)A * F + (double)B * F), fl = 2.0 * B * A * F;
    bench("price_vectors", "tickinfer", sh, run_pv, &a, bytes, fl);
    bench("price_vectors", "cublas", sh, run_pv_blas, &a, bytes, fl);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.p), ti_cuda_free(cu, a.W);
}
static void bench_rmspe(size_t n)
{
    rm_a a = {dev_rand(n, 1, 2), dev_rand(n, 1, 2), dev_rand(n, 0, 0), n};
    char sh[64];
    snprintf(sh, sizeof sh, "n=%zu", n);
    bench("rmspe_fwd_bwd", "tickinfer", sh, run_rmspe, &a, 4.0 * 5 * n, 8.0 * n);
    ti_cuda_free(cu, a.pred), ti_cuda_free(cu, a.tgt), ti_cuda_free(cu, a.g);
}
static void bench_mm(int M, int N, int K)
{
    mm_a a = {dev_rand((size_t)M * N, 0, 0), dev_rand((size_t)M * K, -1, 1), dev_rand((size_t)N * K, -1, 1),
              dev_rand((size_t)N, -1, 1), M, N, K, TI_ACT_GELU_TANH};
    char sh[64];
    snprintf(sh, sizeof sh, "M=%d N=%d K=%d", M, N, K);
    double bytes = 4.0 * ((double)M * K + (double)N * K + (double)M * N), fl = 2.0 * M * N * K;
    bench("matmul_bias_gelu", "tickinfer", sh, run_mm, &a, bytes, fl);
    bench("matmul", "cublas", sh, run_mm_raw, &a, bytes, fl);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.x), ti_cuda_free(cu, a.W), ti_cuda_free(cu, a.b);
}
static void bench_ln(int N, int C)
{
    ln_a a = {dev_rand((size_t)N * C, 0, 0), dev_rand((size_t)N * C, -1, 1), dev_rand(C, 0, 1), dev_rand(C, 0, 1), N, C};
    char sh[64];
    snprintf(sh, sizeof sh, "N=%d C=%d", N, C);
    bench("layernorm", "tickinfer", sh, run_ln, &a, 8.0 * N * C, 8.0 * N * C);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.x), ti_cuda_free(cu, a.w), ti_cuda_free(cu, a.b);
}
static void bench_att(int B, int T, int H, int hd, int causal)
{
    static float al[TI_CUDA_MAX_HEADS];
    ti_alibi_slopes(al, H);
    const int C = H * hd;
    at_a a = {dev_rand((size_t)B * T * C, 0, 0), dev_rand((size_t)B * T * 3 * C, -1, 1),
              {.B = B, .T = T, .H = H, .hd = hd, .causal = causal, .alibi = al}};
    char sh[80];
    snprintf(sh, sizeof sh, "B=%d T=%d H=%d hd=%d %s", B, T, H, hd, causal ? "causal" : "full");
    double pairs = causal ? (double)T * (T + 1) / 2 : (double)T * T;
    bench("attention_alibi", "tickinfer", sh, run_att, &a, 4.0 * B * T * 4 * C, 4.0 * B * H * pairs * hd);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.qkv);
}
static void bench_pd(int S, int len, int int8)
{
    const int H = 4, hd = 16, C = H * hd, BS = TI_CUDA_KV_BLOCK, maxb = (len + BS - 1) / BS, nb = S * maxb;
    static float al[TI_CUDA_MAX_HEADS];
    ti_alibi_slopes(al, H);
    int32_t *tab = malloc((size_t)nb * 4), *lens = malloc((size_t)S * 4);
    for (int i = 0; i < nb; i++) tab[i] = (int32_t)(((int64_t)i * 7919) % nb); /* scattered blocks */
    for (int s = 0; s < S; s++) lens[s] = len;
    int32_t *dtab = NULL, *dlen = NULL;
    CHECK(ti_cuda_malloc(cu, (void **)&dtab, (size_t)nb * 4));
    CHECK(ti_cuda_malloc(cu, (void **)&dlen, (size_t)S * 4));
    CHECK(ti_cuda_upload(cu, dtab, tab, (size_t)nb * 4));
    CHECK(ti_cuda_upload(cu, dlen, lens, (size_t)S * 4));
    size_t rows = (size_t)nb * BS;
    pd_a a = {dev_rand((size_t)S * C, 0, 0), dev_rand((size_t)S * C, -1, 1),
              {.H = H, .hd = hd, .n_blocks = nb, .max_blocks = maxb, .int8 = int8, .table = dtab, .len = dlen},
              S, al, NULL};
    float *k = dev_rand(rows * C, -1, 1), *v = dev_rand(rows * C, -1, 1);
    if (int8) {
        CHECK(ti_cuda_malloc(cu, (void **)&a.kv.k8, rows * C));
        CHECK(ti_cuda_malloc(cu, (void **)&a.kv.v8, rows * C));
        CHECK(ti_cuda_malloc(cu, (void **)&a.kv.k_scale, rows * H * 4));
        CHECK(ti_cuda_malloc(cu, (void **)&a.kv.v_scale, rows * H * 4));
        CHECK(ti_cuda_quantize_kv(cu, a.kv.k8, a.kv.k_scale, k, (int)rows, H, hd));
        CHECK(ti_cuda_quantize_kv(cu, a.kv.v8, a.kv.v_scale, v, (int)rows, H, hd));
    } else {
        a.kv.k = k, a.kv.v = v;
    }
    char sh[80];
    snprintf(sh, sizeof sh, "S=%d len=%d H=%d hd=%d %s", S, len, H, hd, int8 ? "int8" : "fp32");
    double kvb = (double)S * len * 2 * C * (int8 ? 1.0 : 4.0) + (int8 ? (double)S * len * 2 * H * 4 : 0);
    bench("paged_decode", "tickinfer", sh, run_pd, &a, kvb, 4.0 * S * len * C);
    CHECK(ti_cuda_sync(cu));
    CHECK(ti_cuda_graph_capture(cu, &a.g, run_pd, &a));
    bench("paged_decode", "tickinfer+graph", sh, run_pd_graph, &a, kvb, 4.0 * S * len * C);
    ti_cuda_graph_destroy(a.g);
    ti_cuda_free(cu, k), ti_cuda_free(cu, v), ti_cuda_free(cu, a.kv.k8), ti_cuda_free(cu, a.kv.v8);
    ti_cuda_free(cu, a.kv.k_scale), ti_cuda_free(cu, a.kv.v_scale);
    ti_cuda_free(cu, a.y), ti_cuda_free(cu, a.q), ti_cuda_free(cu, dtab), ti_cuda_free(cu, dlen);
    free(tab), free(lens);
}

int main(int argc, char **argv)
{
    out = stdout;
    if (argc > 1 && strcmp(argv[1], "-") && !(out = fopen(argv[1], "w"))) {
        perror(argv[1]);
        return 1;
    }
    if (argc > 2) runs = atoi(argv[2]);
    if (runs < 20 || runs > 100000) runs = 200;
    if (ti_cuda_create(&cu, 0)) {
        fprintf(stderr, "bench_kernels: %s\n", ti_errmsg());
        return 2;
    }
    CHECK(ti_cuda_get_info(cu, &info));
    fprintf(stderr, "device: %s (sm_%d%d, %d SMs), peak %.0f GB/s, %.1f FP32 TFLOP/s\n", info.name,
            info.cc_major, info.cc_minor, info.sm_count, info.peak_bw_gbs, info.peak_fp32_tflops);
    fprintf(out, "{\"device\": \"%s\", \"cc\": \"%d.%d\", \"sms\": %d, \"peak_bw_gbs\": %.1f, "
                 "\"peak_fp32_tflops\": %.2f, \"runs\": %d, \"results\": [\n",
            info.name, info.cc_major, info.cc_minor, info.sm_count, info.peak_bw_gbs, info.peak_fp32_tflops, runs);
    bench_gemv(1024, 256, 256);
    bench_gemv(4096, 512, 512);
    bench_softmax(1024, 1000);
    bench_softmax(16384, 4096);
    bench_pv(1024, 50, 20);
    bench_pv(262144, 50, 20);
    bench_rmspe(1024);
    bench_rmspe(10u << 20);
    bench_mm(1024, 256, 256);
    bench_mm(8192, 1024, 1024);
    bench_ln(32768, 64);
    bench_ln(32768, 1024);
    bench_att(1, 100, 4, 16, 1);
    bench_att(32, 100, 4, 16, 1);
    bench_att(32, 512, 8, 64, 1);
    bench_pd(1000, 100, 0);
    bench_pd(10000, 100, 0);
    bench_pd(1000, 100, 1);
    bench_pd(10000, 100, 1);
    fprintf(out, "\n]}\n");
    if (out != stdout) fclose(out);
    ti_cuda_destroy(cu);
    return 0;
}
