/* Latency histogram: quantiles of known distributions against exact sorted quantiles,
 * bucket edges, merge, overflow clamping, exact min/max/mean. */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/hist.h"

static const double k_qs[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0};

/* 1-based rank the histogram uses for q (smallest r with r >= q * n, at least 1). */
static uint64_t rank_of(double q, uint64_t n)
{
    double want = q * (double)n;
    uint64_t r = (uint64_t)want;
    if ((double)r < want) r++;
    return r < 1 ? 1 : r > n ? n : r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* got is within the relative error bound of exact: exact <= got and
 * (got - exact) / exact < 2^-bits, in integers (doubles round near 2^64). */
static int within(uint64_t got, uint64_t exact, int bits)
{
    if (got < exact) return 0;
    if (exact == 0) return got == 0;
    return ((unsigned __int128)(got - exact) << bits) < exact;
}

/* Every quantile must be >= the exact one and within the relative error bound. */
static void check_quantiles(const ti_hist *h, const uint64_t *sorted, uint64_t n, const char *what)
{
    double bound = 1.0 / (double)(1u << h->sub_bucket_bits);
    for (size_t i = 0; i < sizeof k_qs / sizeof *k_qs; i++) {
        uint64_t exact = sorted[rank_of(k_qs[i], n) - 1];
        uint64_t got = ti_hist_quantile(h, k_qs[i]);
        double rel = exact ? ((double)got - (double)exact) / (double)exact : (double)got;
        TI_CHECK_MSG(within(got, exact, h->sub_bucket_bits), "%s q=%g: got %llu, exact %llu (rel %.5f, bound %.5f)", what, k_qs[i],
                     (unsigned long long)got, (unsigned long long)exact, rel, bound);
    }
}

TI_TEST(init_rejects_bad_parameters)
{
    ti_hist h;
    TI_CHECK_ERR(ti_hist_init(&h, 1000, 0), TI_ERR_INVALID_ARG, "sub_bucket_bits");
    TI_CHECK_ERR(ti_hist_init(&h, 1000, 17), TI_ERR_INVALID_ARG, "sub_bucket_bits");
    TI_CHECK_ERR(ti_hist_init(&h, 1, 7), TI_ERR_INVALID_ARG, "max_value");
    ti_hist_free(&h); /* safe after a failed init */
    TI_CHECK_OK(ti_hist_init(&h, 1000000, 7));
    TI_CHECK(ti_hist_quantile(&h, 0.5) == 0 && ti_hist_mean(&h) == 0 && h.total == 0);
    ti_hist_free(&h);
}

TI_TEST(uniform_1_to_1e6)
{
    ti_hist h;
    TI_CHECK_OK(ti_hist_init(&h, 10000000, 7));
    const uint64_t n = 1000000;
    uint64_t *v = malloc(n * sizeof *v);
    /* Recorded in a scrambled order (i * 7919 mod n is a permutation: gcd = 1). */
    for (uint64_t i = 0; i < n; i++) v[i] = (i * 7919) % n + 1;
    for (uint64_t i = 0; i < n; i++) ti_hist_record(&h, v[i]);
    qsort(v, n, sizeof *v, cmp_u64);
    check_quantiles(&h, v, n, "uniform");
    TI_CHECK(h.min == 1 && h.max == n && h.total == n && h.overflow == 0);
    TI_CHECK(ti_hist_mean(&h) == 500000.5);
    TI_CHECK(ti_hist_quantile(&h, 0.5) != 500000); /* coarse buckets: not exact there */
    free(v);
    ti_hist_free(&h);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Exponential latencies (mean 50 us in ns) from a fixed seed. */
static uint64_t *exp_samples(uint64_t n, uint64_t seed)
{
    uint64_t *v = malloc(n * sizeof *v);
    for (uint64_t i = 0; i < n; i++) {
        double u = ((double)(splitmix64(&seed) >> 11) + 0.5) * 0x1p-53; /* (0, 1) */
        v[i] = (uint64_t)ceil(-50000.0 * log(u));
    }
    return v;
}

TI_TEST(exponential_fixed_seed)
{
    const uint64_t n = 200000;
    uint64_t *v = exp_samples(n, 42);
    const int bits[] = {3, 7, 10};
    for (int b = 0; b < 3; b++) {
        ti_hist h;
        TI_CHECK_OK(ti_hist_init(&h, 1000000000ull, bits[b]));
        long double sum = 0;
        uint64_t mn = UINT64_MAX, mx = 0;
        for (uint64_t i = 0; i < n; i++) {
            ti_hist_record(&h, v[i]);
            sum += v[i];
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        TI_CHECK(h.min == mn && h.max == mx);
        TI_CHECK_NEAR(ti_hist_mean(&h), (double)(sum / n), 1e-9 * (double)(sum / n));
        uint64_t *s = malloc(n * sizeof *s);
        memcpy(s, v, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_u64);
        char what[32];
        snprintf(what, sizeof what, "exponential bits=%d", bits[b]);
        check_quantiles(&h, s, n, what);
        TI_CHECK(ti_hist_quantile(&h, 1.0) == mx && ti_hist_quantile(&h, 0.0) == mn);
        free(s);
        ti_hist_free(&h);
    }
    free(v);
}

/* Around every power of two, a value's reported bucket edge is >= it and within the
 * bound (a histogram with that value and a much larger one, queried at the median). */
TI_TEST(bucket_edges_within_bound)
{
    const int bits[] = {1, 3, 7, 12};
    for (int b = 0; b < 4; b++) {
        ti_hist h;
        TI_CHECK_OK(ti_hist_init(&h, UINT64_MAX, bits[b]));
        int bad = 0;
        for (int e = 0; e < 64 && !bad; e++)
            for (int d = -1; d <= 1; d++) {
                uint64_t v = ((uint64_t)1 << e) + (uint64_t)(int64_t)d;
                if (v == 0 || v == UINT64_MAX) continue;
                ti_hist_reset(&h);
                ti_hist_record(&h, v);
                ti_hist_record(&h, UINT64_MAX);
                uint64_t got = ti_hist_quantile(&h, 0.5);
                if (!within(got, v, bits[b])) {
                    TI_FAILF("bits %d: value %llu reported as %llu", bits[b], (unsigned long long)v, (unsigned long long)got);
                    bad = 1;
                    break;
                }
            }
        TI_CHECK(ti_hist_quantile(&h, 1.0) == UINT64_MAX);
        ti_hist_free(&h);
    }
}

TI_TEST(small_values_are_exact)
{
    ti_hist h;
    TI_CHECK_OK(ti_hist_init(&h, 1000, 7));
    for (uint64_t v = 0; v < 100; v++) ti_hist_record(&h, v);
    TI_CHECK(ti_hist_quantile(&h, 0.5) == 49);
    TI_CHECK(ti_hist_quantile(&h, 0.01) == 0);
    TI_CHECK(ti_hist_quantile(&h, 0.9) == 89);
    TI_CHECK(h.min == 0 && h.max == 99);
    ti_hist_record_n(&h, 500, 100);
    TI_CHECK(h.total == 200);
    TI_CHECK(ti_hist_quantile(&h, 0.75) >= 500 && ti_hist_quantile(&h, 0.75) <= 503);
    ti_hist_record_n(&h, 7, 0); /* no-op */
    TI_CHECK(h.total == 200);
    ti_hist_reset(&h);
    TI_CHECK(h.total == 0 && ti_hist_quantile(&h, 0.5) == 0 && h.min == 0 && h.max == 0);
    ti_hist_free(&h);
}

TI_TEST(merge_equals_single_histogram)
{
    const uint64_t n = 50000;
    uint64_t *v = exp_samples(n, 7);
    ti_hist all, a, b, empty;
    TI_CHECK_OK(ti_hist_init(&all, 10000000, 7));
    TI_CHECK_OK(ti_hist_init(&a, 10000000, 7));
    TI_CHECK_OK(ti_hist_init(&b, 10000000, 7));
    TI_CHECK_OK(ti_hist_init(&empty, 10000000, 7));
    for (uint64_t i = 0; i < n; i++) {
        ti_hist_record(&all, v[i]);
        ti_hist_record(i % 3 ? &a : &b, v[i]);
    }
    TI_CHECK_OK(ti_hist_merge(&empty, &b)); /* into an empty one: min/max come from src */
    TI_CHECK(empty.min == b.min && empty.max == b.max);
    TI_CHECK_OK(ti_hist_merge(&a, &b));
    TI_CHECK(a.total == all.total && a.min == all.min && a.max == all.max && a.overflow == all.overflow);
    TI_CHECK(memcmp(a.counts, all.counts, all.n_buckets * sizeof *all.counts) == 0);
    TI_CHECK_NEAR(ti_hist_mean(&a), ti_hist_mean(&all), 1e-9 * ti_hist_mean(&all));
    for (size_t i = 0; i < sizeof k_qs / sizeof *k_qs; i++) TI_CHECK(ti_hist_quantile(&a, k_qs[i]) == ti_hist_quantile(&all, k_qs[i]));
    ti_hist other;
    TI_CHECK_OK(ti_hist_init(&other, 10000000, 6));
    TI_CHECK_ERR(ti_hist_merge(&a, &other), TI_ERR_INVALID_ARG, "equal parameters");
    ti_hist_free(&other);
    TI_CHECK_OK(ti_hist_init(&other, 20000000, 7));
    TI_CHECK_ERR(ti_hist_merge(&a, &other), TI_ERR_INVALID_ARG, "equal parameters");
    ti_hist_free(&other);
    ti_hist_free(&all);
    ti_hist_free(&a);
    ti_hist_free(&b);
    ti_hist_free(&empty);
    free(v);
}

TI_TEST(overflow_is_clamped_and_counted)
{
    ti_hist h;
    TI_CHECK_OK(ti_hist_init(&h, 1000, 7));
    ti_hist_record(&h, 10);
    ti_hist_record(&h, 5000);
    ti_hist_record_n(&h, UINT64_MAX, 3);
    TI_CHECK(h.total == 5 && h.overflow == 4);
    TI_CHECK(h.min == 10 && h.max == 1000);
    TI_CHECK(ti_hist_quantile(&h, 1.0) == 1000);
    TI_CHECK(ti_hist_quantile(&h, 0.5) == 1000);
    TI_CHECK(ti_hist_mean(&h) == (10.0 + 4 * 1000.0) / 5); /* clamped values */
    ti_hist_free(&h);
}

int main(void)
{
    TI_RUN(init_rejects_bad_parameters);
    TI_RUN(uniform_1_to_1e6);
    TI_RUN(exponential_fixed_seed);
    TI_RUN(bucket_edges_within_bound);
    TI_RUN(small_values_are_exact);
    TI_RUN(merge_equals_single_histogram);
    TI_RUN(overflow_is_clamped_and_counted);
    return ti_test_summary();
}
