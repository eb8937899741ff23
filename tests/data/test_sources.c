/* Ingest from the simulator and LOBSTER sources (the Optiver source has test_ingest.c). */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/dataset.h"
#include "tickinfer/fileio.h"
#include "tickinfer/ingest.h"
#include "tickinfer/sim.h"

static char g_tmp[256];

static ti_err ingest(const char *src, const char *out)
{
    ti_ingest_options o = {.source = src, .out_dir = out};
    ti_ingest_report r;
    return ti_ingest(&o, &r);
}

TI_TEST(sim_source_keeps_every_trade_and_the_truth)
{
    char out[512];
    snprintf(out, sizeof out, "%s/sim", g_tmp);
    TI_CHECK_OK(ingest("sim:3:40:11", out));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, out, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    TI_CHECK(in->n_total == 120 && in->n_shards == 3 && !in->has_book);
    TI_CHECK(strcmp(in->source_kind, "sim") == 0);
    /* Every simulated trade lands in exactly one bar (all buckets kept here). */
    ti_sim_config cfg;
    ti_sim_config_default(&cfg);
    cfg.seed = 11, cfg.n_symbols = 3, cfg.seconds = 40 * 600;
    ti_sim_result r;
    TI_CHECK_OK(ti_sim_generate(&r, &cfg));
    uint64_t trades = 0, prints = 0;
    for (int s = 0; s < 3; s++) trades += r.sym[s].n_trades;
    double max_rel = 0;
    for (size_t i = 0; i < ti_dataset_num_buckets(ds); i++) {
        ti_bucket_view v;
        ti_dataset_view(ds, i, &v);
        for (uint32_t j = 0; j < v.n_bars; j++) prints += v.bars[j].n_trades;
        const ti_shard_bucket *rec = ti_dataset_record(ds, i);
        double truth = sqrt(ti_sim_true_iv(&r, rec->stock_id, (int64_t)rec->time_id * 600 + 300, (int64_t)rec->time_id * 600 + 600));
        double rel = fabs(rec->true_rv - truth) / truth;
        if (rel > max_rel) max_rel = rel;
    }
    if (in->n_kept == in->n_total) TI_CHECK(prints == trades);
    TI_CHECK(prints <= trades && prints > trades * 9 / 10);
    TI_CHECK(max_rel < 1e-6);
    ti_sim_free(&r);
    ti_dataset_close(ds);
    TI_CHECK_ERR(ingest("sim:0:10", out), TI_ERR_RANGE, "symbols");
    TI_CHECK_ERR(ingest("sim:abc", out), TI_ERR_INVALID_ARG, "sim:SYMBOLS:BUCKETS");
}

TI_TEST(lobster_source_has_book_features)
{
    struct stat st;
    int have = stat("data/lobster", &st) == 0;
    TI_CHECK_MSG(have, "bundled data/lobster missing");
    if (!have) return;
    char out[512];
    snprintf(out, sizeof out, "%s/lob", g_tmp);
    TI_CHECK_OK(ingest("data/lobster", out));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, out, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    /* 20k events from 09:30:00 to ~11:35:34 -> 12 complete 600 s buckets. */
    TI_CHECK(in->has_book && in->n_features == 16 && in->n_total == 12);
    TI_CHECK(strcmp(in->shards[0].symbol, "AMZN") == 0);
    ti_bucket_view v;
    ti_dataset_view(ds, 0, &v);
    TI_CHECK(v.book != NULL && v.n_bars > 10);
    if (v.book) {
        /* AMZN traded near $220 that morning; quotes are two-sided after the open. */
        TI_CHECK(v.book[100].bid_px > 200 && v.book[100].ask_px < 240 && v.book[100].ask_px >= v.book[100].bid_px);
        float f[300 * TI_FEAT_MAX];
        ti_feat_state stt;
        ti_features_bucket(f, &stt, &v, 300);
        TI_CHECK(f[100 * 16 + TI_FEAT_REL_SPREAD] > 0 && f[100 * 16 + TI_FEAT_REL_SPREAD] < 0.01);
    }
    for (uint32_t j = 0; j < v.n_bars; j++) TI_CHECK(v.bars[j].price > 200 && v.bars[j].price < 240);
    ti_dataset_close(ds);
    /* A message file without its order book is named. */
    char cmd[2048], dir[512];
    snprintf(dir, sizeof dir, "%s/lonely", g_tmp);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp data/lobster/*message* %s/", dir, dir);
    TI_CHECK(system(cmd) == 0);
    TI_CHECK_ERR(ingest(dir, out), TI_ERR_FORMAT, "orderbook");
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ti_test_sources_%d", (int)getpid());
    ti_mkdirs(g_tmp);
    TI_RUN(sim_source_keeps_every_trade_and_the_truth);
    TI_RUN(lobster_source_has_book_features);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return ti_test_summary();
}
