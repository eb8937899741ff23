/* tickinfer: a fixed-size thread pool for data-parallel loops.
 *
 * ti_pool_parallel_for(pool, n, fn, ctx) calls fn(ctx, begin, end, worker) over
 * disjoint chunks covering [0, n) and returns when all are done; the calling thread
 * takes part (as worker 0), so a pool of 1 thread runs inline.  `worker` is in
 * [0, ti_pool_size(pool)) and is stable for the duration of one call, so callers can
 * keep per-worker scratch.  Calls on one pool are serialised.  A NULL pool runs fn
 * inline as worker 0, and so does a nested call on the same pool from inside fn (it
 * would deadlock otherwise).  Idle workers sleep on a condition variable. */
#ifndef TICKINFER_THREADPOOL_H
#define TICKINFER_THREADPOOL_H

#include <stddef.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_pool ti_pool;

typedef void (*ti_pool_fn)(void *ctx, size_t begin, size_t end, int worker);

/* n_threads <= 0: one per online core; at most 1024. */
ti_err ti_pool_create(ti_pool **out, int n_threads);
void ti_pool_destroy(ti_pool *pool);
/* Workers including the caller (1 for a NULL pool). */
int ti_pool_size(const ti_pool *pool);

/* Split [0, n) into chunks of at least `grain` items (0 = n / (4*threads), min 1),
 * handed out dynamically. */
void ti_pool_parallel_for(ti_pool *pool, size_t n, size_t grain, ti_pool_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
