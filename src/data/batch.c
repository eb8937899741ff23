/* Batches from a dataset split; see include/tickinfer/batch.h. */
#include "tickinfer/batch.h"

#include <stdlib.h>
#include <string.h>

#include "tickinfer/alloc.h"

struct ti_batcher {
    const ti_dataset *ds;
    ti_batch_config cfg;
    ti_pool *pool;
    const uint32_t *split_idx;
    size_t n_split;
    uint32_t *order;          /* [n_split] this epoch's order */
    ti_batch_cursor cur;
    int64_t order_epoch;      /* epoch `order` was built for (-1: none) */
    ti_batch batch;
    int n_workers;
    ti_feat_state *states;    /* [n_workers] */
    double *scratch;          /* [n_workers][max_bars + 1] for forward targets */
    size_t scratch_stride;
};

static void build_order(ti_batcher *b, int64_t epoch)
{
    for (size_t i = 0; i < b->n_split; i++) b->order[i] = b->split_idx[i];
    if (b->cfg.shuffle && b->n_split > 1) {
        /* Fisher-Yates with splitmix64 of (seed, epoch, i): identical on every run. */
        uint64_t s = ti_splitmix64(b->cfg.seed ^ ti_splitmix64((uint64_t)epoch + 0x51ed27u));
        for (size_t i = b->n_split - 1; i > 0; i--) {
            s = ti_splitmix64(s);
            size_t j = (size_t)(s % (uint64_t)(i + 1));
            uint32_t t = b->order[i];
            b->order[i] = b->order[j];
            b->order[j] = t;
        }
    }
    b->order_epoch = epoch;
}

void ti_batch_bucket_features(float *out, ti_feat_state *scratch, const ti_dataset *ds, uint32_t bucket, int normalize)
{
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    ti_bucket_view v;
    ti_dataset_view(ds, bucket, &v);
    const int T = in->history_len, F = in->n_features;
    if (!in->has_market) {
        ti_features_bucket(out, scratch, &v, T);
    } else {
        /* Symbol features [T, Fs] are computed into the tail of out, then spread into
         * rows of F with the market columns appended (in place, front to back is safe:
         * row t's destination never passes row t+1's source). */
        const int Fs = F - TI_MKT_FEATURES;
        float *tmp = out + (size_t)T * F - (size_t)T * Fs;
        ti_features_bucket(tmp, scratch, &v, T);
        const float *mk = ti_dataset_market(ds, v.time_id);
        for (int t = 0; t < T; t++) {
            memmove(out + (size_t)t * F, tmp + (size_t)t * Fs, sizeof(float) * (size_t)Fs);
            for (int k = 0; k < TI_MKT_FEATURES; k++) out[(size_t)t * F + Fs + k] = mk ? mk[t * TI_MKT_FEATURES + k] : in->norm.mean[Fs + k];
        }
    }
    if (normalize) ti_feat_normalize(out, T, &in->norm);
}

typedef struct fill_ctx {
    ti_batcher *b;
    int64_t start;            /* first row of the epoch order for this batch */
} fill_ctx;

static void fill_rows(void *ctx, size_t begin, size_t end, int worker)
{
    fill_ctx *fc = ctx;
    ti_batcher *b = fc->b;
    const int T = b->batch.T, F = b->batch.F;
    for (size_t r = begin; r < end; r++) {
        uint32_t bucket = b->order[fc->start + (int64_t)r];
        b->batch.bucket[r] = bucket;
        ti_batch_bucket_features(b->batch.x + r * (size_t)T * F, &b->states[worker], b->ds, bucket, b->cfg.normalize);
        b->batch.y[r] = ti_dataset_record(b->ds, bucket)->target_rv;
        if (b->batch.y_seq) {
            ti_bucket_view v;
            ti_dataset_view(b->ds, bucket, &v);
            ti_rv_forward_targets(b->batch.y_seq + r * (size_t)T, b->scratch + (size_t)worker * b->scratch_stride, v.bars, v.n_bars, T,
                                  TI_HORIZON_LEN);
        }
    }
}

int64_t ti_batcher_epoch_rows(const ti_batcher *b)
{
    int64_t n = (int64_t)b->n_split;
    if (b->cfg.drop_last) n -= n % b->cfg.batch_size;
    return n;
}

int64_t ti_batcher_epoch_batches(const ti_batcher *b)
{
    int64_t n = ti_batcher_epoch_rows(b);
    return (n + b->cfg.batch_size - 1) / b->cfg.batch_size;
}

void ti_batcher_next(ti_batcher *b, ti_batch **batch, int *epoch_done)
{
    const int64_t rows = ti_batcher_epoch_rows(b);
    if (b->cur.pos >= rows) {
        b->cur.epoch++;
        b->cur.pos = 0;
    }
    if (b->order_epoch != b->cur.epoch) build_order(b, b->cur.epoch);
    int64_t n = rows - b->cur.pos;
    if (n > b->cfg.batch_size) n = b->cfg.batch_size;
    fill_ctx fc = {b, b->cur.pos};
    b->batch.n = (int)n;
    b->batch.epoch = b->cur.epoch;
    ti_pool_parallel_for(b->pool, (size_t)n, 1, fill_rows, &fc);
    b->cur.pos += n;
    *epoch_done = b->cur.pos >= rows;
    *batch = &b->batch;
}

ti_batch_cursor ti_batcher_get_cursor(const ti_batcher *b) { return b->cur; }

ti_err ti_batcher_set_cursor(ti_batcher *b, ti_batch_cursor c)
{
    if (c.epoch < 0 || c.pos < 0 || c.pos > ti_batcher_epoch_rows(b))
        return ti_errorf(TI_ERR_INVALID_ARG, "batch: cursor (epoch %lld, row %lld) outside this split (%lld rows per epoch)",
                         (long long)c.epoch, (long long)c.pos, (long long)ti_batcher_epoch_rows(b));
    b->cur = c;
    return TI_OK;
}

void ti_batcher_destroy(ti_batcher *b)
{
    if (!b) return;
    ti_free_aligned(b->batch.x);
    free(b->batch.y);
    free(b->batch.y_seq);
    free(b->batch.bucket);
    free(b->order);
    free(b->states);
    free(b->scratch);
    free(b);
}

ti_err ti_batcher_create(ti_batcher **out, const ti_dataset *ds, const ti_batch_config *cfg, ti_pool *pool)
{
    *out = NULL;
    if (cfg->batch_size < 1 || cfg->batch_size > 1 << 20)
        return ti_errorf(TI_ERR_INVALID_ARG, "batch: batch_size %d outside [1, 1048576]", cfg->batch_size);
    if ((int)cfg->split < 0 || cfg->split >= TI_SPLIT__COUNT) return ti_errorf(TI_ERR_INVALID_ARG, "batch: bad split %d", (int)cfg->split);
    ti_batcher *b = calloc(1, sizeof *b);
    if (!b) return ti_errorf(TI_ERR_NOMEM, "batch: out of memory");
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    b->ds = ds;
    b->cfg = *cfg;
    b->pool = pool;
    b->order_epoch = -1;
    b->n_split = ti_dataset_split(ds, cfg->split, &b->split_idx);
    if (b->n_split == 0 || ti_batcher_epoch_rows(b) == 0) {
        ti_batcher_destroy(b);
        return ti_errorf(TI_ERR_RANGE, "batch: the %s split has %zu buckets, not enough for one batch of %d", ti_split_name(cfg->split),
                         b->n_split, cfg->batch_size);
    }
    const int T = in->history_len, F = in->n_features, B = cfg->batch_size;
    b->batch.T = T;
    b->batch.F = F;
    b->n_workers = pool ? ti_pool_size(pool) : 1;
    size_t max_bars = 0;
    for (size_t i = 0; i < ti_dataset_num_buckets(ds); i++)
        if (ti_dataset_record(ds, i)->n_bars > max_bars) max_bars = ti_dataset_record(ds, i)->n_bars;
    b->scratch_stride = max_bars + 1;
    b->order = malloc(b->n_split * sizeof *b->order);
    b->batch.x = ti_malloc_aligned((size_t)B * T * F * sizeof(float), 64);
    b->batch.y = malloc((size_t)B * sizeof(float));
    b->batch.bucket = malloc((size_t)B * sizeof(uint32_t));
    b->batch.y_seq = cfg->seq_targets ? malloc((size_t)B * T * sizeof(float)) : NULL;
    b->states = malloc((size_t)b->n_workers * sizeof *b->states);
    b->scratch = malloc((size_t)b->n_workers * b->scratch_stride * sizeof(double));
    if (!b->order || !b->batch.x || !b->batch.y || !b->batch.bucket || (cfg->seq_targets && !b->batch.y_seq) || !b->states ||
        !b->scratch) {
        ti_batcher_destroy(b);
        return ti_errorf(TI_ERR_NOMEM, "batch: out of memory for batches of %d x %d x %d", B, T, F);
    }
    *out = b;
    return TI_OK;
}
