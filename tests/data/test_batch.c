/* Batcher: coverage, determinism, resume, and agreement with the feature/target code. */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/batch.h"
#include "tickinfer/ingest.h"

static char g_dir[256];
static ti_dataset *g_ds;

static ti_batch_config cfg_of(ti_split s, int bs, int shuffle)
{
    ti_batch_config c = {.split = s, .batch_size = bs, .seed = 42, .shuffle = shuffle, .drop_last = 0, .seq_targets = 1, .normalize = 1};
    return c;
}

TI_TEST(epoch_covers_split_once)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 2));
    ti_batcher *b = NULL;
    ti_batch_config c = cfg_of(TI_SPLIT_VAL, 7, 1);
    TI_CHECK_OK(ti_batcher_create(&b, g_ds, &c, pool));
    if (!b) return;
    const uint32_t *idx;
    size_t n = ti_dataset_split(g_ds, TI_SPLIT_VAL, &idx);
    char *seen = calloc(ti_dataset_num_buckets(g_ds), 1);
    int done = 0, batches = 0;
    size_t rows = 0;
    ti_batch *bt;
    static float feat[300 * TI_FEAT_MAX];
    ti_feat_state st;
    while (!done) {
        ti_batcher_next(b, &bt, &done);
        batches++;
        for (int r = 0; r < bt->n; r++) {
            uint32_t k = bt->bucket[r];
            TI_CHECK(ti_dataset_record(g_ds, k)->split == TI_SPLIT_VAL);
            TI_CHECK(!seen[k]);
            seen[k] = 1;
            rows++;
            TI_CHECK(bt->y[r] == ti_dataset_record(g_ds, k)->target_rv);
            TI_CHECK_NEAR(bt->y_seq[(size_t)r * bt->T + bt->T - 1], bt->y[r], 1e-7);
            if (r == 0) {
                ti_batch_bucket_features(feat, &st, g_ds, k, 1);
                TI_CHECK(memcmp(feat, bt->x, sizeof(float) * (size_t)bt->T * bt->F) == 0);
            }
        }
    }
    TI_CHECK(rows == n);
    TI_CHECK(batches == (int)ti_batcher_epoch_batches(b));
    free(seen);
    ti_batcher_destroy(b);
    ti_pool_destroy(pool);
}

static void first_buckets(ti_batcher *b, uint32_t *out, int nb)
{
    ti_batch *bt;
    int done;
    for (int i = 0; i < nb; i++) {
        ti_batcher_next(b, &bt, &done);
        out[i] = bt->bucket[0];
    }
}

TI_TEST(shuffle_is_seeded_and_resumable)
{
    ti_batcher *a = NULL, *b = NULL;
    ti_batch_config c = cfg_of(TI_SPLIT_TRAIN, 16, 1);
    c.drop_last = 1;
    TI_CHECK_OK(ti_batcher_create(&a, g_ds, &c, NULL));
    TI_CHECK_OK(ti_batcher_create(&b, g_ds, &c, NULL));
    if (!a || !b) return;
    const int64_t per_epoch = ti_batcher_epoch_batches(a);
    uint32_t x[64], y[64];
    first_buckets(a, x, 20);
    first_buckets(b, y, 20);
    TI_CHECK(memcmp(x, y, sizeof(uint32_t) * 20) == 0);
    /* Resume: a fresh batcher set to a's cursor continues exactly like a. */
    ti_batch_cursor cur = ti_batcher_get_cursor(a);
    ti_batcher *r = NULL;
    TI_CHECK_OK(ti_batcher_create(&r, g_ds, &c, NULL));
    TI_CHECK_OK(ti_batcher_set_cursor(r, cur));
    first_buckets(a, x, 10);
    first_buckets(r, y, 10);
    TI_CHECK(memcmp(x, y, sizeof(uint32_t) * 10) == 0);
    /* The next epoch has another order. */
    ti_batcher *e = NULL;
    TI_CHECK_OK(ti_batcher_create(&e, g_ds, &c, NULL));
    TI_CHECK_OK(ti_batcher_set_cursor(e, (ti_batch_cursor){1, 0}));
    first_buckets(e, y, 10);
    TI_CHECK_OK(ti_batcher_set_cursor(r, (ti_batch_cursor){0, 0}));
    first_buckets(r, x, 10);
    TI_CHECK(memcmp(x, y, sizeof(uint32_t) * 10) != 0);
    TI_CHECK(per_epoch > 10);
    TI_CHECK_ERR(ti_batcher_set_cursor(r, (ti_batch_cursor){0, 1 << 30}), TI_ERR_INVALID_ARG, "cursor");
    ti_batcher_destroy(a);
    ti_batcher_destroy(b);
    ti_batcher_destroy(r);
    ti_batcher_destroy(e);
    ti_batch_config bad = cfg_of(TI_SPLIT_TEST, 0, 0);
    TI_CHECK_ERR(ti_batcher_create(&a, g_ds, &bad, NULL), TI_ERR_INVALID_ARG, "batch_size");
}

TI_TEST(normalised_train_features_are_standardised)
{
    /* Over the whole train split, normalised features have mean ~0 and std ~1 (the
     * statistics were fitted on exactly these rows). */
    ti_batcher *b = NULL;
    ti_batch_config c = cfg_of(TI_SPLIT_TRAIN, 64, 0);
    TI_CHECK_OK(ti_batcher_create(&b, g_ds, &c, NULL));
    if (!b) return;
    double s[TI_FEAT_MAX] = {0}, ss[TI_FEAT_MAX] = {0}, cnt = 0;
    int done = 0, F = 0;
    ti_batch *bt;
    while (!done) {
        ti_batcher_next(b, &bt, &done);
        F = bt->F;
        for (size_t i = 0; i < (size_t)bt->n * bt->T; i++, cnt++)
            for (int f = 0; f < F; f++) {
                double v = bt->x[i * F + f];
                s[f] += v;
                ss[f] += v * v;
            }
    }
    for (int f = 0; f < F; f++) {
        double m = s[f] / cnt, sd = sqrt(ss[f] / cnt - m * m);
        TI_CHECK_MSG(fabs(m) < 1e-3 && fabs(sd - 1) < 1e-3, "feature %s: mean %g std %g", ti_feature_name(f), m, sd);
    }
    ti_batcher_destroy(b);
}

int main(void)
{
    struct stat st;
    if (stat("data/optiver/trade_train.parquet", &st) != 0) {
        printf("FAIL: bundled data/optiver/trade_train.parquet missing\n");
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_batch_%d", (int)getpid());
    ti_ingest_options o = {.source = "data/optiver/trade_train.parquet", .out_dir = g_dir};
    ti_ingest_report rep;
    if (ti_ingest(&o, &rep) != TI_OK || ti_dataset_open(&g_ds, g_dir, 0) != TI_OK) {
        printf("setup failed: %s\n", ti_errmsg());
        return 1;
    }
    TI_RUN(epoch_covers_split_once);
    TI_RUN(shuffle_is_seeded_and_resumable);
    TI_RUN(normalised_train_features_are_standardised);
    ti_dataset_close(g_ds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return ti_test_summary();
}
