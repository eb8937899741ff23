/* The tick endpoint: POST /v1/streams/{symbol}/ticks feeds one or many ticks to the
 * symbol's stream (opened on first use) and answers the newest forecast; DELETE
 * /v1/streams/{symbol} closes it.  Body (one of):
 *   {"features": [[F raw features], ...]}          one row per second, as the offline
 *                                                  pipeline builds them ("normalized": true
 *                                                  if already standardised)
 *   {"trades": [{"t": 12, "price": 101.5, "size": 300, "orders": 2}, ...]}
 *                                                  raw trades, t = seconds since the
 *                                                  stream's start, in time order
 * Answer: {"symbol", "model", "t", "y_log", "rv", "decoded", "positions"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"
#include "tickinfer/clock.h"

static ti_err parse_trade(sv_jr *jr, sv_trade_tick *t)
{
    char key[16];
    int more, have = 0;
    double v;
    ti_err e = sv_jr_obj_begin(jr);
    memset(t, 0, sizeof *t);
    while (!e && !(e = sv_jr_obj_next(jr, key, sizeof key, &more)) && more) {
        if ((e = sv_jr_number(jr, &v))) break;
        if (strcmp(key, "t") == 0 && v >= 0 && v < 9e15 && v == (double)(int64_t)v) t->t = (int64_t)v, have |= 1;
        else if (strcmp(key, "price") == 0 && v > 0 && v < 3e38) t->price = (float)v, have |= 2;
        else if (strcmp(key, "size") == 0 && v >= 0 && v < 3e38) t->size = (float)v, have |= 4;
        else if (strcmp(key, "orders") == 0 && v >= 0 && v <= 4e9 && v == (double)(uint32_t)v) t->orders = (uint32_t)v;
        else return ti_errorf(TI_ERR_FORMAT, "stream: trade key '%s' unknown or value %g out of range", key, v);
    }
    if (!e && (have & 7) != 7) e = ti_errorf(TI_ERR_FORMAT, "stream: a trade needs \"t\", \"price\" and \"size\"");
    return e;
}

ti_err sv_stream_parse_body(sv_request *r, int F, sv_tick_kind *kind, int *n)
{
    sv_jr jr;
    sv_jr_init(&jr, r->body.data, r->body.len);
    char key[32];
    int more, normalised = 0, have_f = 0, have_t = 0;
    size_t cap = (size_t)SV_SS_MAX_TICKS * (size_t)F;
    ti_err e = sv_request_reserve(r, cap, 0);
    if (!e && !r->trades) {
        r->trades = calloc(SV_SS_MAX_TICKS, sizeof *r->trades);
        r->trades_cap = r->trades ? SV_SS_MAX_TICKS : 0;
        if (!r->trades) e = ti_errorf(TI_ERR_NOMEM, "stream: out of memory");
    }
    if (!e) e = sv_jr_obj_begin(&jr);
    while (!e && !(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "features") == 0) {
            int64_t shape[2];
            int nd;
            size_t cnt;
            if ((e = sv_jr_tensor(&jr, r->x, cap, 2, shape, &nd, &cnt))) break;
            if (nd < 1 || shape[nd - 1] != F)
                return ti_errorf(TI_ERR_FORMAT, "stream: feature rows must have %d values, got %lld", F,
                                 (long long)(nd >= 1 ? shape[nd - 1] : 0));
            *n = (int)(cnt / (size_t)F);
            have_f = 1;
        } else if (strcmp(key, "trades") == 0) {
            int m;
            if ((e = sv_jr_arr_begin(&jr))) break;
            *n = 0;
            while (!(e = sv_jr_arr_next(&jr, &m)) && m) {
                if (*n >= SV_SS_MAX_TICKS) return ti_errorf(TI_ERR_LIMIT, "stream: more than %d trades", SV_SS_MAX_TICKS);
                if ((e = parse_trade(&jr, &r->trades[*n]))) break;
                (*n)++;
            }
            have_t = 1;
        } else if (strcmp(key, "normalized") == 0) {
            e = sv_jr_bool(&jr, &normalised);
        } else {
            return ti_errorf(TI_ERR_FORMAT, "stream: unknown key '%s' (features, trades, normalized)", key);
        }
    }
    if (!e) e = sv_jr_finish(&jr);
    if (e) return ti_error_wrap(e, "stream");
    if (have_f == have_t) return ti_errorf(TI_ERR_FORMAT, "stream: body needs exactly one of \"features\" or \"trades\"");
    if (*n < 1) return ti_errorf(TI_ERR_FORMAT, "stream: no ticks in the body");
    *kind = have_t ? SV_TICK_TRADES : normalised ? SV_TICK_NORMALIZED : SV_TICK_FEATURES;
    return TI_OK;
}

ti_err sv_write_forecast_fields(sv_sbuf *o, const ti_forecast *fc)
{
    char a[24], b[24];
    a[sv_format_float(a, fc->y_log)] = '\0';
    b[sv_format_float(b, fc->rv)] = '\0';
    return sv_sbuf_printf(o, ",\"t\":%lld,\"y_log\":%s,\"rv\":%s", (long long)fc->t, a, b);
}

static sv_hres not_causal(sv_request *r, const sv_model_entry *m)
{
    return sv_reply_error(r, 400, "model '%s' is not a causal model: streams need rv_causal", m->name);
}

sv_hres sv_handle_stream_close(sv_request *r, sv_model_entry *m)
{
    if (!m->streams) return not_causal(r, m);
    ti_err e = sv_serve_streams_close(m->streams, r->symbol);
    if (e) return sv_reply_error(r, 404, "%s", ti_errmsg());
    e = sv_sbuf_puts(&r->out, "{\"symbol\":");
    if (!e) e = sv_sbuf_json_str(&r->out, r->symbol);
    if (!e) e = sv_sbuf_puts(&r->out, ",\"closed\":true}");
    return e ? sv_reply_error(r, 500, "response: %s", ti_errmsg()) : sv_reply(r, 200, "application/json");
}

sv_hres sv_handle_stream_push(sv_request *r, sv_model_entry *m)
{
    if (!m->streams) return not_causal(r, m);
    ti_err e;
    if (r->body.len == 0) return sv_reply_error(r, 400, "empty request body");
    sv_tick_kind kind = SV_TICK_FEATURES;
    int n = 0, decoded = 0;
    if ((e = sv_stream_parse_body(r, sv_serve_streams_features(m->streams), &kind, &n)))
        return sv_reply_error(r, 400, "%s", ti_errmsg());
    ti_forecast fc = {.t = -1};
    int64_t len = 0;
    uint64_t t0 = ti_now_ns();
    e = sv_serve_streams_push(m->streams, r->symbol, kind, r->x, r->trades, n, &fc, &decoded, &len);
    if (!e) sv_metrics_stream(&r->srv->met, m->name, ti_now_ns() - t0);
    if (e) {
        int st = e == TI_ERR_NOMEM ? 500 : e == TI_ERR_LIMIT ? 503 : 400;
        return sv_reply_error(r, st, "%s", ti_errmsg());
    }
    sv_sbuf *o = &r->out;
    e = sv_sbuf_puts(o, "{\"symbol\":");
    if (!e) e = sv_sbuf_json_str(o, r->symbol);
    if (!e) e = sv_sbuf_puts(o, ",\"model\":");
    if (!e) e = sv_sbuf_json_str(o, m->name);
    if (!e && decoded == 0 && fc.t < 0) {
        e = sv_sbuf_printf(o, ",\"t\":null,\"y_log\":null,\"rv\":null");
    } else if (!e) {
        e = sv_write_forecast_fields(o, &fc);
    }
    if (!e) e = sv_sbuf_printf(o, ",\"decoded\":%d,\"positions\":%lld}", decoded, (long long)len);
    return e ? sv_reply_error(r, 500, "response: %s", ti_errmsg()) : sv_reply(r, 200, "application/json");
}
