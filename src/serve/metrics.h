/* tickinfer serve: Prometheus metrics (internal).
 *
 * Counters and fixed-bucket histograms updated with atomics from any thread; the model
 * table (one row per model name) is appended under a mutex the first time a name is seen.
 * Rendered in the Prometheus text format 0.0.4 by ti_metrics_render. */
#ifndef TICKINFER_SERVE_METRICS_H
#define TICKINFER_SERVE_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "serve/sbuf.h"
#include "tickinfer/model.h"

typedef enum ti_endpoint {
    TI_EP_V2_SERVER = 0, /* GET /v2 */
    TI_EP_HEALTH,        /* /v2/health/live|ready */
    TI_EP_MODEL_META,    /* GET /v2/models/{m}[/versions/{v}] */
    TI_EP_MODEL_READY,   /* GET .../ready */
    TI_EP_INFER,         /* POST .../infer */
    TI_EP_PREDICT,       /* POST /predict */
    TI_EP_PREDICT_NP,    /* POST /predict_np */
    TI_EP_REPOSITORY,    /* /v2/repository/... */
    TI_EP_METRICS,
    TI_EP_OPENAPI,
    TI_EP_STREAM,        /* POST /v1/streams/{symbol}/ticks, DELETE /v1/streams/{symbol} */
    TI_EP_MODEL_CONFIG,  /* GET /v2/models/{m}[/versions/{v}]/config */
    TI_EP_MODEL_STATS,   /* GET /v2/models[/{m}[/versions/{v}]]/stats */
    TI_EP_TICKS,         /* POST /v1/ticks (many symbols) */
    TI_EP_OTHER,
    TI_EP__COUNT
} ti_endpoint;

const char *ti_endpoint_name(ti_endpoint ep);

#define TI_MET_N_CODES 16
#define TI_MET_N_LAT 16   /* latency buckets incl. +Inf */
#define TI_MET_N_BATCH 10 /* batch-size buckets incl. +Inf */
#define TI_MET_MAX_MODELS 64

typedef struct ti_met_hist {
    atomic_uint_fast64_t bucket[TI_MET_N_LAT]; /* non-cumulative */
    atomic_uint_fast64_t count, sum_ns;
} ti_met_hist;

typedef struct ti_met_model {
    char name[TI_MODEL_MAX_NAME];
    atomic_uint_fast64_t ok, failed, rows;
    ti_met_hist queue, compute, total;
    ti_met_hist stream; /* one push of ticks to a stream (decode steps), on the HTTP thread */
    atomic_uint_fast64_t batch[TI_MET_N_BATCH];
    atomic_uint_fast64_t batch_count, batch_sum;
    atomic_uint_fast64_t last_ms; /* wall clock (ms since the epoch) of the last success */
} ti_met_model;

typedef struct ti_metrics {
    atomic_uint_fast64_t req[TI_EP__COUNT][TI_MET_N_CODES];
    ti_met_hist latency[TI_EP__COUNT];
    pthread_mutex_t mu;
    atomic_int n_models;
    ti_met_model model[TI_MET_MAX_MODELS];
} ti_metrics;

void ti_metrics_init(ti_metrics *m);
void ti_metrics_free(ti_metrics *m);
void ti_metrics_request(ti_metrics *m, ti_endpoint ep, int http_status, uint64_t total_ns);
void ti_metrics_infer(ti_metrics *m, const char *model, int ok, int rows, uint64_t queue_ns, uint64_t compute_ns,
                      uint64_t total_ns, int batch_rows);
/* A push of ticks to one of the model's streams took ns (parse excluded). */
void ti_metrics_stream(ti_metrics *m, const char *model, uint64_t ns);
/* The row of a model name, NULL if it has served nothing yet. */
const ti_met_model *ti_metrics_find(const ti_metrics *m, const char *model);
/* gauges: in-flight requests, loaded models */
ti_err ti_metrics_render(const ti_metrics *m, ti_sbuf *out, int inflight, int models_loaded);
/* Tests: the count of requests seen for (ep, status). */
uint64_t ti_metrics_count(const ti_metrics *m, ti_endpoint ep, int http_status);

#endif
