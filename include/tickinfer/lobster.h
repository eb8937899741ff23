/* tickinfer: LOBSTER limit-order-book CSV files (lobsterdata.com).
 *
 * A LOBSTER day of one ticker is a pair of header-less CSV files whose row k belong
 * together (message k is the event that produced book state k):
 *
 *   TICKER_DATE_START_END_message_L.csv     6 columns:
 *     time       seconds after midnight, decimals up to nanoseconds ("34200.004241176")
 *     type       1 new limit order, 2 partial cancel, 3 delete, 4 execution (visible),
 *                5 execution (hidden), 6 cross trade, 7 trading halt / quote / resume
 *     order id   integer >= 0
 *     size       shares >= 0
 *     price      dollars * 10000 (integer); type 7 rows carry -1 (halt), 0 (quoting),
 *                1 (resume) here
 *     direction  +1 buy limit order, -1 sell limit order.  An execution of a SELL limit
 *                order is a buyer-initiated trade: the aggressor's side is -direction.
 *
 *   TICKER_DATE_START_END_orderbook_L.csv   4*L columns, per level i = 1..L (best first):
 *     AskPrice_i, AskSize_i, BidPrice_i, BidSize_i     (prices dollars * 10000)
 *   An empty level is written as price 9999999999 (ask) or -9999999999 (bid) with size 0.
 *   These sentinels are KEPT in ti_lobster_day (so arrays stay rectangular); test a
 *   level with ti_lobster_has_level() before using its price.
 *
 * Validation (every failure names the file and 1-based line, e.g.
 *   "lobster: AMZN_..._message_1.csv:1234: expected 6 fields, got 5"):
 * missing/unreadable file, empty file, blank line inside the file, wrong field count,
 * non-numeric or overlong field, unknown type, direction not +-1, time negative or going
 * backwards, negative size or order id, negative price outside type 7, book column count
 * not 4*L with L in 1..10 (or changing between lines), negative book size, a book price
 * that is neither positive nor the sentinel of its side, and a row-count mismatch between
 * the two files.  CRLF line ends are accepted; empty lines at the very end are ignored.
 *
 * Times are parsed exactly: the result equals strtod() of the field (correctly rounded). */
#ifndef TICKINFER_LOBSTER_H
#define TICKINFER_LOBSTER_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_LOBSTER_MAX_LEVELS 10
#define TI_LOBSTER_EMPTY_ASK INT64_C(9999999999)
#define TI_LOBSTER_EMPTY_BID INT64_C(-9999999999)
/* Price scale: file prices are dollars * 10000. */
#define TI_LOBSTER_PRICE_SCALE 10000.0
/* Upper bound on rows per file (a full NASDAQ day of the busiest ticker is a few million). */
#define TI_LOBSTER_MAX_ROWS ((size_t)200000000)

/* Message types. */
enum {
    TI_LOBSTER_SUBMIT = 1,
    TI_LOBSTER_CANCEL = 2,
    TI_LOBSTER_DELETE = 3,
    TI_LOBSTER_EXEC_VISIBLE = 4,
    TI_LOBSTER_EXEC_HIDDEN = 5,
    TI_LOBSTER_CROSS = 6,
    TI_LOBSTER_HALT = 7
};

typedef enum ti_lobster_side { TI_LOBSTER_ASK = 0, TI_LOBSTER_BID = 1 } ti_lobster_side;

/* One day of one ticker.  All arrays live in one allocation owned by the struct. */
typedef struct ti_lobster_day {
    size_t n;                /* rows (messages = book states) */
    int levels;              /* book levels L, 1..10 */
    /* message columns, [n] */
    double *time;            /* seconds after midnight, non-decreasing */
    int8_t *type;            /* 1..7 */
    int64_t *order_id;
    int32_t *size;           /* shares */
    int64_t *price;          /* dollars * 10000 */
    int8_t *direction;       /* +1 buy limit order, -1 sell limit order */
    /* book after each message, [n * levels] row-major: row k level i at k*levels + i
     * (i = 0 is the best level); sentinels for empty levels (see above) */
    int64_t *ask_px, *ask_sz, *bid_px, *bid_sz;
    void *block_;            /* internal: the allocation */
} ti_lobster_day;

/* Read a message/orderbook file pair.  *out is overwritten (not freed first); on
 * failure it is left zeroed.  Free with ti_lobster_free. */
ti_err ti_lobster_read(ti_lobster_day *out, const char *message_csv, const char *orderbook_csv);

/* Same, from memory (texts need not be NUL-terminated); the names are used in messages. */
ti_err ti_lobster_parse(ti_lobster_day *out, const char *msg_text, size_t msg_len, const char *msg_name,
                        const char *book_text, size_t book_len, const char *book_name);

/* Safe on a zeroed or already freed struct. */
void ti_lobster_free(ti_lobster_day *d);

/* 1 if level `level` (0 = best) of `side` is occupied in book row `row`, else 0
 * (also 0 for an out-of-range row or level). */
int ti_lobster_has_level(const ti_lobster_day *d, size_t row, int level, ti_lobster_side side);

/* Executions (types 4 and 5) in file order. */
typedef struct ti_lobster_trades {
    size_t n;
    double *time;            /* seconds after midnight */
    double *price;           /* dollars */
    int32_t *size;           /* shares */
    int8_t *direction;       /* LOBSTER direction of the executed resting order
                              * (+1 buy order hit = seller-initiated trade) */
    int8_t *type;            /* 4 visible, 5 hidden */
    void *block_;
} ti_lobster_trades;

ti_err ti_lobster_trades_extract(ti_lobster_trades *out, const ti_lobster_day *d);
void ti_lobster_trades_free(ti_lobster_trades *t);

/* Level-1 book on a one-second grid: entry j describes second t0 + j, i.e. the state
 * after the last message with time < t0 + j + 1 (the end of that second), carried
 * forward through seconds without messages.  Before the first message, and for an
 * empty best level, the price is NAN and the size 0. */
typedef struct ti_lobster_l1 {
    size_t n;                /* t1 - t0 */
    int64_t t0;              /* first second (seconds after midnight) */
    double *bid_px, *ask_px; /* dollars, [n] */
    int64_t *bid_sz, *ask_sz;/* shares, [n] */
    void *block_;
} ti_lobster_l1;

/* Grid [t0, t1) in whole seconds after midnight; 0 <= t0 < t1, t1 - t0 <= 10 days. */
ti_err ti_lobster_l1_per_second(ti_lobster_l1 *out, const ti_lobster_day *d, int64_t t0, int64_t t1);
void ti_lobster_l1_free(ti_lobster_l1 *g);

#ifdef __cplusplus
}
#endif
#endif
