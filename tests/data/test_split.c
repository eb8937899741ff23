/* Split rules: the bucket hash rule and the stock hold-out rule (`--split-by stock`):
 * fractions, determinism, independence of input order, errors, and an ingest of the
 * bundled data whose every stock sits in one split and that verify accepts. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/dataset.h"
#include "tickinfer/ingest.h"
#include "tickinfer/split.h"

TI_TEST(bucket_plan_is_the_hash_rule)
{
    ti_split_plan p;
    TI_CHECK_OK(ti_split_plan_init(&p, TI_SPLIT_BY_BUCKET, NULL, 0));
    size_t count[TI_SPLIT__COUNT] = {0};
    for (int32_t s = 0; s < 50; s++)
        for (int32_t t = 0; t < 400; t++) {
            ti_split a = ti_split_plan_of(&p, s, t);
            TI_CHECK(a == ti_split_of(s, t));
            count[a]++;
        }
    /* 20,000 draws of 7/1/2 tenths: each share within 2 points of its rule */
    TI_CHECK(count[0] > 13600 && count[0] < 14400 && count[1] > 1600 && count[1] < 2400 && count[2] > 3600 && count[2] < 4400);
    ti_split_plan_free(&p);
}

static void stock_counts(const ti_split_plan *p, size_t c[TI_SPLIT__COUNT])
{
    memset(c, 0, sizeof(size_t) * TI_SPLIT__COUNT);
    for (size_t i = 0; i < p->n; i++) c[p->split[i]]++;
}

TI_TEST(stock_plan_fractions_and_order_independence)
{
    int32_t ids[60], rev[60];
    for (int i = 0; i < 60; i++) ids[i] = i * 7 + 3, rev[59 - i] = i * 7 + 3;
    ti_split_plan a, b;
    TI_CHECK_OK(ti_split_plan_init(&a, TI_SPLIT_BY_STOCK, ids, 60));
    TI_CHECK_OK(ti_split_plan_init(&b, TI_SPLIT_BY_STOCK, rev, 60));
    size_t c[TI_SPLIT__COUNT];
    stock_counts(&a, c);
    TI_CHECK_MSG(c[TI_SPLIT_TRAIN] == 42 && c[TI_SPLIT_VAL] == 6 && c[TI_SPLIT_TEST] == 12, "60 stocks: %zu/%zu/%zu", c[0], c[1], c[2]);
    for (int i = 0; i < 60; i++) {
        ti_split s = ti_split_plan_of(&a, ids[i], 0);
        TI_CHECK(s == ti_split_plan_of(&b, ids[i], 0));
        for (int32_t t = 1; t < 20; t++) TI_CHECK(ti_split_plan_of(&a, ids[i], t) == s); /* every bucket of a stock */
    }
    TI_CHECK(ti_split_plan_of(&a, 1, 0) == TI_SPLIT__COUNT); /* not in the universe */
    ti_split_plan_free(&a);
    ti_split_plan_free(&b);
    /* small universes keep one stock in val and test */
    int32_t five[5] = {0, 18, 31, 33, 37};
    TI_CHECK_OK(ti_split_plan_init(&a, TI_SPLIT_BY_STOCK, five, 5));
    stock_counts(&a, c);
    TI_CHECK(c[TI_SPLIT_TRAIN] == 3 && c[TI_SPLIT_VAL] == 1 && c[TI_SPLIT_TEST] == 1);
    ti_split_plan_free(&a);
}

TI_TEST(stock_plan_errors)
{
    ti_split_plan p;
    int32_t two[2] = {1, 2}, dup[4] = {1, 2, 3, 2};
    TI_CHECK_ERR(ti_split_plan_init(&p, TI_SPLIT_BY_STOCK, two, 2), TI_ERR_INVALID_ARG, "at least 3");
    TI_CHECK_ERR(ti_split_plan_init(&p, TI_SPLIT_BY_STOCK, dup, 4), TI_ERR_INVALID_ARG, "stock_id 2 appears twice");
    ti_split_by by;
    TI_CHECK_ERR(ti_split_by_parse("stocks", &by), TI_ERR_INVALID_ARG, "'stocks' is not a split rule (use bucket or stock)");
    TI_CHECK_OK(ti_split_by_parse("stock", &by));
    TI_CHECK(by == TI_SPLIT_BY_STOCK);
}

static int rewrite(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *hit = strstr(buf, from);
    if (!hit) return -1;
    f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(buf, 1, (size_t)(hit - buf), f);
    fputs(to, f);
    fputs(hit + strlen(from), f);
    fclose(f);
    return 0;
}

TI_TEST(ingest_split_by_stock_holds_out_whole_stocks)
{
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/ti_test_split_%d", (int)getpid());
    ti_ingest_options io = {.source = "data/optiver/trade_train.parquet", .out_dir = dir, .n_threads = 2, .split_by = TI_SPLIT_BY_STOCK};
    ti_ingest_report rep;
    TI_CHECK_OK(ti_ingest(&io, &rep));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, dir, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    TI_CHECK(in->split_by == TI_SPLIT_BY_STOCK && in->n_shards == 5);
    int stocks_in[TI_SPLIT__COUNT] = {0};
    for (int s = 0; s < in->n_shards; s++) {
        int seen = -1, mixed = 0;
        for (size_t i = 0; i < ti_dataset_num_buckets(ds); i++) {
            const ti_shard_bucket *r = ti_dataset_record(ds, i);
            if (r->stock_id != in->shards[s].symbol_id) continue;
            if (seen < 0) seen = r->split;
            else if (seen != r->split) mixed = 1;
        }
        TI_CHECK_MSG(!mixed && seen >= 0, "stock %d has buckets in several splits", in->shards[s].symbol_id);
        if (seen >= 0) stocks_in[seen]++;
    }
    TI_CHECK(stocks_in[TI_SPLIT_TRAIN] == 3 && stocks_in[TI_SPLIT_VAL] == 1 && stocks_in[TI_SPLIT_TEST] == 1);
    TI_CHECK(rep.n_split[0] + rep.n_split[1] + rep.n_split[2] == rep.n_kept && rep.n_split[1] > 0 && rep.n_split[2] > 0);
    ti_dataset_close(ds);
    TI_CHECK_OK(ti_dataset_verify(dir));
    /* The manifest's rule is what verify checks the records against. */
    char mpath[256];
    snprintf(mpath, sizeof mpath, "%s/dataset.json", dir);
    TI_CHECK(rewrite(mpath, "\"split_by\": \"stock\"", "\"split_by\": \"bucket\"") == 0);
    TI_CHECK_ERR(ti_dataset_verify(dir), TI_ERR_CORRUPT, "the bucket rule says");
    TI_CHECK(rewrite(mpath, "\"split_by\": \"bucket\"", "\"split_by\": \"sector\"") == 0);
    TI_CHECK_ERR(ti_dataset_open(&ds, dir, 0), TI_ERR_FORMAT, "split_by must be");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    TI_RUN(bucket_plan_is_the_hash_rule);
    TI_RUN(stock_plan_fractions_and_order_independence);
    TI_RUN(stock_plan_errors);
    TI_RUN(ingest_split_by_stock_holds_out_whole_stocks);
    return ti_test_summary();
}
