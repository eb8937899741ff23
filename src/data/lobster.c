/* LOBSTER message + orderbook CSV reader (format and rules in tickinfer/lobster.h).
 *
 * Two passes per file: count lines (memchr), allocate every column in one block, then
 * parse each line with the strict scanners of csv_scan.c.  The AAPL sample day (118k
 * rows, 7.6 MB) parses in a few milliseconds. */
#include "tickinfer/lobster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv_scan.h"
#include "tickinfer/fileio.h"

/* Times beyond ten days after midnight cannot be a LOBSTER day. */
#define MAX_TIME 864000.0

typedef struct text {
    const char *p, *end;   /* remaining text */
    const char *name;
    size_t line;           /* 1-based number of the line last returned */
} text;

/* Drop trailing line ends so that "a\nb\n" and "a\nb" both have two lines. */
static const char *trim_end(const char *s, size_t len)
{
    const char *e = s + len;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r')) e--;
    return e;
}

static size_t count_lines(const char *s, const char *end)
{
    if (s == end) return 0;
    size_t n = 1;
    for (const char *q = s; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) n++;
    return n;
}

/* Next line [*ls, *le) without its terminator; 0 at the end of the text. */
static int next_line(text *t, const char **ls, const char **le)
{
    if (t->p >= t->end) return 0;
    const char *nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
    const char *e = nl ? nl : t->end;
    *ls = t->p;
    *le = (e > t->p && e[-1] == '\r') ? e - 1 : e;
    t->p = nl ? nl + 1 : t->end;
    t->line++;
    return 1;
}

static ti_err field_error(const text *t, const char *ls, const char *le, const char *p, int field, size_t want,
                          const char *what, ti_csv_status st)
{
    size_t got = ti_csv_count_fields(ls, le);
    if (ls == le) return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: blank line", t->name, t->line);
    if (got != want)
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: expected %zu fields, got %zu", t->name, t->line, want, got);
    char ex[40];
    ti_csv_field_excerpt(ex, sizeof ex, p, le);
    return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: field %d (%s): %s '%s'", t->name, t->line, field, what,
                     st == TI_CSV_OVERFLOW ? "number too long:" : "not a number:", ex);
}

/* Scan one integer field (1-based index `field` of `want`) and step over its comma. */
#define SCAN_I64(dst, field, what)                                                           \
    do {                                                                                     \
        ti_csv_status st_ = ti_csv_i64(&p, le, &(dst));                                      \
        if (st_ != TI_CSV_OK || ((field) < (int)want) != (p < le))                           \
            return field_error(t, ls, le, p, (field), want, (what), st_);                    \
        if (p < le) p++;                                                                     \
    } while (0)

static ti_err parse_messages(ti_lobster_day *d, text *t)
{
    const size_t want = 6;
    const char *ls, *le;
    for (size_t k = 0; k < d->n; k++) {
        next_line(t, &ls, &le);
        const char *p = ls;
        double time;
        int64_t type, id, size, price, dir;
        ti_csv_status st = ti_csv_decimal(&p, le, &time);
        if (st != TI_CSV_OK || p >= le) return field_error(t, ls, le, p, 1, want, "time", st);
        p++;
        SCAN_I64(type, 2, "type");
        SCAN_I64(id, 3, "order id");
        SCAN_I64(size, 4, "size");
        SCAN_I64(price, 5, "price");
        SCAN_I64(dir, 6, "direction");
        const char *f = t->name;
        size_t ln = t->line;
        if (!(time >= 0.0 && time < MAX_TIME))
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: time %.9f outside [0, %.0f) seconds after midnight", f,
                             ln, time, MAX_TIME);
        if (k > 0 && time < d->time[k - 1])
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: time goes backwards (%.9f after %.9f)", f, ln, time,
                             d->time[k - 1]);
        if (type < 1 || type > 7)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: unknown message type %lld (want 1..7)", f, ln,
                             (long long)type);
        if (id < 0)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: negative order id %lld", f, ln, (long long)id);
        if (size < 0 || size > INT32_MAX)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: size %lld out of range [0, 2^31)", f, ln,
                             (long long)size);
        /* Halt rows (type 7) use the price column as a flag: -1, 0 or 1. */
        if (price < 0 && type != TI_LOBSTER_HALT)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: negative price %lld", f, ln, (long long)price);
        if (dir != 1 && dir != -1)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: direction %lld (want 1 or -1)", f, ln, (long long)dir);
        d->time[k] = time;
        d->type[k] = (int8_t)type;
        d->order_id[k] = id;
        d->size[k] = (int32_t)size;
        d->price[k] = price;
        d->direction[k] = (int8_t)dir;
    }
    return TI_OK;
}

static ti_err check_level(const text *t, int level, int is_bid, int64_t px, int64_t sz)
{
    const char *side = is_bid ? "bid" : "ask";
    int64_t empty = is_bid ? TI_LOBSTER_EMPTY_BID : TI_LOBSTER_EMPTY_ASK;
    if (sz < 0)
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: level %d %s size %lld is negative", t->name, t->line,
                         level + 1, side, (long long)sz);
    if (px == empty) {
        if (sz != 0)
            return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: level %d %s is empty (price %lld) but has size %lld",
                             t->name, t->line, level + 1, side, (long long)px, (long long)sz);
        return TI_OK;
    }
    if (px <= 0)
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s:%zu: level %d %s price %lld is neither positive nor the empty "
                         "marker %lld", t->name, t->line, level + 1, side, (long long)px, (long long)empty);
    return TI_OK;
}

static ti_err parse_book(ti_lobster_day *d, text *t)
{
    const int L = d->levels;
    const size_t want = 4 * (size_t)L;
    const char *ls, *le;
    for (size_t k = 0; k < d->n; k++) {
        next_line(t, &ls, &le);
        const char *p = ls;
        for (int i = 0; i < L; i++) {
            int64_t apx, asz, bpx, bsz;
            int f = 4 * i;
            SCAN_I64(apx, f + 1, "ask price");
            SCAN_I64(asz, f + 2, "ask size");
            SCAN_I64(bpx, f + 3, "bid price");
            SCAN_I64(bsz, f + 4, "bid size");
            ti_err e = check_level(t, i, 0, apx, asz);
            if (e == TI_OK) e = check_level(t, i, 1, bpx, bsz);
            if (e != TI_OK) return e;
            size_t at = k * (size_t)L + (size_t)i;
            d->ask_px[at] = apx;
            d->ask_sz[at] = asz;
            d->bid_px[at] = bpx;
            d->bid_sz[at] = bsz;
        }
    }
    return TI_OK;
}

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

/* Lay out all columns in one block (each 64-byte aligned). */
static ti_err alloc_day(ti_lobster_day *d)
{
    size_t n = d->n, nl = n * (size_t)d->levels;
    size_t off[10], total = 0;
    size_t bytes[10] = {8 * n, n, 8 * n, 4 * n, 8 * n, n, 8 * nl, 8 * nl, 8 * nl, 8 * nl};
    for (int i = 0; i < 10; i++) {
        off[i] = total;
        total += align64(bytes[i]);
    }
    char *b = malloc(total ? total : 1);
    if (!b) return ti_errorf(TI_ERR_NOMEM, "lobster: cannot allocate %zu bytes for %zu rows", total, n);
    d->block_ = b;
    d->time = (double *)(void *)(b + off[0]);
    d->type = (int8_t *)(b + off[1]);
    d->order_id = (int64_t *)(void *)(b + off[2]);
    d->size = (int32_t *)(void *)(b + off[3]);
    d->price = (int64_t *)(void *)(b + off[4]);
    d->direction = (int8_t *)(b + off[5]);
    d->ask_px = (int64_t *)(void *)(b + off[6]);
    d->ask_sz = (int64_t *)(void *)(b + off[7]);
    d->bid_px = (int64_t *)(void *)(b + off[8]);
    d->bid_sz = (int64_t *)(void *)(b + off[9]);
    return TI_OK;
}

ti_err ti_lobster_parse(ti_lobster_day *out, const char *msg_text, size_t msg_len, const char *msg_name,
                        const char *book_text, size_t book_len, const char *book_name)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "lobster: output is NULL");
    memset(out, 0, sizeof *out);
    if ((!msg_text && msg_len) || (!book_text && book_len))
        return ti_errorf(TI_ERR_INVALID_ARG, "lobster: NULL text with non-zero length");
    if (!msg_name) msg_name = "<message>";
    if (!book_name) book_name = "<orderbook>";
    text tm = {msg_text, msg_len ? trim_end(msg_text, msg_len) : msg_text, msg_name, 0};
    text tb = {book_text, book_len ? trim_end(book_text, book_len) : book_text, book_name, 0};
    size_t nm = count_lines(tm.p, tm.end), nb = count_lines(tb.p, tb.end);
    if (nm == 0) return ti_errorf(TI_ERR_FORMAT, "lobster: %s: empty file", msg_name);
    if (nb == 0) return ti_errorf(TI_ERR_FORMAT, "lobster: %s: empty file", book_name);
    if (nm != nb)
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s has %zu rows but %s has %zu; row k of each must belong together",
                         msg_name, nm, book_name, nb);
    if (nm > TI_LOBSTER_MAX_ROWS)
        return ti_errorf(TI_ERR_LIMIT, "lobster: %s: %zu rows exceed the limit of %zu", msg_name, nm,
                         TI_LOBSTER_MAX_ROWS);

    /* Levels from the first book line: 4 columns per level. */
    const char *nl = memchr(tb.p, '\n', (size_t)(tb.end - tb.p));
    const char *le1 = nl ? nl : tb.end;
    if (le1 > tb.p && le1[-1] == '\r') le1--;
    size_t cols = ti_csv_count_fields(tb.p, le1);
    if (cols % 4 != 0 || cols < 4 || cols > 4 * TI_LOBSTER_MAX_LEVELS)
        return ti_errorf(TI_ERR_FORMAT, "lobster: %s:1: expected 4*L fields with L in 1..%d levels, got %zu",
                         book_name, TI_LOBSTER_MAX_LEVELS, cols);

    ti_lobster_day d = {0};
    d.n = nm;
    d.levels = (int)(cols / 4);
    ti_err e = alloc_day(&d);
    if (e == TI_OK) e = parse_messages(&d, &tm);
    if (e == TI_OK) e = parse_book(&d, &tb);
    if (e != TI_OK) {
        ti_lobster_free(&d);
        return e;
    }
    *out = d;
    return TI_OK;
}

/* Prefix an open failure with the file's role, and its path unless already named. */
static ti_err open_error(ti_err e, const char *role, const char *path)
{
    if (strstr(ti_errmsg(), path)) return ti_error_wrap(e, "lobster: %s file", role);
    return ti_error_wrap(e, "lobster: %s file %s", role, path);
}

ti_err ti_lobster_read(ti_lobster_day *out, const char *message_csv, const char *orderbook_csv)
{
    if (!out || !message_csv || !orderbook_csv) return ti_errorf(TI_ERR_INVALID_ARG, "lobster: NULL argument");
    memset(out, 0, sizeof *out);
    ti_mmap mm = {0}, mb = {0};
    ti_err e = ti_mmap_open(&mm, message_csv);
    if (e != TI_OK) return open_error(e, "message", message_csv);
    e = ti_mmap_open(&mb, orderbook_csv);
    if (e != TI_OK) {
        ti_mmap_close(&mm);
        return open_error(e, "orderbook", orderbook_csv);
    }
    e = ti_lobster_parse(out, (const char *)mm.data, mm.size, message_csv, (const char *)mb.data, mb.size,
                         orderbook_csv);
    ti_mmap_close(&mm);
    ti_mmap_close(&mb);
    return e;
}

void ti_lobster_free(ti_lobster_day *d)
{
    if (!d) return;
    free(d->block_);
    memset(d, 0, sizeof *d);
}

int ti_lobster_has_level(const ti_lobster_day *d, size_t row, int level, ti_lobster_side side)
{
    if (!d || row >= d->n || level < 0 || level >= d->levels) return 0;
    size_t at = row * (size_t)d->levels + (size_t)level;
    if (side == TI_LOBSTER_BID) return d->bid_px[at] != TI_LOBSTER_EMPTY_BID;
    return d->ask_px[at] != TI_LOBSTER_EMPTY_ASK;
}

ti_err ti_lobster_trades_extract(ti_lobster_trades *out, const ti_lobster_day *d)
{
    if (!out || !d) return ti_errorf(TI_ERR_INVALID_ARG, "lobster: trades: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = 0;
    for (size_t k = 0; k < d->n; k++) n += d->type[k] == TI_LOBSTER_EXEC_VISIBLE || d->type[k] == TI_LOBSTER_EXEC_HIDDEN;
    size_t o1 = align64(8 * n), o2 = o1 + align64(8 * n), o3 = o2 + align64(4 * n), o4 = o3 + align64(n);
    char *b = malloc(o4 + align64(n) + 1);
    if (!b) return ti_errorf(TI_ERR_NOMEM, "lobster: cannot allocate %zu trades", n);
    ti_lobster_trades t = {n, (double *)(void *)b, (double *)(void *)(b + o1), (int32_t *)(void *)(b + o2),
                           (int8_t *)(b + o3), (int8_t *)(b + o4), b};
    size_t j = 0;
    for (size_t k = 0; k < d->n; k++) {
        if (d->type[k] != TI_LOBSTER_EXEC_VISIBLE && d->type[k] != TI_LOBSTER_EXEC_HIDDEN) continue;
        t.time[j] = d->time[k];
        t.price[j] = (double)d->price[k] / TI_LOBSTER_PRICE_SCALE;
        t.size[j] = d->size[k];
        t.direction[j] = d->direction[k];
        t.type[j] = d->type[k];
        j++;
    }
    *out = t;
    return TI_OK;
}

void ti_lobster_trades_free(ti_lobster_trades *t)
{
    if (!t) return;
    free(t->block_);
    memset(t, 0, sizeof *t);
}

ti_err ti_lobster_l1_per_second(ti_lobster_l1 *out, const ti_lobster_day *d, int64_t t0, int64_t t1)
{
    if (!out || !d) return ti_errorf(TI_ERR_INVALID_ARG, "lobster: l1 grid: NULL argument");
    memset(out, 0, sizeof *out);
    if (t0 < 0 || t1 <= t0 || t1 - t0 > (int64_t)MAX_TIME)
        return ti_errorf(TI_ERR_INVALID_ARG, "lobster: l1 grid [%lld, %lld) must satisfy 0 <= t0 < t1, t1 - t0 <= %.0f",
                         (long long)t0, (long long)t1, MAX_TIME);
    size_t n = (size_t)(t1 - t0);
    char *b = malloc(4 * align64(8 * n));
    if (!b) return ti_errorf(TI_ERR_NOMEM, "lobster: cannot allocate a %zu-second l1 grid", n);
    size_t o = align64(8 * n);
    ti_lobster_l1 g = {n, t0, (double *)(void *)b, (double *)(void *)(b + o), (int64_t *)(void *)(b + 2 * o),
                       (int64_t *)(void *)(b + 3 * o), b};
    size_t k = 0; /* messages [0, k) happened before the end of the current second */
    for (size_t j = 0; j < n; j++) {
        double end = (double)(t0 + (int64_t)j + 1);
        while (k < d->n && d->time[k] < end) k++;
        g.bid_px[j] = g.ask_px[j] = NAN;
        g.bid_sz[j] = g.ask_sz[j] = 0;
        if (k == 0) continue;
        size_t at = (k - 1) * (size_t)d->levels; /* level 0 of the last row */
        if (d->bid_px[at] != TI_LOBSTER_EMPTY_BID) {
            g.bid_px[j] = (double)d->bid_px[at] / TI_LOBSTER_PRICE_SCALE;
            g.bid_sz[j] = d->bid_sz[at];
        }
        if (d->ask_px[at] != TI_LOBSTER_EMPTY_ASK) {
            g.ask_px[j] = (double)d->ask_px[at] / TI_LOBSTER_PRICE_SCALE;
            g.ask_sz[j] = d->ask_sz[at];
        }
    }
    *out = g;
    return TI_OK;
}

void ti_lobster_l1_free(ti_lobster_l1 *g)
{
    if (!g) return;
    free(g->block_);
    memset(g, 0, sizeof *g);
}
