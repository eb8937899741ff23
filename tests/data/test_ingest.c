/* End-to-end ingest of the bundled Optiver subset, checked bucket by bucket against an
 * independent pyarrow/numpy oracle (tests/py/rv_oracle.py); repairs and failure safety. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/dataset.h"
#include "tickinfer/fileio.h"
#include "tickinfer/ingest.h"

#define OPTIVER "data/optiver/trade_train.parquet"

static char g_tmp[256];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static ti_err ingest(const char *src, const char *out, int threads)
{
    ti_ingest_options o = {.source = src, .out_dir = out, .n_threads = threads, .progress = 0};
    ti_ingest_report r;
    return ti_ingest(&o, &r);
}

/* The bundled Optiver trades: a test that needs them fails without them. */
static int bundled_present(void)
{
    int have = exists(OPTIVER);
    TI_CHECK_MSG(have, "bundled data %s missing", OPTIVER);
    return have;
}

typedef struct oracle_row {
    int stock, tid, split, kept, n_h;
    double target, hist;
} oracle_row;

TI_TEST(optiver_matches_oracle)
{
    if (!bundled_present()) return;
    char out[512];
    snprintf(out, sizeof out, "%s/optiver", g_tmp);
    TI_CHECK_OK(ingest(OPTIVER, out, 0));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, out, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    TI_CHECK(in->n_shards == 5);
    TI_CHECK(in->n_kept + in->n_excluded_few_trades + in->n_excluded_low_target == in->n_total);
    TI_CHECK(in->n_split[0] + in->n_split[1] + in->n_split[2] == in->n_kept);
    TI_CHECK(strcmp(in->source_kind, "optiver") == 0);

    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) {
        ti_dataset_close(ds);
        TI_SKIP("TI_PYTHON unset: oracle comparison needs the .venv (run via make test)");
    }
    char csv[512], cmd[2048];
    snprintf(csv, sizeof csv, "%s/oracle.csv", g_tmp);
    snprintf(cmd, sizeof cmd, "%s tests/py/rv_oracle.py %s %s", py, OPTIVER, csv);
    TI_CHECK(system(cmd) == 0);
    FILE *f = fopen(csv, "r");
    TI_CHECK(f != NULL);
    if (!f) {
        ti_dataset_close(ds);
        return;
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    size_t n_rows = 0, n_kept = 0, mism = 0, k = 0;
    const size_t nb = ti_dataset_num_buckets(ds);
    oracle_row r;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%d,%d,%d,%d,%lf,%lf,%d", &r.stock, &r.tid, &r.split, &r.kept, &r.target, &r.hist, &r.n_h) != 7) {
            TI_FAILF("bad oracle line %s", line);
            break;
        }
        n_rows++;
        if (!r.kept) continue;
        n_kept++;
        /* Kept buckets appear in the same (stock, time_id) order as the oracle's. */
        if (k >= nb) {
            mism++;
            continue;
        }
        const ti_shard_bucket *b = ti_dataset_record(ds, k++);
        int ok = b->stock_id == r.stock && b->time_id == r.tid && b->split == r.split &&
                 fabs(b->target_rv - r.target) <= 2e-6 * r.target && fabs(b->rv_hist[0] - r.hist) <= 2e-6 * r.hist + 1e-12 &&
                 (int)b->n_trades_horizon == r.n_h;
        if (!ok && mism++ < 5)
            TI_FAILF("bucket (%d,%d): ours split %d target %.9g hist %.9g n_h %u; oracle (%d,%d) split %d target %.9g hist %.9g n_h %d",
                     b->stock_id, b->time_id, b->split, b->target_rv, b->rv_hist[0], b->n_trades_horizon, r.stock, r.tid, r.split,
                     r.target, r.hist, r.n_h);
    }
    fclose(f);
    TI_CHECK(mism == 0);
    TI_CHECK(n_rows == in->n_total);
    TI_CHECK(n_kept == in->n_kept && k == nb);
    ti_dataset_close(ds);
}

TI_TEST(deterministic_across_thread_counts)
{
    if (!bundled_present()) return;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/det1", g_tmp);
    snprintf(b, sizeof b, "%s/det2", g_tmp);
    TI_CHECK_OK(ingest(OPTIVER, a, 1));
    TI_CHECK_OK(ingest(OPTIVER, b, 2));
    ti_dataset *da = NULL, *db = NULL;
    TI_CHECK_OK(ti_dataset_open(&da, a, 0));
    TI_CHECK_OK(ti_dataset_open(&db, b, 0));
    if (da && db) {
        const ti_dataset_info *ia = ti_dataset_get_info(da), *ib = ti_dataset_get_info(db);
        TI_CHECK(ia->n_shards == ib->n_shards);
        for (int i = 0; i < ia->n_shards && i < ib->n_shards; i++) TI_CHECK(ia->shards[i].crc == ib->shards[i].crc);
        TI_CHECK(memcmp(&ia->norm, &ib->norm, sizeof ia->norm) == 0);
    }
    ti_dataset_close(da);
    ti_dataset_close(db);
}

TI_TEST(repairs_and_bad_rows)
{
    /* Unsorted rows are sorted, duplicate (time_id, second) rows merged by VWAP. */
    int32_t tid[] = {7, 5, 5, 5, 7}, sec[] = {3, 10, 2, 10, 1}, size[] = {1, 100, 5, 300, 2}, oc[] = {1, 2, 3, 4, 5};
    float price[] = {1.0f, 1.0f, 2.0f, 2.0f, 3.0f};
    ti_symbol_data s;
    TI_CHECK_OK(ti_optiver_bars_from_columns(&s, "t.parquet", 4, 5, tid, sec, price, size, oc));
    TI_CHECK(s.n_buckets == 2 && s.time_ids[0] == 5 && s.time_ids[1] == 7);
    TI_CHECK(s.bar_start[1] == 2 && s.bar_start[2] == 4);
    TI_CHECK(s.bars[0].sec == 2 && s.bars[1].sec == 10);
    TI_CHECK_NEAR(s.bars[1].price, (1.0 * 100 + 2.0 * 300) / 400.0, 1e-6);
    TI_CHECK(s.bars[1].size == 400.0f && s.bars[1].order_count == 6 && s.bars[1].n_trades == 2);
    TI_CHECK(s.bars[2].sec == 1 && s.bars[3].sec == 3);
    TI_CHECK(s.n_duplicates_merged == 1 && s.n_unsorted_fixed > 0);
    ti_symbol_data_free(&s);

    float bad_price[] = {1.0f, NAN, 1.0f, 1.0f, 1.0f};
    TI_CHECK_ERR(ti_optiver_bars_from_columns(&s, "t.parquet", 4, 5, tid, sec, bad_price, size, oc), TI_ERR_RANGE, "t.parquet: row 1");
    float neg_price[] = {1.0f, 1.0f, -2.0f, 1.0f, 1.0f};
    TI_CHECK_ERR(ti_optiver_bars_from_columns(&s, "t.parquet", 4, 5, tid, sec, neg_price, size, oc), TI_ERR_RANGE, "price");
    int32_t bad_sec[] = {3, 10, 600, 10, 1};
    TI_CHECK_ERR(ti_optiver_bars_from_columns(&s, "t.parquet", 4, 5, tid, bad_sec, price, size, oc), TI_ERR_RANGE, "seconds_in_bucket 600");
    int32_t bad_size[] = {1, -1, 5, 300, 2};
    TI_CHECK_ERR(ti_optiver_bars_from_columns(&s, "t.parquet", 4, 5, tid, sec, price, bad_size, oc), TI_ERR_RANGE, "negative size");
}

TI_TEST(failed_ingest_keeps_previous_dataset)
{
    if (!bundled_present()) return;
    char out[512], bad[512], cmd[4096];
    snprintf(out, sizeof out, "%s/keep", g_tmp);
    TI_CHECK_OK(ingest(OPTIVER, out, 0));
    /* A source with one good stock and one garbage "parquet" file. */
    snprintf(bad, sizeof bad, "%s/badsrc", g_tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/stock_id=0 %s/stock_id=1 && cp %s/stock_id=0/*.parquet %s/stock_id=0/ && "
             "head -c 5000 %s/stock_id=0/*.parquet > %s/stock_id=1/cut.parquet",
             bad, bad, OPTIVER, bad, OPTIVER, bad);
    TI_CHECK(system(cmd) == 0);
    ti_err e = ingest(bad, out, 0);
    TI_CHECK(e != TI_OK);
    TI_CHECK_MSG(strstr(ti_errmsg(), "cut.parquet") != NULL, "error should name the file: %s", ti_errmsg());
    TI_CHECK_OK(ti_dataset_verify(out));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, out, 0));
    if (ds) TI_CHECK(ti_dataset_get_info(ds)->n_shards == 5);
    ti_dataset_close(ds);
    /* No partial folder is left behind. */
    DIR *d = opendir(g_tmp);
    struct dirent *ent;
    int partial = 0;
    while (d && (ent = readdir(d)))
        if (strstr(ent->d_name, ".partial-") || strstr(ent->d_name, ".old-")) partial++;
    if (d) closedir(d);
    TI_CHECK(partial == 0);
    /* Missing source and an empty folder give clear errors. */
    TI_CHECK_ERR(ingest("/nonexistent/source", out, 0), TI_ERR_NOT_FOUND, "does not exist");
    snprintf(cmd, sizeof cmd, "mkdir -p %s/empty", g_tmp);
    TI_CHECK(system(cmd) == 0);
    snprintf(bad, sizeof bad, "%s/empty", g_tmp);
    TI_CHECK_ERR(ingest(bad, out, 0), TI_ERR_NOT_FOUND, "neither");
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ti_test_ingest_%d", (int)getpid());
    ti_mkdirs(g_tmp);
    TI_RUN(repairs_and_bad_rows);
    TI_RUN(optiver_matches_oracle);
    TI_RUN(deterministic_across_thread_counts);
    TI_RUN(failed_ingest_keeps_previous_dataset);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return ti_test_summary();
}
