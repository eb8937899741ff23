/* Fuzz driver for the two tick-body parsers of `tickinfer serve`: POST /v1/streams/{s}/ticks
 * (feature rows or raw trades, src/serve/proto_stream.c) and POST /v1/ticks (one row per
 * symbol, src/serve/proto_ticks.c), on the same bytes, with F = 4.  On success the counts
 * must be in range, rows finite, trades well-formed and symbols valid names; a failure
 * must leave a message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"
#include "tickinfer/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rows(const sv_request *r, int n, int F)
{
    for (size_t i = 0; i < (size_t)n * (size_t)F; i++)
        if (!isfinite(r->x[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { F = 4 };
    if (size >= (1u << 20)) return 0; /* the server caps bodies long before this */
    sv_request r;
    memset(&r, 0, sizeof r);
    sv_sbuf_init(&r.body, 1 << 20);
    if (sv_sbuf_puts(&r.body, "") || (size && sv_sbuf_append(&r.body, data, size))) abort();
    sv_tick_kind kind;
    int n = -1;
    ti_err e = sv_stream_parse_body(&r, F, &kind, &n);
    if (e == TI_OK) {
        if (n < 1 || n > SV_SS_MAX_TICKS) abort();
        if (kind == SV_TICK_TRADES) {
            for (int i = 0; i < n; i++)
                if (r.trades[i].t < 0 || !(r.trades[i].price > 0) || !(r.trades[i].size >= 0)) abort();
        } else {
            check_rows(&r, n, F);
        }
    } else if (!ti_errmsg()[0]) {
        abort();
    }
    int norm = -1;
    n = -1;
    e = sv_ticks_parse_body(&r, F, &n, &norm);
    if (e == TI_OK) {
        if (n < 1 || n > SV_SS_MAX_TICKS || (norm != 0 && norm != 1)) abort();
        check_rows(&r, n, F);
        for (int i = 0; i < n; i++) {
            size_t len = strnlen(r.symbols[i], SV_SS_SYMBOL_MAX);
            if (len < 1 || len >= SV_SS_SYMBOL_MAX || strchr(r.symbols[i], '/') || strchr(r.symbols[i], ' ')) abort();
        }
    } else if (!ti_errmsg()[0]) {
        abort();
    }
    sv_sbuf_free(&r.body);
    ti_free_aligned(r.x);
    ti_free_aligned(r.y);
    free(r.trades);
    free(r.symbols);
    return 0;
}
