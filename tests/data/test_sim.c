/* Simulator oracle tests: determinism, realized variance converging to the true
 * integrated variance as sampling gets finer, jumps counted in the truth, U-shaped
 * seasonality, trade counts matching the intensity, noise, and stream == generate. */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/sim.h"

/* One shared run (8 symbols x 2 sessions, path kept) for the statistical tests. */
static ti_sim_result g_run;
static ti_sim_config g_cfg;
static int g_ok;

static void shared_run(void)
{
    if (g_ok) return;
    ti_sim_config_default(&g_cfg);
    g_cfg.seed = 7;
    g_cfg.n_symbols = 8;
    g_cfg.seconds = 2 * 23400;
    g_cfg.keep_path = 1;
    g_ok = ti_sim_generate(&g_run, &g_cfg) == TI_OK;
}

/* Realized variance of the fine path sampled every `every` steps over seconds [a, b). */
static double path_rv(const ti_sim_result *r, int sym, int64_t a, int64_t b, int every)
{
    const double *x = r->sym[sym].log_path;
    int64_t k0 = a * r->steps_per_second, k1 = b * r->steps_per_second;
    double rv = 0;
    for (int64_t k = k0; k + every <= k1; k += every) {
        double d = x[k + every] - x[k];
        rv += d * d;
    }
    return rv;
}

static int same_symbol(const ti_sim_symbol *a, const ti_sim_symbol *b, int64_t secs)
{
    return a->n_trades == b->n_trades && memcmp(a->time, b->time, a->n_trades * sizeof(double)) == 0 &&
           memcmp(a->price, b->price, a->n_trades * sizeof(double)) == 0 &&
           memcmp(a->size, b->size, a->n_trades * sizeof(int32_t)) == 0 &&
           memcmp(a->order_count, b->order_count, a->n_trades * sizeof(int32_t)) == 0 &&
           memcmp(a->iv, b->iv, (size_t)secs * sizeof(double)) == 0;
}

TI_TEST(deterministic_by_seed)
{
    ti_sim_config c;
    ti_sim_config_default(&c);
    c.n_symbols = 3;
    c.seconds = 1200;
    ti_sim_result a, b, d;
    TI_CHECK_OK(ti_sim_generate(&a, &c));
    TI_CHECK_OK(ti_sim_generate(&b, &c));
    uint64_t seed = c.seed;
    c.seed = seed + 1;
    TI_CHECK_OK(ti_sim_generate(&d, &c));
    for (int i = 0; i < 3 && a.sym && b.sym && d.sym; i++) {
        TI_CHECK(a.sym[i].n_trades > 100);
        TI_CHECK_MSG(same_symbol(&a.sym[i], &b.sym[i], c.seconds), "symbol %d differs between equal seeds", i);
        TI_CHECK_MSG(!same_symbol(&a.sym[i], &d.sym[i], c.seconds), "symbol %d equal for two seeds", i);
        for (size_t j = 1; j < a.sym[i].n_trades; j++)
            if (!(a.sym[i].time[j] >= a.sym[i].time[j - 1])) {
                TI_FAILF("symbol %d trade %zu out of time order", i, j);
                break;
            }
    }
    /* A symbol does not depend on how many others are simulated. */
    c.seed = seed;
    c.n_symbols = 5;
    ti_sim_result e;
    TI_CHECK_OK(ti_sim_generate(&e, &c));
    for (int i = 0; i < 3 && a.sym && e.sym; i++)
        TI_CHECK_MSG(same_symbol(&a.sym[i], &e.sym[i], c.seconds), "symbol %d changed with n_symbols", i);
    ti_sim_free(&a);
    ti_sim_free(&b);
    ti_sim_free(&d);
    ti_sim_free(&e);
}

/* Mean |RV - IV| / IV over symbols must shrink from 60 s to 0.1 s sampling. */
TI_TEST(rv_converges_to_true_iv)
{
    shared_run();
    if (!g_ok) TI_FAILF("generate failed: %s", ti_errmsg());
    if (!g_ok) return;
    const int every[4] = {600, 100, 10, 1}; /* 60 s, 10 s, 1 s, 0.1 s */
    double err[4] = {0};
    for (int i = 0; i < g_run.n_symbols; i++) {
        double iv = ti_sim_true_iv(&g_run, i, 0, g_run.n_seconds);
        for (int g = 0; g < 4; g++) err[g] += fabs(path_rv(&g_run, i, 0, g_run.n_seconds, every[g]) / iv - 1.0);
    }
    for (int g = 0; g < 4; g++) err[g] /= g_run.n_symbols;
    fprintf(stderr, "  mean relative |RV-IV|/IV at 60 s, 10 s, 1 s, 0.1 s: %.4f %.4f %.4f %.4f\n", err[0], err[1], err[2],
            err[3]);
    TI_CHECK(err[0] > err[1] && err[1] > err[2] && err[2] > err[3]);
    TI_CHECK(err[3] < 0.01);
    TI_CHECK(err[2] < 0.03);
    /* Per 600 s bucket at 1 s sampling (~600 returns: ~5% error expected). */
    double bucket_err = 0;
    int nb = 0;
    for (int i = 0; i < g_run.n_symbols; i++)
        for (int64_t a = 0; a + 600 <= g_run.n_seconds; a += 600, nb++)
            bucket_err += fabs(path_rv(&g_run, i, a, a + 600, 10) / ti_sim_true_iv(&g_run, i, a, a + 600) - 1.0);
    bucket_err /= nb;
    TI_CHECK_MSG(bucket_err > 0.02 && bucket_err < 0.08, "mean bucket error %.4f", bucket_err);
    /* The stored truth adds up: sum over seconds == whole-run value, jumps inside it. */
    for (int i = 0; i < g_run.n_symbols; i++) {
        double whole = ti_sim_true_iv(&g_run, i, 0, g_run.n_seconds);
        double halves = ti_sim_true_iv(&g_run, i, 0, 1000) + ti_sim_true_iv(&g_run, i, 1000, g_run.n_seconds + 50);
        TI_CHECK_NEAR(halves / whole, 1.0, 1e-12);
        TI_CHECK(g_run.sym[i].jump_qv >= 0 && g_run.sym[i].jump_qv < whole);
    }
}

/* Trades lie on the true path: RV of last-trade prices every 60 s is close to the truth. */
TI_TEST(trade_prices_follow_path)
{
    shared_run();
    if (!g_ok) return;
    double err = 0;
    for (int i = 0; i < g_run.n_symbols; i++) {
        const ti_sim_symbol *y = &g_run.sym[i];
        double rv = 0, prev = NAN;
        size_t j = 0;
        for (int64_t s = 60; s <= g_run.n_seconds; s += 60) {
            while (j < y->n_trades && y->time[j] < (double)s) j++;
            if (j == 0) continue;
            double lp = log(y->price[j - 1]);
            if (!isnan(prev)) rv += (lp - prev) * (lp - prev);
            prev = lp;
        }
        err += fabs(rv / ti_sim_true_iv(&g_run, i, 0, g_run.n_seconds) - 1.0);
        TI_CHECK_NEAR(log(y->price[0]), g_run.sym[i].log_path[0], 0.01);
    }
    err /= g_run.n_symbols;
    TI_CHECK_MSG(err < 0.12, "mean relative error of 60 s trade RV: %.4f", err);
}

TI_TEST(seasonality_u_shape)
{
    ti_sim_config c;
    ti_sim_config_default(&c);
    /* The factor averages 1 over a session and is higher at both ends. */
    double mean = 0;
    for (int t = 0; t < 23400; t++) mean += ti_sim_seasonality(&c, t + 0.5);
    TI_CHECK_NEAR(mean / 23400, 1.0, 1e-3);
    TI_CHECK(ti_sim_seasonality(&c, 0) > 2.0 * ti_sim_seasonality(&c, 11700));
    TI_CHECK(ti_sim_seasonality(&c, 23399) > 1.5 * ti_sim_seasonality(&c, 11700));
    TI_CHECK_NEAR(ti_sim_seasonality(&c, 100), ti_sim_seasonality(&c, 23500), 1e-12);

    /* Without vol-of-vol and jumps the variance stays at theta_i, so the true variance
     * of every second is exactly theta_i * sum over its steps of s(t_k) dt. */
    c.xi = 0;
    c.jump_rate = 0;
    c.n_symbols = 2;
    c.trade_rate = 0.1;
    ti_sim_result r;
    TI_CHECK_OK(ti_sim_generate(&r, &c));
    if (!r.sym) return;
    double worst = 0;
    for (int i = 0; i < 2; i++)
        for (int64_t sec = 0; sec < r.n_seconds; sec++) {
            double want = 0;
            for (int k = 0; k < c.steps_per_second; k++)
                want += ti_sim_seasonality(&c, (double)(sec * c.steps_per_second + k) / c.steps_per_second);
            want *= r.sym[i].theta / c.steps_per_second;
            double rel = fabs(r.sym[i].iv[sec] / want - 1);
            if (rel > worst) worst = rel;
        }
    TI_CHECK_MSG(worst < 1e-9, "worst relative deviation of iv from theta * s(t): %.3g", worst);
    double open = ti_sim_true_iv(&r, 0, 0, 1800) / 1800, close = ti_sim_true_iv(&r, 0, 21600, 23400) / 1800;
    double mid = ti_sim_true_iv(&r, 0, 9900, 13500) / 3600;
    TI_CHECK_MSG(open > 2.0 * mid && close > 1.4 * mid, "open %.3g close %.3g mid %.3g", open, close, mid);
    ti_sim_free(&r);

    /* With stochastic variance the pattern still shows in the shared run (loosely: the
     * variance itself wanders, with a 20-minute half-life). */
    shared_run();
    if (!g_ok) return;
    open = close = mid = 0;
    for (int i = 0; i < g_run.n_symbols; i++)
        for (int64_t day = 0; day < 2; day++) {
            int64_t d0 = day * 23400;
            open += ti_sim_true_iv(&g_run, i, d0, d0 + 1800) / 1800;
            close += ti_sim_true_iv(&g_run, i, d0 + 23400 - 1800, d0 + 23400) / 1800;
            mid += ti_sim_true_iv(&g_run, i, d0 + 11700 - 1800, d0 + 11700 + 1800) / 3600;
        }
    TI_CHECK_MSG(open + close > 2.2 * mid, "open %.3g close %.3g mid %.3g", open, close, mid);
}

/* Counts match the integrated intensity, and busy seconds are the volatile ones. */
TI_TEST(trade_counts_follow_rate)
{
    shared_run();
    if (!g_ok) return;
    for (int i = 0; i < g_run.n_symbols; i++) {
        const ti_sim_symbol *y = &g_run.sym[i];
        double lam = 0;
        for (int64_t s = 0; s < g_run.n_seconds; s++) lam += y->intensity[s];
        TI_CHECK_MSG(fabs((double)y->n_trades - lam) < 5 * sqrt(lam), "symbol %d: %zu trades, expected %.1f", i,
                     y->n_trades, lam);
        /* mean rate over the run ~ trade_rate_i (the intensity averages sig2/theta ~ 1) */
        TI_CHECK_MSG(lam / (double)g_run.n_seconds > 0.3 * y->trade_rate && lam / (double)g_run.n_seconds < 3 * y->trade_rate,
                     "symbol %d mean rate %.3f vs %.3f", i, lam / (double)g_run.n_seconds, y->trade_rate);
        /* trades in the 25% most volatile minutes vs the 25% calmest */
        int64_t n_min = g_run.n_seconds / 60;
        double *mv = malloc((size_t)n_min * sizeof *mv), *sorted = malloc((size_t)n_min * sizeof *sorted);
        size_t *cnt = calloc((size_t)n_min, sizeof *cnt);
        for (int64_t m = 0; m < n_min; m++) mv[m] = sorted[m] = ti_sim_true_iv(&g_run, i, m * 60, m * 60 + 60);
        for (size_t j = 0; j < y->n_trades; j++) cnt[(size_t)(y->time[j] / 60)]++;
        /* quartiles by partial selection (insertion sort is fine for 780 values) */
        for (int64_t a = 1; a < n_min; a++)
            for (int64_t b = a; b > 0 && sorted[b] < sorted[b - 1]; b--) {
                double tmp = sorted[b];
                sorted[b] = sorted[b - 1];
                sorted[b - 1] = tmp;
            }
        double q1 = sorted[n_min / 4], q3 = sorted[3 * n_min / 4];
        double hi = 0, lo = 0;
        for (int64_t m = 0; m < n_min; m++) {
            if (mv[m] >= q3) hi += (double)cnt[m];
            if (mv[m] <= q1) lo += (double)cnt[m];
        }
        TI_CHECK_MSG(hi > 1.5 * lo, "symbol %d: %.0f trades in volatile minutes vs %.0f in calm ones", i, hi, lo);
        free(mv);
        free(sorted);
        free(cnt);
        for (size_t j = 0; j < y->n_trades; j++)
            if (y->size[j] < 1 || y->order_count[j] < 1 || !(y->price[j] > 0)) {
                TI_FAILF("symbol %d trade %zu: size %d orders %d price %g", i, j, y->size[j], y->order_count[j],
                         y->price[j]);
                break;
            }
    }
}

/* With strong jumps the truth includes them and fine RV tracks the total, not the
 * diffusive part alone. */
TI_TEST(jumps_in_true_variance)
{
    ti_sim_config c;
    ti_sim_config_default(&c);
    c.seed = 11;
    c.n_symbols = 4;
    c.seconds = 23400;
    c.jump_rate = 1.0 / 600;
    c.jump_std = 0.004;     /* jump variance per second ~ theta: about half the truth */
    c.theta_dispersion = 0;
    c.trade_rate = 0.2;
    c.keep_path = 1;
    ti_sim_result r;
    TI_CHECK_OK(ti_sim_generate(&r, &c));
    if (!r.sym) return;
    size_t jumps = 0;
    for (int i = 0; i < c.n_symbols; i++) {
        double iv = ti_sim_true_iv(&r, i, 0, r.n_seconds), jq = r.sym[i].jump_qv;
        double rv = path_rv(&r, i, 0, r.n_seconds, 1);
        jumps += r.sym[i].n_jumps;
        TI_CHECK_MSG(jq / iv > 0.15 && jq / iv < 0.85, "symbol %d jump share %.3f", i, jq / iv);
        TI_CHECK_MSG(fabs(rv / iv - 1) < 0.02, "symbol %d RV/IV %.4f", i, rv / iv);
        TI_CHECK_MSG(rv / (iv - jq) > 1.15, "symbol %d RV/diffusive IV %.4f", i, rv / (iv - jq));
    }
    double expect = c.jump_rate * (double)c.seconds * c.n_symbols; /* 156 */
    TI_CHECK_MSG(fabs((double)jumps - expect) < 5 * sqrt(expect), "%zu jumps, expected %.1f", jumps, expect);
    ti_sim_free(&r);
}

/* Noise moves prices only: same trade times and sizes, log-price differences ~ N(0, w^2). */
TI_TEST(noise_is_separate)
{
    ti_sim_config c;
    ti_sim_config_default(&c);
    c.n_symbols = 2;
    c.seconds = 3600;
    ti_sim_result a, b;
    TI_CHECK_OK(ti_sim_generate(&a, &c));
    c.noise_std = 2e-4;
    TI_CHECK_OK(ti_sim_generate(&b, &c));
    if (!a.sym || !b.sym) return;
    for (int i = 0; i < 2; i++) {
        const ti_sim_symbol *x = &a.sym[i], *y = &b.sym[i];
        TI_CHECK(x->n_trades == y->n_trades && x->n_trades > 500);
        if (x->n_trades != y->n_trades) continue;
        TI_CHECK(memcmp(x->time, y->time, x->n_trades * sizeof(double)) == 0);
        TI_CHECK(memcmp(x->size, y->size, x->n_trades * sizeof(int32_t)) == 0);
        TI_CHECK(memcmp(x->iv, y->iv, (size_t)c.seconds * sizeof(double)) == 0);
        double s1 = 0, s2 = 0;
        for (size_t j = 0; j < x->n_trades; j++) {
            double d = log(y->price[j]) - log(x->price[j]);
            s1 += d;
            s2 += d * d;
        }
        double m = s1 / (double)x->n_trades, sd = sqrt(s2 / (double)x->n_trades - m * m);
        TI_CHECK_MSG(fabs(m) < 4 * 2e-4 / sqrt((double)x->n_trades), "noise mean %.3g", m);
        TI_CHECK_MSG(fabs(sd / 2e-4 - 1) < 0.1, "noise sd %.3g", sd);
    }
    ti_sim_free(&a);
    ti_sim_free(&b);
    /* tick rounding */
    c.noise_std = 0;
    c.tick_size = 0.01;
    TI_CHECK_OK(ti_sim_generate(&a, &c));
    if (a.sym)
        for (size_t j = 0; j < a.sym[0].n_trades; j++) {
            double cents = a.sym[0].price[j] * 100;
            if (fabs(cents - nearbyint(cents)) > 1e-6) {
                TI_FAILF("price %.6f not on the 0.01 grid", a.sym[0].price[j]);
                break;
            }
        }
    ti_sim_free(&a);
}

/* The stream yields exactly generate's trades, merged in time order. */
TI_TEST(stream_matches_generate)
{
    ti_sim_config c;
    ti_sim_config_default(&c);
    c.n_symbols = 5;
    c.seconds = 900;
    c.trade_rate = 3.0;
    ti_sim_result r;
    TI_CHECK_OK(ti_sim_generate(&r, &c));
    ti_sim_stream *s;
    TI_CHECK_OK(ti_sim_stream_create(&s, &c));
    if (!r.sym || !s) return;
    size_t *next = calloc((size_t)c.n_symbols, sizeof *next), total = 0, expect = 0;
    double last = -1;
    ti_sim_tick t;
    int rc;
    while ((rc = ti_sim_stream_next(s, &t)) == 1) {
        total++;
        if (t.time < last || t.symbol >= (uint32_t)c.n_symbols) {
            TI_FAILF("tick %zu: time %.6f after %.6f, symbol %u", total, t.time, last, t.symbol);
            break;
        }
        last = t.time;
        const ti_sim_symbol *y = &r.sym[t.symbol];
        size_t j = next[t.symbol]++;
        if (j >= y->n_trades || y->time[j] != t.time || y->price[j] != t.price || y->size[j] != (int32_t)t.size ||
            y->order_count[j] != (int32_t)t.order_count) {
            TI_FAILF("tick %zu (symbol %u #%zu) differs from generate", total, t.symbol, j);
            break;
        }
    }
    TI_CHECK(rc == 0);
    for (int i = 0; i < c.n_symbols; i++) {
        expect += r.sym[i].n_trades;
        TI_CHECK_NEAR(ti_sim_stream_cum_iv(s, (uint32_t)i) / ti_sim_true_iv(&r, i, 0, r.n_seconds), 1.0, 1e-9);
    }
    TI_CHECK(total == expect && total > 1000);
    TI_CHECK(ti_sim_stream_next(s, &t) == 0);
    TI_CHECK(ti_sim_stream_cum_iv(s, 99) == 0.0);
    free(next);
    ti_sim_stream_destroy(s);
    ti_sim_free(&r);
    /* endless stream keeps going */
    c.seconds = 0;
    TI_CHECK_OK(ti_sim_stream_create(&s, &c));
    size_t k = 0;
    while (k < 20000 && ti_sim_stream_next(s, &t) == 1) k++;
    TI_CHECK(k == 20000);
    ti_sim_stream_destroy(s);
}

TI_TEST(config_validation)
{
    ti_sim_config c;
    ti_sim_result r;
    ti_sim_stream *s;
    ti_sim_config_default(&c);
    TI_CHECK_OK(ti_sim_config_check(&c));
    c.n_symbols = 0;
    TI_CHECK_ERR(ti_sim_generate(&r, &c), TI_ERR_INVALID_ARG, "sim: n_symbols = 0 outside");
    ti_sim_config_default(&c);
    c.rho = 1.5;
    TI_CHECK_ERR(ti_sim_config_check(&c), TI_ERR_INVALID_ARG, "rho");
    c.rho = NAN;
    TI_CHECK_ERR(ti_sim_config_check(&c), TI_ERR_INVALID_ARG, "rho");
    ti_sim_config_default(&c);
    c.steps_per_second = 0;
    TI_CHECK_ERR(ti_sim_stream_create(&s, &c), TI_ERR_INVALID_ARG, "steps_per_second");
    ti_sim_config_default(&c);
    c.seconds = 0;
    TI_CHECK_ERR(ti_sim_generate(&r, &c), TI_ERR_INVALID_ARG, "seconds >= 1");
    c.trade_rate = 0;
    TI_CHECK_ERR(ti_sim_stream_create(&s, &c), TI_ERR_INVALID_ARG, "endless");
    ti_sim_config_default(&c);
    c.max_trades = 100;
    TI_CHECK_ERR(ti_sim_generate(&r, &c), TI_ERR_LIMIT, "max_trades = 100");
    TI_CHECK(r.sym == NULL);
    ti_sim_config_default(&c);
    c.n_symbols = 100000;
    c.seconds = 100000;
    TI_CHECK_ERR(ti_sim_generate(&r, &c), TI_ERR_LIMIT, "doubles");
}

int main(void)
{
    TI_RUN(deterministic_by_seed);
    TI_RUN(rv_converges_to_true_iv);
    TI_RUN(trade_prices_follow_path);
    TI_RUN(seasonality_u_shape);
    TI_RUN(trade_counts_follow_rate);
    TI_RUN(jumps_in_true_variance);
    TI_RUN(noise_is_separate);
    TI_RUN(stream_matches_generate);
    TI_RUN(config_validation);
    ti_sim_free(&g_run);
    return ti_test_summary();
}
