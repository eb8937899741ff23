/* tickinfer serve: dynamic batching per model (internal).
 *
 * A job is rows x [B,T,F] -> y ([B] for TinyRV, [B,T] for the causal model).  Worker
 * threads each own a ti_runstate for max_batch rows of the model's context.  A worker
 * takes the oldest job; if it has fewer than max_batch rows it waits up to
 * max_queue_delay_us (from that job's arrival; less once preferred_batch rows are in hand)
 * for more jobs with the same T, takes as
 * many as fit, copies them into one [sum B, T, F] batch, runs one forward and copies each
 * job's rows back.  A job larger than max_batch runs alone in max_batch chunks on its own
 * buffers.  Jobs past their deadline when dequeued fail with TI_ERR_LIMIT.  The queue is
 * an intrusive list (no allocation); done() is called on the worker thread. */
#ifndef TICKINFER_SERVE_DYNBATCH_H
#define TICKINFER_SERVE_DYNBATCH_H

#include <stdint.h>

#include "tickinfer/model.h"

typedef struct sv_job sv_job;
struct sv_job {
    const float *x; /* [B,T,F] */
    float *y;       /* [B] or [B,T] */
    int B, T;
    uint64_t t_enqueue_ns, deadline_ns; /* deadline 0 = none */
    /* filled by the worker */
    uint64_t t_start_ns, t_done_ns;
    int batch_rows; /* rows of the forward this job ran in */
    ti_err status;
    char err[192];
    void (*done)(sv_job *j, void *ctx);
    void *done_ctx;
    sv_job *next;
};

typedef struct sv_dynbatch_opts {
    int n_workers;          /* >= 1 */
    int max_batch;          /* >= 1 */
    int max_queue_delay_us; /* >= 0 */
    int preferred_batch;    /* 0, or stop waiting once this many rows are gathered */
    int intra_op_threads;   /* threads per forward (each worker owns a pool); <= 1: none */
} sv_dynbatch_opts;

typedef struct sv_dynbatch sv_dynbatch;

/* The model must outlive the batcher.  Allocates every run state and batch buffer now. */
ti_err sv_dynbatch_create(sv_dynbatch **out, const ti_model *m, const sv_dynbatch_opts *o);
/* Finishes queued jobs, then joins the workers. */
void sv_dynbatch_destroy(sv_dynbatch *b);
/* Queue a job (B >= 1, 1 <= T <= context, TinyRV: T == context).  TI_ERR_STATE if the
 * batcher is stopping. */
ti_err sv_dynbatch_submit(sv_dynbatch *b, sv_job *j);
/* Jobs waiting (not yet taken by a worker). */
int sv_dynbatch_queued(sv_dynbatch *b);
/* Forward passes run so far (a batch of several jobs counts once). */
uint64_t sv_dynbatch_executions(sv_dynbatch *b);

#endif
