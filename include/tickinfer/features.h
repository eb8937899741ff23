/* tickinfer: per-second features, computed incrementally.
 *
 * One state machine produces the features for both the offline dataset (stepping over
 * a bucket's 1-second grid) and the streaming engine (stepping as bars arrive), so the
 * two agree exactly.  Every feature is a function of a trailing window (at most 300 s),
 * never of the bucket start, so a stream can run forever.
 *
 * Trade features (always):
 *   0 log_return        log(p_t / p_prev) for a bar at t (p_prev: last traded price
 *                       before t), else 0
 *   1 log_size          log1p(shares traded in second t)
 *   2 log_orders        log1p(orders in second t)
 *   3 n_trades          prints in second t
 *   4 secs_since_trade  seconds since the last bar, capped at 15 (15 before any trade)
 *   5 rv_30             sqrt(sum of squared log returns of bars in (t-30, t])
 *   6 rv_120            same over (t-120, t]
 *   7 rv_300            same over (t-300, t]
 *   8 vwap_dev_120      log(last price / VWAP of (t-120, t]) (0 if no volume)
 *   9 hl_range_30       log(max / min bar price in (t-30, t]) (0 if no bar)
 *  10 trades_60         prints in (t-60, t]
 *  11 ret_60            log(last price at t / last price at t-60) (0 if either unknown)
 * Book features (sources with a level-1 book; 0 while no two-sided quote):
 *  12 wap_mid_dev       log(WAP / mid), WAP = (bid*ask_sz + ask*bid_sz)/(bid_sz+ask_sz)
 *  13 spread            ask - bid (price units)
 *  14 rel_spread        (ask - bid) / mid
 *  15 imbalance         (bid_sz - ask_sz) / (bid_sz + ask_sz)
 */
#ifndef TICKINFER_FEATURES_H
#define TICKINFER_FEATURES_H

#include <stdint.h>

#include "tickinfer/bars.h"
#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TI_FEAT_LOG_RETURN = 0,
    TI_FEAT_LOG_SIZE,
    TI_FEAT_LOG_ORDERS,
    TI_FEAT_N_TRADES,
    TI_FEAT_SECS_SINCE_TRADE,
    TI_FEAT_RV_30,
    TI_FEAT_RV_120,
    TI_FEAT_RV_300,
    TI_FEAT_VWAP_DEV_120,
    TI_FEAT_HL_RANGE_30,
    TI_FEAT_TRADES_60,
    TI_FEAT_RET_60,
    TI_FEAT_N_TRADE_FEATURES,
    TI_FEAT_WAP_MID_DEV = TI_FEAT_N_TRADE_FEATURES,
    TI_FEAT_SPREAD,
    TI_FEAT_REL_SPREAD,
    TI_FEAT_IMBALANCE,
    TI_FEAT_MAX
};

/* Market context (datasets ingested with --market): at every second t, the mean over all
 * symbols sharing the bucket's time window of log(rv_w + 1e-5), w = 30, 120, 300 s.  Only
 * history seconds enter it, so it is information a live desk has at second t (the
 * streaming engine can aggregate it over its symbols the same way). */
#define TI_MKT_FEATURES 3
#define TI_FEAT_DATASET_MAX (TI_FEAT_MAX + TI_MKT_FEATURES)
#define TI_MKT_LOG_EPS 1e-5f

#define TI_FEAT_SECS_CAP 15
#define TI_FEAT_RING 512 /* power of two > longest window (300) */

/* Number of features: 12 without a book, 16 with one. */
int ti_features_count(int has_book);
const char *ti_feature_name(int index);
/* Name of feature `index` of a dataset with has_book/has_market: symbol features first,
 * then "mkt_logrv_30", "mkt_logrv_120", "mkt_logrv_300". */
const char *ti_dataset_feature_name(int index, int has_book, int has_market);
/* This symbol's contribution to the market features at one second, from its feature row. */
void ti_market_contrib(float out[TI_MKT_FEATURES], const float *feat_row);

typedef struct ti_feat_slot {
    float r2;      /* squared log return of the bar at this second (0 if none) */
    float pv, v;   /* price*size and size of the bar (0 if none) */
    float px;      /* bar price (0 if none) */
    float lastp;   /* last traded price as of this second (0 if none yet) */
    uint16_t ntr;  /* prints */
} ti_feat_slot;

/* Incremental state: value type, no heap; ~12 KiB.  Zero it with ti_feat_reset. */
typedef struct ti_feat_state {
    int64_t t;              /* seconds stepped so far (next second index) */
    int has_book;
    double last_price;      /* 0 until the first trade */
    int64_t last_trade_t;   /* -1 until the first trade */
    double sum_r2_30, sum_r2_120, sum_r2_300, sum_pv_120, sum_v_120;
    int64_t trades_60;
    ti_feat_slot ring[TI_FEAT_RING];
} ti_feat_state;

void ti_feat_reset(ti_feat_state *s, int has_book);

/* Advance one second.  bar: the bar of this second or NULL (no trade); book: the
 * book at the end of this second or NULL.  Writes ti_features_count(has_book)
 * floats to out (may be NULL to only advance).  bar->price must be > 0 and finite
 * (checked by the readers; here it is asserted by the caller's validation). */
void ti_feat_step(ti_feat_state *s, const ti_bar *bar, const ti_book_sec *book, float *out);

/* Features of seconds [0, t_end) of a bucket: out[t_end, F] row-major, F =
 * ti_features_count(b->book != NULL).  Uses a caller-provided state (no allocation). */
void ti_features_bucket(float *out, ti_feat_state *scratch, const ti_bucket_view *b, int t_end);

/* Normalisation: x' = (x - mean) / std, std floored at 1e-12 relative to avoid /0. */
typedef struct ti_feat_norm {
    int n;
    float mean[TI_FEAT_DATASET_MAX];
    float std[TI_FEAT_DATASET_MAX];
} ti_feat_norm;

/* In place on rows [n_rows, norm->n]. */
void ti_feat_normalize(float *x, int64_t n_rows, const ti_feat_norm *norm);

/* Running sums for fitting ti_feat_norm (double; merge in a fixed order for
 * determinism). */
typedef struct ti_feat_moments {
    int n;
    double count;
    double sum[TI_FEAT_DATASET_MAX], sumsq[TI_FEAT_DATASET_MAX];
} ti_feat_moments;

void ti_feat_moments_init(ti_feat_moments *m, int n_features);
void ti_feat_moments_add_rows(ti_feat_moments *m, const float *x, int64_t n_rows);
void ti_feat_moments_merge(ti_feat_moments *dst, const ti_feat_moments *src);
/* Fails with TI_ERR_RANGE if no rows were added. */
ti_err ti_feat_moments_finish(const ti_feat_moments *m, ti_feat_norm *out);

#ifdef __cplusplus
}
#endif
#endif
