/* CUDA backend: inference layers -- cuBLAS matmul + our fused bias/activation epilogue,
 * LayerNorm, elementwise activations and residual add. */
#include "cuda_internal.cuh"

__global__ void k_bias_act(float *x, const float *bias, size_t total, int N, int act)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    float v = x[i];
    if (bias) v += __ldg(bias + i % N);
    x[i] = ti_cu_act(v, act);
}

extern "C" ti_err ti_cuda_bias_act(ti_cuda *cu, float *d_x, const float *d_bias, int M, int N,
                                   ti_act act)
{
    TI_CU_CHECK_CTX(cu, "bias_act");
    if (M <= 0 || N <= 0 || (int)act < 0 || act >= TI_ACT__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: bias_act: bad M=%d N=%d act=%d", M, N, (int)act);
    if (!d_bias && act == TI_ACT_NONE) return TI_OK;
    const size_t total = (size_t)M * N;
    k_bias_act<<<(unsigned)((total + 255) / 256), 256, 0, cu->stream>>>(d_x, d_bias, total, N, (int)act);
    TI_CU_LAUNCHED("bias_act");
    return TI_OK;
}

extern "C" ti_err ti_cuda_matmul(ti_cuda *cu, float *d_out, const float *d_inp, const float *d_W,
                                 const float *d_bias, int M, int N, int K, ti_act act)
{
    TI_CU_CHECK_CTX(cu, "matmul");
    if (M <= 0 || N <= 0 || K <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: matmul: bad shape M=%d N=%d K=%d", M, N, K);
    /* Row-major out[M,N] = inp[M,K] W[N,K]^T is column-major out^T[N,M] = W^T' inp^T:
     * the row-major W buffer read column-major is W^T (K x N), so op T gives W (N x K). */
    const float one = 1.f, zero = 0.f;
    TI_CUBLAS(cublasSgemm(cu->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, d_W, K, d_inp, K,
                          &zero, d_out, N));
    return ti_cuda_bias_act(cu, d_out, d_bias, M, N, act);
}

/* One warp per row; two passes (mean, then centred variance) like the CPU reference, so
 * rows with a large mean lose no precision. */
__global__ void k_layernorm(float *out, const float *inp, const float *w, const float *b, int N,
                            int C, float eps)
{
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C;
    float s = 0.f;
    for (int i = lane; i < C; i += 32) s += x[i];
    const float mean = ti_cu_warp_sum(s) / C;
    float v = 0.f;
    for (int i = lane; i < C; i += 32) {
        const float d = x[i] - mean;
        v = fmaf(d, d, v);
    }
    const float rstd = rsqrtf(ti_cu_warp_sum(v) / C + eps);
    float *y = out + (size_t)row * C;
    for (int i = lane; i < C; i += 32) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

extern "C" ti_err ti_cuda_layernorm(ti_cuda *cu, float *d_out, const float *d_inp,
                                    const float *d_w, const float *d_b, int N, int C, float eps)
{
    TI_CU_CHECK_CTX(cu, "layernorm");
    if (N <= 0 || C <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: layernorm: bad shape N=%d C=%d", N, C);
    const int rows_per_block = 8;
    k_layernorm<<<(unsigned)((N + rows_per_block - 1) / rows_per_block), 32 * rows_per_block, 0,
                  cu->stream>>>(d_out, d_inp, d_w, d_b, N, C, eps);
    TI_CU_LAUNCHED("layernorm");
    return TI_OK;
}

__global__ void k_act(float *out, const float *inp, size_t n, int act)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = ti_cu_act(inp[i], act);
}

extern "C" ti_err ti_cuda_act(ti_cuda *cu, float *d_out, const float *d_inp, size_t n, ti_act act)
{
    TI_CU_CHECK_CTX(cu, "act");
    if ((int)act < 0 || act >= TI_ACT__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: act: unknown activation %d", (int)act);
    if (!n) return TI_OK;
    k_act<<<(unsigned)((n + 255) / 256), 256, 0, cu->stream>>>(d_out, d_inp, n, (int)act);
    TI_CU_LAUNCHED("act");
    return TI_OK;
}

__global__ void k_add(float *out, const float *a, const float *b, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

extern "C" ti_err ti_cuda_add(ti_cuda *cu, float *d_out, const float *d_a, const float *d_b, size_t n)
{
    TI_CU_CHECK_CTX(cu, "add");
    if (!n) return TI_OK;
    k_add<<<(unsigned)((n + 255) / 256), 256, 0, cu->stream>>>(d_out, d_a, d_b, n);
    TI_CU_LAUNCHED("add");
    return TI_OK;
}

extern "C" ti_err ti_cuda_gemm_rowmajor(ti_cuda *cu, float *d_C, const float *d_A, const float *d_B,
                                        int M, int N, int K, int batch, long long stride_a,
                                        long long stride_b, long long stride_c)
{
    TI_CU_CHECK_CTX(cu, "gemm_rowmajor");
    if (M <= 0 || N <= 0 || K <= 0 || batch <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: gemm_rowmajor: bad shape M=%d N=%d K=%d batch=%d",
                         M, N, K, batch);
    /* Row-major C = A B is column-major C^T = B^T A^T: swap the operands, no transposes. */
    const float one = 1.f, zero = 0.f;
    TI_CUBLAS(cublasSgemmStridedBatched(cu->blas, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, d_B, N,
                                        stride_b, d_A, K, stride_a, &zero, d_C, N, stride_c, batch));
    return TI_OK;
}
