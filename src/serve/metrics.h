/* tickinfer serve: Prometheus metrics (internal).
 *
 * Counters and fixed-bucket histograms updated with atomics from any thread; the model
 * table (one row per model name) is appended under a mutex the first time a name is seen.
 * Rendered in the Prometheus text format 0.0.4 by sv_metrics_render. */
#ifndef TICKINFER_SERVE_METRICS_H
#define TICKINFER_SERVE_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "serve/sbuf.h"
#include "tickinfer/transformer.h"

typedef enum sv_endpoint {
    SV_EP_V2_SERVER = 0, /* GET /v2 */
    SV_EP_HEALTH,        /* /v2/health/live|ready */
    SV_EP_MODEL_META,    /* GET /v2/models/{m}[/versions/{v}] */
    SV_EP_MODEL_READY,   /* GET .../ready */
    SV_EP_INFER,         /* POST .../infer */
    SV_EP_PREDICT,       /* POST /predict */
    SV_EP_PREDICT_NP,    /* POST /predict_np */
    SV_EP_REPOSITORY,    /* /v2/repository/... */
    SV_EP_METRICS,
    SV_EP_OPENAPI,
    SV_EP_STREAM,        /* POST /v1/streams/{symbol}/ticks, DELETE /v1/streams/{symbol} */
    SV_EP_MODEL_CONFIG,  /* GET /v2/models/{m}[/versions/{v}]/config */
    SV_EP_MODEL_STATS,   /* GET /v2/models[/{m}[/versions/{v}]]/stats */
    SV_EP_TICKS,         /* POST /v1/ticks (many symbols) */
    SV_EP_OTHER,
    SV_EP__COUNT
} sv_endpoint;

const char *sv_endpoint_name(sv_endpoint ep);

#define SV_MET_N_CODES 16
#define SV_MET_N_LAT 16   /* latency buckets incl. +Inf */
#define SV_MET_N_BATCH 10 /* batch-size buckets incl. +Inf */
#define SV_MET_MAX_MODELS 64

typedef struct sv_met_hist {
    atomic_uint_fast64_t bucket[SV_MET_N_LAT]; /* non-cumulative */
    atomic_uint_fast64_t count, sum_ns;
} sv_met_hist;

typedef struct sv_met_model {
    char name[TI_MODEL_MAX_NAME];
    atomic_uint_fast64_t ok, failed, rows;
    sv_met_hist queue, compute, total;
    sv_met_hist stream; /* one push of ticks to a stream (decode steps), on the HTTP thread */
    atomic_uint_fast64_t batch[SV_MET_N_BATCH];
    atomic_uint_fast64_t batch_count, batch_sum;
    atomic_uint_fast64_t last_ms; /* wall clock (ms since the epoch) of the last success */
} sv_met_model;

typedef struct sv_metrics {
    atomic_uint_fast64_t req[SV_EP__COUNT][SV_MET_N_CODES];
    sv_met_hist latency[SV_EP__COUNT];
    pthread_mutex_t mu;
    atomic_int n_models;
    sv_met_model model[SV_MET_MAX_MODELS];
} sv_metrics;

void sv_metrics_init(sv_metrics *m);
void sv_metrics_free(sv_metrics *m);
void sv_metrics_request(sv_metrics *m, sv_endpoint ep, int http_status, uint64_t total_ns);
void sv_metrics_infer(sv_metrics *m, const char *model, int ok, int rows, uint64_t queue_ns, uint64_t compute_ns,
                      uint64_t total_ns, int batch_rows);
/* A push of ticks to one of the model's streams took ns (parse excluded). */
void sv_metrics_stream(sv_metrics *m, const char *model, uint64_t ns);
/* The row of a model name, NULL if it has served nothing yet. */
const sv_met_model *sv_metrics_find(const sv_metrics *m, const char *model);
/* gauges: in-flight requests, loaded models */
ti_err sv_metrics_render(const sv_metrics *m, sv_sbuf *out, int inflight, int models_loaded);
/* Tests: the count of requests seen for (ep, status). */
uint64_t sv_metrics_count(const sv_metrics *m, sv_endpoint ep, int http_status);

#endif
