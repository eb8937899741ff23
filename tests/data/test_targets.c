/* RV targets, forward targets and bucket summaries. */
#include "harness.h"
#include "tickinfer/targets.h"

static ti_bar mk(int sec, float price) { return (ti_bar){(uint16_t)sec, 1, 1, price, 100.0f}; }

TI_TEST(target_uses_last_history_trade)
{
    /* Horizon (299, 599]: returns 1.0->1.01 (first, from the history's last trade),
     * 1.01->1.00, 1.00->1.02.  The 0->100 history returns must not count. */
    ti_bar b[] = {mk(0, 0.9f), mk(100, 0.95f), mk(299, 1.0f), mk(300, 1.01f), mk(450, 1.0f), mk(599, 1.02f)};
    double r1 = log((double)1.01f / (double)1.0f), r2 = log((double)1.0f / (double)1.01f), r3 = log((double)1.02f / (double)1.0f);
    uint32_t nt = 0;
    double rv = ti_rv_window(b, 6, 299, 599, &nt);
    TI_CHECK_NEAR(rv, sqrt(r1 * r1 + r2 * r2 + r3 * r3), 1e-12);
    TI_CHECK(nt == 3);
    /* History RV over (-1, 299]: the first bar has no earlier price. */
    double h1 = log((double)0.95f / (double)0.9f), h2 = log((double)1.0f / (double)0.95f);
    TI_CHECK_NEAR(ti_rv_window(b, 6, -1, 299, &nt), sqrt(h1 * h1 + h2 * h2), 1e-12);
    TI_CHECK(nt == 3);
    TI_CHECK_NEAR(ti_rv_window(b, 6, 299, 299, &nt), 0.0, 0);
    TI_CHECK(nt == 0);
}

TI_TEST(forward_targets_match_windows)
{
    uint64_t s = 12345;
    for (int rep = 0; rep < 20; rep++) {
        ti_bar b[600];
        uint32_t n = 0;
        float p = 1.0f;
        for (int sec = 0; sec < 600; sec++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            if ((s >> 33) % 100 < (uint64_t)(5 + rep * 4)) {
                p *= 1.0f + (float)((int)((s >> 20) % 201) - 100) * 1e-5f;
                b[n++] = mk(sec, p);
            }
        }
        float fwd[300];
        double scratch[601];
        ti_rv_forward_targets(fwd, scratch, b, n, 300, 300);
        for (int t = 0; t < 300; t++) TI_CHECK_NEAR(fwd[t], ti_rv_window(b, n, t, t + 300, NULL), 1e-6 * (1 + fwd[t]));
        /* The last position's forward target is the task's target. */
        ti_bucket_summary sum;
        ti_bucket_summarize(&sum, b, n);
        TI_CHECK_NEAR(fwd[299], sum.target_rv, 1e-7);
    }
}

TI_TEST(summary_excludes_thin_and_flat_buckets)
{
    ti_bar b[40];
    uint32_t n = 0;
    for (int i = 0; i < 20; i++) b[n++] = mk(i * 10, 1.0f + 0.001f * (i % 2));
    for (int i = 0; i < 9; i++) b[n++] = mk(300 + i * 10, 1.0f + 0.001f * (i % 2));
    ti_bucket_summary s;
    ti_bucket_summarize(&s, b, n);
    TI_CHECK(s.n_trades_horizon == 9);
    TI_CHECK(s.exclusion == TI_EXCLUDE_FEW_TRADES);
    b[n++] = mk(590, 1.0f);
    ti_bucket_summarize(&s, b, n);
    TI_CHECK(s.n_trades_horizon == 10 && s.exclusion == TI_KEEP);
    TI_CHECK(s.n_trades_hist == 20 && s.n_hist_bars == 20);
    TI_CHECK_NEAR(s.volume_hist, 2000, 0);
    /* Flat horizon prices: target 0 < 1e-4. */
    for (uint32_t i = 20; i < n; i++) b[i].price = 1.0f;
    b[19].price = 1.0f;
    ti_bucket_summarize(&s, b, n);
    TI_CHECK(s.exclusion == TI_EXCLUDE_LOW_TARGET);
    TI_CHECK(s.target_rv == 0.0f);
}

int main(void)
{
    TI_RUN(target_uses_last_history_trade);
    TI_RUN(forward_targets_match_windows);
    TI_RUN(summary_excludes_thin_and_flat_buckets);
    return ti_test_summary();
}
