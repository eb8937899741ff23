/* Incremental per-second features; see include/tickinfer/features.h for definitions. */
#include "tickinfer/features.h"

#include <math.h>
#include <string.h>

static const char *const k_feature_names[TI_FEAT_MAX] = {
    "log_return", "log_size", "log_orders", "n_trades", "secs_since_trade", "rv_30",
    "rv_120",     "rv_300",   "vwap_dev_120", "hl_range_30", "trades_60", "ret_60",
    "wap_mid_dev", "spread",  "rel_spread", "imbalance",
};

int ti_features_count(int has_book) { return has_book ? TI_FEAT_MAX : TI_FEAT_N_TRADE_FEATURES; }

const char *ti_feature_name(int index)
{
    if (index < 0 || index >= TI_FEAT_MAX) return "?";
    return k_feature_names[index];
}

static const char *const k_market_names[TI_MKT_FEATURES] = {"mkt_logrv_30", "mkt_logrv_120", "mkt_logrv_300"};

const char *ti_dataset_feature_name(int index, int has_book, int has_market)
{
    int nf = ti_features_count(has_book);
    if (index >= 0 && index < nf) return k_feature_names[index];
    if (has_market && index >= nf && index < nf + TI_MKT_FEATURES) return k_market_names[index - nf];
    return "?";
}

void ti_market_contrib(float out[TI_MKT_FEATURES], const float *feat_row)
{
    out[0] = logf(feat_row[TI_FEAT_RV_30] + TI_MKT_LOG_EPS);
    out[1] = logf(feat_row[TI_FEAT_RV_120] + TI_MKT_LOG_EPS);
    out[2] = logf(feat_row[TI_FEAT_RV_300] + TI_MKT_LOG_EPS);
}

void ti_feat_reset(ti_feat_state *s, int has_book)
{
    memset(s, 0, sizeof *s);
    s->has_book = has_book ? 1 : 0;
    s->last_trade_t = -1;
}

/* Slot of second t (t may be negative before the stream starts: those are empty). */
static inline const ti_feat_slot *slot_at(const ti_feat_state *s, int64_t t)
{
    static const ti_feat_slot empty = {0};
    if (t < 0) return &empty;
    return &s->ring[t & (TI_FEAT_RING - 1)];
}

/* Running sums are kept in double; tiny negative residues from subtraction are
 * clamped so sqrt never sees a negative. */
static inline double sqrt_pos(double x) { return x > 0 ? sqrt(x) : 0.0; }

void ti_feat_step(ti_feat_state *s, const ti_bar *bar, const ti_book_sec *book, float *out)
{
    const int64_t t = s->t;
    /* Drop the seconds leaving each window before writing the new slot (the slot for
     * t reuses the ring entry of t - TI_FEAT_RING, which is outside every window). */
    const ti_feat_slot *o30 = slot_at(s, t - 30), *o60 = slot_at(s, t - 60);
    const ti_feat_slot *o120 = slot_at(s, t - 120), *o300 = slot_at(s, t - 300);
    s->sum_r2_30 -= o30->r2;
    s->sum_r2_120 -= o120->r2;
    s->sum_r2_300 -= o300->r2;
    s->sum_pv_120 -= o120->pv;
    s->sum_v_120 -= o120->v;
    s->trades_60 -= o60->ntr;
    const float lastp_60 = o60->lastp;

    ti_feat_slot *cur = &s->ring[t & (TI_FEAT_RING - 1)];
    memset(cur, 0, sizeof *cur);
    double log_ret = 0;
    if (bar) {
        double p = bar->price;
        if (s->last_price > 0) log_ret = log(p / s->last_price);
        cur->r2 = (float)(log_ret * log_ret);
        cur->pv = (float)(p * bar->size);
        cur->v = bar->size;
        cur->px = bar->price;
        cur->ntr = bar->n_trades;
        s->last_price = p;
        s->last_trade_t = t;
    }
    cur->lastp = (float)s->last_price;
    s->sum_r2_30 += cur->r2;
    s->sum_r2_120 += cur->r2;
    s->sum_r2_300 += cur->r2;
    s->sum_pv_120 += cur->pv;
    s->sum_v_120 += cur->v;
    s->trades_60 += cur->ntr;
    s->t = t + 1;
    if (!out) return;

    out[TI_FEAT_LOG_RETURN] = (float)log_ret;
    out[TI_FEAT_LOG_SIZE] = bar ? log1pf(bar->size) : 0.0f;
    out[TI_FEAT_LOG_ORDERS] = bar ? log1pf((float)bar->order_count) : 0.0f;
    out[TI_FEAT_N_TRADES] = bar ? (float)bar->n_trades : 0.0f;
    int64_t since = s->last_trade_t < 0 ? TI_FEAT_SECS_CAP : t - s->last_trade_t;
    out[TI_FEAT_SECS_SINCE_TRADE] = (float)(since > TI_FEAT_SECS_CAP ? TI_FEAT_SECS_CAP : since);
    out[TI_FEAT_RV_30] = (float)sqrt_pos(s->sum_r2_30);
    out[TI_FEAT_RV_120] = (float)sqrt_pos(s->sum_r2_120);
    out[TI_FEAT_RV_300] = (float)sqrt_pos(s->sum_r2_300);
    double vwap_dev = 0;
    if (s->last_price > 0 && s->sum_v_120 > 0 && s->sum_pv_120 > 0)
        vwap_dev = log(s->last_price * s->sum_v_120 / s->sum_pv_120);
    out[TI_FEAT_VWAP_DEV_120] = (float)vwap_dev;
    float hi = 0, lo = 0;
    for (int k = 0; k < 30; k++) {
        float px = slot_at(s, t - k)->px;
        if (px > 0) {
            if (hi == 0 || px > hi) hi = px;
            if (lo == 0 || px < lo) lo = px;
        }
    }
    out[TI_FEAT_HL_RANGE_30] = hi > 0 ? logf(hi / lo) : 0.0f;
    out[TI_FEAT_TRADES_60] = (float)s->trades_60;
    out[TI_FEAT_RET_60] = (s->last_price > 0 && lastp_60 > 0) ? (float)log(s->last_price / lastp_60) : 0.0f;

    if (!s->has_book) return;
    float wap_dev = 0, spread = 0, rel_spread = 0, imb = 0;
    if (book && isfinite(book->bid_px) && isfinite(book->ask_px) && book->bid_px > 0 &&
        book->ask_px >= book->bid_px) {
        double bid = book->bid_px, ask = book->ask_px, mid = 0.5 * (bid + ask);
        double bs = book->bid_sz, as = book->ask_sz;
        spread = (float)(ask - bid);
        rel_spread = (float)((ask - bid) / mid);
        if (bs + as > 0) {
            double wap = (bid * as + ask * bs) / (bs + as);
            wap_dev = (float)log(wap / mid);
            imb = (float)((bs - as) / (bs + as));
        }
    }
    out[TI_FEAT_WAP_MID_DEV] = wap_dev;
    out[TI_FEAT_SPREAD] = spread;
    out[TI_FEAT_REL_SPREAD] = rel_spread;
    out[TI_FEAT_IMBALANCE] = imb;
}

void ti_features_bucket(float *out, ti_feat_state *scratch, const ti_bucket_view *b, int t_end)
{
    const int has_book = b->book != NULL;
    const int nf = ti_features_count(has_book);
    ti_feat_reset(scratch, has_book);
    uint32_t j = 0;
    for (int t = 0; t < t_end; t++) {
        const ti_bar *bar = NULL;
        while (j < b->n_bars && b->bars[j].sec < t) j++; /* defensive: bars are sorted */
        if (j < b->n_bars && b->bars[j].sec == t) bar = &b->bars[j++];
        ti_feat_step(scratch, bar, has_book ? &b->book[t] : NULL, out + (size_t)t * nf);
    }
}

void ti_feat_normalize(float *x, int64_t n_rows, const ti_feat_norm *norm)
{
    const int n = norm->n;
    float inv[TI_FEAT_DATASET_MAX];
    for (int f = 0; f < n; f++) inv[f] = 1.0f / norm->std[f];
    for (int64_t r = 0; r < n_rows; r++) {
        float *row = x + r * n;
        for (int f = 0; f < n; f++) row[f] = (row[f] - norm->mean[f]) * inv[f];
    }
}

void ti_feat_moments_init(ti_feat_moments *m, int n_features)
{
    memset(m, 0, sizeof *m);
    m->n = n_features;
}

void ti_feat_moments_add_rows(ti_feat_moments *m, const float *x, int64_t n_rows)
{
    const int n = m->n;
    for (int64_t r = 0; r < n_rows; r++) {
        const float *row = x + r * n;
        for (int f = 0; f < n; f++) {
            double v = row[f];
            m->sum[f] += v;
            m->sumsq[f] += v * v;
        }
    }
    m->count += (double)n_rows;
}

void ti_feat_moments_merge(ti_feat_moments *dst, const ti_feat_moments *src)
{
    for (int f = 0; f < dst->n; f++) {
        dst->sum[f] += src->sum[f];
        dst->sumsq[f] += src->sumsq[f];
    }
    dst->count += src->count;
}

ti_err ti_feat_moments_finish(const ti_feat_moments *m, ti_feat_norm *out)
{
    if (m->count < 1) return ti_errorf(TI_ERR_RANGE, "features: no training rows to fit normalisation on");
    memset(out, 0, sizeof *out);
    out->n = m->n;
    for (int f = 0; f < m->n; f++) {
        double mean = m->sum[f] / m->count;
        double var = m->sumsq[f] / m->count - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0.0;
        /* A (numerically) constant feature is centred but not scaled, so it cannot
         * blow up on a slightly different value at inference time. */
        if (sd < 1e-12 + 1e-6 * fabs(mean)) sd = 1.0;
        out->mean[f] = (float)mean;
        out->std[f] = (float)sd;
    }
    return TI_OK;
}
