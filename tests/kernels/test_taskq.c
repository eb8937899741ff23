/* Task-queue kernels: every SIMD level against the scalar reference (NMSE), numpy as an
 * independent oracle (TI_PYTHON), softmax stability, pool splitting and argument checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/taskq.h"

static uint64_t g_rng = 12345;
static float frand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *rand_buf(size_t n, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return p;
}

/* sum (a-b)^2 / sum b^2 */
static double nmse(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? num / den : num;
}

typedef struct shape { int B, d1, d2; } shape;
static const shape g_gemv[] = {{3, 256, 256}, {2, 37, 13}, {5, 1, 65}, {1, 300, 71}, {0, 4, 4}, {4, 64, 16}};
static const shape g_soft[] = {{3, 1000, 0}, {4, 1, 0}, {2, 17, 0}, {5, 64, 0}, {1, 4097, 0}};
static const shape g_price[] = {{64, 50, 20}, {7, 3, 1}, {5, 13, 33}, {9, 50, 100}, {2, 1, 16}};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

TI_TEST(simd_matches_scalar)
{
    const ti_taskq_kernels *ref = ti_taskq_kernels_get(TI_SIMD_SCALAR);
    TI_CHECK(ref != NULL);
    int levels = 0;
    for (int l = 1; l < TI_SIMD__COUNT; l++) {
        const ti_taskq_kernels *k = ti_taskq_kernels_get((ti_simd_level)l);
        if (!k) continue;
        levels++;
        for (int s = 0; s < N_OF(g_gemv); s++) {
            shape h = g_gemv[s];
            size_t nw = (size_t)h.B * h.d1 * h.d2, nx = (size_t)h.B * h.d1, ny = (size_t)h.B * h.d2;
            float *W = rand_buf(nw, 1), *x = rand_buf(nx, 1), *y0 = rand_buf(ny, 9), *y1 = rand_buf(ny, 9);
            ref->batched_gemv(y0, W, x, h.B, h.d1, h.d2);
            k->batched_gemv(y1, W, x, h.B, h.d1, h.d2);
            double e = nmse(y1, y0, ny);
            TI_CHECK_MSG(e < 1e-10, "%s gemv [%d,%d,%d]: nmse %g", k->name, h.B, h.d1, h.d2, e);
            free(W), free(x), free(y0), free(y1);
        }
        for (int s = 0; s < N_OF(g_soft); s++) {
            shape h = g_soft[s];
            size_t n = (size_t)h.B * h.d1;
            float *x = rand_buf(n, 5), *y0 = rand_buf(n, 9), *y1 = rand_buf(n, 9);
            ref->batched_softmax(y0, x, h.B, h.d1);
            k->batched_softmax(y1, x, h.B, h.d1);
            double e = nmse(y1, y0, n);
            TI_CHECK_MSG(e < 1e-10, "%s softmax [%d,%d]: nmse %g", k->name, h.B, h.d1, e);
            free(x), free(y0), free(y1);
        }
        for (int s = 0; s < N_OF(g_price); s++) {
            shape h = g_price[s];
            size_t np = (size_t)h.B * h.d1, nw = (size_t)h.d1 * h.d2, no = (size_t)h.B * h.d2;
            float *p = rand_buf(np, 100), *W = rand_buf(nw, 1), *o0 = rand_buf(no, 9), *o1 = rand_buf(no, 9);
            ref->process_price_vectors(o0, p, W, h.B, h.d1, h.d2);
            k->process_price_vectors(o1, p, W, h.B, h.d1, h.d2);
            double e = nmse(o1, o0, no);
            TI_CHECK_MSG(e < 1e-10, "%s price [%d,%d,%d]: nmse %g", k->name, h.B, h.d1, h.d2, e);
            free(p), free(W), free(o0), free(o1);
        }
    }
    if (levels == 0) TI_SKIP("CPU has no AVX2: only the scalar table");
}

/* Hand-computed values, so the reference itself is checked. */
TI_TEST(reference_values)
{
    const ti_taskq_kernels *k = ti_taskq_kernels_best();
    /* gemv: x [1,2] = (1, 2), W [1,2,3] = rows (1 2 3), (4 5 6) -> (9, 12, 15) */
    const float W[6] = {1, 2, 3, 4, 5, 6}, x[2] = {1, 2};
    float y[3];
    k->batched_gemv(y, W, x, 1, 2, 3);
    TI_CHECK(y[0] == 9 && y[1] == 12 && y[2] == 15);
    /* softmax of (0, ln 3) = (1/4, 3/4); of a row shifted by 1e4, the same */
    float s[4] = {0, logf(3), 10000, 10000 + logf(3)}, so[4];
    k->batched_softmax(so, s, 2, 2);
    TI_CHECK_NEAR(so[0], 0.25, 1e-6);
    TI_CHECK_NEAR(so[1], 0.75, 1e-6);
    TI_CHECK_NEAR(so[2], 0.25, 1e-3);
    TI_CHECK_NEAR(so[3], 0.75, 1e-3);
    /* price: prices [1,2] = (100, 50), W [2,1] = (0.5, -1) -> 0 */
    const float p[2] = {100, 50}, pw[2] = {0.5f, -1};
    float po[1];
    k->process_price_vectors(po, p, pw, 1, 2, 1);
    TI_CHECK(po[0] == 0);
}

/* Large offsets and spreads: no overflow, no NaN, rows sum to 1; in place works. */
TI_TEST(softmax_stable)
{
    for (int l = 0; l < TI_SIMD__COUNT; l++) {
        const ti_taskq_kernels *k = ti_taskq_kernels_get((ti_simd_level)l);
        if (!k) continue;
        const int B = 4, dim = 1000;
        float *x = rand_buf((size_t)B * dim, 1);
        for (int j = 0; j < dim; j++) {
            x[j] += 80000;            /* exp would overflow without the max */
            x[dim + j] *= 500;        /* most terms underflow to 0 */
            x[2 * dim + j] = -3e38f;  /* all equal, huge negative */
        }
        k->batched_softmax(x, x, B, dim); /* in place */
        for (int b = 0; b < B; b++) {
            double sum = 0;
            int finite = 1;
            for (int j = 0; j < dim; j++) {
                float v = x[(size_t)b * dim + j];
                finite &= isfinite(v) && v >= 0;
                sum += v;
            }
            TI_CHECK_MSG(finite && fabs(sum - 1) < 1e-4, "%s row %d: finite %d sum %g", k->name, b, finite, sum);
        }
        TI_CHECK_NEAR(x[2 * dim + 5], 1.0 / dim, 1e-7);
        free(x);
    }
}

TI_TEST(checked_and_pooled)
{
    ti_pool *pool;
    TI_CHECK_OK(ti_pool_create(&pool, 2));
    const int B = 300, in = 160, out = 128; /* 6M multiply-adds: large enough to be split over the pool */
    float *W = rand_buf((size_t)B * in * out, 1), *x = rand_buf((size_t)B * in, 1);
    float *y0 = rand_buf((size_t)B * in, 1), *y1 = rand_buf((size_t)B * in, 1); /* in > out: fits softmax too */
    TI_CHECK_OK(ti_taskq_batched_gemv(y0, W, x, B, in, out, NULL));
    TI_CHECK_OK(ti_taskq_batched_gemv(y1, W, x, B, in, out, pool));
    TI_CHECK(memcmp(y0, y1, (size_t)B * out * sizeof *y0) == 0); /* same rows, same code */
    TI_CHECK_OK(ti_taskq_batched_softmax(y0, x, B, in, pool));
    TI_CHECK_OK(ti_taskq_process_price_vectors(y1, x, W, B, in, out, pool));
    TI_CHECK_OK(ti_taskq_batched_gemv(y0, W, x, 0, in, out, pool)); /* empty is fine */
    TI_CHECK_ERR(ti_taskq_batched_gemv(y0, W, x, -1, in, out, NULL), TI_ERR_INVALID_ARG, "negative");
    TI_CHECK_ERR(ti_taskq_batched_gemv(NULL, W, x, 1, in, out, NULL), TI_ERR_INVALID_ARG, "NULL");
    TI_CHECK_ERR(ti_taskq_batched_softmax(y0, x, 1, TI_TASKQ_MAX_DIM + 1, NULL), TI_ERR_LIMIT, "limit");
    TI_CHECK_ERR(ti_taskq_batched_gemv(y0, W, x, 1 << 20, 1 << 20, 1 << 20, NULL), TI_ERR_LIMIT, "elements");
    TI_CHECK_ERR(ti_taskq_process_price_vectors(y0, x, NULL, 1, 2, 3, NULL), TI_ERR_INVALID_ARG, "NULL");
    free(W), free(x), free(y0), free(y1);
    ti_pool_destroy(pool);
}

static int write_f32(const char *dir, int k, const char *suffix, const float *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%d_%s.f32", dir, k, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, sizeof *p, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static float *read_f32(const char *dir, int k, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%d_out.f32", dir, k);
    FILE *f = fopen(path, "rb");
    float *p = malloc((n ? n : 1) * sizeof *p);
    size_t r = f ? fread(p, sizeof *p, n, f) : 0;
    if (f) fclose(f);
    if (r != n) {
        free(p);
        return NULL;
    }
    return p;
}

/* The best table against numpy (float64) at the seed's shapes and odd ones. */
TI_TEST(matches_numpy)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("no numpy oracle: TI_PYTHON unset");
    char dir[] = "/tmp/ti_taskq_XXXXXX";
    TI_CHECK(mkdtemp(dir) != NULL);
    const ti_taskq_kernels *k = ti_taskq_kernels_best();
    enum { N_CASES = 6 };
    const char *ops[N_CASES] = {"gemv", "gemv", "softmax", "softmax", "price", "price"};
    const shape sh[N_CASES] = {{16, 256, 256}, {3, 37, 13}, {8, 1000, 0}, {3, 17, 0}, {128, 50, 20}, {5, 13, 33}};
    float *mine[N_CASES];
    size_t nout[N_CASES];
    char path[512];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *cf = fopen(path, "w");
    for (int c = 0; c < N_CASES; c++) {
        shape h = sh[c];
        float *a, *b = NULL;
        if (c < 2) {
            a = rand_buf((size_t)h.B * h.d1 * h.d2, 1), b = rand_buf((size_t)h.B * h.d1, 1);
            nout[c] = (size_t)h.B * h.d2;
            mine[c] = malloc(nout[c] * sizeof(float));
            k->batched_gemv(mine[c], a, b, h.B, h.d1, h.d2);
            write_f32(dir, c, "a", a, (size_t)h.B * h.d1 * h.d2), write_f32(dir, c, "b", b, (size_t)h.B * h.d1);
            fprintf(cf, "gemv %d %d %d\n", h.B, h.d1, h.d2);
        } else if (c < 4) {
            a = rand_buf((size_t)h.B * h.d1, 8);
            nout[c] = (size_t)h.B * h.d1;
            mine[c] = malloc(nout[c] * sizeof(float));
            k->batched_softmax(mine[c], a, h.B, h.d1);
            write_f32(dir, c, "a", a, nout[c]);
            fprintf(cf, "softmax %d %d\n", h.B, h.d1);
        } else {
            a = rand_buf((size_t)h.B * h.d1, 100), b = rand_buf((size_t)h.d1 * h.d2, 1);
            nout[c] = (size_t)h.B * h.d2;
            mine[c] = malloc(nout[c] * sizeof(float));
            k->process_price_vectors(mine[c], a, b, h.B, h.d1, h.d2);
            write_f32(dir, c, "a", a, (size_t)h.B * h.d1), write_f32(dir, c, "b", b, (size_t)h.d1 * h.d2);
            fprintf(cf, "price %d %d %d\n", h.B, h.d1, h.d2);
        }
        free(a), free(b);
    }
    fclose(cf);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' tests/py/taskq_oracle.py %s", py, dir);
    int rc = system(cmd);
    TI_CHECK_MSG(rc == 0, "oracle failed: %s (rc %d)", cmd, rc);
    for (int c = 0; c < N_CASES; c++) {
        float *want = rc == 0 ? read_f32(dir, c, nout[c]) : NULL;
        if (rc == 0) TI_CHECK_MSG(want != NULL, "case %d: no oracle output", c);
        if (want) {
            double e = nmse(mine[c], want, nout[c]);
            TI_CHECK_MSG(e < 1e-10, "%s %s case %d: nmse vs numpy %g", k->name, ops[c], c, e);
        }
        free(want);
        free(mine[c]);
        for (int s = 0; s < 3; s++) {
            const char *suf[3] = {"a", "b", "out"};
            snprintf(path, sizeof path, "%s/%d_%s.f32", dir, c, suf[s]);
            unlink(path);
        }
    }
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    TI_RUN(simd_matches_scalar);
    TI_RUN(reference_values);
    TI_RUN(softmax_stable);
    TI_RUN(checked_and_pooled);
    TI_RUN(matches_numpy);
    return ti_test_summary();
}
