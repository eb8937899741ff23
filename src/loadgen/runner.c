/* One measurement point: worker threads (one connection or run state each) take send
 * indices from a shared counter.  Closed loop: a worker sends its next request when the
 * previous one answers.  Open loop: send i is due at the scheduler's intended time and
 * its latency counts from that time, so a slow server cannot slow the clock that
 * measures it.  The first `warmup` indices are not measured.  Stream target: worker c sends
 * its n-th request to symbol S<c>_<n mod symbols>, so each client ticks its own symbols. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen_internal.h"
#include "tickinfer/clock.h"
#include "tickinfer/transformer.h"

#define HIST_MAX_NS 600000000000ull /* 10 min */
#define BIN_NS 10000000ull          /* completion-time bins for the stability rule */
#define MAX_SENDS 100000000ull

typedef struct shared {
    const ti_lg_config *cfg;
    const lg_request *req;
    const ti_model *model;
    ti_lg_sched sched;
    uint64_t t0, warmup, min_total, min_ns, max_ns;
    atomic_ullong next;
    atomic_ullong first_send, last_done; /* measured window */
    atomic_uint *bins;
    size_t n_bins;
} shared;

typedef struct worker {
    shared *sh;
    pthread_t th;
    int id;                    /* client index: picks its stream symbols */
    uint64_t sent;             /* its sends so far */
    ti_hist hist;
    uint64_t n_ok, errors[TI_LG_ERR__COUNT];
    ti_err first_err;
    char msg[256];
} worker;

void ti_lg_config_default(ti_lg_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 8000;
    c->batch = 1;
    c->T = 60;
    c->F = 12;
    c->symbols = 1;
    c->concurrency = 1;
    c->rate = 100;
    c->requests = 200;
    c->warmup = 20;
    c->min_s = 2;
    c->max_s = 60;
    c->timeout_ms = 30000;
    c->seed = 1;
}

static void atomic_min_u64(atomic_ullong *a, uint64_t v)
{
    unsigned long long cur = atomic_load(a);
    while (v < cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void atomic_max_u64(atomic_ullong *a, uint64_t v)
{
    unsigned long long cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void note_err(worker *w, ti_lg_errkind k, ti_err e, const char *msg)
{
    w->errors[k]++;
    if (!w->first_err) {
        w->first_err = e ? e : TI_ERR_IO;
        snprintf(w->msg, sizeof w->msg, "%s", msg);
    }
}

/* Next index to send, or UINT64_MAX when the point is over. */
static uint64_t take(shared *sh)
{
    uint64_t i = atomic_fetch_add(&sh->next, 1);
    if (i >= MAX_SENDS) return UINT64_MAX;
    uint64_t now = ti_now_ns() - sh->t0;
    if (sh->cfg->mode == TI_LG_OPEN) {
        uint64_t at = ti_lg_sched_at(&sh->sched, i) - sh->t0;
        if (i >= sh->min_total && at >= sh->min_ns) return UINT64_MAX;
        if (at >= sh->max_ns) return UINT64_MAX;
        return i;
    }
    if (i >= sh->min_total && now >= sh->min_ns) return UINT64_MAX;
    if (now >= sh->max_ns) return UINT64_MAX;
    return i;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    const ti_lg_config *c = sh->cfg;
    ti_http_client *cl = NULL;
    ti_ctx *rs = NULL;
    float *y = NULL;
    ti_err e;
    if (c->target == TI_LG_INPROC) {
        e = ti_ctx_create(&rs, sh->model, c->batch);
        y = malloc((size_t)c->batch * (size_t)c->T * sizeof *y);
        if (e || !y) {
            note_err(w, TI_LG_ERR_INPROC, e ? e : TI_ERR_NOMEM, e ? ti_errmsg() : "out of memory");
            goto done;
        }
    } else if ((e = ti_http_client_create(&cl, c->host, c->port, c->timeout_ms, 0)) != TI_OK) {
        note_err(w, TI_LG_ERR_CONNECT, e, ti_errmsg());
        goto done;
    }
    for (;;) {
        uint64_t i = take(sh);
        if (i == UINT64_MAX) break;
        uint64_t start;
        if (c->mode == TI_LG_OPEN) {
            start = ti_lg_sched_at(&sh->sched, i);
            if (ti_lg_sched_wait(&sh->sched, i, ti_now_ns())) ti_sleep_until_ns(start);
        } else {
            start = ti_now_ns();
        }
        int ok = 0;
        ti_lg_errkind kind = TI_LG_ERR_IO;
        char why[256] = "";
        if (c->target == TI_LG_INPROC) {
            e = ti_ctx_forward(rs, y, sh->req->x, c->batch, c->T, NULL);
            ok = e == TI_OK;
            kind = TI_LG_ERR_INPROC;
            if (!ok) snprintf(why, sizeof why, "%s", ti_errmsg());
        } else {
            ti_http_response r;
            const char *path = lg_request_path(sh->req, w->id, w->sent++);
            size_t blen;
            const char *body = lg_request_body(sh->req, w->id, &blen);
            e = ti_http_client_request(cl, &r, "POST", path, sh->req->headers, body, blen);
            if (e) {
                kind = ti_http_client_last_kind(cl);
                snprintf(why, sizeof why, "%s", ti_errmsg());
            } else if (r.status == 200) {
                ok = 1;
            } else {
                kind = r.status >= 500 ? TI_LG_ERR_HTTP_5XX : r.status >= 400 ? TI_LG_ERR_HTTP_4XX : TI_LG_ERR_PROTOCOL;
                snprintf(why, sizeof why, "HTTP %d: %.200s", r.status, r.body ? r.body : "");
                e = TI_ERR_IO;
            }
        }
        uint64_t done = ti_now_ns();
        if (i < sh->warmup) continue;
        atomic_min_u64(&sh->first_send, start);
        atomic_max_u64(&sh->last_done, done);
        size_t bin = (size_t)((done - sh->t0) / BIN_NS);
        if (bin < sh->n_bins) atomic_fetch_add(&sh->bins[bin], 1);
        if (ok) {
            w->n_ok++;
            ti_hist_record(&w->hist, done - start);
        } else {
            note_err(w, kind, e, why);
        }
    }
done:
    ti_http_client_destroy(cl);
    ti_ctx_destroy(rs);
    free(y);
    return NULL;
}

/* Server stats, or present = 0 when /metrics is unavailable. */
static void scrape(ti_lg_server_stats *st, const ti_lg_config *c)
{
    memset(st, 0, sizeof *st);
    ti_http_client *cl = NULL;
    ti_http_response r;
    if (ti_http_client_create(&cl, c->host, c->port, 5000, 64u << 20)) return;
    if (!ti_http_client_request(cl, &r, "GET", "/metrics", NULL, NULL, 0) && r.status == 200)
        if (ti_lg_parse_metrics(st, r.body, r.body_len, c->model)) memset(st, 0, sizeof *st);
    ti_http_client_destroy(cl);
}

static ti_err check_config(const ti_lg_config *c)
{
    if ((int)c->target < 0 || c->target >= TI_LG_TARGET__COUNT || (int)c->mode < 0 || c->mode >= TI_LG_MODE__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: bad target or mode");
    if (c->concurrency < 1 || c->concurrency > TI_LG_MAX_CONCURRENCY)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: concurrency %d not in [1, %d]", c->concurrency, TI_LG_MAX_CONCURRENCY);
    if (c->requests < 0 || c->warmup < 0 || c->min_s < 0 || !(c->max_s > 0) || c->max_s > 3600 || c->timeout_ms <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: requests/warmup/min_s must be >= 0, max_s in (0, 3600], timeout > 0");
    if (c->mode == TI_LG_OPEN && !(c->rate > 0 && c->rate <= 1e7))
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: open-loop rate %g not in (0, 1e7]", c->rate);
    int clients = c->mode == TI_LG_SERIAL ? 1 : c->concurrency;
    if (c->target == TI_LG_STREAM && (c->symbols < 1 || (long long)clients * c->symbols > TI_LG_MAX_STREAMS))
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: stream: %d clients x %d symbols not in [1, %d] streams", clients,
                         c->symbols, TI_LG_MAX_STREAMS);
    if (c->target == TI_LG_TICKS && (long long)clients * c->batch > TI_LG_MAX_STREAMS)
        return ti_errorf(TI_ERR_INVALID_ARG, "bench: ticks: %d clients x %d symbols (--batch) over %d streams", clients,
                         c->batch, TI_LG_MAX_STREAMS);
    return TI_OK;
}

static void summarise(ti_lg_point *p, shared *sh, worker *w, int nw, const ti_lg_server_stats *s0,
                      const ti_lg_server_stats *s1)
{
    for (int k = 0; k < nw; k++) {
        ti_hist_merge(&p->hist, &w[k].hist);
        p->n_ok += w[k].n_ok;
        for (int j = 0; j < TI_LG_ERR__COUNT; j++) {
            p->errors[j] += w[k].errors[j];
            p->n_err += w[k].errors[j];
        }
    }
    uint64_t a = atomic_load(&sh->first_send), b = atomic_load(&sh->last_done);
    p->wall_s = b > a ? (double)(b - a) / 1e9 : 0;
    p->req_s = p->wall_s > 0 ? (double)p->n_ok / p->wall_s : 0;
    p->samples_s = p->req_s * p->batch;
    double sum_s = (double)(p->hist.sum / 1e9L);
    p->latsum_qps = sum_s > 0 ? (double)p->n_ok / sum_s : 0;
    p->p50_ms = (double)ti_hist_quantile(&p->hist, 0.5) / 1e6;
    p->p90_ms = (double)ti_hist_quantile(&p->hist, 0.9) / 1e6;
    p->p99_ms = (double)ti_hist_quantile(&p->hist, 0.99) / 1e6;
    p->p999_ms = (double)ti_hist_quantile(&p->hist, 0.999) / 1e6;
    p->max_ms = (double)p->hist.max / 1e6;
    p->mean_ms = ti_hist_mean(&p->hist) / 1e6;
    /* Stability: completions in the two halves of the window differ by < 10%. */
    uint64_t n1 = 0, n2 = 0, mid = (a - sh->t0) + (b - a) / 2;
    for (size_t i = 0; i < sh->n_bins; i++) {
        uint64_t c = atomic_load(&sh->bins[i]);
        if (i * BIN_NS + BIN_NS / 2 < mid) n1 += c;
        else n2 += c;
    }
    uint64_t hi = n1 > n2 ? n1 : n2, lo = n1 > n2 ? n2 : n1;
    p->stable = b > a && (double)(hi - lo) <= 0.1 * (double)hi;
    p->queue_ms = p->compute_ms = -1;
    /* A series absent before the point simply had no inference yet: count it as zero. */
    if (p->target == TI_LG_STREAM || p->target == TI_LG_TICKS) {
        if (s1->present && s1->stream_count > s0->stream_count) {
            p->queue_ms = 0; /* ticks are decoded on the HTTP thread: nothing queues */
            /* stage "stream" counts one push per symbol: a ticks request holds `batch` of them */
            double per_push = (s1->stream_sum_s - s0->stream_sum_s) / (s1->stream_count - s0->stream_count);
            p->compute_ms = per_push * (p->target == TI_LG_TICKS ? p->batch : 1) * 1e3;
        }
    } else if (s1->present && s1->count > s0->count) {
        double dn = s1->count - s0->count;
        p->queue_ms = (s1->queue_sum_s - s0->queue_sum_s) / dn * 1e3;
        p->compute_ms = (s1->compute_sum_s - s0->compute_sum_s) / dn * 1e3;
    }
}

ti_err ti_lg_run_point(ti_lg_point *out, const ti_lg_config *cfg, const ti_model *model)
{
    if (!out || !cfg) return ti_errorf(TI_ERR_INVALID_ARG, "bench: NULL argument");
    memset(out, 0, sizeof *out);
    ti_err e = check_config(cfg);
    if (e) return e;
    ti_lg_config c = *cfg;
    if (c.mode == TI_LG_SERIAL) c.concurrency = 1;
    if (c.target == TI_LG_STREAM || c.target == TI_LG_TICKS) c.T = 1; /* `batch` rows of F features */
    ti_model *owned = NULL;
    if (c.target == TI_LG_INPROC && !model) {
        if ((e = ti_model_open(&owned, c.model_path, NULL)) != TI_OK) return ti_error_wrap(e, "bench");
        model = owned;
    }
    if (c.target == TI_LG_INPROC) { /* the forward trusts x's shape: check it here */
        const ti_model_info *mc = ti_model_get_info(model);
        if (c.F != mc->n_features) e = ti_errorf(TI_ERR_INVALID_ARG, "bench: in-process: F %d, model expects %d features", c.F, mc->n_features);
    }
    lg_request req;
    if (e || (e = lg_request_build(&req, &c)) != TI_OK) {
        ti_model_free(owned);
        return e;
    }
    shared sh = {.cfg = &c, .req = &req, .model = model, .warmup = (uint64_t)c.warmup};
    uint64_t measured = (uint64_t)c.requests;
    if (c.mode == TI_LG_OPEN && measured == 0) measured = (uint64_t)ceil(c.rate * c.min_s);
    sh.min_total = sh.warmup + measured;
    sh.max_ns = (uint64_t)(c.max_s * 1e9);
    sh.n_bins = (size_t)(sh.max_ns / BIN_NS) + 1 + (size_t)c.timeout_ms / 10;
    sh.bins = calloc(sh.n_bins, sizeof *sh.bins);
    worker *w = calloc((size_t)c.concurrency, sizeof *w);
    *out = (ti_lg_point){.target = c.target, .mode = c.mode, .concurrency = c.concurrency, .batch = c.batch, .T = c.T,
                         .F = c.F, .rate_target = c.mode == TI_LG_OPEN ? c.rate : 0};
    e = (!sh.bins || !w) ? ti_errorf(TI_ERR_NOMEM, "bench: out of memory") : ti_hist_init(&out->hist, HIST_MAX_NS, 7);
    int started = 0;
    ti_lg_server_stats s0 = {0}, s1 = {0};
    if (!e && c.target != TI_LG_INPROC) scrape(&s0, &c);
    for (int k = 0; k < c.concurrency && !e; k++) {
        w[k].sh = &sh;
        w[k].id = k;
        e = ti_hist_init(&w[k].hist, HIST_MAX_NS, 7);
    }
    if (!e) {
        atomic_store(&sh.first_send, UINT64_MAX);
        atomic_store(&sh.last_done, 0);
        sh.t0 = ti_now_ns();
        /* The warm-up indices come first in time, so the measured clock starts after them;
         * min_s counts from the start of the point, warm-up included. */
        sh.min_ns = (uint64_t)(c.min_s * 1e9);
        if (c.mode == TI_LG_OPEN) ti_lg_sched_init(&sh.sched, sh.t0 + 1000000u, c.rate);
        for (; started < c.concurrency; started++)
            if (pthread_create(&w[started].th, NULL, worker_main, &w[started])) {
                e = ti_errorf(TI_ERR_NOMEM, "bench: cannot start client thread %d", started);
                atomic_store(&sh.next, MAX_SENDS); /* stop the ones running */
                break;
            }
    }
    for (int k = 0; k < started; k++) pthread_join(w[k].th, NULL);
    if (!e && c.target != TI_LG_INPROC) scrape(&s1, &c);
    if (!e) summarise(out, &sh, w, c.concurrency, &s0, &s1);
    if (!e && out->n_ok == 0) {
        const char *msg = "no request was measured (raise --requests or --min-s)";
        ti_err fe = TI_ERR_IO;
        for (int k = 0; k < c.concurrency; k++)
            if (w[k].first_err) {
                msg = w[k].msg;
                fe = w[k].first_err;
                break;
            }
        e = ti_errorf(fe, "bench: %s %s: no successful request: %s", ti_lg_target_name(c.target), ti_lg_mode_name(c.mode), msg);
    }
    for (int k = 0; w && k < c.concurrency; k++) ti_hist_free(&w[k].hist);
    free(w);
    free(sh.bins);
    lg_request_free(&req);
    ti_model_free(owned);
    if (e) ti_lg_point_free(out);
    return e;
}

void ti_lg_point_free(ti_lg_point *p)
{
    if (p) ti_hist_free(&p->hist);
}
