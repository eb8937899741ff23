/* The stream target against the real server in-process: each client ticks its own symbols
 * S<client>_<k>, every tick lands (stream count and positions read back from the server),
 * batch = ticks per request, and the config and non-causal-model errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lg_fixture.h"
#include "tickinfer/loadgen.h"
#include "tickinfer/serve.h"

static ti_server *g_srv;
static int g_port;

static void base(ti_lg_config *c, const char *model)
{
    ti_lg_config_default(c);
    c->port = g_port;
    snprintf(c->model, sizeof c->model, "%s", model);
    c->target = TI_LG_STREAM;
    c->F = 12;
    c->requests = 50, c->warmup = 0, c->min_s = 0, c->max_s = 30;
}

/* tickinfer_streams_open{model="<model>"} from GET /metrics, or -1. */
static int streams_open(ti_http_client *cl, const char *model)
{
    ti_http_response r;
    if (ti_http_client_request(cl, &r, "GET", "/metrics", NULL, NULL, 0) || r.status != 200) return -1;
    char key[128];
    snprintf(key, sizeof key, "tickinfer_streams_open{model=\"%s\"} ", model);
    const char *p = strstr(r.body, key);
    return p ? atoi(p + strlen(key)) : -1;
}

/* Sends one more tick to symbol's stream and returns its "positions" (ticks so far, this
 * one included), or -1. */
static long long probe_positions(ti_http_client *cl, const char *model, const char *symbol)
{
    char path[160], body[128] = "{\"features\": [[0.1";
    for (int f = 1; f < 12; f++) strcat(body, ",0.1");
    strcat(body, "]]}");
    snprintf(path, sizeof path, "/v1/streams/%s/ticks?model=%s", symbol, model);
    ti_http_response r;
    if (ti_http_client_request(cl, &r, "POST", path, "Content-Type: application/json\r\n", body, strlen(body)) ||
        r.status != 200)
        return -1;
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    json_t *pos = json_object_get(j, "positions");
    long long n = json_is_integer(pos) ? (long long)json_integer_value(pos) : -1;
    json_decref(j);
    return n;
}

TI_TEST(serial_point_cycles_symbols)
{
    ti_lg_config c;
    base(&c, "rv");
    c.mode = TI_LG_SERIAL;
    c.symbols = 2;
    ti_lg_point p;
    TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
    TI_CHECK_MSG(p.n_ok == 50 && p.n_err == 0, "ok %llu err %llu", (unsigned long long)p.n_ok,
                 (unsigned long long)p.n_err);
    TI_CHECK(p.hist.total == 50 && p.target == TI_LG_STREAM && p.T == 1 && p.batch == 1);
    TI_CHECK(p.req_s > 0 && p.samples_s == p.req_s);
    /* ticks run on the HTTP thread (no queue); the server's decode time per request, from
     * /metrics stage="stream", is positive and below the client's round trip */
    TI_CHECK_MSG(p.queue_ms == 0 && p.compute_ms > 0 && p.compute_ms < p.p50_ms, "queue %g compute %g p50 %g ms",
                 p.queue_ms, p.compute_ms, p.p50_ms);
    ti_lg_point_free(&p);
    ti_http_client *cl;
    TI_CHECK_OK(ti_http_client_create(&cl, "127.0.0.1", g_port, 5000, 0));
    int open = streams_open(cl, "rv");
    TI_CHECK_MSG(open == 2, "streams open %d, want 2", open);
    /* One client, 50 sends alternating over 2 symbols: 25 ticks each, + the probe. */
    long long a = probe_positions(cl, "rv", "S0_0"), b = probe_positions(cl, "rv", "S0_1");
    TI_CHECK_MSG(a == 26 && b == 26, "positions S0_0 %lld S0_1 %lld, want 26", a, b);
    /* The streams stay open after the point: a second point continues them. */
    TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
    ti_lg_point_free(&p);
    a = probe_positions(cl, "rv", "S0_0");
    TI_CHECK_MSG(a == 52, "positions S0_0 %lld after a second point, want 52", a);
    ti_http_client_destroy(cl);
}

TI_TEST(closed_point_batch_is_ticks)
{
    ti_lg_config c;
    base(&c, "rv2");
    c.mode = TI_LG_CLOSED;
    c.concurrency = 3, c.symbols = 2, c.batch = 4;
    c.requests = 40, c.warmup = 5;
    ti_lg_point p;
    TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
    TI_CHECK_MSG(p.n_ok == 40 && p.n_err == 0, "ok %llu err %llu", (unsigned long long)p.n_ok,
                 (unsigned long long)p.n_err);
    TI_CHECK(fabs(p.samples_s - 4 * p.req_s) <= 1e-9 * p.samples_s);
    ti_lg_point_free(&p);
    ti_http_client *cl;
    TI_CHECK_OK(ti_http_client_create(&cl, "127.0.0.1", g_port, 5000, 0));
    int open = streams_open(cl, "rv2");
    TI_CHECK_MSG(open >= 1 && open <= 6, "streams open %d, want 1..6", open);
    /* How sends split over the clients is up to the scheduler, but every tick (45 sends x
     * 4 rows) is in exactly one of the 6 symbols, and a client alternates its 2 symbols, so
     * they differ by at most one request.  A probe opens a stream that had none. */
    long long total = 0, n[6];
    char sym[16];
    for (int k = 0; k < 6; k++) {
        snprintf(sym, sizeof sym, "S%d_%d", k / 2, k % 2);
        n[k] = probe_positions(cl, "rv2", sym) - 1;
        TI_CHECK_MSG(n[k] >= 0, "%s: no answer", sym);
        total += n[k];
        if (k % 2) TI_CHECK_MSG(llabs(n[k] - n[k - 1]) <= 4, "client %d: %lld and %lld ticks", k / 2, n[k - 1], n[k]);
    }
    TI_CHECK_MSG(total == 45 * 4, "ticks on the server %lld, want %d", total, 45 * 4);
    TI_CHECK(streams_open(cl, "rv2") == 6);
    ti_http_client_destroy(cl);
}

/* ticks: each request ticks every one of the client's `batch` symbols T<client>_<k> once. */
TI_TEST(ticks_point_many_symbols_per_request)
{
    ti_lg_config c;
    base(&c, "rv");
    c.target = TI_LG_TICKS;
    c.mode = TI_LG_CLOSED;
    c.concurrency = 2, c.batch = 3;
    c.requests = 30, c.warmup = 4;
    ti_lg_point p;
    TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
    TI_CHECK_MSG(p.n_ok == 30 && p.n_err == 0, "ok %llu err %llu", (unsigned long long)p.n_ok,
                 (unsigned long long)p.n_err);
    TI_CHECK(p.T == 1 && fabs(p.samples_s - 3 * p.req_s) <= 1e-9 * p.samples_s);
    TI_CHECK_MSG(p.queue_ms == 0 && p.compute_ms > 0, "queue %g compute %g", p.queue_ms, p.compute_ms);
    ti_lg_point_free(&p);
    ti_http_client *cl;
    TI_CHECK_OK(ti_http_client_create(&cl, "127.0.0.1", g_port, 5000, 0));
    long long n[2][3];
    char sym[16];
    for (int k = 0; k < 6; k++) {
        snprintf(sym, sizeof sym, "T%d_%d", k / 3, k % 3);
        n[k / 3][k % 3] = probe_positions(cl, "rv", sym) - 1;
    }
    for (int cli = 0; cli < 2; cli++)
        TI_CHECK_MSG(n[cli][0] == n[cli][1] && n[cli][1] == n[cli][2], "client %d: %lld %lld %lld ticks", cli,
                     n[cli][0], n[cli][1], n[cli][2]);
    TI_CHECK_MSG(n[0][0] + n[1][0] == 34, "requests on the server %lld, want 34", n[0][0] + n[1][0]);
    ti_http_client_destroy(cl);
    base(&c, "rv");
    c.target = TI_LG_TICKS;
    c.mode = TI_LG_CLOSED;
    c.concurrency = 2, c.batch = 2049;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_INVALID_ARG, "over 4096");
}

TI_TEST(stream_errors)
{
    ti_lg_config c;
    ti_lg_point p;
    base(&c, "rv");
    c.symbols = 0;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_INVALID_ARG, "symbols");
    base(&c, "rv");
    c.mode = TI_LG_CLOSED;
    c.concurrency = 8, c.symbols = 513; /* 4104 streams: over the server's table */
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_INVALID_ARG, "4096");
    base(&c, "tiny"); /* not causal: every tick is a 400 */
    c.requests = 3;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_IO, "not a causal model");
    base(&c, "rv");
    c.F = 11; /* wrong row width: 400, counted */
    c.requests = 3;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_IO, "HTTP 400");
    TI_CHECK_OK(ti_lg_target_parse(&c.target, "stream"));
    TI_CHECK(c.target == TI_LG_STREAM && !strcmp(ti_lg_target_name(TI_LG_STREAM), "stream"));
}

int main(void)
{
    static const char *const names[] = {"rv", "rv2", "tiny"}, *const paths[] = {RV_PATH, RV_PATH, TINY_PATH};
    if (lg_start_server(&g_srv, &g_port, names, paths, 3)) return 1;
    TI_RUN(serial_point_cycles_symbols);
    TI_RUN(closed_point_batch_is_ticks);
    TI_RUN(ticks_point_many_symbols_per_request);
    TI_RUN(stream_errors);
    ti_server_drain(g_srv, 5000);
    ti_server_destroy(g_srv);
    return ti_test_summary();
}
