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

typedef enum sv_req_state {
    SV_RQ_READING = 0, /* headers seen, body arriving */
    SV_RQ_QUEUED,      /* job submitted, connection suspended */
    SV_RQ_DONE,        /* job finished (worker), response not yet queued */
    SV_RQ_RESPONDED    /* response queued */
} sv_req_state;

typedef enum sv_out_fmt { SV_OUT_JSON = 0, SV_OUT_NPY, SV_OUT_V2_BINARY } sv_out_fmt;

typedef struct sv_request sv_request;
struct sv_request {
    struct ti_server *srv;
    struct MHD_Connection *conn;
    sv_endpoint ep;
    int method_post;
    /* route */
    char model_name[TI_MODEL_MAX_NAME];
    int model_version;                      /* 0 = current */
    char action[16];                        /* "load" / "unload" for the repository API */
    char symbol[SV_SS_SYMBOL_MAX];          /* /v1/streams/{symbol} */
    int method_delete;
    const char *allow;                      /* 405: the method to name in Allow */
    /* body and response (kept between requests) */
    sv_sbuf body, out;
    int too_large;
    int route_status;   /* 404 / 405 decided from the URL, answered once the body is read */
    /* tensors (kept between requests) */
    float *x, *y;
    size_t x_cap, y_cap;
    int B, T;
    sv_trade_tick *trades; /* stream requests (kept between requests) */
    char (*symbols)[SV_SS_SYMBOL_MAX]; /* /v1/ticks: [SV_SS_MAX_TICKS] (kept between requests) */
    size_t trades_cap;
    sv_model_entry *model; /* referenced while the request lives */
    sv_job job;
    atomic_int state;
    /* response details */
    int status;
    sv_out_fmt fmt;
    size_t json_header_len;  /* v2 binary: bytes of JSON before the tensor bytes */
    int last_only;           /* /predict: y at the last step only */
    int want_binary_out;     /* v2: binary output requested */
    char req_id[128];
    uint64_t t_start_ns;
    sv_request *next_free;
};

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

/* routes.c: decide the endpoint from method + URL (fills r->ep, model, version, action);
 * returns 0, or 404 / 405 with the error body already in r->out. */
int sv_route(sv_request *r, const char *method, const char *url);
/* routes.c: handle a request whose body is complete.  Either queues a response or
 * submits a job (r->state becomes QUEUED). */
enum MHD_Result sv_handle(sv_request *r);
/* routes.c: queue the response of a finished job. */
enum MHD_Result sv_finish_job(sv_request *r);

/* server.c: queue r->out as the response with `status` and content type. */
enum MHD_Result sv_respond(sv_request *r, int status, const char *content_type);
/* server.c: r->out = {"error": msg} and respond. */
enum MHD_Result sv_respond_error(sv_request *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* server.c: submit r->job to r->model's batcher and suspend the connection. */
void sv_submit(sv_request *r);
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
enum MHD_Result sv_handle_stream(sv_request *r, sv_model_entry *m);
/* The tick bodies, parsed from r->body into r->x (rows of F) or r->trades / r->symbols
 * (fuzz/tick_bodies.c drives them): *n rows, trades or symbols. */
ti_err sv_stream_parse_body(sv_request *r, int F, sv_tick_kind *kind, int *n);
ti_err sv_ticks_parse_body(sv_request *r, int F, int *n, int *normalised);
/* proto_stream.c: ,"t":..,"y_log":..,"rv":.. of a forecast (both tick endpoints) */
ti_err sv_write_forecast_fields(sv_sbuf *o, const ti_forecast *fc);
/* proto_ticks.c: POST /v1/ticks, one row for each of many symbols */
enum MHD_Result sv_handle_ticks(sv_request *r, sv_model_entry *m);
/* openapi.c */
const char *sv_openapi_json(void);

#endif
