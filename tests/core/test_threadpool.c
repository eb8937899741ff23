/* Thread pool: coverage of [0, n), worker ids, chunking, pool of 1, n = 0, many calls
 * in a row, nesting, idle workers not spinning, destroy while idle. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/threadpool.h"

typedef struct {
    uint64_t sum;
    char pad[56]; /* one cache line per worker */
} padded_sum;

typedef struct {
    unsigned char *hits;      /* [n], each index must be touched once */
    padded_sum *sums;         /* [pool size] */
    int n_workers;
    _Atomic int bad_worker;   /* worker id out of range seen */
    _Atomic int calls;
    _Atomic size_t min_chunk; /* smallest chunk not ending at n */
    size_t n;
} sum_ctx;

static void sum_fn(void *vctx, size_t begin, size_t end, int worker)
{
    sum_ctx *c = vctx;
    atomic_fetch_add(&c->calls, 1);
    if (worker < 0 || worker >= c->n_workers || begin >= end || end > c->n) {
        atomic_store(&c->bad_worker, 1);
        return;
    }
    if (end != c->n) {
        size_t len = end - begin, cur = atomic_load(&c->min_chunk);
        while (len < cur && !atomic_compare_exchange_weak(&c->min_chunk, &cur, len)) {}
    }
    uint64_t s = 0;
    for (size_t i = begin; i < end; i++) {
        s += i;
        if (c->hits) c->hits[i]++;
    }
    c->sums[worker].sum += s;
}

static uint64_t run_sum(ti_pool *pool, size_t n, size_t grain, sum_ctx *c, int track_hits)
{
    int nw = ti_pool_size(pool);
    memset(c, 0, sizeof *c);
    c->n = n;
    c->n_workers = nw;
    c->sums = calloc((size_t)nw, sizeof *c->sums);
    c->hits = track_hits ? calloc(n ? n : 1, 1) : NULL;
    atomic_store(&c->min_chunk, SIZE_MAX);
    ti_pool_parallel_for(pool, n, grain, sum_fn, c);
    uint64_t total = 0;
    for (int w = 0; w < nw; w++) total += c->sums[w].sum;
    free(c->sums);
    return total;
}

TI_TEST(sums_cover_every_index_once)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 4));
    if (!pool) return;
    TI_CHECK(ti_pool_size(pool) == 4);
    const size_t grains[] = {0, 1, 7, 1000, 5000000};
    for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
        size_t n = 1000003;
        sum_ctx c;
        uint64_t s = run_sum(pool, n, grains[g], &c, 1);
        TI_CHECK(s == (uint64_t)n * (n - 1) / 2);
        TI_CHECK(!atomic_load(&c.bad_worker));
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) wrong += c.hits[i] != 1;
        TI_CHECK_MSG(wrong == 0, "grain %zu: %zu indices not visited exactly once", grains[g], wrong);
        size_t want_min = grains[g] ? grains[g] : n / 16;
        size_t min_chunk = atomic_load(&c.min_chunk);
        TI_CHECK_MSG(min_chunk == SIZE_MAX || min_chunk >= want_min, "grain %zu: chunk of %zu", grains[g], min_chunk);
        free(c.hits);
    }
    ti_pool_destroy(pool);
}

static void record_thread(void *ctx, size_t begin, size_t end, int worker)
{
    pthread_t *who = ctx;
    for (size_t i = begin; i < end; i++) who[i] = pthread_self();
    (void)worker;
}

TI_TEST(pool_of_one_runs_inline)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 1));
    if (!pool) return;
    TI_CHECK(ti_pool_size(pool) == 1);
    sum_ctx c;
    TI_CHECK(run_sum(pool, 12345, 3, &c, 0) == (uint64_t)12345 * 12344 / 2);
    TI_CHECK(!atomic_load(&c.bad_worker));
    pthread_t who[100];
    ti_pool_parallel_for(pool, 100, 1, record_thread, who);
    int all_caller = 1;
    for (int i = 0; i < 100; i++) all_caller &= pthread_equal(who[i], pthread_self()) != 0;
    TI_CHECK(all_caller);
    ti_pool_destroy(pool);
    /* No pool at all behaves like a pool of one. */
    TI_CHECK(ti_pool_size(NULL) == 1);
    TI_CHECK(run_sum(NULL, 1000, 0, &c, 0) == 1000 * 999 / 2);
}

TI_TEST(zero_items_calls_nothing)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 3));
    if (!pool) return;
    sum_ctx c;
    TI_CHECK(run_sum(pool, 0, 0, &c, 0) == 0);
    TI_CHECK(atomic_load(&c.calls) == 0);
    ti_pool_destroy(pool);
}

TI_TEST(many_calls_in_a_row)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 4));
    if (!pool) return;
    int bad = 0;
    for (int k = 0; k < 3000; k++) {
        size_t n = (size_t)(k % 97) + 1;
        sum_ctx c;
        uint64_t s = run_sum(pool, n, 1, &c, 0);
        bad += s != (uint64_t)n * (n - 1) / 2 || atomic_load(&c.bad_worker);
    }
    TI_CHECK(bad == 0);
    ti_pool_destroy(pool);
}

typedef struct {
    ti_pool *pool;
    _Atomic uint64_t inner_sum;
} nest_ctx;

static void inner_fn(void *vctx, size_t begin, size_t end, int worker)
{
    nest_ctx *c = vctx;
    for (size_t i = begin; i < end; i++) atomic_fetch_add(&c->inner_sum, i);
}

static void outer_fn(void *vctx, size_t begin, size_t end, int worker)
{
    nest_ctx *c = vctx;
    for (size_t i = begin; i < end; i++) ti_pool_parallel_for(c->pool, 10, 1, inner_fn, c);
}

TI_TEST(nested_call_runs_inline)
{
    nest_ctx c = {0};
    TI_CHECK_OK(ti_pool_create(&c.pool, 3));
    if (!c.pool) return;
    ti_pool_parallel_for(c.pool, 50, 1, outer_fn, &c); /* would deadlock if not inline */
    TI_CHECK(atomic_load(&c.inner_sum) == 50 * 45);
    ti_pool_destroy(c.pool);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TI_TEST(idle_workers_sleep)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 4));
    if (!pool) return;
    sum_ctx c;
    run_sum(pool, 100000, 1, &c, 0); /* workers have run once, now idle */
    double t0 = cpu_seconds();
    usleep(200000);
    double used = cpu_seconds() - t0;
    TI_CHECK_MSG(used < 0.05, "idle pool used %.3f s of CPU in 0.2 s", used);
    ti_pool_destroy(pool);
}

TI_TEST(create_and_destroy_while_idle)
{
    for (int k = 0; k < 20; k++) {
        ti_pool *pool = NULL;
        TI_CHECK_OK(ti_pool_create(&pool, 1 + k % 5));
        ti_pool_destroy(pool);
    }
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 0));
    TI_CHECK(pool && ti_pool_size(pool) >= 1);
    ti_pool_destroy(pool);
    ti_pool_destroy(NULL);
    TI_CHECK_ERR(ti_pool_create(&pool, 100000), TI_ERR_INVALID_ARG, "limit");
    TI_CHECK(pool == NULL);
}

int main(void)
{
    TI_RUN(sums_cover_every_index_once);
    TI_RUN(pool_of_one_runs_inline);
    TI_RUN(zero_items_calls_nothing);
    TI_RUN(many_calls_in_a_row);
    TI_RUN(nested_call_runs_inline);
    TI_RUN(idle_workers_sleep);
    TI_RUN(create_and_destroy_while_idle);
    return ti_test_summary();
}
