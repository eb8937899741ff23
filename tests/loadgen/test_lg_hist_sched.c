/* The latency histogram against distributions with known quantiles, and the open-loop
 * scheduler's intended send times (exact, no drift, catch-up when late). */
#include <math.h>
#include <stdint.h>

#include "harness.h"
#include "tickinfer/hist.h"
#include "tickinfer/loadgen.h"

#define REL 0.008 /* 7 sub-bucket bits: relative error < 2^-7 */

/* Uniform on [1, 1e6] ns, every value once: quantile q is q * 1e6. */
TI_TEST(hist_uniform)
{
    ti_hist h;
    TI_CHECK_OK(ti_hist_init(&h, 600000000000ull, 7));
    for (uint64_t v = 1; v <= 1000000; v++) ti_hist_record(&h, v);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = qs[i] * 1e6, got = (double)ti_hist_quantile(&h, qs[i]);
        TI_CHECK_MSG(got >= want && got <= want * (1 + REL), "uniform q=%g: %g vs %g", qs[i], got, want);
    }
    TI_CHECK(ti_hist_quantile(&h, 1.0) == 1000000);
    TI_CHECK(ti_hist_quantile(&h, 0.0) == 1);
    TI_CHECK_NEAR(ti_hist_mean(&h), 500000.5, 1.0);
    ti_hist_free(&h);
}

/* Exponential with mean 200 us by inverse CDF on a stratified grid: quantile q is
 * -mu ln(1 - q).  Recorded across 4 "threads" and merged, as the runner does. */
TI_TEST(hist_exponential_merged)
{
    ti_hist part[4], all;
    TI_CHECK_OK(ti_hist_init(&all, 600000000000ull, 7));
    for (int k = 0; k < 4; k++) TI_CHECK_OK(ti_hist_init(&part[k], 600000000000ull, 7));
    const int n = 400000;
    const double mu = 200000;
    for (int i = 0; i < n; i++) {
        double u = (i + 0.5) / n;
        ti_hist_record(&part[i % 4], (uint64_t)llround(-mu * log(1 - u)));
    }
    for (int k = 0; k < 4; k++) TI_CHECK_OK(ti_hist_merge(&all, &part[k]));
    TI_CHECK(all.total == (uint64_t)n);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = -mu * log(1 - qs[i]), got = (double)ti_hist_quantile(&all, qs[i]);
        TI_CHECK_MSG(fabs(got - want) <= want * (REL + 0.002), "exp q=%g: %g vs %g", qs[i], got, want);
    }
    TI_CHECK_NEAR(ti_hist_mean(&all), mu, mu * 0.01);
    ti_hist bad;
    TI_CHECK_OK(ti_hist_init(&bad, 1000, 5));
    TI_CHECK_ERR(ti_hist_merge(&all, &bad), TI_ERR_INVALID_ARG, "");
    ti_hist_free(&bad);
    for (int k = 0; k < 4; k++) ti_hist_free(&part[k]);
    ti_hist_free(&all);
}

/* Bimodal: 99% at 100 us, 1% at 10 ms.  p99 must stay in the fast mode, p99.9 in the
 * slow one: the tail a mean would hide. */
TI_TEST(hist_bimodal_tail)
{
    ti_hist h;
    TI_CHECK_OK(ti_hist_init(&h, 600000000000ull, 7));
    ti_hist_record_n(&h, 100000, 99000);
    ti_hist_record_n(&h, 10000000, 1000);
    double p99 = (double)ti_hist_quantile(&h, 0.99), p999 = (double)ti_hist_quantile(&h, 0.999);
    TI_CHECK(p99 >= 100000 && p99 <= 100000 * (1 + REL));
    TI_CHECK(p999 >= 10000000 && p999 <= 10000000 * (1 + REL));
    TI_CHECK(ti_hist_quantile(&h, 1.0) == 10000000);
    ti_hist_free(&h);
}

/* Integer rate: every intended time exact, through 1e6 sends (no accumulated drift). */
TI_TEST(sched_exact_no_drift)
{
    ti_lg_sched s;
    const uint64_t t0 = 123456789012345ull;
    TI_CHECK_OK(ti_lg_sched_init(&s, t0, 1000.0));
    int bad = 0;
    for (uint64_t i = 0; i < 1000000; i++)
        if (ti_lg_sched_at(&s, i) != t0 + i * 1000000ull) bad++;
    TI_CHECK(bad == 0);
    /* 3 per second: 333333333.33 ns periods.  Adding a rounded period would drift by
     * 0.33 ns per send (333 us after 1e6); the index formula is exact to round-to-nearest. */
    TI_CHECK_OK(ti_lg_sched_init(&s, t0, 3.0));
    bad = 0;
    for (uint64_t i = 0; i < 1000000; i++) {
        uint64_t exact = t0 + (i * 1000000000ull + 1) / 3; /* round(i * 1e9 / 3) */
        if (ti_lg_sched_at(&s, i) != exact) bad++;
    }
    TI_CHECK(bad == 0);
    TI_CHECK(ti_lg_sched_at(&s, 3000000) == t0 + 1000000ull * 1000000000ull);
    /* Non-integer rate: the millionth send is within 1 ns of i * 1e9 / rate. */
    TI_CHECK_OK(ti_lg_sched_init(&s, 0, 777.7));
    TI_CHECK_NEAR((double)ti_lg_sched_at(&s, 1000000), 1e15 / 777.7, 1.0);
    TI_CHECK_ERR(ti_lg_sched_init(&s, 0, 0.0), TI_ERR_INVALID_ARG, "rate");
    TI_CHECK_ERR(ti_lg_sched_init(&s, 0, NAN), TI_ERR_INVALID_ARG, "rate");
}

/* A simulated sender that stalls for 25 periods once: it then sends at once (wait 0)
 * until it is back on schedule, the intended times do not move, and latency counted from
 * the intended time includes the stall (no coordinated omission). */
TI_TEST(sched_catch_up_when_late)
{
    ti_lg_sched s;
    const uint64_t period = 1000000; /* 1000/s */
    TI_CHECK_OK(ti_lg_sched_init(&s, 0, 1000.0));
    uint64_t now = 0, service = 100000; /* each send takes 0.1 period */
    int immediate = 0;
    uint64_t worst_lat = 0, sum_lat = 0;
    for (uint64_t i = 0; i < 200; i++) {
        now += ti_lg_sched_wait(&s, i, now);
        uint64_t at = ti_lg_sched_at(&s, i);
        TI_CHECK(now >= at);
        if (i > 0 && now > at) immediate++;
        now += (i == 50) ? 25 * period : service; /* the stall */
        uint64_t lat = now - at;
        sum_lat += lat;
        if (lat > worst_lat) worst_lat = lat;
    }
    /* Send 51 starts 24 periods late; each send gains 0.9 period: sends 51..77 go at once. */
    TI_CHECK(immediate == 27);
    TI_CHECK(worst_lat == 25 * period);
    TI_CHECK(ti_lg_sched_at(&s, 199) == 199 * period);
    TI_CHECK(ti_lg_sched_wait(&s, 199, 199 * period - 5) == 5);
    TI_CHECK(ti_lg_sched_wait(&s, 199, 199 * period + 5) == 0);
    /* A closed-loop view would have recorded one slow request; the open loop records the
     * stall in every request that should have gone during it. */
    TI_CHECK(sum_lat > 300 * period);
}

int main(void)
{
    TI_RUN(hist_uniform);
    TI_RUN(hist_exponential_merged);
    TI_RUN(hist_bimodal_tail);
    TI_RUN(sched_exact_no_drift);
    TI_RUN(sched_catch_up_when_late);
    return ti_test_summary();
}
