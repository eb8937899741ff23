/* The multi-symbol tick endpoint: POST /v1/ticks[?model=m] appends one second of features
 * to each of many symbols' streams in one request, so that a feed handler ticking
 * thousands of symbols pays one HTTP round trip per second, not one per symbol.
 *   body:   {"symbols": ["AAPL", "MSFT", ...], "features": [[F raw features], ...],
 *            "normalized": false}            one feature row per symbol, in order
 *   answer: {"model": m, "forecasts": [{"symbol", "t", "y_log", "rv", "positions"}, ...],
 *            "errors": k}                   forecasts in the order of "symbols"
 * The body is checked whole before any stream moves (400 on any fault).  A symbol whose
 * push fails afterwards (the stream table is full, say) gets {"symbol", "error"} in its
 * place and counts in "errors"; the others are applied (status 200).  A symbol may appear
 * more than once: its rows are pushed in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"
#include "tickinfer/clock.h"

/* Printable ASCII without space or '/', 1..63 bytes: the same names work in
 * /v1/streams/{symbol}/ticks. */
static int symbol_ok(const char *s, size_t n)
{
    if (n < 1 || n >= SV_SS_SYMBOL_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '/') return 0;
    return 1;
}

static ti_err parse_symbols(sv_jr *jr, sv_request *r, int *n)
{
    int more;
    ti_err e = sv_jr_arr_begin(jr);
    *n = 0;
    while (!e && !(e = sv_jr_arr_next(jr, &more)) && more) {
        if (*n >= SV_SS_MAX_TICKS) return ti_errorf(TI_ERR_LIMIT, "more than %d symbols", SV_SS_MAX_TICKS);
        size_t len = 0;
        char *sym = r->symbols[*n];
        if ((e = sv_jr_string(jr, sym, SV_SS_SYMBOL_MAX, &len))) break;
        if (!symbol_ok(sym, len))
            return ti_errorf(TI_ERR_FORMAT, "symbol %d must be 1-%d printable characters without spaces or '/'",
                             *n, SV_SS_SYMBOL_MAX - 1);
        (*n)++;
    }
    return e;
}

ti_err sv_ticks_parse_body(sv_request *r, int F, int *n, int *normalised)
{
    sv_jr jr;
    sv_jr_init(&jr, r->body.data, r->body.len);
    size_t cap = (size_t)SV_SS_MAX_TICKS * (size_t)F;
    ti_err e = sv_request_reserve(r, cap, 0);
    if (!e && !r->symbols) {
        r->symbols = calloc(SV_SS_MAX_TICKS, sizeof *r->symbols);
        if (!r->symbols) e = ti_errorf(TI_ERR_NOMEM, "ticks: out of memory");
    }
    char key[32];
    int more, n_sym = -1, rows = -1;
    *normalised = 0;
    if (!e) e = sv_jr_obj_begin(&jr);
    while (!e && !(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "symbols") == 0) {
            e = parse_symbols(&jr, r, &n_sym);
        } else if (strcmp(key, "features") == 0) {
            int64_t shape[2];
            int nd;
            size_t cnt;
            if ((e = sv_jr_tensor(&jr, r->x, cap, 2, shape, &nd, &cnt))) break;
            if (nd != 2 || shape[1] != F)
                return ti_errorf(TI_ERR_FORMAT, "ticks: \"features\" must be rows of %d values, one per symbol", F);
            rows = (int)shape[0];
        } else if (strcmp(key, "normalized") == 0) {
            e = sv_jr_bool(&jr, normalised);
        } else {
            return ti_errorf(TI_ERR_FORMAT, "ticks: unknown key '%s' (symbols, features, normalized)", key);
        }
    }
    if (!e) e = sv_jr_finish(&jr);
    if (e) return ti_error_wrap(e, "ticks");
    if (n_sym < 1 || rows < 0) return ti_errorf(TI_ERR_FORMAT, "ticks: body needs \"symbols\" (non-empty) and \"features\"");
    if (rows != n_sym) return ti_errorf(TI_ERR_FORMAT, "ticks: %d symbols but %d feature rows", n_sym, rows);
    *n = n_sym;
    return TI_OK;
}

static ti_err write_forecast(sv_sbuf *o, const char *sym, const ti_forecast *fc, int64_t len)
{
    ti_err e = sv_sbuf_puts(o, "{\"symbol\":");
    if (!e) e = sv_sbuf_json_str(o, sym);
    if (!e) e = sv_write_forecast_fields(o, fc);
    if (!e) e = sv_sbuf_printf(o, ",\"positions\":%lld}", (long long)len);
    return e;
}

sv_hres sv_handle_ticks(sv_request *r, sv_model_entry *m)
{
    if (!m->streams)
        return sv_reply_error(r, 400, "model '%s' is not a causal model: streams need rv_causal", m->name);
    if (r->body.len == 0) return sv_reply_error(r, 400, "empty request body");
    int F = sv_serve_streams_features(m->streams), n = 0, normalised = 0, failed = 0;
    ti_err e = sv_ticks_parse_body(r, F, &n, &normalised);
    if (e) return sv_reply_error(r, e == TI_ERR_NOMEM ? 500 : 400, "%s", ti_errmsg());
    sv_sbuf *o = &r->out;
    e = sv_sbuf_puts(o, "{\"model\":");
    if (!e) e = sv_sbuf_json_str(o, m->name);
    if (!e) e = sv_sbuf_puts(o, ",\"forecasts\":[");
    sv_tick_kind kind = normalised ? SV_TICK_NORMALIZED : SV_TICK_FEATURES;
    for (int i = 0; i < n && !e; i++) {
        ti_forecast fc = {.t = -1};
        int decoded = 0;
        int64_t len = 0;
        uint64_t t0 = ti_now_ns();
        ti_err pe = sv_serve_streams_push(m->streams, r->symbols[i], kind, r->x + (size_t)i * (size_t)F, NULL, 1, &fc,
                                          &decoded, &len);
        if (i) e = sv_sbuf_puts(o, ",");
        if (!pe) {
            sv_metrics_stream(&r->srv->met, m->name, ti_now_ns() - t0);
            if (!e) e = write_forecast(o, r->symbols[i], &fc, len);
        } else {
            failed++;
            if (!e) e = sv_sbuf_puts(o, "{\"symbol\":");
            if (!e) e = sv_sbuf_json_str(o, r->symbols[i]);
            if (!e) e = sv_sbuf_puts(o, ",\"error\":");
            if (!e) e = sv_sbuf_json_str(o, ti_errmsg());
            if (!e) e = sv_sbuf_puts(o, "}");
        }
    }
    if (!e) e = sv_sbuf_printf(o, "],\"errors\":%d}", failed);
    return e ? sv_reply_error(r, 500, "response: %s", ti_errmsg()) : sv_reply(r, 200, "application/json");
}
