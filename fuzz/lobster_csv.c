/* Fuzz driver for the LOBSTER CSV reader.  The input is split into a message text and an
 * orderbook text at the first NUL byte (corpus files are "message\0orderbook"), or in
 * two halves when there is none.  A successful parse also runs the downstream helpers,
 * whose invariants are checked here (a violation aborts, which the fuzzer reports). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/lobster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = size ? memchr(text, '\0', size) : NULL;
    size_t msg_len = nul ? (size_t)(nul - text) : size / 2;
    size_t book_off = nul ? msg_len + 1 : msg_len;
    ti_lobster_day d;
    if (ti_lobster_parse(&d, text, msg_len, "fuzz_message", text + book_off, size - book_off, "fuzz_orderbook") != TI_OK)
        return 0;
    if (d.n == 0 || d.levels < 1 || d.levels > TI_LOBSTER_MAX_LEVELS) abort();
    size_t n_exec = 0;
    for (size_t k = 0; k < d.n; k++) {
        if (k > 0 && d.time[k] < d.time[k - 1]) abort();
        if (d.direction[k] != 1 && d.direction[k] != -1) abort();
        n_exec += d.type[k] == TI_LOBSTER_EXEC_VISIBLE || d.type[k] == TI_LOBSTER_EXEC_HIDDEN;
        for (int i = 0; i < d.levels; i++) (void)ti_lobster_has_level(&d, k, i, TI_LOBSTER_BID);
    }
    ti_lobster_trades t;
    if (ti_lobster_trades_extract(&t, &d) == TI_OK) {
        if (t.n != n_exec) abort();
        ti_lobster_trades_free(&t);
    }
    ti_lobster_l1 g;
    int64_t t0 = (int64_t)floor(d.time[0]);
    if (ti_lobster_l1_per_second(&g, &d, t0, t0 + 5) == TI_OK) {
        if (g.n != 5) abort();
        ti_lobster_l1_free(&g);
    }
    ti_lobster_free(&d);
    return 0;
}
