/* tickinfer: on-disk datasets of bucketed one-second bars.
 *
 * A dataset is a folder:
 *   dataset.json      manifest: format + version, source, bucket/history lengths,
 *                     feature names, dtype and normalisation (fitted on train only),
 *                     counts (total / excluded / kept / per split) and, per shard, its
 *                     file name, symbol, counts, byte size and CRC-32C
 *   shard-NNNNN.tis   one per symbol: a binary file (layout below) that is mmapped
 *
 * Shard layout (little-endian, sections aligned to 64 bytes):
 *   ti_shard_header   128 bytes: magic "TISHARD1", version, section offsets and counts,
 *                     CRC-32C of the payload and of the header itself
 *   ti_shard_bucket   [n_buckets]   per kept bucket: ids, split, bar range, summary
 *   ti_bar            [n_bars]      all bars of all buckets (16 bytes each)
 *   ti_book_sec       [n_book_rows] bucket_len book rows per bucket, if the source has a book
 *
 * Features are not stored: they are recomputed from bars when batching (the same code as
 * streaming), which keeps the full Optiver set at ~16 bytes per trade-second on disk.
 * Writers use temp files + fsync + rename; a dataset folder is replaced as a whole. */
#ifndef TICKINFER_DATASET_H
#define TICKINFER_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/bars.h"
#include "tickinfer/err.h"
#include "tickinfer/features.h"
#include "tickinfer/split.h"
#include "tickinfer/targets.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_DATASET_FORMAT "tickinfer-dataset"
#define TI_DATASET_VERSION 1
#define TI_SHARD_MAGIC "TISHARD1"
#define TI_SHARD_VERSION 1

typedef struct ti_shard_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;   /* sizeof(ti_shard_header) = 128 */
    uint32_t flags;         /* bit 0: has book */
    uint32_t bucket_len;
    int32_t symbol_id;
    uint32_t rec_size;      /* sizeof(ti_shard_bucket) */
    uint64_t n_buckets, n_bars, n_book_rows;
    uint64_t buckets_off, bars_off, book_off, file_size;
    uint32_t bar_size, book_size;
    uint32_t payload_crc;   /* CRC-32C of bytes [header_size, file_size) */
    uint8_t reserved[24];
    uint32_t header_crc;    /* CRC-32C of the first 124 bytes */
} ti_shard_header;

#define TI_SHARD_FLAG_BOOK 1u

/* One kept bucket.  64 bytes. */
typedef struct ti_shard_bucket {
    int32_t stock_id, time_id;
    uint64_t bar_begin;     /* index into the shard's bars */
    uint32_t n_bars;
    uint32_t book_row;      /* first book row, or UINT32_MAX */
    uint8_t split;          /* ti_split */
    uint8_t reserved8[3];
    float target_rv;
    float rv_hist[3];       /* last 300, 120, 30 s of history */
    float volume_hist, orders_hist;
    uint32_t n_trades_hist, n_trades_horizon;
    float true_rv;          /* simulator only: true sqrt(integrated variance) of the horizon; NAN otherwise */
} ti_shard_bucket;

typedef struct ti_dataset ti_dataset;

typedef struct ti_dataset_shard_info {
    char file[64];
    int32_t symbol_id;
    char symbol[32];
    uint64_t n_buckets, n_bars, bytes;
    uint32_t crc;
} ti_dataset_shard_info;

typedef struct ti_dataset_info {
    int version;
    char source[512];
    char source_kind[16];          /* "optiver", "lobster", "sim" */
    int bucket_len, history_len, horizon_len;
    int has_book, has_market, n_features; /* n_features includes the market ones */
    char market_file[64];          /* "market.tim" when has_market */
    uint64_t market_bytes;
    uint32_t market_crc;
    char feature_names[TI_FEAT_DATASET_MAX][24];
    ti_feat_norm norm;
    ti_split_by split_by;          /* the rule that assigned every bucket's split */
    uint64_t n_total;              /* buckets seen */
    uint64_t n_excluded_few_trades, n_excluded_low_target;
    uint64_t n_kept, n_split[TI_SPLIT__COUNT];
    uint64_t n_bars;
    uint64_t n_rows_read, n_duplicates_merged, n_unsorted_fixed;
    int n_shards;
    ti_dataset_shard_info *shards; /* [n_shards], owned by the dataset */
    uint64_t total_bytes;
} ti_dataset_info;

/* Open (mmap) a dataset folder.  verify_checksums: also check every shard's CRC. */
ti_err ti_dataset_open(ti_dataset **out, const char *dir, int verify_checksums);
void ti_dataset_close(ti_dataset *ds);
const ti_dataset_info *ti_dataset_get_info(const ti_dataset *ds);

/* Buckets are numbered 0..n-1 across shards in manifest order. */
size_t ti_dataset_num_buckets(const ti_dataset *ds);
const ti_shard_bucket *ti_dataset_record(const ti_dataset *ds, size_t i);
/* View (bars + optional book) of bucket i; pointers into the mmap. */
void ti_dataset_view(const ti_dataset *ds, size_t i, ti_bucket_view *out);
/* Market features of a time window: [history_len, TI_MKT_FEATURES] (row t = second t),
 * or NULL when the dataset has none or the time_id is unknown. */
const float *ti_dataset_market(const ti_dataset *ds, int32_t time_id);

/* Indices of the buckets of one split, ascending; owned by the dataset. */
size_t ti_dataset_split(const ti_dataset *ds, ti_split split, const uint32_t **idx);

/* Check a dataset folder fully: manifest, every shard's header, sizes, CRCs and
 * structure (bar ranges, sorted seconds, finite positive prices).  The error names
 * the shard and what is wrong. */
ti_err ti_dataset_verify(const char *dir);

/* ---- writing (used by ingest) ------------------------------------------------ */

/* One symbol's buckets as produced by a source adapter. */
typedef struct ti_symbol_data {
    int32_t symbol_id;
    char symbol[32];
    size_t n_buckets;
    int32_t *time_ids;        /* [n_buckets] ascending */
    uint64_t *bar_start;      /* [n_buckets + 1] */
    ti_bar *bars;             /* [bar_start[n_buckets]] */
    ti_book_sec *book;        /* [n_buckets * bucket_len] or NULL */
    float *true_rv;           /* [n_buckets] or NULL (simulator) */
    uint64_t n_rows_read, n_duplicates_merged, n_unsorted_fixed;
} ti_symbol_data;

void ti_symbol_data_free(ti_symbol_data *s);

/* Write one shard (kept buckets only) atomically. */
ti_err ti_shard_write(const char *path, int32_t symbol_id, int bucket_len, const ti_shard_bucket *recs,
                      uint64_t n_buckets, const ti_bar *bars, uint64_t n_bars, const ti_book_sec *book,
                      uint64_t n_book_rows, uint32_t *crc_out, uint64_t *bytes_out);

/* Validate one mapped shard; name is used in messages. */
ti_err ti_shard_check(const uint8_t *data, size_t size, const char *name, int verify_crc);

/* Write dataset.json atomically into dir. */
ti_err ti_dataset_write_manifest(const char *dir, const ti_dataset_info *info);

#ifdef __cplusplus
}
#endif
#endif
