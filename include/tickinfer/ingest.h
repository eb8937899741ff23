/* tickinfer: building datasets from market-data sources.
 *
 * A source spec names where ticks come from:
 *   DIR with stock_id=N/ *.parquet      Optiver trade files (hive-partitioned Parquet)
 *   DIR or FILE with *_message_L.csv    LOBSTER message + order-book CSV pairs
 *   sim:SYMBOLS:BUCKETS[:SEED]          the synthetic market (src/data/sim.c)
 * Each symbol becomes one shard; buckets are summarised, excluded or kept, split by
 * hash, and normalisation statistics are fitted on the train split's history
 * features.  The output folder is built beside OUT and swapped in at the end, so a
 * failed or interrupted ingest leaves any previous dataset intact. */
#ifndef TICKINFER_INGEST_H
#define TICKINFER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/dataset.h"
#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A source of per-symbol bucketed bars. */
typedef struct ti_source ti_source;
struct ti_source {
    char kind[16];      /* "optiver", "lobster", "sim" */
    char desc[512];     /* the spec, for the manifest */
    size_t n_symbols;
    int has_book;
    int bucket_len;
    /* Load symbol i (thread-safe for distinct i). */
    ti_err (*load)(ti_source *src, size_t i, ti_symbol_data *out);
    /* The symbol id load() will give symbol i, known before loading (the stock split
     * needs the universe up front); NULL: i. */
    int32_t (*symbol_id)(const ti_source *src, size_t i);
    void (*destroy)(ti_source *src);
    void *impl;
};

/* Detect the kind of spec and open it. */
ti_err ti_source_open(ti_source **out, const char *spec);
void ti_source_close(ti_source *src);

/* Kinds (also usable directly). */
ti_err ti_source_open_optiver(ti_source **out, const char *dir);
ti_err ti_source_open_lobster(ti_source **out, const char *path);
ti_err ti_source_open_sim(ti_source **out, const char *spec);

/* Optiver: one Parquet file of one stock -> bars per time_id (validation + repairs:
 * rows are sorted by (time_id, second) if needed; duplicate (time_id, second) rows
 * are merged into one bar (VWAP price, summed size and orders); NaN, infinite, zero
 * or negative prices, negative sizes and seconds outside [0, 600) are errors naming
 * the file and row).  Exposed for tests. */
ti_err ti_optiver_load_file(ti_symbol_data *out, const char *path, int32_t stock_id);
/* Same, from already-decoded columns (name used in messages). */
ti_err ti_optiver_bars_from_columns(ti_symbol_data *out, const char *name, int32_t stock_id, size_t n, const int32_t *time_id,
                                    const int32_t *sec, const float *price, const int32_t *size, const int32_t *order_count);

typedef struct ti_ingest_options {
    const char *source;
    const char *out_dir;
    int n_threads;      /* <= 0: all cores */
    int progress;       /* show a progress bar */
    int market;         /* add market-context features (see features.h) */
    ti_split_by split_by; /* TI_SPLIT_BY_BUCKET (default) or TI_SPLIT_BY_STOCK (split.h) */
} ti_ingest_options;

typedef struct ti_ingest_report {
    double seconds;
    uint64_t bytes_on_disk;
    uint64_t n_total, n_kept, n_excluded_few_trades, n_excluded_low_target;
    uint64_t n_split[TI_SPLIT__COUNT];
    uint64_t n_bars, n_rows_read, n_duplicates_merged, n_unsorted_fixed;
    int n_symbols;
} ti_ingest_report;

ti_err ti_ingest(const ti_ingest_options *opt, ti_ingest_report *report);

#ifdef __cplusplus
}
#endif
#endif
