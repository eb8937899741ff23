/* tickinfer serve: the server object and a request slot, shared by the files of src/serve. */
#ifndef TICKINFER_SERVE_INTERNAL_H
#define TICKINFER_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/dynbatch.h"
#include "serve/metrics.h"
#include "serve/registry.h"
#include "serve/sbuf.h"
#include "tickinfer/serve.h"

/* Only server.c talks to libmicrohttpd; everything else sees these as opaque. */
struct MHD_Connection;
struct MHD_Daemon;

typedef enum sv_req_state {
    SV_RQ_READING = 0, /* headers seen, body arriving */
    SV_RQ_QUEUED,      /* job submitted, connection suspended */
    SV_RQ_DONE,        /* job finished (worker), response not yet queued */
    SV_RQ_RESPONDED    /* response queued */
} sv_req_state;

typedef enum sv_out_fmt { SV_OUT_JSON = 0, SV_OUT_NPY, SV_OUT_V2_BINARY } sv_out_fmt;

/* Request methods, one bit each (route table masks).  HEAD is answered by GET routes. */
enum { SV_GET = 1, SV_HEAD = 2, SV_POST = 4, SV_DELETE = 8, SV_METHOD_OTHER = 16 };

/* The parsed request, what handlers read.  server.c fills it from the HTTP library before
 * routing.  Strings point into the library's per-request memory (valid until the request
 * completes); NULL when absent. */
typedef struct sv_http_in {
    unsigned method; /* one SV_GET .. SV_METHOD_OTHER bit */
    const char *method_name, *url;
    const char *authorization, *accept, *infer_header_len, *content_length; /* headers */
    const char *q_model;          /* ?model= */
    int q_all_steps, q_normalized; /* ?all_steps=1|true, ?normalized=1|true */
} sv_http_in;

#define SV_RESP_MAX_HEADERS 4

/* The answer a handler fills; the body is the request slot's `out` buffer.  server.c
 * turns it into the HTTP response. */
typedef struct sv_http_out {
    int status;               /* 0 until answered */
    const char *content_type; /* a static string */
    int drop;                 /* no answer could be built: close the connection */
    int n_headers;
    struct {
        const char *name; /* a static string */
        char value[48];
    } header[SV_RESP_MAX_HEADERS];
} sv_http_out;

typedef struct sv_request sv_request;

/* A handler either answers (SV_H_DONE: r->resp and r->out are filled) or prepares a job
 * for the model's batcher (SV_H_JOB: r->model, x, y, B, T set); server.c then suspends
 * the connection and submits it, and the route's `finish` fills the answer when the job
 * is done (h2o's handler / generator split). */
typedef enum sv_hres { SV_H_DONE = 0, SV_H_JOB } sv_hres;
typedef sv_hres (*sv_handler_fn)(sv_request *r);

/* One row of the static route table (routes.c).  Patterns are literal segments and the
 * captures {model}, {version} (a positive integer) and {symbol}; the first row whose
 * pattern and method match wins; a path that matches only with other methods gets 405. */
typedef struct sv_route {
    unsigned methods; /* SV_GET (also HEAD), SV_POST, SV_DELETE */
    const char *pattern;
    sv_endpoint ep;   /* metrics label */
    sv_handler_fn handle;
    sv_handler_fn finish; /* routes that queue a job */
} sv_route;

/* The route table, for tests and the OpenAPI check. */
const sv_route *sv_routes(int *n);

struct sv_request {
    /* ---- the slot: fixed, and buffers kept between requests -------------------------- */
    struct ti_server *srv;
    sv_request *next_free;
    sv_sbuf body, out;
    float *x, *y;
    size_t x_cap, y_cap;
    sv_trade_tick *trades;             /* stream requests */
    size_t trades_cap;
    char (*symbols)[SV_SS_SYMBOL_MAX]; /* /v1/ticks: [SV_SS_MAX_TICKS] */
    /* ---- per-request state, from `conn` to the end: sv_request_reset zeroes it ------- */
    struct MHD_Connection *conn; /* server.c only */
    sv_http_in in;
    sv_http_out resp;
    const sv_route *route;       /* NULL: no route (404 / 405 in route_status) */
    sv_endpoint ep;
    /* route captures */
    char model_name[TI_MODEL_MAX_NAME];
    int model_version;                      /* 0 = current */
    char symbol[SV_SS_SYMBOL_MAX];          /* /v1/streams/{symbol} */
    int too_large;
    int route_status;   /* 404 / 405 decided from the URL, answered once the body is read */
    int B, T;
    sv_model_entry *model; /* referenced while the request lives */
    sv_job job;
    atomic_int state;
    sv_out_fmt fmt;
    size_t json_header_len;  /* v2 binary: bytes of JSON before the tensor bytes */
    int last_only;           /* /predict: y at the last step only */
    int want_binary_out;     /* v2: binary output requested */
    char req_id[128];
    uint64_t t_start_ns;
};

/* Clear the per-request state of a slot (the one place it is reset). */
void sv_request_reset(sv_request *r);

struct ti_server {
    ti_server_config cfg;
    struct MHD_Daemon *d;
    int port;
    sv_registry reg;
    sv_metrics met;
    sv_dynbatch_opts bo;
    ti_kv_dtype stream_kv; /* KV dtype of new models' tick streams */
    pthread_mutex_t pool_mu;
    sv_request *slots, *free_list;
    atomic_int inflight, jobs_pending, draining;
};

/* routes.c: match r->in against the route table (sets r->route, r->ep and the captures);
 * returns 0, or 404 / 405 with the error answer already in r->resp / r->out. */
int sv_route_match(sv_request *r);
/* routes.c: run the route's handler once the body is complete. */
sv_hres sv_dispatch(sv_request *r);
/* routes.c: fill the answer of a finished job. */
void sv_finish(sv_request *r);

/* routes.c, for handlers: answer with r->out as the body (adds Retry-After to 503 and
 * WWW-Authenticate to 401); sv_reply_error sets r->out = {"error": msg} first. */
sv_hres sv_reply(sv_request *r, int status, const char *content_type);
sv_hres sv_reply_error(sv_request *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Add a response header (name: a static string). */
void sv_reply_header(sv_request *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* server.c: make r->x hold n floats, r->y m floats (kept between requests). */
ti_err sv_request_reserve(sv_request *r, size_t n_x, size_t n_y);

/* proto_v2.c */
ti_err sv_v2_parse_infer(sv_request *r, const char *body, size_t len, size_t header_len);
ti_err sv_v2_write_infer(sv_request *r);
ti_err sv_v2_write_model_meta(sv_request *r, const sv_model_entry *e);
/* [d0,d1,...] of a tensor description from dimension `first` on (v2 metadata, Triton config). */
ti_err sv_write_dims(sv_sbuf *o, const ti_tensor_desc *d, int first);
/* proto_v2_ext.c: Triton's model configuration and statistics extensions; stats of every
 * loaded model when e is NULL. */
ti_err sv_v2_write_model_config(sv_request *r, const sv_model_entry *e);
ti_err sv_v2_write_model_stats(sv_request *r, const sv_model_entry *e);
/* proto_simple.c: /predict and /predict_np */
ti_err sv_predict_parse_json(sv_request *r);
ti_err sv_predict_parse_npy(sv_request *r);
ti_err sv_predict_write(sv_request *r);
/* proto_simple.c, shared: check [B,T,F] (or [T,F]) against the model, set r->B, r->T and
 * size r->y; then normalise x in place unless the client says it is normalised already. */
ti_err sv_check_shape(sv_request *r, int ndim, const int64_t *shape);
void sv_normalise(sv_request *r, int normalised);
/* proto_stream.c: POST /v1/streams/{symbol}/ticks and DELETE /v1/streams/{symbol} */
sv_hres sv_handle_stream_push(sv_request *r, sv_model_entry *m);
sv_hres sv_handle_stream_close(sv_request *r, sv_model_entry *m);
/* The tick bodies, parsed from r->body into r->x (rows of F) or r->trades / r->symbols
 * (fuzz/tick_bodies.c drives them): *n rows, trades or symbols. */
ti_err sv_stream_parse_body(sv_request *r, int F, sv_tick_kind *kind, int *n);
ti_err sv_ticks_parse_body(sv_request *r, int F, int *n, int *normalised);
/* proto_stream.c: ,"t":..,"y_log":..,"rv":.. of a forecast (both tick endpoints) */
ti_err sv_write_forecast_fields(sv_sbuf *o, const ti_forecast *fc);
/* proto_ticks.c: POST /v1/ticks, one row for each of many symbols */
sv_hres sv_handle_ticks(sv_request *r, sv_model_entry *m);
/* openapi.c */
const char *sv_openapi_json(void);

#endif
