/* Opening, indexing and verifying dataset folders (mmapped shards). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "tickinfer/fileio.h"

struct ti_dataset {
    ti_dataset_info info;
    ti_mmap *maps;                    /* [n_shards] */
    size_t n_buckets;
    const ti_shard_bucket **recs;     /* [n_buckets] */
    uint16_t *shard_of;               /* [n_buckets] */
    uint32_t *split_idx[TI_SPLIT__COUNT];
    size_t split_n[TI_SPLIT__COUNT];
    ti_mmap market_map;
    const int32_t *market_tids;
    const float *market_vals;
    size_t market_n;
};

static const ti_shard_header *header_of(const ti_dataset *ds, int s) { return (const ti_shard_header *)ds->maps[s].data; }

void ti_dataset_close(ti_dataset *ds)
{
    if (!ds) return;
    if (ds->maps)
        for (int i = 0; i < ds->info.n_shards; i++) ti_mmap_close(&ds->maps[i]);
    free(ds->maps);
    if (ds->market_map.data) ti_mmap_close(&ds->market_map);
    free(ds->recs);
    free(ds->shard_of);
    for (int s = 0; s < TI_SPLIT__COUNT; s++) free(ds->split_idx[s]);
    free(ds->info.shards);
    free(ds);
}

/* Map and check shard i against its manifest entry. */
static ti_err open_shard(ti_dataset *ds, const char *dir, int i, int verify_crc)
{
    const ti_dataset_shard_info *si = &ds->info.shards[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, si->file);
    ti_err e = ti_mmap_open(&ds->maps[i], path);
    if (e) return ti_error_wrap(e, "dataset: shard %s listed in the manifest cannot be opened", si->file);
    const ti_mmap *m = &ds->maps[i];
    if (m->size != si->bytes)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s is %zu bytes, manifest says %llu (truncated or replaced)", path, m->size,
                         (unsigned long long)si->bytes);
    e = ti_shard_check(m->data, m->size, path, verify_crc);
    if (e) return e;
    const ti_shard_header *h = header_of(ds, i);
    if (h->payload_crc != si->crc)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s checksum %08x differs from the manifest's %08x (shard replaced?)", path,
                         h->payload_crc, si->crc);
    if (h->n_buckets != si->n_buckets || h->n_bars != si->n_bars || h->symbol_id != si->symbol_id)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s counts differ from the manifest", path);
    if ((int)h->bucket_len != ds->info.bucket_len || (int)(h->flags & TI_SHARD_FLAG_BOOK) != (ds->info.has_book ? 1 : 0))
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s bucket length/book flag differ from the manifest", path);
    return TI_OK;
}

ti_err ti_dataset_open(ti_dataset **out, const char *dir, int verify_checksums)
{
    *out = NULL;
    ti_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return ti_errorf(TI_ERR_NOMEM, "dataset: out of memory");
    ti_err e = ti_dataset_read_manifest(dir, &ds->info);
    if (e) {
        free(ds);
        return e;
    }
    if (ds->info.n_shards > UINT16_MAX) {
        e = ti_errorf(TI_ERR_LIMIT, "dataset: %s has %d shards, at most %d supported", dir, ds->info.n_shards, UINT16_MAX);
        goto fail;
    }
    ds->maps = calloc((size_t)ds->info.n_shards + 1, sizeof *ds->maps);
    ds->n_buckets = ds->info.n_kept;
    ds->recs = malloc((ds->n_buckets + 1) * sizeof *ds->recs);
    ds->shard_of = malloc((ds->n_buckets + 1) * sizeof *ds->shard_of);
    for (int s = 0; s < TI_SPLIT__COUNT; s++) ds->split_idx[s] = malloc((ds->n_buckets + 1) * sizeof(uint32_t));
    if (!ds->maps || !ds->recs || !ds->shard_of || !ds->split_idx[0] || !ds->split_idx[1] || !ds->split_idx[2]) {
        e = ti_errorf(TI_ERR_NOMEM, "dataset: out of memory indexing %s", dir);
        goto fail;
    }
    size_t k = 0;
    for (int i = 0; i < ds->info.n_shards; i++) {
        e = open_shard(ds, dir, i, verify_checksums);
        if (e) goto fail;
        const ti_shard_header *h = header_of(ds, i);
        const ti_shard_bucket *r = (const ti_shard_bucket *)(ds->maps[i].data + h->buckets_off);
        for (uint64_t j = 0; j < h->n_buckets; j++, k++) {
            ds->recs[k] = &r[j];
            ds->shard_of[k] = (uint16_t)i;
            ti_split sp = (ti_split)r[j].split;
            ds->split_idx[sp][ds->split_n[sp]++] = (uint32_t)k;
        }
    }
    if (ds->info.has_market) {
        char mp[4200];
        snprintf(mp, sizeof mp, "%s/%s", dir, ds->info.market_file);
        e = ti_mmap_open(&ds->market_map, mp);
        if (e) {
            ti_error_wrap(e, "dataset: market file listed in the manifest");
            goto fail;
        }
        if (ds->market_map.size != ds->info.market_bytes) {
            e = ti_errorf(TI_ERR_CORRUPT, "dataset: %s is %zu bytes, manifest says %llu", mp, ds->market_map.size,
                          (unsigned long long)ds->info.market_bytes);
            goto fail;
        }
        e = ti_market_check(ds->market_map.data, ds->market_map.size, mp, ds->info.history_len, verify_checksums, &ds->market_tids,
                            &ds->market_vals, &ds->market_n);
        if (e) goto fail;
    }
    for (int s = 0; s < TI_SPLIT__COUNT; s++)
        if (ds->split_n[s] != ds->info.n_split[s]) {
            e = ti_errorf(TI_ERR_CORRUPT, "dataset: %s: %zu %s buckets in shards, manifest says %llu", dir, ds->split_n[s],
                          ti_split_name((ti_split)s), (unsigned long long)ds->info.n_split[s]);
            goto fail;
        }
    *out = ds;
    return TI_OK;
fail:
    ti_dataset_close(ds);
    return e;
}

const ti_dataset_info *ti_dataset_get_info(const ti_dataset *ds) { return &ds->info; }
size_t ti_dataset_num_buckets(const ti_dataset *ds) { return ds->n_buckets; }
const ti_shard_bucket *ti_dataset_record(const ti_dataset *ds, size_t i) { return ds->recs[i]; }

void ti_dataset_view(const ti_dataset *ds, size_t i, ti_bucket_view *out)
{
    const ti_shard_bucket *r = ds->recs[i];
    const int s = ds->shard_of[i];
    const ti_shard_header *h = header_of(ds, s);
    const uint8_t *base = ds->maps[s].data;
    out->stock_id = r->stock_id;
    out->time_id = r->time_id;
    out->bars = (const ti_bar *)(base + h->bars_off) + r->bar_begin;
    out->n_bars = r->n_bars;
    out->book = r->book_row == UINT32_MAX ? NULL : (const ti_book_sec *)(base + h->book_off) + r->book_row;
}

const float *ti_dataset_market(const ti_dataset *ds, int32_t time_id)
{
    size_t lo = 0, hi = ds->market_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ds->market_tids[mid] < time_id) lo = mid + 1;
        else hi = mid;
    }
    if (lo >= ds->market_n || ds->market_tids[lo] != time_id) return NULL;
    return ds->market_vals + lo * (size_t)ds->info.history_len * TI_MKT_FEATURES;
}

size_t ti_dataset_split(const ti_dataset *ds, ti_split split, const uint32_t **idx)
{
    *idx = ds->split_idx[split];
    return ds->split_n[split];
}

ti_err ti_dataset_verify(const char *dir)
{
    ti_dataset *ds = NULL;
    ti_err e = ti_dataset_open(&ds, dir, 1);
    if (e) return e;
    /* Every record's split must be what the manifest's rule gives its ids over the
     * dataset's universe (catches edited records that still checksum, e.g. after a
     * re-ingest with a different rule). */
    ti_split_plan plan;
    int32_t *ids = malloc(((size_t)ds->info.n_shards + 1) * sizeof *ids);
    if (!ids) e = ti_errorf(TI_ERR_NOMEM, "dataset: out of memory");
    for (int i = 0; ids && i < ds->info.n_shards; i++) ids[i] = ds->info.shards[i].symbol_id;
    if (!e) e = ti_split_plan_init(&plan, ds->info.split_by, ids, (size_t)ds->info.n_shards);
    free(ids);
    if (e) {
        ti_error_wrap(e, "dataset: %s", dir);
        ti_dataset_close(ds);
        return e;
    }
    for (size_t i = 0; i < ds->n_buckets; i++) {
        const ti_shard_bucket *r = ds->recs[i];
        const ti_split want = ti_split_plan_of(&plan, r->stock_id, r->time_id);
        if ((ti_split)r->split != want) {
            e = ti_errorf(TI_ERR_CORRUPT, "dataset: %s: bucket (stock %d, time_id %d) in shard %s has split %s, the %s rule says %s", dir,
                          r->stock_id, r->time_id, ds->info.shards[ds->shard_of[i]].file, ti_split_name((ti_split)r->split),
                          ti_split_by_name(ds->info.split_by), ti_split_name(want));
            break;
        }
    }
    ti_split_plan_free(&plan);
    ti_dataset_close(ds);
    return e;
}
