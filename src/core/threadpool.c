/* Persistent worker threads for data-parallel loops; see include/tickinfer/threadpool.h.
 *
 * A call publishes a job under the mutex, bumps `generation` and wakes the workers;
 * everyone (the caller as worker 0 included) then claims chunks from an atomic cursor
 * until [0, n) is used up.  The caller returns once every worker has reported back for
 * this generation, so no worker can still be reading the job when the next one is
 * published.  Idle workers sleep on a condition variable (no spinning). */
#include "tickinfer/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/cpu.h"

#define MAX_THREADS 1024

typedef struct job {
    ti_pool_fn fn;
    void *ctx;
    size_t n, chunk;
} job;

typedef struct worker_arg {
    ti_pool *pool;
    int id;
} worker_arg;

struct ti_pool {
    int n_threads;              /* workers including the caller */
    pthread_t *threads;         /* [n_threads - 1] */
    worker_arg *args;           /* [n_threads - 1] */
    pthread_mutex_t call_lock;  /* serialises parallel_for calls */
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t work_cv, done_cv;
    uint64_t generation;
    int pending;                /* workers yet to finish this generation */
    int shutdown;
    job job;
    _Atomic size_t next;        /* first unclaimed index */
};

/* Set while a thread runs chunks of a pool, so a nested call on the same pool runs
 * inline instead of deadlocking on call_lock. */
static _Thread_local const ti_pool *tl_pool;
static _Thread_local int tl_worker;

static void run_chunks(ti_pool *p, const job *j, int id)
{
    const ti_pool *saved_pool = tl_pool;
    int saved_worker = tl_worker;
    tl_pool = p;
    tl_worker = id;
    size_t begin = atomic_load_explicit(&p->next, memory_order_relaxed);
    for (;;) {
        /* CAS rather than fetch_add: the cursor never runs past n, so no overflow. */
        if (begin >= j->n) break;
        size_t end = j->n - begin > j->chunk ? begin + j->chunk : j->n;
        if (!atomic_compare_exchange_weak_explicit(&p->next, &begin, end, memory_order_relaxed, memory_order_relaxed))
            continue;
        j->fn(j->ctx, begin, end, id);
        begin = atomic_load_explicit(&p->next, memory_order_relaxed);
    }
    tl_pool = saved_pool;
    tl_worker = saved_worker;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    ti_pool *p = wa->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->shutdown) break;
        seen = p->generation;
        job j = p->job;
        pthread_mutex_unlock(&p->lock);
        run_chunks(p, &j, wa->id);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void stop_workers(ti_pool *p, int n_started)
{
    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < n_started; i++) pthread_join(p->threads[i], NULL);
}

static void free_pool(ti_pool *p)
{
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->call_lock);
    free(p->args);
    free(p->threads);
    free(p);
}

ti_err ti_pool_create(ti_pool **out, int n_threads)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "threadpool: NULL output pointer");
    *out = NULL;
    if (n_threads <= 0) n_threads = ti_cpu_get()->n_cores_online;
    if (n_threads > MAX_THREADS)
        return ti_errorf(TI_ERR_INVALID_ARG, "threadpool: %d threads requested, the limit is %d", n_threads, MAX_THREADS);
    ti_pool *p = calloc(1, sizeof *p);
    if (!p) return ti_errorf(TI_ERR_NOMEM, "threadpool: out of memory");
    p->n_threads = n_threads;
    int nw = n_threads - 1;
    p->threads = calloc(nw ? (size_t)nw : 1, sizeof *p->threads);
    p->args = calloc(nw ? (size_t)nw : 1, sizeof *p->args);
    pthread_mutex_init(&p->call_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->next, 0);
    if (!p->threads || !p->args) {
        free_pool(p);
        return ti_errorf(TI_ERR_NOMEM, "threadpool: out of memory");
    }
    for (int i = 0; i < nw; i++) {
        p->args[i].pool = p;
        p->args[i].id = i + 1;
        int rc = pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]);
        if (rc != 0) {
            stop_workers(p, i);
            free_pool(p);
            return ti_errorf(TI_ERR_NOMEM, "threadpool: cannot start thread %d of %d: %s", i + 1, n_threads, strerror(rc));
        }
    }
    *out = p;
    return TI_OK;
}

void ti_pool_destroy(ti_pool *pool)
{
    if (!pool) return;
    stop_workers(pool, pool->n_threads - 1);
    free_pool(pool);
}

int ti_pool_size(const ti_pool *pool) { return pool ? pool->n_threads : 1; }

void ti_pool_parallel_for(ti_pool *pool, size_t n, size_t grain, ti_pool_fn fn, void *ctx)
{
    if (n == 0 || !fn) return;
    /* No pool, or a nested call from inside one of its own chunks: run inline. */
    if (!pool || tl_pool == pool) {
        fn(ctx, 0, n, pool ? tl_worker : 0);
        return;
    }
    size_t chunk = grain;
    if (chunk == 0) {
        chunk = n / (4 * (size_t)pool->n_threads);
        if (chunk == 0) chunk = 1;
    }
    pthread_mutex_lock(&pool->call_lock);
    if (pool->n_threads == 1 || chunk >= n) {
        /* One chunk: waking workers would only add latency. */
        const ti_pool *saved_pool = tl_pool;
        int saved_worker = tl_worker;
        tl_pool = pool;
        tl_worker = 0;
        fn(ctx, 0, n, 0);
        tl_pool = saved_pool;
        tl_worker = saved_worker;
        pthread_mutex_unlock(&pool->call_lock);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->job = (job){.fn = fn, .ctx = ctx, .n = n, .chunk = chunk};
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    pool->pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_cv);
    job j = pool->job;
    pthread_mutex_unlock(&pool->lock);

    run_chunks(pool, &j, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0) pthread_cond_wait(&pool->done_cv, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_unlock(&pool->call_lock);
}
