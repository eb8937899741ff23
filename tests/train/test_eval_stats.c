/* Evaluation statistics: the RMSPE bootstrap interval and per-stock RMSPE, in the library
 * and in `tickinfer eval`'s report on a stock-split dataset. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_path.h"
#include "harness.h"
#include "tickinfer/baseline.h"
#include "tickinfer/split.h"
#include "tickinfer/train.h"

/* n pairs with relative errors drawn from a fixed pseudo-random stream */
static void make_pairs(float *y, float *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        const double u = (double)(ti_splitmix64(seed + i) >> 11) / 9007199254740992.0;
        y[i] = (float)(0.001 + 0.01 * u);
        p[i] = y[i] * (float)(1.0 + 0.6 * (u - 0.5) + 0.2 * ((i % 7) / 7.0));
    }
}

TI_TEST(bootstrap_interval)
{
    enum { N = 16000 };
    static float y[N], p[N];
    make_pairs(y, p, N, 7);
    double lo, hi, lo2, hi2;
    const double r = ti_rmspe(y, p, N);
    TI_CHECK_OK(ti_rmspe_bootstrap(&lo, &hi, y, p, N, 1000, 1));
    TI_CHECK_MSG(lo < r && r < hi, "interval [%g, %g] misses the estimate %g", lo, hi, r);
    TI_CHECK_OK(ti_rmspe_bootstrap(&lo2, &hi2, y, p, N, 1000, 1));
    TI_CHECK(lo == lo2 && hi == hi2); /* reproducible */
    /* 16x fewer buckets: about 4x wider */
    double slo, shi;
    TI_CHECK_OK(ti_rmspe_bootstrap(&slo, &shi, y, p, N / 16, 1000, 1));
    const double ratio = (shi - slo) / (hi - lo);
    TI_CHECK_MSG(ratio > 2.5 && ratio < 6.5, "width ratio %g for 16x fewer buckets", ratio);
    /* equal errors everywhere: no spread */
    for (size_t i = 0; i < 100; i++) y[i] = 1.0f, p[i] = 1.25f;
    TI_CHECK_OK(ti_rmspe_bootstrap(&lo, &hi, y, p, 100, 200, 3));
    TI_CHECK(fabs(lo - 0.25) < 1e-12 && fabs(hi - 0.25) < 1e-12);
    TI_CHECK_ERR(ti_rmspe_bootstrap(&lo, &hi, y, p, 100, 10, 3), TI_ERR_INVALID_ARG, "100..100000");
    TI_CHECK_ERR(ti_rmspe_bootstrap(&lo, &hi, y, p, 0, 1000, 3), TI_ERR_INVALID_ARG, "no buckets");
}

TI_TEST(per_stock_rmspe)
{
    const float y[6] = {1, 1, 2, 2, 4, 1};
    const float p[6] = {1.1f, 0.9f, 2, 3, 4, 1.5f};
    const int32_t st[6] = {5, 5, 9, 9, 5, 2};
    ti_stock_rmspe out[4];
    size_t n = 0;
    TI_CHECK_OK(ti_rmspe_per_stock(out, 4, &n, y, p, st, 6));
    TI_CHECK(n == 3);
    /* stock 5: errors 0.1, -0.1, 0 -> sqrt(0.02/3); 9: 0, 0.5 -> sqrt(0.125); 2: 0.5 */
    TI_CHECK(out[0].stock_id == 5 && out[0].n == 3 && fabs(out[0].rmspe - sqrt(0.02 / 3)) < 1e-7);
    TI_CHECK(out[1].stock_id == 9 && out[1].n == 2 && fabs(out[1].rmspe - sqrt(0.125)) < 1e-7);
    TI_CHECK(out[2].stock_id == 2 && out[2].n == 1 && fabs(out[2].rmspe - 0.5) < 1e-7);
    TI_CHECK_ERR(ti_rmspe_per_stock(out, 2, &n, y, p, st, 6), TI_ERR_LIMIT, "more than 2 stocks");
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

TI_TEST(eval_report_on_a_stock_split)
{
    char cli[2048], dir[128], cmd[16384], path[256];
    if (ti_test_find_cli(cli, sizeof cli) != 0) {
        TI_FAILF("tickinfer CLI not built next to the test");
        return;
    }
    snprintf(dir, sizeof dir, "/tmp/ti_test_eval_stats_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s ingest data/optiver/trade_train.parquet -o %s/ds --split-by stock -q > /dev/null && "
             "%s eval --model models/rv_lgbm.json --dataset %s/ds -o %s/ev > /dev/null", cli, dir, cli, dir, dir);
    TI_CHECK(run(cmd) == 0);
    snprintf(path, sizeof path, "%s/ev/eval.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    TI_CHECK_MSG(root != NULL, "%s: %s", path, jerr.text);
    if (root) {
        TI_CHECK(strcmp(json_string_value(json_object_get(root, "split_by")), "stock") == 0);
        for (int s = 0; s < 2; s++) {
            json_t *sp = json_object_get(root, s ? "test" : "val");
            const double r = json_real_value(json_object_get(sp, "rmspe"));
            json_t *ci = json_object_get(sp, "ci95");
            const double lo = json_real_value(json_array_get(ci, 0)), hi = json_real_value(json_array_get(ci, 1));
            TI_CHECK_MSG(json_array_size(ci) == 2 && lo < r && r < hi && hi - lo < 0.2 * r, "%s: %g not in [%g, %g]", s ? "test" : "val", r,
                         lo, hi);
        }
        /* one held-out test stock: its per-stock RMSPE is the test RMSPE */
        json_t *per = json_object_get(root, "per_stock_test");
        TI_CHECK(json_array_size(per) == 1);
        const double one = json_real_value(json_object_get(json_array_get(per, 0), "rmspe"));
        TI_CHECK(fabs(one - json_real_value(json_object_get(json_object_get(root, "test"), "rmspe"))) < 1e-6);
        json_decref(root);
    }
    snprintf(path, sizeof path, "%s/ev/per_stock.svg", dir);
    TI_CHECK(access(path, R_OK) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
}

int main(void)
{
    TI_RUN(bootstrap_interval);
    TI_RUN(per_stock_rmspe);
    TI_RUN(eval_report_on_a_stock_split);
    return ti_test_summary();
}
