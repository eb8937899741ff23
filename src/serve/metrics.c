/* Prometheus metrics; see metrics.h. */
#include "serve/metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const k_ep_names[SV_EP__COUNT] = {
    "v2_server", "health", "model_metadata", "model_ready", "infer", "predict", "predict_np",
    "repository", "metrics", "openapi", "stream", "model_config", "model_stats", "ticks", "other"};

/* Status codes with their own counter; anything else counts as the last ("other"). */
static const int k_codes[SV_MET_N_CODES] = {200, 400, 401, 403, 404, 405, 406, 408,
                                             413, 414, 415, 431, 500, 503, 504, 0};

/* Upper bounds in ns; the last bucket is +Inf. */
static const uint64_t k_lat_ns[SV_MET_N_LAT - 1] = {
    25000,    50000,    100000,    250000,    500000,    1000000,    2500000, 5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000, 5000000000ull};
static const int k_batch_le[SV_MET_N_BATCH - 1] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

const char *sv_endpoint_name(sv_endpoint ep) { return ep < SV_EP__COUNT ? k_ep_names[ep] : "other"; }

void sv_metrics_init(sv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void sv_metrics_free(sv_metrics *m) { pthread_mutex_destroy(&m->mu); }

static int code_index(int status)
{
    for (int i = 0; i < SV_MET_N_CODES - 1; i++)
        if (k_codes[i] == status) return i;
    return SV_MET_N_CODES - 1;
}

static void hist_record(sv_met_hist *h, uint64_t ns)
{
    int i = 0;
    while (i < SV_MET_N_LAT - 1 && ns > k_lat_ns[i]) i++;
    atomic_fetch_add(&h->bucket[i], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_ns, ns);
}

void sv_metrics_request(sv_metrics *m, sv_endpoint ep, int http_status, uint64_t total_ns)
{
    if (ep >= SV_EP__COUNT) ep = SV_EP_OTHER;
    atomic_fetch_add(&m->req[ep][code_index(http_status)], 1);
    hist_record(&m->latency[ep], total_ns);
}

uint64_t sv_metrics_count(const sv_metrics *m, sv_endpoint ep, int http_status)
{
    return atomic_load(&m->req[ep][code_index(http_status)]);
}

const sv_met_model *sv_metrics_find(const sv_metrics *m, const char *model)
{
    int n = atomic_load(&m->n_models);
    for (int i = 0; i < n; i++)
        if (strcmp(m->model[i].name, model) == 0) return &m->model[i];
    return NULL;
}

static sv_met_model *model_row(sv_metrics *m, const char *name)
{
    const sv_met_model *seen = sv_metrics_find(m, name);
    if (seen) return (sv_met_model *)(uintptr_t)seen;
    pthread_mutex_lock(&m->mu);
    int n = atomic_load(&m->n_models);
    sv_met_model *row = NULL;
    for (int i = 0; i < n && !row; i++)
        if (strcmp(m->model[i].name, name) == 0) row = &m->model[i];
    if (!row && n < SV_MET_MAX_MODELS) {
        row = &m->model[n];
        strncpy(row->name, name, sizeof row->name - 1);
        atomic_store(&m->n_models, n + 1); /* publish after the name is written */
    }
    pthread_mutex_unlock(&m->mu);
    return row;
}

void sv_metrics_infer(sv_metrics *m, const char *model, int ok, int rows, uint64_t queue_ns, uint64_t compute_ns,
                      uint64_t total_ns, int batch_rows)
{
    sv_met_model *r = model_row(m, model);
    if (!r) return;
    atomic_fetch_add(ok ? &r->ok : &r->failed, 1);
    if (!ok) return;
    atomic_fetch_add(&r->rows, (uint64_t)rows);
    hist_record(&r->queue, queue_ns);
    hist_record(&r->compute, compute_ns);
    hist_record(&r->total, total_ns);
    int i = 0;
    while (i < SV_MET_N_BATCH - 1 && batch_rows > k_batch_le[i]) i++;
    atomic_fetch_add(&r->batch[i], 1);
    atomic_fetch_add(&r->batch_count, 1);
    atomic_fetch_add(&r->batch_sum, (uint64_t)batch_rows);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    atomic_store(&r->last_ms, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

void sv_metrics_stream(sv_metrics *m, const char *model, uint64_t ns)
{
    sv_met_model *r = model_row(m, model);
    if (r) hist_record(&r->stream, ns);
}

static ti_err render_hist(sv_sbuf *o, const char *metric, const char *labels, const sv_met_hist *h)
{
    uint64_t cum = 0;
    ti_err e = TI_OK;
    for (int i = 0; i < SV_MET_N_LAT && !e; i++) {
        cum += atomic_load(&h->bucket[i]);
        if (i < SV_MET_N_LAT - 1)
            e = sv_sbuf_printf(o, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, labels, (double)k_lat_ns[i] / 1e9,
                               (unsigned long long)cum);
        else
            e = sv_sbuf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels, (unsigned long long)cum);
    }
    if (!e)
        e = sv_sbuf_printf(o, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", metric, labels,
                           (double)atomic_load(&h->sum_ns) / 1e9, metric, labels,
                           (unsigned long long)atomic_load(&h->count));
    return e;
}

ti_err sv_metrics_render(const sv_metrics *m, sv_sbuf *o, int inflight, int models_loaded)
{
    char labels[160];
    ti_err e = sv_sbuf_puts(o, "# HELP tickinfer_requests_total HTTP requests by endpoint and status code.\n"
                               "# TYPE tickinfer_requests_total counter\n");
    for (int ep = 0; ep < SV_EP__COUNT && !e; ep++)
        for (int c = 0; c < SV_MET_N_CODES && !e; c++) {
            uint64_t v = atomic_load(&m->req[ep][c]);
            if (!v) continue;
            if (k_codes[c])
                e = sv_sbuf_printf(o, "tickinfer_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", k_ep_names[ep],
                                   k_codes[c], (unsigned long long)v);
            else
                e = sv_sbuf_printf(o, "tickinfer_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                                   k_ep_names[ep], (unsigned long long)v);
        }
    if (!e)
        e = sv_sbuf_puts(o, "# HELP tickinfer_request_duration_seconds Time from request start to response.\n"
                            "# TYPE tickinfer_request_duration_seconds histogram\n");
    for (int ep = 0; ep < SV_EP__COUNT && !e; ep++) {
        if (!atomic_load(&m->latency[ep].count)) continue;
        snprintf(labels, sizeof labels, "endpoint=\"%s\"", k_ep_names[ep]);
        e = render_hist(o, "tickinfer_request_duration_seconds", labels, &m->latency[ep]);
    }
    int n = atomic_load(&((sv_metrics *)(uintptr_t)m)->n_models);
    static const char *const stage[4] = {"queue", "compute", "total", "stream"};
    if (!e)
        e = sv_sbuf_puts(o, "# HELP tickinfer_inference_duration_seconds Inference time by stage (queue, compute, total; "
                            "stream: one push of ticks to a symbol's stream).\n"
                            "# TYPE tickinfer_inference_duration_seconds histogram\n");
    for (int i = 0; i < n && !e; i++) {
        const sv_met_model *r = &m->model[i];
        const sv_met_hist *hs[4] = {&r->queue, &r->compute, &r->total, &r->stream};
        for (int s = 0; s < 4 && !e; s++) {
            snprintf(labels, sizeof labels, "model=\"%s\",stage=\"%s\"", r->name, stage[s]);
            e = render_hist(o, "tickinfer_inference_duration_seconds", labels, hs[s]);
        }
    }
    if (!e)
        e = sv_sbuf_puts(o, "# HELP tickinfer_batch_size Rows per forward pass.\n# TYPE tickinfer_batch_size histogram\n");
    for (int i = 0; i < n && !e; i++) {
        const sv_met_model *r = &m->model[i];
        uint64_t cum = 0;
        for (int b = 0; b < SV_MET_N_BATCH && !e; b++) {
            cum += atomic_load(&r->batch[b]);
            if (b < SV_MET_N_BATCH - 1)
                e = sv_sbuf_printf(o, "tickinfer_batch_size_bucket{model=\"%s\",le=\"%d\"} %llu\n", r->name,
                                   k_batch_le[b], (unsigned long long)cum);
            else
                e = sv_sbuf_printf(o, "tickinfer_batch_size_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", r->name,
                                   (unsigned long long)cum);
        }
        if (!e)
            e = sv_sbuf_printf(o, "tickinfer_batch_size_sum{model=\"%s\"} %llu\ntickinfer_batch_size_count{model=\"%s\"} %llu\n",
                               r->name, (unsigned long long)atomic_load(&r->batch_sum), r->name,
                               (unsigned long long)atomic_load(&r->batch_count));
    }
    if (!e) e = sv_sbuf_puts(o, "# HELP tickinfer_inferences_total Inference requests by model and outcome.\n"
                                "# TYPE tickinfer_inferences_total counter\n");
    for (int i = 0; i < n && !e; i++)
        e = sv_sbuf_printf(o, "tickinfer_inferences_total{model=\"%s\",outcome=\"ok\"} %llu\n"
                              "tickinfer_inferences_total{model=\"%s\",outcome=\"error\"} %llu\n",
                           m->model[i].name, (unsigned long long)atomic_load(&m->model[i].ok), m->model[i].name,
                           (unsigned long long)atomic_load(&m->model[i].failed));
    if (!e)
        e = sv_sbuf_printf(o, "# HELP tickinfer_inflight_requests Requests holding a slot now.\n"
                              "# TYPE tickinfer_inflight_requests gauge\ntickinfer_inflight_requests %d\n"
                              "# HELP tickinfer_models_loaded Models ready to serve.\n"
                              "# TYPE tickinfer_models_loaded gauge\ntickinfer_models_loaded %d\n",
                           inflight, models_loaded);
    return e;
}
