/* tickinfer: load generator for `tickinfer bench` (docs/bench.md).
 *
 * Three pieces, usable on their own:
 *   http client   a small blocking HTTP/1.1 client: keep-alive, Content-Length, chunked
 *                 and close-delimited bodies, one deadline per request, size limits.
 *                 A bad server gives an error (with its kind), never a crash.
 *   scheduler     open-loop intended send times: send i is due at
 *                 start + round(i * 1e9 / rate) ns, a pure function of i, so there is no
 *                 drift however many sends, and a late sender catches up by sending at
 *                 once (latency is measured from the intended time: no coordinated
 *                 omission).
 *   runner        one measurement point: serial, closed loop at a concurrency, or open loop
 *                 at a rate, against /predict, /predict_np, v2 JSON, v2 binary, the tick
 *                 streams (/v1/streams/{symbol}/ticks) or the in-process forward;
 *                 HDR-style latency histogram, wall-clock throughput, errors by kind and
 *                 the server's queue/compute split from /metrics.
 *
 *   ti_lg_config c;  ti_lg_config_default(&c);  c.port = 8000;  c.mode = TI_LG_CLOSED;
 *   c.concurrency = 8;  ti_lg_point p;  ti_lg_run_point(&p, &c, NULL);
 *   ...  ti_lg_point_free(&p); */
#ifndef TICKINFER_LOADGEN_H
#define TICKINFER_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/hist.h"
#include "tickinfer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- HTTP/1.1 client ----------------------------------------------------------------- */

/* Why a request failed (append-only). */
typedef enum ti_lg_errkind {
    TI_LG_ERR_CONNECT = 0, /* connect refused / unreachable */
    TI_LG_ERR_TIMEOUT,     /* no complete answer before the deadline */
    TI_LG_ERR_IO,          /* reset, or closed mid-answer */
    TI_LG_ERR_PROTOCOL,    /* malformed status line, headers, chunking, or over a limit */
    TI_LG_ERR_HTTP_4XX,
    TI_LG_ERR_HTTP_5XX,
    TI_LG_ERR_INPROC,      /* in-process forward failed */
    TI_LG_ERR__COUNT
} ti_lg_errkind;

const char *ti_lg_errkind_name(ti_lg_errkind k); /* "connect", "timeout", ... */

typedef struct ti_http_response {
    int status;
    const char *body;   /* valid until the next request on this client */
    size_t body_len;
    int keep_alive;     /* 0 when the server said Connection: close (or HTTP/1.0) */
    char content_type[64];
} ti_http_response;

typedef struct ti_http_client ti_http_client;

/* host: IPv4 dotted or a name; timeout_ms > 0 is the deadline for one whole request
 * (connect + send + answer); max_body bytes caps an answer (0 = 256 MiB). */
ti_err ti_http_client_create(ti_http_client **out, const char *host, int port, int timeout_ms,
                             size_t max_body);
void ti_http_client_destroy(ti_http_client *c);
/* One request on the kept-alive connection (opened or reopened as needed; a request on a
 * kept-alive connection that the server closed while idle is retried once on a new one).
 * extra_headers: "Name: v\r\n..." or NULL.  Errors: TI_ERR_IO (connect, reset),
 * TI_ERR_LIMIT (timeout, limits), TI_ERR_FORMAT (malformed answer); the kind is in
 * ti_http_client_last_kind.  Any HTTP status is TI_OK (check resp->status). */
ti_err ti_http_client_request(ti_http_client *c, ti_http_response *resp, const char *method,
                              const char *path, const char *extra_headers, const void *body,
                              size_t body_len);
ti_lg_errkind ti_http_client_last_kind(const ti_http_client *c);
/* Connections opened so far (keep-alive tests). */
int ti_http_client_connects(const ti_http_client *c);

/* ---- open-loop scheduler ------------------------------------------------------------- */

typedef struct ti_lg_sched {
    uint64_t start_ns;
    double rate;        /* sends per second, > 0 */
} ti_lg_sched;

ti_err ti_lg_sched_init(ti_lg_sched *s, uint64_t start_ns, double rate);
/* Intended send time of send i: start + round(i * 1e9 / rate), exact in long double for
 * i < 2^40, independent of when earlier sends happened. */
uint64_t ti_lg_sched_at(const ti_lg_sched *s, uint64_t i);
/* ns to wait before send i at time now: 0 if due or late (late sends go at once). */
uint64_t ti_lg_sched_wait(const ti_lg_sched *s, uint64_t i, uint64_t now_ns);

/* ---- runner ---------------------------------------------------------------------------- */

typedef enum ti_lg_target {
    TI_LG_PREDICT = 0,  /* POST /predict JSON */
    TI_LG_PREDICT_NP,   /* POST /predict_np NPY */
    TI_LG_V2_JSON,      /* POST /v2/models/{m}/infer JSON */
    TI_LG_V2_BINARY,    /* same, binary tensor extension */
    TI_LG_INPROC,       /* ti_tfm_forward, no HTTP */
    TI_LG_STREAM,       /* POST /v1/streams/{symbol}/ticks, `batch` ticks of F features */
    TI_LG_TICKS,        /* POST /v1/ticks: one tick for each of `batch` symbols T<client>_<k> */
    TI_LG_TARGET__COUNT
} ti_lg_target;

typedef enum ti_lg_mode { TI_LG_SERIAL = 0, TI_LG_CLOSED, TI_LG_OPEN, TI_LG_MODE__COUNT } ti_lg_mode;

const char *ti_lg_target_name(ti_lg_target t); /* "predict", "predict_np", "v2_json", ..., "stream" */
ti_err ti_lg_target_parse(ti_lg_target *out, const char *name);
const char *ti_lg_mode_name(ti_lg_mode m);     /* "serial", "closed", "open" */

#define TI_LG_MAX_CONCURRENCY 1024
/* Streams one stream point may open: the server's stream table holds 4096 per model. */
#define TI_LG_MAX_STREAMS 4096

typedef struct ti_lg_config {
    ti_lg_target target;
    ti_lg_mode mode;
    char host[64];          /* "127.0.0.1" */
    int port;               /* 8000 */
    char model[64];         /* server model name (v2 path, ?model=); "" = server default */
    char model_path[1024];  /* checkpoint for TI_LG_INPROC */
    int batch, T, F;        /* request tensor [batch,T,F]: 1, 60, 12; stream: batch ticks of F (T unused) */
    int symbols;            /* stream: symbols per client "S<client>_<k>", k cycling per send (1) */
    int concurrency;        /* closed: clients; open: connections sending (1 for serial) */
    double rate;            /* open loop: requests per second */
    int requests;           /* measured requests, 200 (closed/serial); open: rate*min_s */
    int warmup;             /* requests excluded before measuring, 20 */
    double min_s;           /* a point runs at least this long, 2 s */
    double max_s;           /* and at most this long, 60 s */
    int timeout_ms;         /* per request, 30000 */
    uint64_t seed;          /* request contents */
} ti_lg_config;

void ti_lg_config_default(ti_lg_config *c);

typedef struct ti_lg_point {
    ti_lg_target target;
    ti_lg_mode mode;
    int concurrency, batch, T, F;
    double rate_target;        /* open loop, else 0 */
    uint64_t n_ok, n_err;      /* measured requests */
    uint64_t errors[TI_LG_ERR__COUNT];
    double wall_s;             /* measured window */
    double req_s, samples_s;   /* wall-clock: n_ok / wall_s, x batch */
    double latsum_qps;         /* n_ok / sum(latency): the "QPS" that ignores overlap */
    double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
    double queue_ms, compute_ms; /* server mean per inference in the window; < 0: n/a.  stream:
                                  * queue 0 (ticks run on the HTTP thread), compute = the
                                  * mean push (decode) time per request (ticks: of its
                                  * `batch` symbols together) */
    int stable;                /* halves' throughput within 10% */
    double sweep_p99_ms;       /* rate-sweep points: the p99 target (0: not a sweep point) */
    int sweep_holds;           /* ... this rate held it */
    int sweep_best;            /* ... this is the highest rate that held it */
    ti_hist hist;              /* latency ns (owned) */
} ti_lg_point;

/* Run one point.  model: an already loaded model (any kind) for TI_LG_INPROC (NULL: load
 * cfg->model_path).  Request failures are counted, not returned; the call fails only on
 * bad config, a body too large to build, or no successful request at all (TI_ERR_IO with
 * the first error's message).  TI_LG_STREAM leaves its streams open on the server: a later
 * point's client c appends to the same symbols S<c>_<k>. */
ti_err ti_lg_run_point(ti_lg_point *out, const ti_lg_config *cfg, const ti_model *model);
void ti_lg_point_free(ti_lg_point *p);

/* Open-loop rate sweep: rates from cfg->rate doubling until the p99 passes p99_ms or more
 * than 1% of requests fail, then `refine` bisection steps between the last good and the
 * first bad rate.  points: caller array of cap entries (filled, *n set; freed by caller);
 * *best_rate: highest rate that held (0 if none). */
ti_err ti_lg_rate_sweep(ti_lg_point *points, int cap, int *n, double *best_rate,
                        const ti_lg_config *cfg, const ti_model *model, double p99_ms, int refine);

/* ---- server metrics ------------------------------------------------------------------ */

/* Sums of tickinfer_inference_duration_seconds{stage=queue|compute|stream} over models (or
 * the one named model if non-empty), read from a Prometheus text body. */
typedef struct ti_lg_server_stats {
    int present;                      /* the series was found */
    double queue_sum_s, compute_sum_s;
    double count;                     /* inferences (compute stage _count) */
    double stream_sum_s, stream_count; /* pushes of ticks to streams (stage "stream") */
} ti_lg_server_stats;

ti_err ti_lg_parse_metrics(ti_lg_server_stats *out, const char *text, size_t len, const char *model);

/* ---- report ---------------------------------------------------------------------------- */

/* Write <dir>/<name>.json, <name>.md, <name>_latency.svg (p50/p99 vs throughput per
 * target+mode) and <name>_percentiles.svg.  title goes in the Markdown heading. */
ti_err ti_lg_report_write(const char *dir, const char *name, const char *title,
                          const ti_lg_point *points, int n);

#ifdef __cplusplus
}
#endif
#endif
