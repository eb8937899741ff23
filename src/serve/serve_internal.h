/* tickinfer serve: the server object and a request slot, shared by the files of src/serve. */
#ifndef TICKINFER_SERVE_INTERNAL_H
#define TICKINFER_SERVE_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "serve/dynbatch.h"
#include "serve/metrics.h"
#include "serve/registry.h"
#include "serve/sbuf.h"
#include "tickinfer/serve.h"

typedef enum ti_req_state {
    TI_RQ_READING = 0, /* headers seen, body arriving */
    TI_RQ_QUEUED,      /* job submitted, connection suspended */
    TI_RQ_DONE,        /* job finished (worker), response not yet queued */
    TI_RQ_RESPONDED    /* response queued */
} ti_req_state;

typedef enum ti_out_fmt { TI_OUT_JSON = 0, TI_OUT_NPY, TI_OUT_V2_BINARY } ti_out_fmt;

typedef struct ti_request ti_request;
struct ti_request {
    struct ti_server *srv;
    struct MHD_Connection *conn;
    ti_endpoint ep;
    int method_post;
    /* route */
    char model_name[TI_MODEL_MAX_NAME];
    int model_version;                      /* 0 = current */
    char action[16];                        /* "load" / "unload" for the repository API */
    char symbol[TI_SS_SYMBOL_MAX];          /* /v1/streams/{symbol} */
    int method_delete;
    const char *allow;                      /* 405: the method to name in Allow */
    /* body and response (kept between requests) */
    ti_sbuf body, out;
    int too_large;
    int route_status;   /* 404 / 405 decided from the URL, answered once the body is read */
    /* tensors (kept between requests) */
    float *x, *y;
    size_t x_cap, y_cap;
    int B, T;
    ti_trade_tick *trades; /* stream requests (kept between requests) */
    char (*symbols)[TI_SS_SYMBOL_MAX]; /* /v1/ticks: [TI_SS_MAX_TICKS] (kept between requests) */
    size_t trades_cap;
    ti_model_entry *model; /* referenced while the request lives */
    ti_job job;
    atomic_int state;
    /* response details */
    int status;
    ti_out_fmt fmt;
    size_t json_header_len;  /* v2 binary: bytes of JSON before the tensor bytes */
    int last_only;           /* /predict: y at the last step only */
    int want_binary_out;     /* v2: binary output requested */
    char req_id[128];
    uint64_t t_start_ns;
    ti_request *next_free;
};

struct ti_server {
    ti_server_config cfg;
    struct MHD_Daemon *d;
    int port;
    ti_registry reg;
    ti_metrics met;
    ti_dynbatch_opts bo;
    ti_kv_dtype stream_kv; /* KV dtype of new models' tick streams */
    pthread_mutex_t pool_mu;
    ti_request *slots, *free_list;
    atomic_int inflight, jobs_pending, draining;
};

/* routes.c: decide the endpoint from method + URL (fills r->ep, model, version, action);
 * returns 0, or 404 / 405 with the error body already in r->out. */
int ti_route(ti_request *r, const char *method, const char *url);
/* routes.c: handle a request whose body is complete.  Either queues a response or
 * submits a job (r->state becomes QUEUED). */
enum MHD_Result ti_handle(ti_request *r);
/* routes.c: queue the response of a finished job. */
enum MHD_Result ti_finish_job(ti_request *r);

/* server.c: queue r->out as the response with `status` and content type. */
enum MHD_Result ti_respond(ti_request *r, int status, const char *content_type);
/* server.c: r->out = {"error": msg} and respond. */
enum MHD_Result ti_respond_error(ti_request *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* server.c: submit r->job to r->model's batcher and suspend the connection. */
void ti_submit(ti_request *r);
/* server.c: make r->x hold n floats, r->y m floats (kept between requests). */
ti_err ti_request_reserve(ti_request *r, size_t n_x, size_t n_y);

/* proto_v2.c */
ti_err ti_v2_parse_infer(ti_request *r, const char *body, size_t len, size_t header_len);
ti_err ti_v2_write_infer(ti_request *r);
ti_err ti_v2_write_model_meta(ti_request *r, const ti_model_entry *e);
/* proto_v2_ext.c: Triton's model configuration and statistics extensions; stats of every
 * loaded model when e is NULL. */
ti_err ti_v2_write_model_config(ti_request *r, const ti_model_entry *e);
ti_err ti_v2_write_model_stats(ti_request *r, const ti_model_entry *e);
/* proto_simple.c: /predict and /predict_np */
ti_err ti_predict_parse_json(ti_request *r);
ti_err ti_predict_parse_npy(ti_request *r);
ti_err ti_predict_write(ti_request *r);
/* proto_simple.c, shared: check [B,T,F] (or [T,F]) against the model, set r->B, r->T and
 * size r->y; then normalise x in place unless the client says it is normalised already. */
ti_err ti_check_shape(ti_request *r, int ndim, const int64_t *shape);
void ti_normalise(ti_request *r, int normalised);
/* proto_stream.c: POST /v1/streams/{symbol}/ticks and DELETE /v1/streams/{symbol} */
enum MHD_Result ti_handle_stream(ti_request *r, ti_model_entry *m);
/* The tick bodies, parsed from r->body into r->x (rows of F) or r->trades / r->symbols
 * (fuzz/tick_bodies.c drives them): *n rows, trades or symbols. */
ti_err ti_stream_parse_body(ti_request *r, int F, ti_tick_kind *kind, int *n);
ti_err ti_ticks_parse_body(ti_request *r, int F, int *n, int *normalised);
/* proto_stream.c: ,"t":..,"y_log":..,"rv":.. of a forecast (both tick endpoints) */
ti_err ti_write_forecast_fields(ti_sbuf *o, const ti_forecast *fc);
/* proto_ticks.c: POST /v1/ticks, one row for each of many symbols */
enum MHD_Result ti_handle_ticks(ti_request *r, ti_model_entry *m);
/* openapi.c */
const char *ti_openapi_json(void);

#endif
