/* Baselines: RMSPE, OLS, and the fitted models on a dataset with known structure. */
#include <unistd.h>

#include "harness.h"
#include "tickinfer/baseline.h"
#include "tickinfer/fileio.h"

TI_TEST(rmspe_definition)
{
    float y[] = {1.0f, 2.0f, 4.0f}, yh[] = {1.1f, 1.0f, 4.0f};
    double want = sqrt((0.01 + 0.25 + 0.0) / 3.0);
    TI_CHECK_NEAR(ti_rmspe(y, yh, 3), want, 1e-7);
    TI_CHECK(isnan(ti_rmspe(y, yh, 0)));
}

TI_TEST(ols_recovers_coefficients)
{
    enum { N = 200, K = 3 };
    double X[N * K], y[N], b[K];
    for (int i = 0; i < N; i++) {
        X[i * K + 0] = 1;
        X[i * K + 1] = sin(i * 0.37);
        X[i * K + 2] = cos(i * 1.91) * 3;
        y[i] = 0.5 - 2.0 * X[i * K + 1] + 0.25 * X[i * K + 2];
    }
    TI_CHECK_OK(ti_ols(b, X, y, N, K));
    TI_CHECK_NEAR(b[0], 0.5, 1e-9);
    TI_CHECK_NEAR(b[1], -2.0, 1e-9);
    TI_CHECK_NEAR(b[2], 0.25, 1e-9);
    for (int i = 0; i < N; i++) X[i * K + 2] = 2 * X[i * K + 1]; /* collinear */
    TI_CHECK_ERR(ti_ols(b, X, y, N, K), TI_ERR_RANGE, "singular");
    TI_CHECK_ERR(ti_ols(b, X, y, 2, K), TI_ERR_RANGE, "rows");
}

/* A dataset where the target is exactly 0.8 x history RV (two stocks at different
 * levels): scaled naive must find k = 0.8 and HAR-RV must fit it almost exactly, while
 * naive is off by 25% and the per-stock mean misses the variation.  Records are
 * written straight to shards (no bars needed beyond one). */
static void write_ds(const char *dir)
{
    TI_CHECK_OK(ti_mkdirs(dir));
    ti_dataset_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.source, sizeof info.source, "synthetic");
    snprintf(info.source_kind, sizeof info.source_kind, "test");
    info.bucket_len = 600, info.history_len = 300, info.horizon_len = 300, info.n_features = 12, info.norm.n = 12;
    for (int f = 0; f < 12; f++) snprintf(info.feature_names[f], 24, "%s", ti_feature_name(f)), info.norm.std[f] = 1;
    ti_dataset_shard_info sh[2];
    info.shards = sh, info.n_shards = 2;
    ti_bar bar = {0, 1, 1, 1.0f, 1.0f};
    static ti_shard_bucket recs[400];
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 400; i++) {
            ti_shard_bucket *r = &recs[i];
            memset(r, 0, sizeof *r);
            r->true_rv = NAN, r->stock_id = s + 1, r->time_id = i, r->split = (uint8_t)ti_split_of(s + 1, i), r->n_bars = 1, r->book_row = UINT32_MAX;
            double h = 0.001 * (1 + 2 * s) * (1.0 + 0.5 * sin(i * 0.7) + 0.3 * (i % 5));
            r->rv_hist[0] = (float)h, r->rv_hist[1] = (float)(h * (0.5 + 0.2 * cos(i * 1.3))), r->rv_hist[2] = (float)(h * (0.2 + 0.1 * sin(i * 2.1)));
            r->n_trades_hist = 50 + i % 13, r->volume_hist = 1000.0f + (float)(i % 7) * 100;
            r->target_rv = (float)(0.8 * h);
            info.n_split[r->split]++;
        }
        memset(&sh[s], 0, sizeof sh[s]);
        snprintf(sh[s].file, sizeof sh[s].file, "s%d.tis", s);
        snprintf(sh[s].symbol, sizeof sh[s].symbol, "stock_%d", s + 1);
        sh[s].symbol_id = s + 1, sh[s].n_buckets = 400, sh[s].n_bars = 1;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, sh[s].file);
        TI_CHECK_OK(ti_shard_write(p, s + 1, 600, recs, 400, &bar, 1, NULL, 0, &sh[s].crc, &sh[s].bytes));
    }
    info.n_total = info.n_kept = 800, info.n_bars = 2;
    TI_CHECK_OK(ti_dataset_write_manifest(dir, &info));
}

TI_TEST(baselines_on_known_structure)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/ti_test_baseline_%d", (int)getpid());
    write_ds(dir);
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, dir, 1));
    if (!ds) return;
    ti_baseline_report rep;
    TI_CHECK_OK(ti_baselines_run(&rep, ds));
    TI_CHECK(rep.n == 4);
    TI_CHECK(strcmp(rep.r[0].name, "naive") == 0 && strcmp(rep.r[3].name, "har_rv") == 0);
    for (int s = 0; s < 3; s++) {
        TI_CHECK_NEAR(rep.r[0].rmspe[s], 0.25, 1e-5); /* (0.8h - h) / 0.8h */
        TI_CHECK(rep.r[1].rmspe[s] < 1e-5);
        TI_CHECK(rep.r[2].rmspe[s] > 0.1);
        TI_CHECK(rep.r[3].rmspe[s] < 1e-3);
    }
    TI_CHECK_NEAR(rep.scaled_naive_k, 0.8, 1e-5);
    TI_CHECK_NEAR(rep.har_coef[1], 1.0, 1e-3); /* log-log slope 1 on the 300 s RV */
    char js[512], md[512];
    snprintf(js, sizeof js, "%s/b.json", dir);
    snprintf(md, sizeof md, "%s/b.md", dir);
    TI_CHECK_OK(ti_baselines_write_json(js, &rep, ti_dataset_get_info(ds)));
    TI_CHECK_OK(ti_baselines_write_markdown(md, &rep, ti_dataset_get_info(ds)));
    char *text = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(md, 0, &text, &n));
    TI_CHECK(text && strstr(text, "| har_rv |") != NULL);
    free(text);
    ti_dataset_close(ds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    TI_CHECK(system(cmd) == 0);
}

int main(void)
{
    TI_RUN(rmspe_definition);
    TI_RUN(ols_recovers_coefficients);
    TI_RUN(baselines_on_known_structure);
    return ti_test_summary();
}
