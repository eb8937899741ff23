/* Market-context features: the stored means equal the average of every symbol's
 * contribution, batches carry them, ingest is deterministic, corruption is caught. */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/batch.h"
#include "tickinfer/fileio.h"
#include "tickinfer/ingest.h"

static char g_tmp[256];

static ti_err ingest(const char *out, int threads)
{
    ti_ingest_options o = {.source = "data/optiver/trade_train.parquet", .out_dir = out, .n_threads = threads, .market = 1};
    ti_ingest_report r;
    return ti_ingest(&o, &r);
}

TI_TEST(market_means_and_batches)
{
    char out[512];
    snprintf(out, sizeof out, "%s/m", g_tmp);
    TI_CHECK_OK(ingest(out, 0));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, out, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    TI_CHECK(in->has_market && in->n_features == 15);
    TI_CHECK(strcmp(in->feature_names[12], "mkt_logrv_30") == 0 && strcmp(in->feature_names[14], "mkt_logrv_300") == 0);
    /* Find a time window kept for all 5 stocks: its market rows are the mean of the five
     * symbols' contributions. */
    const size_t n = ti_dataset_num_buckets(ds);
    int found = 0;
    static float feat[5][300 * TI_FEAT_MAX];
    ti_feat_state st;
    for (size_t i = 0; i < n && !found; i++) {
        int32_t tid = ti_dataset_record(ds, i)->time_id;
        size_t who[5];
        int k = 0;
        for (size_t j = 0; j < n && k < 5; j++)
            if (ti_dataset_record(ds, j)->time_id == tid) who[k++] = j;
        if (k < 5) continue;
        found = 1;
        for (int s = 0; s < 5; s++) {
            ti_bucket_view v;
            ti_dataset_view(ds, who[s], &v);
            ti_features_bucket(feat[s], &st, &v, 300);
        }
        const float *mk = ti_dataset_market(ds, tid);
        TI_CHECK(mk != NULL);
        for (int t = 0; mk && t < 300; t += 13)
            for (int q = 0; q < 3; q++) {
                double want = 0;
                for (int s = 0; s < 5; s++) {
                    float c[3];
                    ti_market_contrib(c, feat[s] + t * 12);
                    want += c[q] / 5.0;
                }
                TI_CHECK_NEAR(mk[t * 3 + q], want, 1e-5);
            }
        /* The batch row of that bucket carries the same values, normalised. */
        static float x[300 * 15];
        ti_batch_bucket_features(x, &st, ds, (uint32_t)who[0], 0);
        TI_CHECK(memcmp(x, feat[0], sizeof(float) * 12) == 0);
        TI_CHECK(x[299 * 15 + 14] == mk[299 * 3 + 2]);
    }
    TI_CHECK(found);
    TI_CHECK(ti_dataset_market(ds, -5) == NULL);
    ti_dataset_close(ds);
}

TI_TEST(deterministic_and_checked)
{
    char a[512], b[512], mp[600];
    snprintf(a, sizeof a, "%s/a", g_tmp);
    snprintf(b, sizeof b, "%s/b", g_tmp);
    TI_CHECK_OK(ingest(a, 1));
    TI_CHECK_OK(ingest(b, 2));
    ti_dataset *da = NULL, *db = NULL;
    TI_CHECK_OK(ti_dataset_open(&da, a, 0));
    TI_CHECK_OK(ti_dataset_open(&db, b, 0));
    if (da && db) {
        TI_CHECK(ti_dataset_get_info(da)->market_crc == ti_dataset_get_info(db)->market_crc);
        TI_CHECK(memcmp(&ti_dataset_get_info(da)->norm, &ti_dataset_get_info(db)->norm, sizeof(ti_feat_norm)) == 0);
    }
    ti_dataset_close(da);
    ti_dataset_close(db);
    snprintf(mp, sizeof mp, "%s/market.tim", a);
    char *d = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file(mp, 0, &d, &len));
    if (!d) return;
    d[len / 2] ^= 4;
    TI_CHECK_OK(ti_write_file_atomic(mp, d, len));
    TI_CHECK_ERR(ti_dataset_verify(a), TI_ERR_CORRUPT, "market");
    TI_CHECK_OK(ti_write_file_atomic(mp, d, len / 2));
    ti_dataset *dc = NULL;
    TI_CHECK_ERR(ti_dataset_open(&dc, a, 0), TI_ERR_CORRUPT, "market.tim");
    free(d);
}

int main(void)
{
    struct stat sb;
    if (stat("data/optiver/trade_train.parquet", &sb) != 0) {
        printf("FAIL: bundled data/optiver/trade_train.parquet missing\n");
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ti_test_market_%d", (int)getpid());
    ti_mkdirs(g_tmp);
    TI_RUN(market_means_and_batches);
    TI_RUN(deterministic_and_checked);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return ti_test_summary();
}
