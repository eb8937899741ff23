/* LOBSTER reader: the hand-made fixtures in tests/data/lobster/, malformed inputs (each
 * must give an error naming file and line), exact time parsing, and the bundled real
 * slice data/lobster/ when present. */
#include <stdint.h>
#include <time.h>

#include "data/csv_scan.h"
#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/lobster.h"

#define FIX(name) TI_TEST_DATA("lobster/" name)
#define DAY_MSG FIX("day_message_2.csv")
#define DAY_BOOK FIX("day_orderbook_2.csv")

static const char *k_book1 = "1000100,5,1000000,10\n";

/* Parse one message line against a one-level book line; returns the error code. */
static ti_err parse_msg(const char *msg)
{
    ti_lobster_day d;
    ti_err e = ti_lobster_parse(&d, msg, strlen(msg), "m.csv", k_book1, strlen(k_book1), "b.csv");
    ti_lobster_free(&d);
    return e;
}

static ti_err parse_pair(const char *msg, const char *book)
{
    ti_lobster_day d;
    ti_err e = ti_lobster_parse(&d, msg, strlen(msg), "m.csv", book, strlen(book), "b.csv");
    ti_lobster_free(&d);
    return e;
}

static void check_day_fixture(const ti_lobster_day *d)
{
    TI_CHECK(d->n == 8);
    TI_CHECK(d->levels == 2);
    if (d->n != 8 || d->levels != 2) return;
    TI_CHECK(d->time[0] == strtod("34200.004241176", NULL));
    TI_CHECK(d->time[3] == 34201.5);
    TI_CHECK(d->time[5] == strtod("34203.000000001", NULL));
    TI_CHECK(d->time[7] == 34205.0);
    const int8_t types[8] = {1, 1, 3, 4, 5, 7, 7, 2};
    for (int k = 0; k < 8; k++) TI_CHECK_MSG(d->type[k] == types[k], "row %d type %d", k, d->type[k]);
    TI_CHECK(d->order_id[0] == 16113575 && d->order_id[4] == 0);
    TI_CHECK(d->size[1] == 100 && d->size[3] == 10 && d->size[7] == 4);
    TI_CHECK(d->price[0] == 2238100 && d->price[5] == -1 && d->price[6] == 1);
    TI_CHECK(d->direction[0] == 1 && d->direction[1] == -1);
    /* row 1: ask1 223.90 x100, ask2 223.94 x200, bid1 223.81 x18, bid2 empty */
    TI_CHECK(d->ask_px[1 * 2 + 0] == 2239000 && d->ask_sz[1 * 2 + 0] == 100);
    TI_CHECK(d->ask_px[1 * 2 + 1] == 2239400 && d->ask_sz[1 * 2 + 1] == 200);
    TI_CHECK(d->bid_px[1 * 2 + 0] == 2238100 && d->bid_sz[1 * 2 + 0] == 18);
    TI_CHECK(d->bid_px[1 * 2 + 1] == TI_LOBSTER_EMPTY_BID && d->bid_sz[1 * 2 + 1] == 0);
    TI_CHECK(d->bid_sz[7 * 2 + 0] == 4);
}

TI_TEST(reads_fixture_pair)
{
    ti_lobster_day d;
    TI_CHECK_OK(ti_lobster_read(&d, DAY_MSG, DAY_BOOK));
    check_day_fixture(&d);
    ti_lobster_free(&d);
    ti_lobster_free(&d); /* idempotent */
}

/* CRLF line ends, no final newline, extra trailing blank lines: same result. */
TI_TEST(line_end_variants)
{
    char *msg, *book;
    size_t ml, bl;
    TI_CHECK_OK(ti_read_file(DAY_MSG, 0, &msg, &ml));
    TI_CHECK_OK(ti_read_file(DAY_BOOK, 0, &book, &bl));
    if (!msg || !book) return;
    char *crlf_m = malloc(2 * ml + 8), *crlf_b = malloc(2 * bl + 8);
    size_t cm = 0, cb = 0;
    for (size_t i = 0; i < ml; i++) {
        if (msg[i] == '\n') crlf_m[cm++] = '\r';
        crlf_m[cm++] = msg[i];
    }
    for (size_t i = 0; i < bl; i++) {
        if (book[i] == '\n') crlf_b[cb++] = '\r';
        crlf_b[cb++] = book[i];
    }
    memcpy(crlf_b + cb, "\r\n\n", 3);
    ti_lobster_day d;
    TI_CHECK_OK(ti_lobster_parse(&d, crlf_m, cm, "m", crlf_b, cb + 3, "b"));
    check_day_fixture(&d);
    ti_lobster_free(&d);
    /* drop the final newline of the message text */
    TI_CHECK_OK(ti_lobster_parse(&d, msg, ml - 1, "m", book, bl, "b"));
    check_day_fixture(&d);
    ti_lobster_free(&d);
    free(crlf_m);
    free(crlf_b);
    free(msg);
    free(book);
}

TI_TEST(has_level)
{
    ti_lobster_day d;
    TI_CHECK_OK(ti_lobster_read(&d, DAY_MSG, DAY_BOOK));
    TI_CHECK(ti_lobster_has_level(&d, 0, 0, TI_LOBSTER_ASK) == 1);
    TI_CHECK(ti_lobster_has_level(&d, 0, 1, TI_LOBSTER_ASK) == 0);
    TI_CHECK(ti_lobster_has_level(&d, 1, 1, TI_LOBSTER_ASK) == 1);
    TI_CHECK(ti_lobster_has_level(&d, 1, 0, TI_LOBSTER_BID) == 1);
    TI_CHECK(ti_lobster_has_level(&d, 1, 1, TI_LOBSTER_BID) == 0);
    TI_CHECK(ti_lobster_has_level(&d, 8, 0, TI_LOBSTER_BID) == 0);
    TI_CHECK(ti_lobster_has_level(&d, 0, 2, TI_LOBSTER_BID) == 0);
    TI_CHECK(ti_lobster_has_level(&d, 0, -1, TI_LOBSTER_BID) == 0);
    ti_lobster_free(&d);
}

TI_TEST(extracts_trades)
{
    ti_lobster_day d;
    ti_lobster_trades t;
    TI_CHECK_OK(ti_lobster_read(&d, DAY_MSG, DAY_BOOK));
    TI_CHECK_OK(ti_lobster_trades_extract(&t, &d));
    TI_CHECK(t.n == 2);
    if (t.n == 2) {
        TI_CHECK(t.time[0] == 34201.5 && t.time[1] == 34201.75);
        TI_CHECK_NEAR(t.price[0], 223.81, 1e-12);
        TI_CHECK_NEAR(t.price[1], 223.85, 1e-12);
        TI_CHECK(t.size[0] == 10 && t.size[1] == 50);
        TI_CHECK(t.direction[0] == 1 && t.direction[1] == -1);
        TI_CHECK(t.type[0] == 4 && t.type[1] == 5);
    }
    ti_lobster_trades_free(&t);
    ti_lobster_free(&d);
}

TI_TEST(l1_grid_forward_fills)
{
    ti_lobster_day d;
    ti_lobster_l1 g;
    TI_CHECK_OK(ti_lobster_read(&d, DAY_MSG, DAY_BOOK));
    TI_CHECK_OK(ti_lobster_l1_per_second(&g, &d, 34199, 34207));
    TI_CHECK(g.n == 8 && g.t0 == 34199);
    if (g.n == 8) {
        /* 34199: no message yet */
        TI_CHECK(isnan(g.bid_px[0]) && isnan(g.ask_px[0]) && g.bid_sz[0] == 0 && g.ask_sz[0] == 0);
        /* 34200: state after row 3 (the sell order was deleted again) */
        TI_CHECK_NEAR(g.bid_px[1], 223.81, 1e-12);
        TI_CHECK_NEAR(g.ask_px[1], 223.94, 1e-12);
        TI_CHECK(g.bid_sz[1] == 18 && g.ask_sz[1] == 200);
        /* 34201: after the execution; 34202..34204 carried forward */
        for (int j = 2; j <= 5; j++) TI_CHECK_MSG(g.bid_sz[j] == 8, "second %d bid size %lld", j, (long long)g.bid_sz[j]);
        /* 34205: the partial cancel at exactly 34205.0 belongs to second 34205 */
        TI_CHECK(g.bid_sz[6] == 4 && g.bid_sz[7] == 4);
    }
    ti_lobster_l1_free(&g);
    TI_CHECK_ERR(ti_lobster_l1_per_second(&g, &d, 10, 10), TI_ERR_INVALID_ARG, "t0 < t1");
    ti_lobster_free(&d);
}

/* An empty best level shows as NAN / 0 in the grid. */
TI_TEST(l1_grid_empty_side)
{
    const char *msg = "100.5,1,1,10,1000000,1\n";
    const char *book = "9999999999,0,1000000,10\n";
    ti_lobster_day d;
    ti_lobster_l1 g;
    TI_CHECK_OK(ti_lobster_parse(&d, msg, strlen(msg), "m", book, strlen(book), "b"));
    TI_CHECK_OK(ti_lobster_l1_per_second(&g, &d, 100, 102));
    TI_CHECK(isnan(g.ask_px[0]) && g.ask_sz[0] == 0);
    TI_CHECK_NEAR(g.bid_px[1], 100.0, 1e-12);
    ti_lobster_l1_free(&g);
    ti_lobster_free(&d);
}

TI_TEST(bad_fixture_files)
{
    ti_lobster_day d;
    TI_CHECK_ERR(ti_lobster_read(&d, FIX("badfields_message_1.csv"), FIX("badfields_orderbook_1.csv")), TI_ERR_FORMAT,
                 "badfields_message_1.csv:2: expected 6 fields, got 5");
    TI_CHECK(d.n == 0 && d.time == NULL);
    TI_CHECK_ERR(ti_lobster_read(&d, FIX("rowcount_message_1.csv"), FIX("rowcount_orderbook_1.csv")), TI_ERR_FORMAT,
                 "has 3 rows but");
    TI_CHECK(strstr(ti_errmsg(), "rowcount_orderbook_1.csv has 2") != NULL);
    ti_err e = ti_lobster_read(&d, FIX("no_such_message_1.csv"), DAY_BOOK);
    TI_CHECK(e != TI_OK);
    TI_CHECK_MSG(strstr(ti_errmsg(), "no_such_message_1.csv") != NULL, "message: %s", ti_errmsg());
    e = ti_lobster_read(&d, DAY_MSG, FIX("no_such_orderbook_2.csv"));
    TI_CHECK(e != TI_OK);
    TI_CHECK_MSG(strstr(ti_errmsg(), "no_such_orderbook_2.csv") != NULL, "message: %s", ti_errmsg());
}

TI_TEST(rejects_bad_messages)
{
    TI_CHECK_OK(parse_msg("34200.1,1,1,10,1000000,1\n"));
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,1000000\n"), TI_ERR_FORMAT, "m.csv:1: expected 6 fields, got 5");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,1000000,1,9\n"), TI_ERR_FORMAT, "m.csv:1: expected 6 fields, got 7");
    TI_CHECK_ERR(parse_msg("34200.1\n"), TI_ERR_FORMAT, "expected 6 fields, got 1");
    TI_CHECK_ERR(parse_msg("34200.1,1,x1,10,1000000,1\n"), TI_ERR_FORMAT, "m.csv:1: field 3 (order id): not a number: 'x1'");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,,1000000,1\n"), TI_ERR_FORMAT, "field 4 (size)");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,1000000,1 \n"), TI_ERR_FORMAT, "field 6 (direction)");
    TI_CHECK_ERR(parse_msg("3420a.1,1,1,10,1000000,1\n"), TI_ERR_FORMAT, "field 1 (time)");
    TI_CHECK_ERR(parse_msg("34200.1.2,1,1,10,1000000,1\n"), TI_ERR_FORMAT, "field 1 (time)");
    TI_CHECK_ERR(parse_msg("1e5,1,1,10,1000000,1\n"), TI_ERR_FORMAT, "field 1 (time)");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,1234567890123456789,1\n"), TI_ERR_FORMAT, "number too long");
    TI_CHECK_ERR(parse_msg("34200.1,8,1,10,1000000,1\n"), TI_ERR_FORMAT, "m.csv:1: unknown message type 8");
    TI_CHECK_ERR(parse_msg("34200.1,0,1,10,1000000,1\n"), TI_ERR_FORMAT, "unknown message type 0");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,1000000,0\n"), TI_ERR_FORMAT, "direction 0 (want 1 or -1)");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,-10,1000000,1\n"), TI_ERR_FORMAT, "size -10 out of range");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,3000000000,1000000,1\n"), TI_ERR_FORMAT, "size 3000000000");
    TI_CHECK_ERR(parse_msg("34200.1,1,-1,10,1000000,1\n"), TI_ERR_FORMAT, "negative order id");
    TI_CHECK_ERR(parse_msg("34200.1,1,1,10,-5,1\n"), TI_ERR_FORMAT, "negative price -5");
    TI_CHECK_OK(parse_msg("34200.1,7,0,0,-1,-1\n")); /* halt flag in the price column */
    TI_CHECK_ERR(parse_msg("-1.5,1,1,10,1000000,1\n"), TI_ERR_FORMAT, "time -1.5");
    TI_CHECK_ERR(parse_msg("\n"), TI_ERR_FORMAT, "m.csv: empty file");
    TI_CHECK_ERR(parse_msg(""), TI_ERR_FORMAT, "m.csv: empty file");
    {
        static const char nul_msg[] = "34200.1,1,1,10,10\0000,1\n"; /* a NUL byte inside the price */
        ti_lobster_day d;
        TI_CHECK_ERR(ti_lobster_parse(&d, nul_msg, sizeof nul_msg - 1, "m.csv", k_book1, strlen(k_book1), "b.csv"),
                     TI_ERR_FORMAT, "field 5 (price): not a number: '10?0'");
    }
    /* two-line cases need a two-line book */
    const char *book2 = "1000100,5,1000000,10\n1000100,5,1000000,10\n";
    TI_CHECK_ERR(parse_pair("34200.2,1,1,10,1000000,1\n34200.1,1,2,10,1000000,1\n", book2), TI_ERR_FORMAT,
                 "m.csv:2: time goes backwards");
    TI_CHECK_OK(parse_pair("34200.1,1,1,10,1000000,1\n34200.1,1,2,10,1000000,1\n", book2)); /* ties are fine */
    TI_CHECK_ERR(parse_pair("34200.1,1,1,10,1000000,1\n\n34200.2,1,2,10,1000000,1\n",
                            "1000100,5,1000000,10\n1000100,5,1000000,10\n1000100,5,1000000,10\n"),
                 TI_ERR_FORMAT, "m.csv:2: blank line");
    TI_CHECK_ERR(parse_pair("34200.1,1,1,10,1000000,1\n", book2), TI_ERR_FORMAT, "m.csv has 1 rows but b.csv has 2");
}

TI_TEST(rejects_bad_books)
{
    const char *m1 = "34200.1,1,1,10,1000000,1\n";
    const char *m2 = "34200.1,1,1,10,1000000,1\n34200.2,1,2,10,1000000,1\n";
    TI_CHECK_ERR(parse_pair(m1, "1000100,5,1000000\n"), TI_ERR_FORMAT, "b.csv:1: expected 4*L fields with L in 1..10 levels, got 3");
    TI_CHECK_ERR(parse_pair(m1, "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n"),
                 TI_ERR_FORMAT, "got 44");
    TI_CHECK_ERR(parse_pair(m2, "1000100,5,1000000,10\n1000100,5,1000000,10,1,1,1,1\n"), TI_ERR_FORMAT,
                 "b.csv:2: expected 4 fields, got 8");
    TI_CHECK_ERR(parse_pair(m1, "1000100,-5,1000000,10\n"), TI_ERR_FORMAT, "b.csv:1: level 1 ask size -5 is negative");
    TI_CHECK_ERR(parse_pair(m1, "1000100,5,0,10\n"), TI_ERR_FORMAT, "level 1 bid price 0 is neither positive");
    TI_CHECK_ERR(parse_pair(m1, "9999999999,3,1000000,10\n"), TI_ERR_FORMAT, "level 1 ask is empty");
    TI_CHECK_ERR(parse_pair(m1, "-9999999999,0,1000000,10\n"), TI_ERR_FORMAT, "level 1 ask price -9999999999");
    TI_CHECK_ERR(parse_pair(m1, "1000100,5,1000000,10,1000200,5,abc,1\n"), TI_ERR_FORMAT, "field 7 (bid price)");
    TI_CHECK_ERR(parse_pair(m1, ""), TI_ERR_FORMAT, "b.csv: empty file");
}

/* The fast decimal path must give exactly strtod's double. */
TI_TEST(decimal_parse_is_exact)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    char buf[64];
    for (int it = 0; it < 20000; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int ip = (int)((s >> 33) % 100000), nf = (int)((s >> 20) % 12);
        int len = snprintf(buf, sizeof buf, "%d", ip);
        if (nf > 0) buf[len++] = '.';
        for (int i = 0; i < nf; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[len++] = (char)('0' + (s >> 40) % 10);
        }
        buf[len] = '\0';
        const char *p = buf;
        double v = -1;
        TI_CHECK(ti_csv_decimal(&p, buf + len, &v) == TI_CSV_OK);
        if (v != strtod(buf, NULL)) {
            TI_FAILF("'%s' -> %.17g, strtod %.17g", buf, v, strtod(buf, NULL));
            return;
        }
    }
    /* long mantissas take the strtod path */
    const char *lng = "34200.00424117612345678901";
    const char *p = lng;
    double v;
    TI_CHECK(ti_csv_decimal(&p, lng + strlen(lng), &v) == TI_CSV_OK && v == strtod(lng, NULL));
    int64_t i64;
    const char *q = "-9999999999,";
    TI_CHECK(ti_csv_i64(&q, q + strlen(q), &i64) == TI_CSV_OK && i64 == TI_LOBSTER_EMPTY_BID && *q == ',');
}

/* The bundled AMZN slice (first 20k events of the day). */
TI_TEST(real_amzn_slice)
{
    const char *m = "data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv";
    const char *b = "data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv";
    FILE *f = fopen(m, "rb");
    TI_CHECK_MSG(f != NULL, "bundled %s missing", m);
    if (!f) return;
    fclose(f);
    ti_lobster_day d;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    TI_CHECK_OK(ti_lobster_read(&d, m, b));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    fprintf(stderr, "  real_amzn_slice: %zu rows in %.2f ms\n", d.n, ms);
    TI_CHECK(d.n >= 1000 && d.levels == 1);
    if (d.n < 1000) {
        ti_lobster_free(&d);
        return;
    }
        TI_CHECK(d.time[0] >= 34200.0 && d.time[d.n - 1] < 57600.0);
    size_t n_exec = 0, crossed = 0;
    for (size_t k = 0; k < d.n; k++) {
        n_exec += d.type[k] == 4 || d.type[k] == 5;
        if (ti_lobster_has_level(&d, k, 0, TI_LOBSTER_ASK) && ti_lobster_has_level(&d, k, 0, TI_LOBSTER_BID))
            crossed += d.ask_px[k] <= d.bid_px[k];
    }
    TI_CHECK(n_exec > 100);
    TI_CHECK(crossed == 0); /* a reconstructed book is never crossed */
    ti_lobster_trades t;
    TI_CHECK_OK(ti_lobster_trades_extract(&t, &d));
    TI_CHECK(t.n == n_exec);
    for (size_t j = 0; j < t.n; j++)
        if (!(t.price[j] > 150.0 && t.price[j] < 300.0)) {
            TI_FAILF("trade %zu price %.4f outside the plausible AMZN range", j, t.price[j]);
            break;
        }
    ti_lobster_trades_free(&t);
    ti_lobster_l1 g;
    TI_CHECK_OK(ti_lobster_l1_per_second(&g, &d, 34200, 34260));
    TI_CHECK(g.n == 60 && g.bid_px[59] > 150.0 && g.ask_px[59] > g.bid_px[59]);
    ti_lobster_l1_free(&g);
    ti_lobster_free(&d);
}

int main(void)
{
    TI_RUN(reads_fixture_pair);
    TI_RUN(line_end_variants);
    TI_RUN(has_level);
    TI_RUN(extracts_trades);
    TI_RUN(l1_grid_forward_fills);
    TI_RUN(l1_grid_empty_side);
    TI_RUN(bad_fixture_files);
    TI_RUN(rejects_bad_messages);
    TI_RUN(rejects_bad_books);
    TI_RUN(decimal_parse_is_exact);
    TI_RUN(real_amzn_slice);
    return ti_test_summary();
}
