/* tickinfer: deterministic train/val/test splits.
 *
 * Two rules, chosen at ingest (`tickinfer ingest --split-by bucket|stock`) and recorded in
 * the dataset's manifest:
 *
 * bucket (default): split(stock_id, time_id) = splitmix64((uint64)stock_id << 32 |
 *   (uint32)time_id) % 10: 0..6 train, 7 val, 8..9 test.  A bucket's split never depends on
 *   which other buckets exist, so adding stocks or days never moves a bucket between splits.
 *
 * stock: whole stocks are held out.  The dataset's stocks are ordered by
 *   (splitmix64((uint32)stock_id ^ TI_SPLIT_STOCK_SALT), stock_id); the first
 *   max(1, round(0.2 n)) are test, the next max(1, round(0.1 n)) val, the rest train
 *   (60 stocks: 12 test, 6 val, 42 train).  Every bucket of a stock shares its split.  The
 *   rule needs at least 3 stocks and depends on the set of stocks: the same universe always
 *   splits the same way, adding stocks can move one. */
#ifndef TICKINFER_SPLIT_H
#define TICKINFER_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ti_split { TI_SPLIT_TRAIN = 0, TI_SPLIT_VAL = 1, TI_SPLIT_TEST = 2, TI_SPLIT__COUNT } ti_split;
typedef enum ti_split_by { TI_SPLIT_BY_BUCKET = 0, TI_SPLIT_BY_STOCK = 1 } ti_split_by;

#define TI_SPLIT_STOCK_SALT 0x73746f636b73706cull /* "stocksp" */

uint64_t ti_splitmix64(uint64_t x);
/* The bucket rule. */
ti_split ti_split_of(int32_t stock_id, int32_t time_id);
const char *ti_split_name(ti_split s);

/* "bucket" / "stock"; parse names the accepted values in its error. */
const char *ti_split_by_name(ti_split_by by);
ti_err ti_split_by_parse(const char *s, ti_split_by *out);
/* One-line description of a rule (written into manifests and help). */
const char *ti_split_rule_text(ti_split_by by);

/* A rule applied to one universe of stocks. */
typedef struct ti_split_plan {
    ti_split_by by;
    size_t n;          /* stocks (stock rule only) */
    int32_t *ids;      /* [n] ascending */
    uint8_t *split;    /* [n] ti_split of ids[i] */
} ti_split_plan;

/* stock_ids: the universe (any order, duplicates are an error for the stock rule; ignored
 * for the bucket rule). */
ti_err ti_split_plan_init(ti_split_plan *p, ti_split_by by, const int32_t *stock_ids, size_t n);
/* Split of a bucket; a stock outside the plan's universe gets TI_SPLIT__COUNT. */
ti_split ti_split_plan_of(const ti_split_plan *p, int32_t stock_id, int32_t time_id);
void ti_split_plan_free(ti_split_plan *p);

#ifdef __cplusplus
}
#endif
#endif
