/* The HTTP edge, the one file that talks to libmicrohttpd: the daemon, request slots, the
 * parsed request handed to the route table (routes.c), the answer turned into an HTTP
 * response, suspend/resume around jobs, drain.  See include/tickinfer/serve.h. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stddef.h>
#include <strings.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/serve_internal.h"
#include "tickinfer/alloc.h"
#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"

/* ---- request slots -------------------------------------------------------------------- */

void sv_request_reset(sv_request *r)
{
    /* Everything from `conn` on is per request (serve_internal.h). */
    memset((char *)r + offsetof(sv_request, conn), 0, sizeof *r - offsetof(sv_request, conn));
    r->ep = SV_EP_OTHER;
    r->fmt = SV_OUT_JSON;
    atomic_store(&r->state, SV_RQ_READING);
    r->t_start_ns = ti_now_ns();
    sv_sbuf_clear(&r->body);
    sv_sbuf_clear(&r->out);
}

static sv_request *slot_acquire(ti_server *s)
{
    pthread_mutex_lock(&s->pool_mu);
    sv_request *r = s->free_list;
    if (r) s->free_list = r->next_free;
    pthread_mutex_unlock(&s->pool_mu);
    if (!r) return NULL;
    atomic_fetch_add(&s->inflight, 1);
    r->next_free = NULL;
    sv_request_reset(r);
    return r;
}

/* A slot keeps its buffers for the next request unless one request made them large:
 * then they go back to the system, so max_inflight slots cannot pin max_body_bytes each. */
#define TI_SLOT_KEEP_BYTES ((size_t)4 << 20)

static void slot_trim(sv_request *r)
{
    if (r->body.alloc > TI_SLOT_KEEP_BYTES) sv_sbuf_free(&r->body);
    if (r->out.alloc > TI_SLOT_KEEP_BYTES) sv_sbuf_free(&r->out);
    if (r->x_cap * sizeof(float) > TI_SLOT_KEEP_BYTES) {
        ti_free_aligned(r->x);
        r->x = NULL;
        r->x_cap = 0;
    }
    if (r->y_cap * sizeof(float) > TI_SLOT_KEEP_BYTES) {
        ti_free_aligned(r->y);
        r->y = NULL;
        r->y_cap = 0;
    }
}

static void slot_release(ti_server *s, sv_request *r)
{
    slot_trim(r);
    if (r->model) sv_entry_unref(r->model);
    r->model = NULL;
    r->conn = NULL;
    pthread_mutex_lock(&s->pool_mu);
    r->next_free = s->free_list;
    s->free_list = r;
    pthread_mutex_unlock(&s->pool_mu);
    atomic_fetch_sub(&s->inflight, 1);
}

ti_err sv_request_reserve(sv_request *r, size_t n_x, size_t n_y)
{
    if (n_x > r->x_cap) {
        float *p = ti_malloc_aligned(n_x * sizeof(float), 64);
        if (!p) return ti_errorf(TI_ERR_NOMEM, "out of memory for a %zu-float input", n_x);
        ti_free_aligned(r->x);
        r->x = p;
        r->x_cap = n_x;
    }
    if (n_y > r->y_cap) {
        float *p = ti_malloc_aligned(n_y * sizeof(float), 64);
        if (!p) return ti_errorf(TI_ERR_NOMEM, "out of memory for a %zu-float output", n_y);
        ti_free_aligned(r->y);
        r->y = p;
        r->y_cap = n_y;
    }
    return TI_OK;
}

/* ---- responses --------------------------------------------------------------------------- */

static enum MHD_Result respond_static(struct MHD_Connection *c, int status, const char *body, int retry_after)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (retry_after) MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Send the answer a handler filled (r->resp, body r->out). */
static enum MHD_Result send_reply(sv_request *r)
{
    atomic_store(&r->state, SV_RQ_RESPONDED);
    const sv_http_out *o = &r->resp;
    if (o->drop || o->status < 100) return MHD_NO;
    /* PERSISTENT: r->out stays untouched until the completed callback frees the slot. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->out.len, r->out.data ? r->out.data : (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", o->content_type ? o->content_type : "application/json");
    for (int i = 0; i < o->n_headers; i++) MHD_add_response_header(resp, o->header[i].name, o->header[i].value);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)o->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the parsed request ----------------------------------------------------------------- */

static unsigned method_bit(const char *m)
{
    if (strcmp(m, "GET") == 0) return SV_GET;
    if (strcmp(m, "POST") == 0) return SV_POST;
    if (strcmp(m, "HEAD") == 0) return SV_HEAD;
    if (strcmp(m, "DELETE") == 0) return SV_DELETE;
    return SV_METHOD_OTHER;
}

static int flag_value(const char *v) { return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0); }

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    sv_http_in *in = cls;
    if (!key) return MHD_YES;
    if (kind == MHD_GET_ARGUMENT_KIND) { /* the first of repeated keys wins */
        if (strcmp(key, "model") == 0 && !in->q_model) in->q_model = value; /* "?model" alone: the default */
        else if (strcmp(key, "all_steps") == 0 && !in->q_all_steps) in->q_all_steps = flag_value(value);
        else if (strcmp(key, "normalized") == 0 && !in->q_normalized) in->q_normalized = flag_value(value);
        return MHD_YES;
    }
    if (!value) return MHD_YES;
    if (!in->authorization && strcasecmp(key, "Authorization") == 0) in->authorization = value;
    else if (!in->accept && strcasecmp(key, "Accept") == 0) in->accept = value;
    else if (!in->infer_header_len && strcasecmp(key, "Inference-Header-Content-Length") == 0) in->infer_header_len = value;
    else if (!in->content_length && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) in->content_length = value;
    return MHD_YES;
}

static void read_request(sv_request *r, const char *method, const char *url)
{
    sv_http_in *in = &r->in;
    in->method = method_bit(method);
    in->method_name = method;
    in->url = url;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, on_header, in);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, on_header, in);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static void on_job_done(sv_job *j, void *ctx)
{
    sv_request *r = ctx;
    ti_server *s = r->srv;
    atomic_store(&r->state, SV_RQ_DONE);
    MHD_resume_connection(r->conn);
    /* r may be recycled from here on: touch only the server. */
    atomic_fetch_sub(&s->jobs_pending, 1);
}

/* Submit the job a handler prepared (r->model, x, y, B, T) and suspend the connection. */
static void submit_job(sv_request *r)
{
    ti_server *s = r->srv;
    sv_job *j = &r->job;
    memset(j, 0, sizeof *j);
    j->x = r->x;
    j->y = r->y;
    j->B = r->B;
    j->T = r->T;
    j->deadline_ns = s->cfg.request_timeout_ms > 0 ? r->t_start_ns + (uint64_t)s->cfg.request_timeout_ms * 1000000u : 0;
    j->done = on_job_done;
    j->done_ctx = r;
    atomic_store(&r->state, SV_RQ_QUEUED);
    atomic_fetch_add(&s->jobs_pending, 1);
    /* Suspend before submitting: the worker may finish and resume before we return. */
    MHD_suspend_connection(r->conn);
    ti_err e = sv_dynbatch_submit(r->model->batcher, j);
    if (e) {
        j->status = e;
        snprintf(j->err, sizeof j->err, "%s", ti_errmsg());
        on_job_done(j, r);
    }
}

/* ---- libmicrohttpd callbacks ---------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    ti_server *s = cls;
    sv_request *r = *con_cls;
    if (!r) {
        /* Refusals hold no slot; they are counted under endpoint "other". */
        if (atomic_load(&s->draining)) {
            sv_metrics_request(&s->met, SV_EP_OTHER, 503, 0);
            return respond_static(conn, 503, "{\"error\":\"server is shutting down\"}", 1);
        }
        r = slot_acquire(s);
        if (!r) {
            sv_metrics_request(&s->met, SV_EP_OTHER, 503, 0);
            return respond_static(conn, 503, "{\"error\":\"server overloaded: too many requests in flight\"}", 1);
        }
        *con_cls = r;
        r->conn = conn;
        read_request(r, method, url);
        /* A 404 / 405 is answered after the body so the connection can stay open. */
        r->route_status = sv_route_match(r);
        const char *cl = r->in.content_length;
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == '\0' && n > s->cfg.max_body_bytes) {
                r->too_large = 1;
                sv_reply_error(r, 413, "request body of %llu bytes exceeds the limit of %zu bytes", n,
                               s->cfg.max_body_bytes);
                return send_reply(r);
            }
        }
        return MHD_YES;
    }
    int st = atomic_load(&r->state);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st == SV_RQ_RESPONDED || r->route_status) return MHD_YES; /* answered or doomed: discard */
        if (sv_sbuf_append(&r->body, upload_data, n)) {
            r->too_large = 1;
            sv_reply_error(r, 413, "request body exceeds the limit of %zu bytes", s->cfg.max_body_bytes);
            return send_reply(r);
        }
        return MHD_YES;
    }
    if (st == SV_RQ_READING) {
        if (r->route_status) return send_reply(r);
        if (sv_dispatch(r) == SV_H_JOB) {
            submit_job(r);
            return MHD_YES;
        }
        return send_reply(r);
    }
    if (st == SV_RQ_DONE) {
        sv_finish(r);
        return send_reply(r);
    }
    return MHD_YES; /* QUEUED (spurious call) or RESPONDED */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    ti_server *s = cls;
    sv_request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    uint64_t now = ti_now_ns();
    int status = atomic_load(&r->state) == SV_RQ_RESPONDED && !r->resp.drop ? r->resp.status : 0;
    sv_metrics_request(&s->met, r->ep, status ? status : 499, now - r->t_start_ns);
    if (r->model && r->route && r->route->finish && r->job.t_done_ns) {
        int ok = r->job.status == TI_OK && status == 200;
        sv_metrics_infer(&s->met, r->model->name, ok, r->B, r->job.t_start_ns - r->job.t_enqueue_ns,
                         r->job.t_done_ns - r->job.t_start_ns, now - r->t_start_ns, r->job.batch_rows);
    }
    slot_release(s, r);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

ti_err ti_server_create(ti_server **out, const ti_server_config *cfg)
{
    *out = NULL;
    ti_server_config c;
    if (cfg) c = *cfg;
    else ti_server_config_default(&c);
    ti_err err = ti_server_config_check(&c); /* the option table's ranges and choices */
    if (err) return err;
    ti_kv_dtype kvd = TI_KV_F32;
    if (c.stream_kv_dtype[0] && ti_kv_dtype_parse(&kvd, c.stream_kv_dtype) != TI_OK)
        return ti_errorf(TI_ERR_INVALID_ARG, "serve: stream_kv_dtype '%s': use f32, int8, fp8 or int4",
                         c.stream_kv_dtype);
    ti_server *s = calloc(1, sizeof *s);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "serve: out of memory");
    s->cfg = c;
    const char *tok = getenv("TICKINFER_ADMIN_TOKEN");
    if (!s->cfg.admin_token[0] && tok) snprintf(s->cfg.admin_token, sizeof s->cfg.admin_token, "%s", tok);
    if (!s->cfg.host[0]) snprintf(s->cfg.host, sizeof s->cfg.host, "127.0.0.1");
    if (!s->cfg.models_dir[0]) snprintf(s->cfg.models_dir, sizeof s->cfg.models_dir, "models");
    s->bo.n_workers = c.workers_per_model;
    s->bo.max_batch = c.max_batch;
    s->bo.max_queue_delay_us = c.max_queue_delay_us;
    s->bo.preferred_batch = c.preferred_batch;
    if (!s->cfg.intra_op_threads) { /* auto: the cores shared out among the workers */
        int t = ti_cpu_get()->n_cores_online / c.workers_per_model;
        s->cfg.intra_op_threads = t > 1 ? t : 1;
    }
    s->bo.intra_op_threads = s->cfg.intra_op_threads;
    s->stream_kv = kvd;
    snprintf(s->cfg.stream_kv_dtype, sizeof s->cfg.stream_kv_dtype, "%s", ti_kv_dtype_name(kvd));
    sv_registry_init(&s->reg);
    sv_metrics_init(&s->met);
    pthread_mutex_init(&s->pool_mu, NULL);
    s->slots = calloc((size_t)c.max_inflight, sizeof *s->slots);
    if (!s->slots) {
        ti_server_destroy(s);
        return ti_errorf(TI_ERR_NOMEM, "serve: out of memory for %d request slots", c.max_inflight);
    }
    for (int i = c.max_inflight - 1; i >= 0; i--) {
        sv_request *r = &s->slots[i];
        r->srv = s;
        sv_sbuf_init(&r->body, c.max_body_bytes);
        sv_sbuf_init(&r->out, c.max_body_bytes < ((size_t)64 << 20) ? (size_t)64 << 20 : c.max_body_bytes);
        r->next_free = s->free_list;
        s->free_list = r;
    }
    *out = s;
    return TI_OK;
}

ti_err ti_server_add_model(ti_server *s, const char *name, const char *path)
{
    char old[SV_REG_MAX_PATH];
    int version;
    sv_registry_lookup_path(&s->reg, name ? name : "", old, sizeof old, &version);
    sv_model_entry *e;
    ti_err err = sv_entry_load(&e, name, path, version, &s->bo, s->stream_kv);
    if (err) return err;
    if ((err = sv_registry_put(&s->reg, e))) sv_entry_unref(e);
    return err;
}

ti_err ti_server_start(ti_server *s)
{
    if (s->d) return ti_errorf(TI_ERR_STATE, "serve: already started");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->cfg.port);
    if (inet_pton(AF_INET, s->cfg.host, &sa.sin_addr) != 1)
        return ti_errorf(TI_ERR_INVALID_ARG, "serve: host '%s' is not an IPv4 address", s->cfg.host);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    s->d = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.http_threads,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.idle_timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.max_header_bytes,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    if (!s->d) return ti_errorf(TI_ERR_IO, "serve: cannot listen on %s:%d (port in use?)", s->cfg.host, s->cfg.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    return TI_OK;
}

const ti_server_config *ti_server_get_config(const ti_server *s) { return &s->cfg; }

int ti_server_port(const ti_server *s) { return s->port; }

static int wait_zero(atomic_int *v, int timeout_ms)
{
    uint64_t until = ti_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    while (atomic_load(v) > 0) {
        if (timeout_ms >= 0 && ti_now_ns() >= until) return 0;
        usleep(1000);
    }
    return 1;
}

ti_err ti_server_drain(ti_server *s, int timeout_ms)
{
    atomic_store(&s->draining, 1);
    if (!s->d) return TI_OK;
    /* Stop accepting; connections already open finish their requests (new requests on
     * them get 503). */
    MHD_socket ls = MHD_quiesce_daemon(s->d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    int drained = wait_zero(&s->inflight, timeout_ms);
    /* Jobs always finish (bounded compute), and a resumed connection must not outlive
     * the daemon, so wait for them whatever the timeout. */
    wait_zero(&s->jobs_pending, -1);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    return drained ? TI_OK : ti_errorf(TI_ERR_LIMIT, "serve: %d requests still in flight after %d ms",
                                       atomic_load(&s->inflight), timeout_ms);
}

void ti_server_destroy(ti_server *s)
{
    if (!s) return;
    if (s->d) ti_server_drain(s, 0);
    sv_registry_free(&s->reg);
    if (s->slots)
        for (int i = 0; i < s->cfg.max_inflight; i++) {
            sv_sbuf_free(&s->slots[i].body);
            sv_sbuf_free(&s->slots[i].out);
            ti_free_aligned(s->slots[i].x);
            ti_free_aligned(s->slots[i].y);
            free(s->slots[i].trades);
            free(s->slots[i].symbols);
        }
    free(s->slots);
    sv_metrics_free(&s->met);
    pthread_mutex_destroy(&s->pool_mu);
    free(s);
}
