/* Internal to the CUDA backend: the context struct and error-check helpers that turn a
 * cudaError_t / cublasStatus_t into a ti_err with the CUDA name and string. */
#ifndef TI_CUDA_INTERNAL_CUH
#define TI_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "tickinfer/cuda.h"

struct ti_cuda {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaDeviceProp prop;
    double *d_partial; /* RMSPE partial sums [TI_CUDA_RED_BLOCKS] */
    double *d_result;  /* [2]: loss sum, bad-target count */
    void *d_blas_ws;   /* cuBLAS workspace: fixed, so graph capture never allocates */
};

/* Fixed grid of the deterministic reductions: the partial-sum layout never depends on
 * the device, so the summation order (and result bits) never changes. */
#define TI_CUDA_RED_BLOCKS 256
#define TI_CUDA_RED_THREADS 256

static inline ti_err ti_cuda__err(cudaError_t e, const char *what)
{
    return ti_errorf(TI_ERR_STATE, "cuda: %s: %s (%s)", what, cudaGetErrorName(e),
                     cudaGetErrorString(e));
}

/* Evaluate a CUDA runtime call; on failure return a ti_err naming it. */
#define TI_CU(call)                                         \
    do {                                                    \
        cudaError_t ti__e = (call);                         \
        if (ti__e != cudaSuccess) return ti_cuda__err(ti__e, #call); \
    } while (0)

/* After a launch: configuration errors show up at once in cudaGetLastError. */
#define TI_CU_LAUNCHED(name) TI_CU(cudaGetLastError())

#define TI_CUBLAS(call)                                                                 \
    do {                                                                                \
        cublasStatus_t ti__s = (call);                                                  \
        if (ti__s != CUBLAS_STATUS_SUCCESS)                                             \
            return ti_errorf(TI_ERR_STATE, "cuda: %s: cuBLAS status %d (%s)", #call,      \
                             (int)ti__s, cublasGetStatusString(ti__s));                 \
    } while (0)

#define TI_CU_CHECK_CTX(cu, fn)                                                       \
    do {                                                                              \
        if (!(cu)) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: %s: NULL context", fn); \
    } while (0)

__device__ __forceinline__ float ti_cu_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float ti_cu_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Elementwise activation, same formulas as src/kernels/act_ref.c. */
__device__ __forceinline__ float ti_cu_act(float x, int act)
{
    switch (act) {
    case TI_ACT_RELU: return x > 0.f ? x : 0.f;
    case TI_ACT_GELU_TANH: {
        /* 0.5 (1 + tanh u) = sigmoid(2u): no cancellation for x < 0 (as the CPU code). */
        const float u2 = 2.f * 0.7978845608028654f * x * (1.f + 0.044715f * x * x);
        return x / (1.f + expf(-u2));
    }
    case TI_ACT_GELU_ERF: return 0.5f * x * (1.f + erff(x * 0.7071067811865476f));
    default: return x;
    }
}

#endif
