/* tickinfer: CUDA backend (kernels for the task queue, losses and inference layers).
 *
 * Plain C API; compiles without the CUDA headers.  Built from the .cu files in src/kernels/cuda/ by nvcc
 * when the Makefile finds it (then TI_HAVE_CUDA=1 is defined for C code); otherwise a stub
 * makes every call return TI_ERR_UNSUPPORTED ("built without CUDA").
 *
 * A ti_cuda context owns one device, one stream and a cuBLAS handle.  Every kernel call is
 * asynchronous on that stream; pointers named d_* are device pointers (ti_cuda_malloc).
 * Launch and runtime failures come back as ti_err with the CUDA error string; an error from
 * an earlier asynchronous kernel surfaces at the next ti_cuda_sync / download.
 * Shapes and layouts match the CPU kernels (tickinfer/kernels.h) so results can be compared
 * one to one. */
#ifndef TICKINFER_CUDA_H
#define TICKINFER_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include "tickinfer/err.h"
#include "tickinfer/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head count the attention kernels take (ALiBi slopes travel by value). */
#define TI_CUDA_MAX_HEADS 32
/* Positions per paged KV block (same block size as the CPU paged cache default). */
#define TI_CUDA_KV_BLOCK 16

typedef struct ti_cuda ti_cuda;

/* 1 when this build contains the CUDA kernels, 0 for the stub build. */
int ti_cuda_compiled(void);

/* Number of usable devices in *n.  Fails with a message saying why there is none, e.g.
 * "no CUDA device: cudaGetDeviceCount returned cudaErrorNoDevice (no CUDA-capable device
 * is detected)"; tests print that message when they skip. */
ti_err ti_cuda_device_count(int *n);

typedef struct ti_cuda_info {
    char name[256];
    int cc_major, cc_minor;
    int sm_count;
    size_t mem_bytes;
    double peak_bw_gbs;     /* memory bus width x memory clock x 2 (DDR), GB/s */
    double peak_fp32_tflops; /* sm_count x FP32 lanes (64 sm_80, else 128) x 2 (FMA) x clock */
} ti_cuda_info;

ti_err ti_cuda_create(ti_cuda **out, int device);
void ti_cuda_destroy(ti_cuda *cu);
ti_err ti_cuda_get_info(const ti_cuda *cu, ti_cuda_info *info);

/* ---- memory (device buffers; stream-ordered copies, sync before reading host data) ---- */
ti_err ti_cuda_malloc(ti_cuda *cu, void **d_ptr, size_t bytes);
void ti_cuda_free(ti_cuda *cu, void *d_ptr);
ti_err ti_cuda_upload(ti_cuda *cu, void *d_dst, const void *src, size_t bytes);
/* Copies and waits for the stream, so dst is ready when this returns. */
ti_err ti_cuda_download(ti_cuda *cu, void *dst, const void *d_src, size_t bytes);
ti_err ti_cuda_memset0(ti_cuda *cu, void *d_dst, size_t bytes);
ti_err ti_cuda_sync(ti_cuda *cu);

/* Event timing for benchmarks: records around `fn(arg)` launched on the context's stream
 * and returns milliseconds (after a sync).  fn returns ti_err; its error is passed on. */
ti_err ti_cuda_time_ms(ti_cuda *cu, float *ms, ti_err (*fn)(void *arg), void *arg);

/* ---- CUDA graphs ----------------------------------------------------------------------
 * Capture the launches fn(arg) makes on the context's stream into an executable graph
 * (nothing runs during capture), then replay it with one call: the decode step of many
 * symbols is a dozen small kernels whose launch cost a graph removes.  Buffers and shapes
 * are baked in: change them by capturing again.  fn must not sync or download. */
typedef struct ti_cuda_graph ti_cuda_graph;
ti_err ti_cuda_graph_capture(ti_cuda *cu, ti_cuda_graph **out, ti_err (*fn)(void *arg), void *arg);
ti_err ti_cuda_graph_launch(ti_cuda *cu, ti_cuda_graph *g);
void ti_cuda_graph_destroy(ti_cuda_graph *g);

/* cuBLAS reference for benchmarks and tests: row-major C[M,N] = A[M,K] @ B[K,N] for `batch`
 * matrices at the given element strides (0 for a shared operand). */
ti_err ti_cuda_gemm_rowmajor(ti_cuda *cu, float *d_C, const float *d_A, const float *d_B, int M,
                             int N, int K, int batch, long long stride_a, long long stride_b,
                             long long stride_c);

/* ---- task-queue kernels -------------------------------------------------------------- */
/* d_y [B,out] = d_x [B,in] @ d_W [B,in,out] (one weight matrix per batch row). */
ti_err ti_cuda_batched_gemv(ti_cuda *cu, float *d_y, const float *d_W, const float *d_x,
                            int B, int in, int out);
/* d_out [B,dim] = softmax(d_inp [B,dim]) per row (max-subtracted); out may alias inp. */
ti_err ti_cuda_batched_softmax(ti_cuda *cu, float *d_out, const float *d_inp, int B, int dim);
/* d_out [B,F] = d_prices [B,A] @ d_W [A,F] (shared weights). */
ti_err ti_cuda_price_vectors(ti_cuda *cu, float *d_out, const float *d_prices,
                             const float *d_W, int B, int A, int F);

/* ---- losses ------------------------------------------------------------------------------
 * RMSPE = sqrt(mean(((y - yhat) / y)^2)), y = d_target, yhat = d_pred [n]; *loss on the host
 * (double).  d_dpred [n] (may be NULL) = dscale * dloss/dpred, overwritten.  Deterministic:
 * fixed-shape per-block partial sums in double, then one block sums them in index order
 * (no atomics), so the same inputs give bit-identical loss on every run.
 * TI_ERR_RANGE if a target is 0 or not finite (like ti_loss_rmspe). */
ti_err ti_cuda_rmspe(ti_cuda *cu, double *loss, float *d_dpred, const float *d_pred,
                     const float *d_target, size_t n, float dscale);

/* ---- inference layers ------------------------------------------------------------------ */
/* d_out [M,N] = act(d_inp [M,K] @ d_W[N,K]^T + d_bias [N]) via cuBLAS SGEMM (FP32, no
 * TF32) and our bias+activation epilogue kernel; d_bias may be NULL. */
ti_err ti_cuda_matmul(ti_cuda *cu, float *d_out, const float *d_inp, const float *d_W,
                      const float *d_bias, int M, int N, int K, ti_act act);
/* The epilogue alone: d_x [M,N] = act(d_x + d_bias[N]) in place; d_bias may be NULL. */
ti_err ti_cuda_bias_act(ti_cuda *cu, float *d_x, const float *d_bias, int M, int N, ti_act act);
/* d_out [N,C] = layernorm(d_inp [N,C]) * d_w [C] + d_b [C] (biased variance, eps inside). */
ti_err ti_cuda_layernorm(ti_cuda *cu, float *d_out, const float *d_inp, const float *d_w,
                         const float *d_b, int N, int C, float eps);
/* d_out [n] = act(d_inp [n]); may alias. */
ti_err ti_cuda_act(ti_cuda *cu, float *d_out, const float *d_inp, size_t n, ti_act act);
/* d_out [n] = d_a + d_b. */
ti_err ti_cuda_add(ti_cuda *cu, float *d_out, const float *d_a, const float *d_b, size_t n);

/* Attention, full or causal, with optional ALiBi: same math and layout as the CPU
 * attention_forward (d_qkv [B,T,3C], d_out [B,T,C]); cfg->alibi is a HOST pointer to H
 * slopes (H <= TI_CUDA_MAX_HEADS), hd <= TI_ATTN_MAX_HD.  One warp per query row with an
 * online softmax, so memory is O(T) per row. */
ti_err ti_cuda_attention(ti_cuda *cu, float *d_out, const float *d_qkv, const ti_attn_cfg *cfg);

/* Paged KV cache on the device for one layer of S sequences.
 * Block j holds TI_CUDA_KV_BLOCK positions x H heads x hd: K at k[((j*BS)+p)*C + h*hd + i]
 * (C = H*hd), likewise V.  fp32 caches use k/v; int8 caches use k8/v8 with one scale per
 * (block, position, head): value = k8 * k_scale[(j*BS + p)*H + h].  Sequence s holds len[s]
 * tokens at logical positions 0..len[s]-1; position t lives in block
 * table[s*max_blocks + t/BS] at slot t%BS.  The query of sequence s sits at position
 * len[s]-1 (it was just appended), so the ALiBi bias is -slope[h] * (len[s]-1 - t). */
typedef struct ti_cuda_paged_kv {
    int H, hd, n_blocks, max_blocks; /* max_blocks: table row length per sequence */
    int int8;                        /* 0: fp32 k/v; 1: int8 k8/v8 + scales */
    float *k, *v;                    /* [n_blocks*BS, C] fp32 */
    int8_t *k8, *v8;                 /* [n_blocks*BS, C] int8 */
    float *k_scale, *v_scale;        /* [n_blocks*BS, H] */
    const int32_t *table;            /* [S, max_blocks] device */
    const int32_t *len;              /* [S] device, each in [1, max_blocks*BS] */
} ti_cuda_paged_kv;

/* d_out [S,C] = attention of d_q [S,C] (one query per sequence) over its paged cache.
 * alibi: HOST [H] or NULL; scale 0 means 1/sqrt(hd).  Block ids and lengths are checked
 * on the device: an out-of-range entry gives zeros for that sequence, never a wild read. */
ti_err ti_cuda_paged_decode(ti_cuda *cu, float *d_out, const float *d_q,
                            const ti_cuda_paged_kv *kv, int S, const float *alibi, float scale);

/* int8 quantisation of fp32 rows for the paged cache: for each of rows x H heads,
 * scale = max|x| / 127 (1 if all zero), q = round(x / scale).  d_x [rows, H*hd]. */
ti_err ti_cuda_quantize_kv(ti_cuda *cu, int8_t *d_q, float *d_scale, const float *d_x,
                           int rows, int H, int hd);

/* ---- whole models ---------------------------------------------------------------------
 * Full-window forward of a ti_tfm (TinyRV or rv_causal) on the GPU, same math as
 * ti_tfm_forward: the parameters are uploaded once at create (later changes to the host
 * model are not seen).  Buffers for B <= B_max rows of T <= T_max steps (T_max 0 = the
 * context; TinyRV needs T = context).  d_x [B,T,F] -> d_y [B] (TinyRV) or [B,T] (causal). */
typedef struct ti_tfm ti_tfm;
typedef struct ti_cuda_model ti_cuda_model;
ti_err ti_cuda_model_create(ti_cuda *cu, ti_cuda_model **out, const ti_tfm *m, int B_max, int T_max);
void ti_cuda_model_destroy(ti_cuda_model *gm);
ti_err ti_cuda_model_forward(ti_cuda_model *gm, float *d_y, const float *d_x, int B, int T);
/* Host in, host out: upload x, forward, download y (synchronous). */
ti_err ti_cuda_model_forward_host(ti_cuda_model *gm, float *y, const float *x, int B, int T);

/* rv_causal decode step for S symbols at once: one token per symbol per step, keys and
 * values kept in a paged fp32 cache on the device (max_ctx positions per symbol), the whole
 * step (projection, every layer, head) captured once as a CUDA graph and replayed.  step:
 * x [S,F] host -> y [S] host, the same value ti_tfm_forward gives at that position of the
 * symbol's sequence.  TI_ERR_LIMIT once a symbol has max_ctx tokens (no sliding window
 * yet); reset starts every symbol over. */
typedef struct ti_cuda_decoder ti_cuda_decoder;
ti_err ti_cuda_decoder_create(ti_cuda *cu, ti_cuda_decoder **out, const ti_tfm *m, int S, int max_ctx);
void ti_cuda_decoder_destroy(ti_cuda_decoder *d);
ti_err ti_cuda_decoder_reset(ti_cuda_decoder *d);
ti_err ti_cuda_decoder_step(ti_cuda_decoder *d, float *y, const float *x);

#ifdef __cplusplus
}
#endif
#endif
