/* Dynamic batcher; see batcher.h. */
#include "serve/dynbatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickinfer/alloc.h"
#include "tickinfer/clock.h"

typedef struct worker {
    struct sv_dynbatch *b;
    pthread_t thread;
    int started;
    ti_ctx *ctx;     /* the model's run context for max_batch rows */
    ti_pool *pool;   /* intra-op threads of this worker's forwards; NULL: none */
    float *x, *y;    /* [max_batch, context, F], [max_batch, context] */
    sv_job **taken;  /* [max_batch] jobs of the current batch */
} worker;

struct sv_dynbatch {
    const ti_model *m;
    sv_dynbatch_opts o;
    int F, context, per_step, fixed; /* per_step: y has T values per row (causal); fixed: T == context */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sv_job *head, *tail;
    int queued, stopping;
    atomic_uint_fast64_t executions;
    worker *w;
};

static void job_finish(sv_job *j, ti_err e, const char *msg)
{
    j->status = e;
    if (e) snprintf(j->err, sizeof j->err, "%s", msg);
    else j->err[0] = '\0';
    j->t_done_ns = ti_now_ns();
    j->done(j, j->done_ctx);
}

/* Rows of y per row of x. */
static size_t y_stride(const sv_dynbatch *b, int T) { return b->per_step ? (size_t)T : 1; }

static void run_alone(worker *w, sv_job *j)
{
    sv_dynbatch *b = w->b;
    ti_err e = TI_OK;
    size_t xs = (size_t)j->T * (size_t)b->F, ys = y_stride(b, j->T);
    j->t_start_ns = ti_now_ns();
    for (int r0 = 0; r0 < j->B && !e; r0 += b->o.max_batch) {
        int n = j->B - r0 < b->o.max_batch ? j->B - r0 : b->o.max_batch;
        e = ti_ctx_forward(w->ctx, j->y + (size_t)r0 * ys, j->x + (size_t)r0 * xs, n, j->T, w->pool);
        atomic_fetch_add(&b->executions, 1);
    }
    j->batch_rows = j->B < b->o.max_batch ? j->B : b->o.max_batch;
    job_finish(j, e, e ? ti_errmsg() : "");
}

/* Take jobs with T == first->T from the queue while rows fit (lock held). */
static int take_matching(sv_dynbatch *b, sv_job **taken, int n, int *rows, int T)
{
    sv_job *prev = NULL, *j = b->head;
    while (j && *rows < b->o.max_batch) {
        sv_job *next = j->next;
        if (j->T == T && *rows + j->B <= b->o.max_batch) {
            if (prev) prev->next = next;
            else b->head = next;
            if (b->tail == j) b->tail = prev;
            b->queued--;
            j->next = NULL;
            taken[n++] = j;
            *rows += j->B;
        } else {
            prev = j;
        }
        j = next;
    }
    return n;
}

static int queue_has_fit(const sv_dynbatch *b, int T, int rows)
{
    for (const sv_job *j = b->head; j; j = j->next)
        if (j->T == T && rows + j->B <= b->o.max_batch) return 1;
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    sv_dynbatch *b = w->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) break; /* stopping and drained */
        sv_job *first = b->head;
        b->head = first->next;
        if (!b->head) b->tail = NULL;
        b->queued--;
        first->next = NULL;
        uint64_t now = ti_now_ns();
        if (first->deadline_ns && now > first->deadline_ns) {
            pthread_mutex_unlock(&b->mu);
            first->batch_rows = 0;
            first->t_start_ns = now;
            char msg[128];
            snprintf(msg, sizeof msg, "request timed out after %.1f ms in the queue",
                     (double)(now - first->t_enqueue_ns) / 1e6);
            job_finish(first, TI_ERR_LIMIT, msg);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        if (first->B >= b->o.max_batch) {
            pthread_mutex_unlock(&b->mu);
            run_alone(w, first);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        int rows = first->B, n = 0;
        w->taken[n++] = first;
        n = take_matching(b, w->taken, n, &rows, first->T);
        /* Wait for more rows until the oldest job's delay budget is spent. */
        uint64_t until = first->t_enqueue_ns + (uint64_t)b->o.max_queue_delay_us * 1000u;
        int enough = b->o.preferred_batch > 0 ? b->o.preferred_batch : b->o.max_batch;
        while (rows < enough && !b->stopping && ti_now_ns() < until) {
            /* The condition variable runs on CLOCK_MONOTONIC, the clock of ti_now_ns. */
            struct timespec ts = {(time_t)(until / 1000000000ull), (long)(until % 1000000000ull)};
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            if (queue_has_fit(b, first->T, rows)) n = take_matching(b, w->taken, n, &rows, first->T);
        }
        pthread_mutex_unlock(&b->mu);
        if (n == 1) {
            run_alone(w, first);
        } else {
            int T = first->T;
            uint64_t t0 = ti_now_ns();
            for (int k = 0; k < n; k++) w->taken[k]->t_start_ns = t0;
            size_t xs = (size_t)T * (size_t)b->F, ys = y_stride(b, T), off = 0;
            for (int k = 0; k < n; k++) {
                memcpy(w->x + off * xs, w->taken[k]->x, (size_t)w->taken[k]->B * xs * sizeof(float));
                off += (size_t)w->taken[k]->B;
            }
            ti_err e = ti_ctx_forward(w->ctx, w->y, w->x, rows, T, w->pool);
            atomic_fetch_add(&b->executions, 1);
            const char *msg = e ? ti_errmsg() : "";
            off = 0;
            for (int k = 0; k < n; k++) {
                sv_job *j = w->taken[k];
                if (!e) memcpy(j->y, w->y + off * ys, (size_t)j->B * ys * sizeof(float));
                off += (size_t)j->B;
                j->batch_rows = rows;
                job_finish(j, e, msg);
            }
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void worker_free(worker *w)
{
    ti_ctx_destroy(w->ctx);
    ti_pool_destroy(w->pool);
    ti_free_aligned(w->x);
    ti_free_aligned(w->y);
    free(w->taken);
}

void sv_dynbatch_destroy(sv_dynbatch *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->o.n_workers; i++) {
        if (b->w[i].started) pthread_join(b->w[i].thread, NULL);
        worker_free(&b->w[i]);
    }
    free(b->w);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

ti_err sv_dynbatch_create(sv_dynbatch **out, const ti_model *m, const sv_dynbatch_opts *o)
{
    *out = NULL;
    if (!m || !o || o->n_workers < 1 || o->n_workers > 256 || o->max_batch < 1 || o->max_batch > 4096 ||
        o->max_queue_delay_us < 0 || o->max_queue_delay_us > 10000000 || o->preferred_batch < 0 ||
        o->preferred_batch > o->max_batch || o->intra_op_threads < 0 || o->intra_op_threads > 1024)
        return ti_errorf(TI_ERR_INVALID_ARG, "batcher: need 1..256 workers, max_batch 1..4096, delay 0..10 s, "
                                             "preferred_batch 0..max_batch, intra_op_threads 0..1024");
    const ti_model_info *mi = ti_model_get_info(m);
    if (mi->n_inputs != 1 || mi->n_outputs != 1 || (!mi->per_step && mi->outputs[0].ndim != 1))
        return ti_errorf(TI_ERR_UNSUPPORTED, "batcher: a %s model with %d inputs / %d outputs (or [B,k] outputs) is not "
                                             "served yet: one input x [B,T,F] and one output y [B] or [B,T]",
                         mi->kind, mi->n_inputs, mi->n_outputs);
    sv_dynbatch *b = calloc(1, sizeof *b);
    if (!b) return ti_errorf(TI_ERR_NOMEM, "batcher: out of memory");
    b->m = m;
    b->o = *o;
    b->F = mi->n_features;
    b->context = mi->context;
    b->per_step = mi->per_step;
    b->fixed = mi->fixed_context;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->w = calloc((size_t)o->n_workers, sizeof *b->w);
    if (!b->w) {
        free(b);
        return ti_errorf(TI_ERR_NOMEM, "batcher: out of memory");
    }
    ti_err e = TI_OK;
    size_t rows = (size_t)o->max_batch, T = (size_t)b->context;
    for (int i = 0; i < o->n_workers && !e; i++) {
        worker *w = &b->w[i];
        w->b = b;
        e = ti_ctx_create(&w->ctx, m, o->max_batch);
        if (!e && o->intra_op_threads > 1) e = ti_pool_create(&w->pool, o->intra_op_threads);
        if (e) break;
        w->x = ti_malloc_aligned(rows * T * (size_t)b->F * sizeof(float), 64);
        w->y = ti_malloc_aligned(rows * T * sizeof(float), 64);
        w->taken = calloc(rows, sizeof *w->taken);
        if (!w->x || !w->y || !w->taken) e = ti_errorf(TI_ERR_NOMEM, "batcher: out of memory for batch buffers");
    }
    for (int i = 0; i < o->n_workers && !e; i++) {
        if (pthread_create(&b->w[i].thread, NULL, worker_main, &b->w[i]) != 0)
            e = ti_errorf(TI_ERR_STATE, "batcher: cannot start worker thread %d", i);
        else b->w[i].started = 1;
    }
    if (e) {
        sv_dynbatch_destroy(b);
        return e;
    }
    *out = b;
    return TI_OK;
}

ti_err sv_dynbatch_submit(sv_dynbatch *b, sv_job *j)
{
    if (j->B < 1 || j->T < 1 || j->T > b->context || (b->fixed && j->T != b->context))
        return ti_errorf(TI_ERR_INVALID_ARG, "batcher: job B=%d T=%d invalid for context %d", j->B, j->T, b->context);
    j->next = NULL;
    j->t_enqueue_ns = ti_now_ns();
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        return ti_errorf(TI_ERR_STATE, "batcher: model is shutting down");
    }
    if (b->tail) b->tail->next = j;
    else b->head = j;
    b->tail = j;
    b->queued++;
    /* Broadcast: a worker waiting to fill its batch and an idle one may both care. */
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return TI_OK;
}

int sv_dynbatch_queued(sv_dynbatch *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->queued;
    pthread_mutex_unlock(&b->mu);
    return n;
}

uint64_t sv_dynbatch_executions(sv_dynbatch *b) { return atomic_load(&b->executions); }
