/* tickinfer ingest: source -> shards + manifest, one symbol per task, in parallel. */
#include "tickinfer/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "tickinfer/clock.h"
#include "tickinfer/fileio.h"
#include "tickinfer/progress.h"
#include "tickinfer/threadpool.h"

/* Per-symbol result, filled by a worker, reduced in symbol order (deterministic). */
typedef struct sym_result {
    ti_err err;
    char errmsg[1024];
    ti_dataset_shard_info shard;
    uint64_t n_total, n_few, n_low, n_kept, n_split[TI_SPLIT__COUNT], n_bars;
    uint64_t n_rows_read, n_dups, n_unsorted;
    ti_feat_moments moments;
} sym_result;

typedef struct ingest_job {
    ti_source *src;
    const char *dir;        /* partial output folder */
    sym_result *results;
    float **feat_scratch;   /* per worker [history_len * TI_FEAT_MAX] */
    ti_feat_state **state;  /* per worker */
    ti_progress *progress;
    ti_market_acc *market;  /* NULL unless market features are on */
    ti_split_plan plan;     /* the split rule over this source's universe */
} ingest_job;

void ti_symbol_data_free(ti_symbol_data *s)
{
    free(s->time_ids);
    free(s->bar_start);
    free(s->bars);
    free(s->book);
    free(s->true_rv);
    memset(s, 0, sizeof *s);
}

static ti_err process_symbol(ingest_job *job, size_t i, int worker, sym_result *res)
{
    ti_source *src = job->src;
    ti_symbol_data sd;
    memset(&sd, 0, sizeof sd);
    ti_err e = src->load(src, i, &sd);
    if (e) return e;
    const int L = src->bucket_len, H = TI_HISTORY_LEN;
    const int nf = ti_features_count(src->has_book);
    ti_feat_moments_init(&res->moments, nf);
    res->n_rows_read = sd.n_rows_read;
    res->n_dups = sd.n_duplicates_merged;
    res->n_unsorted = sd.n_unsorted_fixed;

    ti_shard_bucket *recs = calloc(sd.n_buckets + 1, sizeof *recs);
    if (!recs) {
        ti_symbol_data_free(&sd);
        return ti_errorf(TI_ERR_NOMEM, "ingest: out of memory (symbol %s)", sd.symbol);
    }
    /* Kept buckets' bars and book rows are compacted in place (write index <= read). */
    uint64_t w_bar = 0, w_book = 0;
    size_t n_kept = 0;
    float *feat = job->feat_scratch[worker];
    for (size_t b = 0; b < sd.n_buckets; b++) {
        const ti_bar *bars = sd.bars + sd.bar_start[b];
        uint32_t nb = (uint32_t)(sd.bar_start[b + 1] - sd.bar_start[b]);
        ti_bucket_summary sum;
        ti_bucket_summarize(&sum, bars, nb);
        res->n_total++;
        if (job->market) {
            /* Every bucket, kept or not, is part of the market at its time. */
            ti_bucket_view mv = {sd.symbol_id, sd.time_ids[b], bars, nb, sd.book ? sd.book + b * (size_t)L : NULL};
            ti_features_bucket(feat, job->state[worker], &mv, H);
            int train_kept = sum.exclusion == TI_KEEP && ti_split_plan_of(&job->plan, sd.symbol_id, sd.time_ids[b]) == TI_SPLIT_TRAIN;
            e = ti_market_acc_add(job->market, sd.time_ids[b], feat, nf, train_kept);
            if (e) {
                free(recs);
                ti_symbol_data_free(&sd);
                return e;
            }
        }
        if (sum.exclusion == TI_EXCLUDE_FEW_TRADES) { res->n_few++; continue; }
        if (sum.exclusion == TI_EXCLUDE_LOW_TARGET) { res->n_low++; continue; }
        ti_shard_bucket *r = &recs[n_kept++];
        r->stock_id = sd.symbol_id;
        r->time_id = sd.time_ids[b];
        const ti_split sp = ti_split_plan_of(&job->plan, r->stock_id, r->time_id);
        if (sp == TI_SPLIT__COUNT) {
            const int32_t bad = r->stock_id;
            free(recs);
            ti_symbol_data_free(&sd);
            return ti_errorf(TI_ERR_STATE, "ingest: symbol %s loaded with stock_id %d, which the source did not announce", sd.symbol,
                             (int)bad);
        }
        r->split = (uint8_t)sp;
        r->bar_begin = w_bar;
        r->n_bars = nb;
        r->target_rv = sum.target_rv;
        memcpy(r->rv_hist, sum.rv_hist, sizeof r->rv_hist);
        r->volume_hist = sum.volume_hist;
        r->orders_hist = sum.orders_hist;
        r->n_trades_hist = sum.n_trades_hist;
        r->n_trades_horizon = sum.n_trades_horizon;
        r->true_rv = sd.true_rv ? sd.true_rv[b] : NAN;
        r->book_row = UINT32_MAX;
        if (r->split == TI_SPLIT_TRAIN) {
            if (!job->market) { /* with market features `feat` already holds this bucket */
                ti_bucket_view v = {r->stock_id, r->time_id, bars, nb, sd.book ? sd.book + b * (size_t)L : NULL};
                ti_features_bucket(feat, job->state[worker], &v, H);
            }
            ti_feat_moments_add_rows(&res->moments, feat, H);
        }
        memmove(sd.bars + w_bar, bars, nb * sizeof(ti_bar));
        w_bar += nb;
        if (sd.book) {
            if (w_book > UINT32_MAX - (uint64_t)L) {
                free(recs);
                ti_symbol_data_free(&sd);
                return ti_errorf(TI_ERR_LIMIT, "ingest: symbol %s has too many book rows for one shard", sd.symbol);
            }
            r->book_row = (uint32_t)w_book;
            memmove(sd.book + w_book, sd.book + b * (size_t)L, (size_t)L * sizeof(ti_book_sec));
            w_book += (uint64_t)L;
        }
        res->n_split[r->split]++;
    }
    res->n_kept = n_kept;
    res->n_bars = w_bar;
    ti_dataset_shard_info *si = &res->shard;
    snprintf(si->file, sizeof si->file, "shard-%05zu.tis", i);
    si->symbol_id = sd.symbol_id;
    snprintf(si->symbol, sizeof si->symbol, "%s", sd.symbol);
    si->n_buckets = n_kept;
    si->n_bars = w_bar;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", job->dir, si->file);
    e = ti_shard_write(path, sd.symbol_id, L, recs, n_kept, sd.bars, w_bar, sd.book, w_book, &si->crc, &si->bytes);
    free(recs);
    ti_symbol_data_free(&sd);
    return e;
}

static void ingest_task(void *ctx, size_t begin, size_t end, int worker)
{
    ingest_job *job = ctx;
    for (size_t i = begin; i < end; i++) {
        sym_result *res = &job->results[i];
        res->err = process_symbol(job, i, worker, res);
        if (res->err) snprintf(res->errmsg, sizeof res->errmsg, "%s", ti_errmsg());
        ti_progress_add(job->progress, 1);
    }
}

static ti_err remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? TI_OK : ti_errorf(TI_ERR_IO, "ingest: cannot open %s: %s", dir, strerror(errno));
    struct dirent *ent;
    char path[4096];
    while ((ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        unlink(path); /* dataset folders are flat */
    }
    closedir(d);
    if (rmdir(dir) != 0) return ti_errorf(TI_ERR_IO, "ingest: cannot remove %s: %s", dir, strerror(errno));
    return TI_OK;
}

/* Replace out_dir with the finished partial folder: out -> old, partial -> out, rm old. */
static ti_err swap_in(const char *partial, const char *out_dir)
{
    char old[4096];
    snprintf(old, sizeof old, "%s.old-%ld", out_dir, (long)getpid());
    struct stat st;
    int had_old = stat(out_dir, &st) == 0;
    if (had_old) {
        if (!S_ISDIR(st.st_mode)) return ti_errorf(TI_ERR_IO, "ingest: %s exists and is not a folder", out_dir);
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/dataset.json", out_dir);
        DIR *d = opendir(out_dir);
        int empty = 1;
        struct dirent *ent;
        while (d && (ent = readdir(d)))
            if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) empty = 0;
        if (d) closedir(d);
        if (!empty && access(probe, F_OK) != 0)
            return ti_errorf(TI_ERR_IO, "ingest: %s exists and is not a tickinfer dataset; refusing to replace it", out_dir);
        if (rename(out_dir, old) != 0) return ti_errorf(TI_ERR_IO, "ingest: rename %s: %s", out_dir, strerror(errno));
    }
    if (rename(partial, out_dir) != 0) {
        ti_err e = ti_errorf(TI_ERR_IO, "ingest: rename %s -> %s: %s", partial, out_dir, strerror(errno));
        if (had_old) rename(old, out_dir);
        return e;
    }
    if (had_old) remove_tree(old);
    return TI_OK;
}

ti_err ti_ingest(const ti_ingest_options *opt, ti_ingest_report *report)
{
    memset(report, 0, sizeof *report);
    if (!opt->source || !opt->out_dir) return ti_errorf(TI_ERR_INVALID_ARG, "ingest: source and output folder are required");
    const double t0 = ti_now_s();
    ti_source *src = NULL;
    ti_err e = ti_source_open(&src, opt->source);
    if (e) return e;
    if (src->n_symbols == 0) {
        ti_source_close(src);
        return ti_errorf(TI_ERR_NOT_FOUND, "ingest: no symbols found in %s", opt->source);
    }
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial-%ld", opt->out_dir, (long)getpid());
    remove_tree(partial);
    e = ti_mkdirs(partial);
    if (e) {
        ti_source_close(src);
        return e;
    }
    ti_pool *pool = NULL;
    int n_threads = opt->n_threads;
    if (n_threads <= 0 || (size_t)n_threads > src->n_symbols) n_threads = (int)src->n_symbols < 64 ? (int)src->n_symbols : 64;
    e = ti_pool_create(&pool, opt->n_threads <= 0 ? 0 : n_threads);
    ingest_job job = {.src = src, .dir = partial};
    if (!e) {
        int32_t *ids = malloc(src->n_symbols * sizeof *ids);
        if (!ids) e = ti_errorf(TI_ERR_NOMEM, "ingest: out of memory");
        for (size_t i = 0; ids && i < src->n_symbols; i++) ids[i] = src->symbol_id ? src->symbol_id(src, i) : (int32_t)i;
        if (!e) e = ti_split_plan_init(&job.plan, opt->split_by, ids, src->n_symbols);
        if (e) ti_error_wrap(e, "ingest %s", opt->source);
        free(ids);
    }
    job.results = calloc(src->n_symbols, sizeof *job.results);
    int nw = pool ? ti_pool_size(pool) : 0;
    job.feat_scratch = calloc((size_t)nw + 1, sizeof *job.feat_scratch);
    job.state = calloc((size_t)nw + 1, sizeof *job.state);
    if (!e && (!job.results || !job.feat_scratch || !job.state)) e = ti_errorf(TI_ERR_NOMEM, "ingest: out of memory");
    for (int w = 0; !e && w < nw; w++) {
        job.feat_scratch[w] = malloc(sizeof(float) * TI_HISTORY_LEN * TI_FEAT_MAX);
        job.state[w] = malloc(sizeof(ti_feat_state));
        if (!job.feat_scratch[w] || !job.state[w]) e = ti_errorf(TI_ERR_NOMEM, "ingest: out of memory");
    }
    if (!e && opt->market) e = ti_market_acc_create(&job.market, TI_HISTORY_LEN);
    if (!e) {
        job.progress = opt->progress ? ti_progress_start("ingest", "symbols", src->n_symbols) : NULL;
        ti_pool_parallel_for(pool, src->n_symbols, 1, ingest_task, &job);
        ti_progress_finish(job.progress);
    }

    ti_dataset_info info;
    memset(&info, 0, sizeof info);
    ti_feat_moments mom;
    ti_feat_moments_init(&mom, ti_features_count(src->has_book));
    for (size_t i = 0; !e && i < src->n_symbols; i++) {
        sym_result *r = &job.results[i];
        if (r->err) {
            e = ti_errorf(r->err, "%s", r->errmsg);
            break;
        }
        ti_feat_moments_merge(&mom, &r->moments);
        info.n_total += r->n_total;
        info.n_excluded_few_trades += r->n_few;
        info.n_excluded_low_target += r->n_low;
        info.n_kept += r->n_kept;
        for (int s = 0; s < TI_SPLIT__COUNT; s++) info.n_split[s] += r->n_split[s];
        info.n_bars += r->n_bars;
        info.n_rows_read += r->n_rows_read;
        info.n_duplicates_merged += r->n_dups;
        info.n_unsorted_fixed += r->n_unsorted;
        info.total_bytes += r->shard.bytes;
    }
    if (!e) {
        info.version = TI_DATASET_VERSION;
        info.split_by = opt->split_by;
        snprintf(info.source, sizeof info.source, "%s", src->desc);
        snprintf(info.source_kind, sizeof info.source_kind, "%s", src->kind);
        info.bucket_len = src->bucket_len;
        info.history_len = TI_HISTORY_LEN;
        info.horizon_len = TI_HORIZON_LEN;
        info.has_book = src->has_book;
        info.n_features = ti_features_count(src->has_book);
        for (int f = 0; f < info.n_features; f++) snprintf(info.feature_names[f], sizeof info.feature_names[f], "%s", ti_feature_name(f));
        e = ti_feat_moments_finish(&mom, &info.norm);
        if (e) ti_error_wrap(e, "ingest %s", opt->source);
    }
    if (!e && job.market) {
        /* Market columns follow the symbol features, with their own train statistics. */
        char mpath[4200];
        snprintf(info.market_file, sizeof info.market_file, "market.tim");
        snprintf(mpath, sizeof mpath, "%s/%s", partial, info.market_file);
        ti_feat_moments mm;
        ti_feat_norm mn;
        e = ti_market_acc_finish(job.market, mpath, &mm, &info.market_crc, &info.market_bytes);
        if (!e) e = ti_feat_moments_finish(&mm, &mn);
        if (!e) {
            const int base = info.n_features;
            info.has_market = 1;
            info.n_features = base + TI_MKT_FEATURES;
            info.norm.n = info.n_features;
            for (int k = 0; k < TI_MKT_FEATURES; k++) {
                info.norm.mean[base + k] = mn.mean[k];
                info.norm.std[base + k] = mn.std[k];
                snprintf(info.feature_names[base + k], sizeof info.feature_names[base + k], "%s",
                         ti_dataset_feature_name(base + k, info.has_book, 1));
            }
            info.total_bytes += info.market_bytes;
        }
    }
    if (!e) {
        info.n_shards = (int)src->n_symbols;
        info.shards = calloc(src->n_symbols, sizeof *info.shards);
        if (!info.shards) e = ti_errorf(TI_ERR_NOMEM, "ingest: out of memory");
        for (size_t i = 0; !e && i < src->n_symbols; i++) info.shards[i] = job.results[i].shard;
    }
    if (!e) e = ti_dataset_write_manifest(partial, &info);
    if (!e) e = swap_in(partial, opt->out_dir);
    if (e) remove_tree(partial);
    if (!e) {
        report->seconds = ti_now_s() - t0;
        report->bytes_on_disk = info.total_bytes;
        report->n_total = info.n_total;
        report->n_kept = info.n_kept;
        report->n_excluded_few_trades = info.n_excluded_few_trades;
        report->n_excluded_low_target = info.n_excluded_low_target;
        memcpy(report->n_split, info.n_split, sizeof report->n_split);
        report->n_bars = info.n_bars;
        report->n_rows_read = info.n_rows_read;
        report->n_duplicates_merged = info.n_duplicates_merged;
        report->n_unsorted_fixed = info.n_unsorted_fixed;
        report->n_symbols = info.n_shards;
    }
    free(info.shards);
    for (int w = 0; w < nw; w++) {
        free(job.feat_scratch[w]);
        free(job.state[w]);
    }
    free(job.feat_scratch);
    free(job.state);
    free(job.results);
    ti_split_plan_free(&job.plan);
    ti_market_acc_destroy(job.market);
    ti_pool_destroy(pool);
    ti_source_close(src);
    return e;
}
