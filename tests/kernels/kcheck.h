/* Helpers shared by the kernel tests: deterministic random data, the NMSE comparison of
 * a SIMD result with the scalar reference, and central finite differences. */
#ifndef TI_TESTS_KCHECK_H
#define TI_TESTS_KCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "tickinfer/kernels.h"

/* SIMD vs scalar reference: sum (a-b)^2 / sum b^2.  fp32 reordering of sums of a few
 * hundred terms gives ~1e-14; a wrong lane, a missed tail or a bad exp is >= 1e-8. */
#define KC_NMSE_BOUND 1e-10
/* finite differences (fp32 forward, objective summed in double, step KC_FD_EPS):
 * ||fd - analytic|| / ||analytic|| over the sampled coordinates.  Truncation and fp32
 * noise give 1e-7..2e-4 here; a wrong term in a gradient gives O(1). */
#define KC_FD_EPS 4e-3f
#define KC_FD_TOL 2e-3

static uint64_t kc_rng_state = 0x9E3779B97F4A7C15ull;
static inline void kc_seed(uint64_t s) { kc_rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static inline uint64_t kc_next(void)
{
    uint64_t z = (kc_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) */
static inline float kc_uniform(void) { return (float)((double)(kc_next() >> 11) * 0x1.0p-52 - 1.0); }
static inline void kc_fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * kc_uniform();
}
static inline float *kc_alloc(size_t n) /* zeroed; at least one float so n = 0 is fine */
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
static inline float *kc_rand(size_t n, float scale)
{
    float *p = kc_alloc(n);
    kc_fill(p, n, scale);
    return p;
}
static inline float *kc_copy(const float *src, size_t n)
{
    float *p = kc_alloc(n);
    if (n) memcpy(p, src, n * sizeof(float));
    return p;
}

static inline double kc_nmse(const float *got, const float *want, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        if (isnan(got[i]) != isnan(want[i])) return INFINITY;
        num += d * d;
        den += (double)want[i] * want[i];
    }
    /* an all-zero reference (e.g. gelu far below 0) compares in absolute terms */
    return num / (den > 1e-30 ? den : 1e-30);
}

/* Fails the current test (with `what` and `ctx` in the message) unless NMSE < bound. */
static inline int kc_check_nmse(const char *what, const char *ctx, const float *got,
                                const float *want, size_t n)
{
    double e = kc_nmse(got, want, n);
    if (getenv("TI_TEST_VERBOSE")) fprintf(stderr, "    nmse %9.2e  %s [%s]\n", e, what, ctx);
    if (!(e < KC_NMSE_BOUND)) {
        TI_FAILF("%s [%s]: nmse %.3g >= %g", what, ctx, e, KC_NMSE_BOUND);
        return 0;
    }
    return 1;
}

/* Elementwise |got - want| <= rtol*|want| + atol, for kernels without reductions
 * (activations): catches an approximation error that NMSE over many elements would
 * average away (an erf off by 1e-5 gives an NMSE of only ~1e-11). */
static inline int kc_check_close(const char *what, const char *ctx, const float *got,
                                 const float *want, size_t n, double rtol, double atol)
{
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]) / (rtol * fabs((double)want[i]) + atol);
        if (!(err <= worst)) { /* also catches NaN */
            worst = isnan(err) ? INFINITY : err;
            at = i;
        }
    }
    if (getenv("TI_TEST_VERBOSE")) fprintf(stderr, "    close %9.2e  %s [%s]\n", worst, what, ctx);
    if (!(worst <= 1.0)) {
        TI_FAILF("%s [%s]: element %zu: %.9g vs %.9g (rtol %g, atol %g)", what, ctx, at, (double)got[at],
                 (double)want[at], rtol, atol);
        return 0;
    }
    return 1;
}

/* Objective for finite differences: runs the forward with the current inputs and
 * returns a scalar summed in double, usually sum_i out_i * r_i for fixed weights r. */
typedef double (*kc_objective)(void *ctx);

static inline double kc_weighted_sum(const float *out, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * (double)r[i];
    return s;
}

/* Relative error of the analytic gradient `grad` of x [n] against central differences
 * at up to max_coords coordinates (all when n is small, else a fixed random sample). */
static inline double kc_fd_rel_err(kc_objective f, void *ctx, float *x, size_t n,
                                   const float *grad, float eps, int max_coords)
{
    double err2 = 0.0, g2 = 0.0, fd2 = 0.0;
    size_t count = n < (size_t)max_coords ? n : (size_t)max_coords;
    for (size_t s = 0; s < count; s++) {
        size_t c = count == n ? s : (size_t)(kc_next() % n);
        const float save = x[c];
        const float xp = save + eps, xm = save - eps;
        x[c] = xp;
        double lp = f(ctx);
        x[c] = xm;
        double lm = f(ctx);
        x[c] = save;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        err2 += (fd - grad[c]) * (fd - grad[c]);
        g2 += (double)grad[c] * grad[c];
        fd2 += fd * fd;
    }
    double den = sqrt(g2 > fd2 ? g2 : fd2);
    if (den < 1e-9) return sqrt(err2);
    return sqrt(err2) / den;
}

static inline int kc_check_fd(const char *what, const char *ctx, double rel)
{
    if (getenv("TI_TEST_VERBOSE")) fprintf(stderr, "    fd rel %9.2e  %s [%s]\n", rel, what, ctx);
    if (!(rel < KC_FD_TOL)) {
        TI_FAILF("%s [%s]: finite-difference rel err %.3g >= %g", what, ctx, rel, KC_FD_TOL);
        return 0;
    }
    return 1;
}

#endif
