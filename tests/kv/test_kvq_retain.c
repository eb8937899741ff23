/* KV retention policies: each keeps exactly what kvquant.h documents (hand-checked cases
 * and a randomized check against a brute-force statement of the rule). */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/kvquant.h"

static uint64_t g_rng = 12345;
static unsigned urand(unsigned n)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(g_rng >> 33) % n;
}

static int same(const int *a, int na, const int *b, int nb)
{
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

TI_TEST(hand_checked)
{
    int64_t pos[10];
    for (int t = 0; t < 10; t++) pos[t] = 100 + 2 * t;
    int ev[10], n;
    ti_kv_retain_policy rec = {TI_KV_RETAIN_RECENT, 4, 0, 0};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &rec, pos, NULL, 10));
    TI_CHECK(same(ev, n, (int[]){0, 1, 2, 3, 4, 5}, 6));
    ti_kv_retain_policy sw = {TI_KV_RETAIN_SINK_WINDOW, 5, 2, 0};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &sw, pos, NULL, 10)); /* keep 0,1 + 7,8,9 */
    TI_CHECK(same(ev, n, (int[]){2, 3, 4, 5, 6}, 5));
    float sc[8] = {5, 1, 7, 1, 0, 3, 0, 0};
    ti_kv_retain_policy h2o = {TI_KV_RETAIN_H2O, 4, 0, 2};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &h2o, pos, sc, 8)); /* keep 6,7 (recent) + 2,0 */
    TI_CHECK(same(ev, n, (int[]){1, 3, 4, 5}, 4));
    float tie[6] = {1, 1, 1, 1, 1, 1};
    ti_kv_retain_policy h2 = {TI_KV_RETAIN_H2O, 3, 0, 1};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &h2, pos, tie, 6)); /* ties keep the newer: 3,4 (+5) */
    TI_CHECK(same(ev, n, (int[]){0, 1, 2}, 3));
    /* Under budget: nothing to evict. */
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &h2o, pos, sc, 4));
    TI_CHECK(n == 0);
    /* recent == budget degenerates to the recency window; recent 0 is pure heavy hitters. */
    ti_kv_retain_policy h3 = {TI_KV_RETAIN_H2O, 3, 0, 3};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &h3, pos, sc, 8));
    TI_CHECK(same(ev, n, (int[]){0, 1, 2, 3, 4}, 5));
    ti_kv_retain_policy h4 = {TI_KV_RETAIN_H2O, 2, 0, 0};
    TI_CHECK_OK(ti_kv_retain_pick(ev, &n, &h4, pos, sc, 8)); /* keep 2 (7) and 0 (5) */
    TI_CHECK(same(ev, n, (int[]){1, 3, 4, 5, 6, 7}, 6));
}

TI_TEST(bad_args)
{
    int64_t pos[4] = {1, 2, 2, 3};
    float sc[4] = {0};
    int ev[4], n;
    ti_kv_retain_policy p = {TI_KV_RETAIN_RECENT, 2, 0, 0};
    TI_CHECK_ERR(ti_kv_retain_pick(ev, &n, &p, pos, NULL, 4), TI_ERR_INVALID_ARG, "ascending");
    pos[2] = 5;
    pos[3] = 6;
    p.budget = 0;
    TI_CHECK_ERR(ti_kv_retain_pick(ev, &n, &p, pos, NULL, 4), TI_ERR_INVALID_ARG, "budget");
    ti_kv_retain_policy h = {TI_KV_RETAIN_H2O, 2, 0, 1};
    TI_CHECK_ERR(ti_kv_retain_pick(ev, &n, &h, pos, NULL, 4), TI_ERR_INVALID_ARG, "scores");
    h.recent = 3;
    TI_CHECK_ERR(ti_kv_retain_pick(ev, &n, &h, pos, sc, 4), TI_ERR_INVALID_ARG, "recent 3");
    ti_kv_retain_policy s = {TI_KV_RETAIN_SINK_WINDOW, 2, 3, 0};
    TI_CHECK_ERR(ti_kv_retain_pick(ev, &n, &s, pos, NULL, 4), TI_ERR_INVALID_ARG, "sinks 3");
    ti_kv_retain_kind k;
    TI_CHECK_OK(ti_kv_retain_parse(&k, "h2o"));
    TI_CHECK(k == TI_KV_RETAIN_H2O);
    TI_CHECK_ERR(ti_kv_retain_parse(&k, "lru"), TI_ERR_INVALID_ARG, "lru");
    float acc[3] = {1, 2, 3}, w[3] = {0.5f, 0.25f, 0};
    ti_kv_retain_accumulate(acc, w, 3, 0.5f);
    TI_CHECK_NEAR(acc[0], 1.0, 0);
    TI_CHECK_NEAR(acc[1], 1.25, 0);
    TI_CHECK_NEAR(acc[2], 1.5, 0);
}

/* Randomized: the kept set is exactly the documented one, computed independently. */
TI_TEST(random_against_rule)
{
    static int64_t pos[300];
    static float sc[300];
    static int ev[300], keep[300];
    int failures = 0;
    for (int rep = 0; rep < 600; rep++) {
        int n = 1 + (int)urand(300), budget = 1 + (int)urand(320);
        int64_t p0 = (int64_t)urand(1000);
        for (int t = 0; t < n; t++) {
            p0 += 1 + urand(3);
            pos[t] = p0;
            sc[t] = (float)urand(20) * 0.25f; /* many ties */
        }
        ti_kv_retain_policy pol = {(ti_kv_retain_kind)(rep % 3), budget, (int)urand((unsigned)budget + 1),
                                   (int)urand((unsigned)budget + 1)};
        int ne = -1;
        TI_CHECK_OK(ti_kv_retain_pick(ev, &ne, &pol, pos, sc, n));
        int kept_want = n < budget ? n : budget;
        int ok = ne == n - kept_want;
        for (int t = 0; t < n; t++) keep[t] = 1;
        for (int i = 0; ok && i < ne; i++) {
            ok = ev[i] >= 0 && ev[i] < n && (i == 0 || ev[i] > ev[i - 1]);
            if (ok) keep[ev[i]] = 0;
        }
        for (int t = 0; ok && t < n && ne > 0; t++) {
            int want;
            if (pol.kind == TI_KV_RETAIN_RECENT) {
                want = t >= n - budget;
            } else if (pol.kind == TI_KV_RETAIN_SINK_WINDOW) {
                want = t < pol.sinks || t >= n - (budget - pol.sinks);
            } else if (t >= n - pol.recent) {
                want = 1;
            } else {
                /* Kept iff fewer than budget-recent candidates rank above it (higher score,
                 * or equal score and newer). */
                int above = 0;
                for (int u = 0; u < n - pol.recent; u++)
                    above += sc[u] > sc[t] || (sc[u] == sc[t] && u > t);
                want = above < budget - pol.recent;
            }
            ok = keep[t] == want;
        }
        if (!ok && failures++ < 3)
            TI_FAILF("rep %d: policy %s n=%d budget=%d sinks=%d recent=%d: wrong eviction set", rep,
                     ti_kv_retain_name(pol.kind), n, budget, pol.sinks, pol.recent);
    }
    TI_CHECK(failures == 0);
}

int main(void)
{
    TI_RUN(hand_checked);
    TI_RUN(bad_args);
    TI_RUN(random_against_rule);
    return ti_test_summary();
}
