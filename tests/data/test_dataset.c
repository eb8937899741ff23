/* Dataset folders: write shards + manifest, open, verify; corruption is detected and named. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/dataset.h"
#include "tickinfer/fileio.h"

static char g_dir[256];

static void make_bucket(ti_bar *bars, uint32_t *n, int seed)
{
    *n = 0;
    float p = 1.0f;
    for (int s = 0; s < 600; s += 3 + (seed % 5)) {
        p *= 1.0f + 0.0005f * (float)(((s * 7 + seed * 13) % 11) - 5);
        bars[(*n)++] = (ti_bar){(uint16_t)s, 1, 2, p, 10.0f + (float)(s % 17)};
    }
}

/* Two shards (symbols 3 and 9), 20 buckets each. */
static void write_dataset(const char *dir)
{
    TI_CHECK_OK(ti_mkdirs(dir));
    ti_dataset_info info;
    memset(&info, 0, sizeof info);
    info.version = TI_DATASET_VERSION;
    snprintf(info.source, sizeof info.source, "unit-test");
    snprintf(info.source_kind, sizeof info.source_kind, "test");
    info.bucket_len = 600;
    info.history_len = 300;
    info.horizon_len = 300;
    info.n_features = ti_features_count(0);
    for (int f = 0; f < info.n_features; f++) snprintf(info.feature_names[f], 24, "%s", ti_feature_name(f));
    info.norm.n = info.n_features;
    for (int f = 0; f < info.n_features; f++) info.norm.mean[f] = 0.5f * f, info.norm.std[f] = 1.0f + f;
    ti_dataset_shard_info shards[2];
    info.shards = shards;
    info.n_shards = 2;
    static ti_bar bars[20 * 600];
    ti_shard_bucket recs[20];
    for (int s = 0; s < 2; s++) {
        int sym = s ? 9 : 3;
        uint64_t nbars = 0;
        for (int b = 0; b < 20; b++) {
            uint32_t n;
            make_bucket(bars + nbars, &n, b + s * 20);
            memset(&recs[b], 0, sizeof recs[b]);
            recs[b].stock_id = sym;
            recs[b].time_id = 100 + b;
            recs[b].split = (uint8_t)ti_split_of(sym, 100 + b);
            recs[b].bar_begin = nbars;
            recs[b].n_bars = n;
            recs[b].book_row = UINT32_MAX;
            recs[b].target_rv = 0.001f * (b + 1);
            info.n_split[recs[b].split]++;
            nbars += n;
        }
        ti_dataset_shard_info *si = &shards[s];
        memset(si, 0, sizeof *si);
        snprintf(si->file, sizeof si->file, "shard-%05d.tis", s);
        si->symbol_id = sym;
        snprintf(si->symbol, sizeof si->symbol, "stock_%d", sym);
        si->n_buckets = 20;
        si->n_bars = nbars;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, si->file);
        TI_CHECK_OK(ti_shard_write(path, sym, 600, recs, 20, bars, nbars, NULL, 0, &si->crc, &si->bytes));
        info.n_bars += nbars;
    }
    info.n_total = info.n_kept = 40;
    TI_CHECK_OK(ti_dataset_write_manifest(dir, &info));
}

static void shard_path(char *out, size_t cap, int i) { snprintf(out, cap, "%s/shard-%05d.tis", g_dir, i); }

static void copy_file(const char *from, const char *to)
{
    char *d = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(from, 0, &d, &n));
    TI_CHECK_OK(ti_write_file_atomic(to, d, n));
    free(d);
}

TI_TEST(roundtrip_open_view_split)
{
    write_dataset(g_dir);
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, g_dir, 1));
    if (!ds) return;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    TI_CHECK(ti_dataset_num_buckets(ds) == 40);
    TI_CHECK(in->n_shards == 2 && in->n_features == 12);
    TI_CHECK(in->norm.std[3] == 4.0f && in->norm.mean[2] == 1.0f);
    TI_CHECK(strcmp(in->feature_names[5], "rv_30") == 0);
    size_t tot = 0;
    for (int s = 0; s < TI_SPLIT__COUNT; s++) {
        const uint32_t *idx;
        size_t n = ti_dataset_split(ds, (ti_split)s, &idx);
        for (size_t i = 0; i < n; i++) TI_CHECK(ti_dataset_record(ds, idx[i])->split == s);
        tot += n;
    }
    TI_CHECK(tot == 40);
    ti_bucket_view v;
    ti_dataset_view(ds, 25, &v);
    ti_bar expect[600];
    uint32_t n;
    make_bucket(expect, &n, 25);
    TI_CHECK(v.stock_id == 9 && v.time_id == 105 && v.n_bars == n && v.book == NULL);
    TI_CHECK(memcmp(v.bars, expect, n * sizeof(ti_bar)) == 0);
    ti_dataset_close(ds);
    TI_CHECK_OK(ti_dataset_verify(g_dir));
}

TI_TEST(flipped_byte_is_detected_and_named)
{
    char p[512], saved[512];
    shard_path(p, sizeof p, 1);
    snprintf(saved, sizeof saved, "%s/saved.bin", g_dir);
    copy_file(p, saved);
    char *d = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(p, 0, &d, &n));
    if (!d) return;
    d[n - 5] ^= 0x20; /* inside the bars */
    TI_CHECK_OK(ti_write_file_atomic(p, d, n));
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "shard-00001.tis");
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "checksum");
    d[n - 5] ^= 0x20;
    d[20] ^= 1; /* inside the header */
    TI_CHECK_OK(ti_write_file_atomic(p, d, n));
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "header checksum");
    free(d);
    copy_file(saved, p);
    TI_CHECK_OK(ti_dataset_verify(g_dir));
}

TI_TEST(truncated_or_missing_shard_is_named)
{
    char p[512], saved[512];
    shard_path(p, sizeof p, 0);
    snprintf(saved, sizeof saved, "%s/saved.bin", g_dir);
    copy_file(p, saved);
    TI_CHECK(truncate(p, 1000) == 0);
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "shard-00000.tis");
    TI_CHECK(truncate(p, 50) == 0);
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "truncated");
    unlink(p);
    ti_dataset *ds = NULL;
    TI_CHECK_ERR(ti_dataset_open(&ds, g_dir, 0), TI_ERR_NOT_FOUND, "shard-00000.tis");
    copy_file(saved, p);
    TI_CHECK_OK(ti_dataset_verify(g_dir));
    /* A shard swapped for another valid shard: the manifest's checksum catches it. */
    char p1[512];
    shard_path(p1, sizeof p1, 1);
    copy_file(p1, p);
    TI_CHECK_ERR(ti_dataset_verify(g_dir), TI_ERR_CORRUPT, "shard-00000.tis");
    copy_file(saved, p);
}

TI_TEST(bad_manifest_is_reported)
{
    char mp[512];
    snprintf(mp, sizeof mp, "%s/dataset.json", g_dir);
    char *orig = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(mp, 0, &orig, &n));
    if (!orig) return;
    TI_CHECK_OK(ti_write_file_atomic(mp, orig, n / 2));
    ti_dataset *ds = NULL;
    TI_CHECK_ERR(ti_dataset_open(&ds, g_dir, 0), TI_ERR_FORMAT, "dataset.json");
    const char *wrong = "{\"format\": \"tickinfer-dataset\", \"version\": 99}";
    TI_CHECK_OK(ti_write_file_atomic(mp, wrong, strlen(wrong)));
    TI_CHECK_ERR(ti_dataset_open(&ds, g_dir, 0), TI_ERR_UNSUPPORTED, "version 99");
    TI_CHECK_OK(ti_write_file_atomic(mp, orig, n));
    TI_CHECK_OK(ti_dataset_verify(g_dir));
    free(orig);
    TI_CHECK_ERR(ti_dataset_open(&ds, "/nonexistent/dir", 0), TI_ERR_NOT_FOUND, "tickinfer ingest");
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_dataset_%d", (int)getpid());
    TI_RUN(roundtrip_open_view_split);
    TI_RUN(flipped_byte_is_detected_and_named);
    TI_RUN(truncated_or_missing_shard_is_named);
    TI_RUN(bad_manifest_is_reported);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", g_dir);
    return ti_test_summary();
}
