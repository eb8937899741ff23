/* Incremental features against a direct (brute-force) evaluation of their definitions. */
#include "harness.h"
#include "tickinfer/features.h"

#define T_LEN 5000 /* wraps the 512-slot ring ~10 times */

typedef struct stream {
    ti_bar bar[T_LEN];
    int has[T_LEN];
    ti_book_sec book[T_LEN];
} stream;

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void make_stream(stream *s)
{
    double p = 100.0;
    for (int t = 0; t < T_LEN; t++) {
        /* Bursts and quiet spells so every window sees empty seconds. */
        double rate = (t / 400) % 2 ? 0.6 : 0.05;
        s->has[t] = urand() < rate;
        p *= exp((urand() - 0.5) * 0.002);
        s->bar[t] = (ti_bar){(uint16_t)(t % 600), (uint16_t)(1 + (int)(urand() * 3)), (uint32_t)(1 + urand() * 9), (float)p,
                             (float)(1 + (int)(urand() * 500))};
        double mid = p, half = 0.01 + urand() * 0.05;
        s->book[t] = (ti_book_sec){(float)(mid - half), (float)(mid + half), (float)(100 + urand() * 900), (float)(100 + urand() * 900)};
    }
}

/* Direct evaluation at second t of every feature from its definition. */
static void reference(double *f, const stream *s, int t)
{
    int last = -1;
    for (int k = t; k >= 0; k--)
        if (s->has[k]) { last = k; break; }
    double lastp = last >= 0 ? s->bar[last].price : 0;
    int prev = -1;
    for (int k = t - 1; k >= 0; k--)
        if (s->has[k]) { prev = k; break; }
    f[TI_FEAT_LOG_RETURN] = s->has[t] && prev >= 0 ? log((double)s->bar[t].price / s->bar[prev].price) : 0;
    f[TI_FEAT_LOG_SIZE] = s->has[t] ? log1p(s->bar[t].size) : 0;
    f[TI_FEAT_LOG_ORDERS] = s->has[t] ? log1p(s->bar[t].order_count) : 0;
    f[TI_FEAT_N_TRADES] = s->has[t] ? s->bar[t].n_trades : 0;
    f[TI_FEAT_SECS_SINCE_TRADE] = last < 0 ? 15 : (t - last > 15 ? 15 : t - last);
    int wins[3] = {30, 120, 300}, idx[3] = {TI_FEAT_RV_30, TI_FEAT_RV_120, TI_FEAT_RV_300};
    for (int w = 0; w < 3; w++) {
        double acc = 0;
        for (int k = t - wins[w] + 1; k <= t; k++) {
            if (k < 0 || !s->has[k]) continue;
            int pk = -1;
            for (int j = k - 1; j >= 0; j--)
                if (s->has[j]) { pk = j; break; }
            if (pk >= 0) {
                double r = log((double)s->bar[k].price / s->bar[pk].price);
                acc += r * r;
            }
        }
        f[idx[w]] = sqrt(acc);
    }
    double pv = 0, v = 0, hi = 0, lo = 0;
    int trades60 = 0;
    for (int k = t - 119; k <= t; k++)
        if (k >= 0 && s->has[k]) { pv += (double)s->bar[k].price * s->bar[k].size; v += s->bar[k].size; }
    f[TI_FEAT_VWAP_DEV_120] = (lastp > 0 && v > 0) ? log(lastp * v / pv) : 0;
    for (int k = t - 29; k <= t; k++)
        if (k >= 0 && s->has[k]) {
            double px = s->bar[k].price;
            if (hi == 0 || px > hi) hi = px;
            if (lo == 0 || px < lo) lo = px;
        }
    f[TI_FEAT_HL_RANGE_30] = hi > 0 ? log(hi / lo) : 0;
    for (int k = t - 59; k <= t; k++)
        if (k >= 0 && s->has[k]) trades60 += s->bar[k].n_trades;
    f[TI_FEAT_TRADES_60] = trades60;
    int last60 = -1;
    for (int k = t - 60; k >= 0; k--)
        if (s->has[k]) { last60 = k; break; }
    f[TI_FEAT_RET_60] = (lastp > 0 && last60 >= 0) ? log(lastp / s->bar[last60].price) : 0;
    const ti_book_sec *b = &s->book[t];
    double mid = 0.5 * ((double)b->bid_px + b->ask_px), bs = b->bid_sz, as = b->ask_sz;
    f[TI_FEAT_WAP_MID_DEV] = log((b->bid_px * as + b->ask_px * bs) / (bs + as) / mid);
    f[TI_FEAT_SPREAD] = (double)b->ask_px - b->bid_px;
    f[TI_FEAT_REL_SPREAD] = ((double)b->ask_px - b->bid_px) / mid;
    f[TI_FEAT_IMBALANCE] = (bs - as) / (bs + as);
}

static stream g_s;

TI_TEST(incremental_matches_definitions_over_long_stream)
{
    make_stream(&g_s);
    ti_feat_state st;
    ti_feat_reset(&st, 1);
    float out[TI_FEAT_MAX];
    double ref[TI_FEAT_MAX];
    int bad = 0;
    for (int t = 0; t < T_LEN; t++) {
        ti_feat_step(&st, g_s.has[t] ? &g_s.bar[t] : NULL, &g_s.book[t], out);
        if (t % 7 && t < T_LEN - 50) continue; /* the brute force is O(T*W); sample */
        reference(ref, &g_s, t);
        for (int f = 0; f < TI_FEAT_MAX; f++) {
            /* float storage of r^2 and prices: relative 1e-4 plus a small absolute floor */
            double tol = 1e-4 * fabs(ref[f]) + 2e-6;
            if (!(fabs(out[f] - ref[f]) <= tol) && bad++ < 10)
                TI_FAILF("t=%d feature %s: incremental %.9g vs definition %.9g", t, ti_feature_name(f), out[f], ref[f]);
        }
    }
    TI_CHECK(bad == 0);
}

TI_TEST(bucket_features_equal_stepping_without_book)
{
    ti_bar bars[600];
    uint32_t n = 0;
    for (int t = 0; t < 600; t++)
        if (g_s.has[t]) { bars[n] = g_s.bar[t]; bars[n].sec = (uint16_t)t; n++; }
    ti_bucket_view v = {1, 2, bars, n, NULL};
    static float a[300 * TI_FEAT_MAX], b[TI_FEAT_MAX];
    ti_feat_state st;
    ti_features_bucket(a, &st, &v, 300);
    ti_feat_state st2;
    ti_feat_reset(&st2, 0);
    TI_CHECK(ti_features_count(0) == 12 && ti_features_count(1) == 16);
    uint32_t j = 0;
    int mismatches = 0;
    for (int t = 0; t < 300; t++) {
        const ti_bar *bar = (j < n && bars[j].sec == t) ? &bars[j++] : NULL;
        ti_feat_step(&st2, bar, NULL, b);
        mismatches += memcmp(b, a + t * 12, sizeof(float) * 12) != 0;
    }
    TI_CHECK(mismatches == 0);
}

TI_TEST(normalisation_moments)
{
    ti_feat_moments m, m2;
    ti_feat_moments_init(&m, 2);
    ti_feat_moments_init(&m2, 2);
    float rows[] = {1, 10, 3, 10, 5, 10};
    ti_feat_moments_add_rows(&m, rows, 2);
    ti_feat_moments_add_rows(&m2, rows + 4, 1);
    ti_feat_moments_merge(&m, &m2);
    ti_feat_norm norm;
    TI_CHECK_OK(ti_feat_moments_finish(&m, &norm));
    TI_CHECK_NEAR(norm.mean[0], 3.0, 1e-6);
    TI_CHECK_NEAR(norm.std[0], sqrt(8.0 / 3.0), 1e-6);
    TI_CHECK_NEAR(norm.mean[1], 10.0, 1e-6);
    TI_CHECK_NEAR(norm.std[1], 1.0, 0); /* constant feature: centred, not scaled */
    ti_feat_normalize(rows, 3, &norm);
    TI_CHECK_NEAR(rows[0], -2.0 / sqrt(8.0 / 3.0), 1e-6);
    TI_CHECK_NEAR(rows[1], 0.0, 0);
    ti_feat_moments empty;
    ti_feat_moments_init(&empty, 2);
    TI_CHECK_ERR(ti_feat_moments_finish(&empty, &norm), TI_ERR_RANGE, "no training rows");
}

int main(void)
{
    TI_RUN(incremental_matches_definitions_over_long_stream);
    TI_RUN(bucket_features_equal_stepping_without_book);
    TI_RUN(normalisation_moments);
    return ti_test_summary();
}
