/* tickinfer: the common market-data unit, the one-second bar.
 *
 * Every source (Optiver Parquet trades, LOBSTER messages, the simulator) is reduced to
 * per-second trade bars inside fixed-length buckets (600 s for the forecasting task),
 * plus, when the source has a book, a level-1 book snapshot for every second.  The
 * offline feature builder and the streaming engine both consume bars, so features are
 * defined once (src/data/features.c). */
#ifndef TICKINFER_BARS_H
#define TICKINFER_BARS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TI_BUCKET_LEN 600   /* seconds per bucket (Optiver task) */
#define TI_HISTORY_LEN 300  /* seconds 0..299 are the model input */
#define TI_HORIZON_LEN 300  /* RV target over seconds 300..599 */

/* Trades within one second (only seconds with trades have a bar).  16 bytes, stored
 * as is (little-endian) in dataset shards. */
typedef struct ti_bar {
    uint16_t sec;          /* second within the bucket, [0, bucket_len) */
    uint16_t n_trades;     /* prints in this second (Optiver rows: 1) */
    uint32_t order_count;  /* orders taking part */
    float price;           /* volume-weighted average traded price in this second (> 0) */
    float size;            /* shares traded (>= 0) */
} ti_bar;

/* Level-1 book at the end of a second (forward-filled; NAN when no book yet). */
typedef struct ti_book_sec {
    float bid_px, ask_px, bid_sz, ask_sz;
} ti_book_sec;

/* A bucket as seen by features and targets.  bars sorted by sec, unique secs. */
typedef struct ti_bucket_view {
    int32_t stock_id, time_id;
    const ti_bar *bars;
    uint32_t n_bars;
    const ti_book_sec *book; /* [bucket_len] or NULL */
} ti_bucket_view;

#ifdef __cplusplus
}
#endif
#endif
