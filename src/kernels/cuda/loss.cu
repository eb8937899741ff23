/* CUDA backend: RMSPE loss forward + backward with a deterministic two-pass reduction.
 * Pass 1: a fixed grid of TI_CUDA_RED_BLOCKS blocks, each summing a fixed grid-stride slice
 * in double and reducing it through a fixed shared-memory tree.  Pass 2: one block sums the
 * partials the same way.  No atomics, so the loss bits are the same on every run. */
#include "cuda_internal.cuh"

__device__ void block_tree_sum2(double *sa, double *sb, double a, double b)
{
    const int t = threadIdx.x;
    sa[t] = a;
    sb[t] = b;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) {
            sa[t] += sa[t + s];
            sb[t] += sb[t + s];
        }
        __syncthreads();
    }
}

__global__ void k_rmspe_partial(double *partial, const float *pred, const float *target, size_t n)
{
    __shared__ double sa[TI_CUDA_RED_THREADS], sb[TI_CUDA_RED_THREADS];
    double acc = 0.0, bad = 0.0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const double y = target[i];
        if (y == 0.0 || !isfinite(y)) {
            bad += 1.0;
            continue;
        }
        const double r = (y - (double)pred[i]) / y;
        acc += r * r;
    }
    block_tree_sum2(sa, sb, acc, bad);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = sa[0];
        partial[2 * blockIdx.x + 1] = sb[0];
    }
}

__global__ void k_rmspe_final(double *result, const double *partial, int nparts)
{
    __shared__ double sa[TI_CUDA_RED_THREADS], sb[TI_CUDA_RED_THREADS];
    double a = 0.0, b = 0.0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) {
        a += partial[2 * i];
        b += partial[2 * i + 1];
    }
    block_tree_sum2(sa, sb, a, b);
    if (threadIdx.x == 0) {
        result[0] = sa[0];
        result[1] = sb[0];
    }
}

__global__ void k_rmspe_grad(float *dpred, const float *pred, const float *target, size_t n,
                             double l, float dscale)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double y = target[i], r = (y - (double)pred[i]) / y;
    dpred[i] = l > 0.0 ? (float)((double)dscale * -r / (y * (double)n * l)) : 0.0f;
}

extern "C" ti_err ti_cuda_rmspe(ti_cuda *cu, double *loss, float *d_dpred, const float *d_pred,
                                const float *d_target, size_t n, float dscale)
{
    TI_CU_CHECK_CTX(cu, "rmspe");
    if (!loss || !d_pred || !d_target) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: rmspe: NULL argument");
    if (n == 0) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: rmspe: empty batch");
    k_rmspe_partial<<<TI_CUDA_RED_BLOCKS, TI_CUDA_RED_THREADS, 0, cu->stream>>>(cu->d_partial,
                                                                               d_pred, d_target, n);
    TI_CU_LAUNCHED("rmspe_partial");
    k_rmspe_final<<<1, TI_CUDA_RED_THREADS, 0, cu->stream>>>(cu->d_result, cu->d_partial,
                                                             TI_CUDA_RED_BLOCKS);
    TI_CU_LAUNCHED("rmspe_final");
    double res[2];
    TI_CU(cudaMemcpyAsync(res, cu->d_result, sizeof res, cudaMemcpyDeviceToHost, cu->stream));
    TI_CU(cudaStreamSynchronize(cu->stream));
    if (res[1] > 0.0)
        return ti_errorf(TI_ERR_RANGE, "cuda: rmspe: %.0f of %zu targets are 0 or not finite", res[1], n);
    const double l = sqrt(res[0] / (double)n);
    *loss = l;
    if (d_dpred) {
        const unsigned blocks = (unsigned)((n + 255) / 256);
        k_rmspe_grad<<<blocks, 256, 0, cu->stream>>>(d_dpred, d_pred, d_target, n, l, dscale);
        TI_CU_LAUNCHED("rmspe_grad");
    }
    return TI_OK;
}
