/* CUDA backend: the task-queue kernels -- batched GEMV (one weight matrix per row),
 * row softmax, and price vectors (prices @ shared W). */
#include "kernels/cuda/cuda_internal.cuh"

/* Columns of one block in batched_gemv: threads own consecutive output columns, so the
 * reads of W[b,i,o..o+255] are coalesced; the x row sits in shared memory. */
#define GEMV_THREADS 256
#define GEMV_MAX_IN 8192

__global__ void k_batched_gemv(float *__restrict__ y, const float *__restrict__ W,
                               const float *__restrict__ x, int in, int out)
{
    extern __shared__ float xs[]; /* [in] */
    const int b = blockIdx.y;
    const float *xb = x + (size_t)b * in;
    for (int i = threadIdx.x; i < in; i += blockDim.x) xs[i] = xb[i];
    __syncthreads();
    const int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= out) return;
    const float *Wb = W + (size_t)b * in * out + o;
    /* Four independent accumulators hide the load latency of the long dependent chain. */
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    int i = 0;
    for (; i + 4 <= in; i += 4) {
        a0 = fmaf(xs[i + 0], __ldg(Wb + (size_t)(i + 0) * out), a0);
        a1 = fmaf(xs[i + 1], __ldg(Wb + (size_t)(i + 1) * out), a1);
        a2 = fmaf(xs[i + 2], __ldg(Wb + (size_t)(i + 2) * out), a2);
        a3 = fmaf(xs[i + 3], __ldg(Wb + (size_t)(i + 3) * out), a3);
    }
    for (; i < in; i++) a0 = fmaf(xs[i], __ldg(Wb + (size_t)i * out), a0);
    y[(size_t)b * out + o] = (a0 + a1) + (a2 + a3);
}

extern "C" ti_err ti_cuda_batched_gemv(ti_cuda *cu, float *d_y, const float *d_W,
                                       const float *d_x, int B, int in, int out)
{
    TI_CU_CHECK_CTX(cu, "batched_gemv");
    if (B <= 0 || in <= 0 || out <= 0 || B > 65535 || in > GEMV_MAX_IN)
        return ti_errorf(TI_ERR_INVALID_ARG,
                         "cuda: batched_gemv: bad shape B=%d in=%d out=%d (B <= 65535, in <= %d)",
                         B, in, out, GEMV_MAX_IN);
    dim3 grid((unsigned)((out + GEMV_THREADS - 1) / GEMV_THREADS), (unsigned)B);
    k_batched_gemv<<<grid, GEMV_THREADS, (size_t)in * sizeof(float), cu->stream>>>(d_y, d_W, d_x,
                                                                                 in, out);
    TI_CU_LAUNCHED("batched_gemv");
    return TI_OK;
}

/* One block per row: max and sum by warp shuffles, then across the block's warps through
 * shared memory.  Three passes over the row (max, sum of exp, write) -- the row stays in L1/L2. */
#define SOFTMAX_THREADS 256

__device__ __forceinline__ float block_reduce(float v, float *sh, int is_max)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = is_max ? ti_cu_warp_max(v) : ti_cu_warp_sum(v);
    __syncthreads(); /* sh may still be read from the previous reduction */
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : (is_max ? -INFINITY : 0.f);
    v = is_max ? ti_cu_warp_max(v) : ti_cu_warp_sum(v);
    return v;
}

__global__ void k_softmax(float *out, const float *inp, int dim)
{
    __shared__ float sh[32];
    const size_t row = blockIdx.x;
    const float *x = inp + row * dim;
    float *y = out + row * dim;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) m = fmaxf(m, x[i]);
    m = block_reduce(m, sh, 1);
    float s = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) s += expf(x[i] - m);
    s = block_reduce(s, sh, 0);
    const float inv = 1.f / s;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) y[i] = expf(x[i] - m) * inv;
}

extern "C" ti_err ti_cuda_batched_softmax(ti_cuda *cu, float *d_out, const float *d_inp, int B,
                                          int dim)
{
    TI_CU_CHECK_CTX(cu, "batched_softmax");
    if (B <= 0 || dim <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: batched_softmax: bad shape B=%d dim=%d", B, dim);
    int threads = dim >= SOFTMAX_THREADS ? SOFTMAX_THREADS : ((dim + 31) / 32) * 32;
    k_softmax<<<(unsigned)B, threads, 0, cu->stream>>>(d_out, d_inp, dim);
    TI_CU_LAUNCHED("batched_softmax");
    return TI_OK;
}

/* out[b,f] = sum_a prices[b,a] W[a,f]: thread per (b,f); W is small (assets x features)
 * and is staged in shared memory when it fits, the price row is read by every f-thread
 * of the row (broadcast from L1). */
#define PV_THREADS 256
#define PV_SMEM_FLOATS 8192

__global__ void k_price_vectors(float *__restrict__ out, const float *__restrict__ prices,
                                const float *__restrict__ W, int B, int A, int F, int w_in_smem)
{
    extern __shared__ float ws[];
    if (w_in_smem) {
        for (int i = threadIdx.x; i < A * F; i += blockDim.x) ws[i] = W[i];
        __syncthreads();
    }
    const float *w = w_in_smem ? ws : W;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * F) return;
    const size_t b = idx / F;
    const int f = (int)(idx % F);
    const float *p = prices + b * A;
    float acc = 0.f;
    for (int a = 0; a < A; a++) acc = fmaf(__ldg(p + a), w[a * F + f], acc);
    out[idx] = acc;
}

extern "C" ti_err ti_cuda_price_vectors(ti_cuda *cu, float *d_out, const float *d_prices,
                                        const float *d_W, int B, int A, int F)
{
    TI_CU_CHECK_CTX(cu, "price_vectors");
    if (B <= 0 || A <= 0 || F <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: price_vectors: bad shape B=%d A=%d F=%d", B, A, F);
    const size_t total = (size_t)B * F;
    const int smem = (size_t)A * F <= PV_SMEM_FLOATS;
    const unsigned blocks = (unsigned)((total + PV_THREADS - 1) / PV_THREADS);
    k_price_vectors<<<blocks, PV_THREADS, smem ? (size_t)A * F * sizeof(float) : 0, cu->stream>>>(
        d_out, d_prices, d_W, B, A, F, smem);
    TI_CU_LAUNCHED("price_vectors");
    return TI_OK;
}
