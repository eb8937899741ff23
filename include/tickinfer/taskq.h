/* tickinfer: the task-queue kernels on the CPU (issue 7, part 3), the CPU side of
 * src/kernels/cuda/task_kernels.cu:
 *   batched_gemv           y [B,out] = x[b] [in] @ W[b] [in,out], one matrix per row
 *   batched_softmax        out [B,dim] = softmax(inp) per row, max-subtracted (stable)
 *   process_price_vectors  out [B,features] = prices [B,assets] @ W [assets,features]
 * A scalar reference and AVX2 / AVX-512 variants; a table per SIMD level is filled once
 * and the best one the CPU supports (capped by TI_SIMD, like kernels.h) is used by the
 * checked entry points below.  batched_softmax is the model kernels' softmax_forward
 * (kernels.h) of the same level.  Variants match the reference to NMSE < 1e-10
 * (tests/kernels/test_taskq.c) and numpy (tests/py/taskq_oracle.py). */
#ifndef TICKINFER_TASKQ_H
#define TICKINFER_TASKQ_H

#include "tickinfer/cpu.h"
#include "tickinfer/err.h"
#include "tickinfer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shape limits of the checked entry points (TI_ERR_LIMIT beyond). */
#define TI_TASKQ_MAX_B (1 << 24)
#define TI_TASKQ_MAX_DIM (1 << 20)   /* in, out, dim, assets, features */
#define TI_TASKQ_MAX_ELEMS (1ull << 34) /* of any one tensor */

/* Raw kernels: outputs first, no checks, sizes >= 0, no aliasing of output and input. */
typedef struct ti_taskq_kernels {
    ti_simd_level level;
    const char *name;
    /* y [B,out], W [B,in,out], x [B,in] */
    void (*batched_gemv)(float *y, const float *W, const float *x, int B, int in, int out);
    /* out [B,dim], inp [B,dim]; out may equal inp (in place) */
    void (*batched_softmax)(float *out, const float *inp, int B, int dim);
    /* out [B,features], prices [B,assets], W [assets,features] */
    void (*process_price_vectors)(float *out, const float *prices, const float *W, int B, int assets, int features);
} ti_taskq_kernels;

/* Table for a level, NULL if the CPU lacks it. */
const ti_taskq_kernels *ti_taskq_kernels_get(ti_simd_level level);
/* Table for ti_simd_active(). */
const ti_taskq_kernels *ti_taskq_kernels_best(void);

/* Checked entry points on the best table: TI_ERR_INVALID_ARG for NULL or negative sizes,
 * TI_ERR_LIMIT past the limits above.  pool may be NULL; rows are split over it. */
ti_err ti_taskq_batched_gemv(float *y, const float *W, const float *x, int B, int in, int out, ti_pool *pool);
ti_err ti_taskq_batched_softmax(float *out, const float *inp, int B, int dim, ti_pool *pool);
ti_err ti_taskq_process_price_vectors(float *out, const float *prices, const float *W, int B, int assets,
                                      int features, ti_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
