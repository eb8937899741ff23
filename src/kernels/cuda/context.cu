/* CUDA backend: context (device, stream, cuBLAS handle), device query, memory and timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda_internal.cuh"

/* cuBLAS workspace (its default for Hopper is 32 MiB). */
#define TI_CUDA_BLAS_WS ((size_t)32 << 20)

extern "C" int ti_cuda_compiled(void) { return 1; }

extern "C" ti_err ti_cuda_device_count(int *n)
{
    if (!n) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: device_count: NULL output");
    *n = 0;
    cudaError_t e = cudaGetDeviceCount(n);
    if (e != cudaSuccess) {
        *n = 0;
        /* Clear the sticky-free error so later calls do not report it again. */
        (void)cudaGetLastError();
        return ti_errorf(TI_ERR_NOT_FOUND, "no CUDA device: cudaGetDeviceCount returned %s (%s)",
                         cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (*n <= 0)
        return ti_errorf(TI_ERR_NOT_FOUND, "no CUDA device: cudaGetDeviceCount returned 0 devices");
    return TI_OK;
}

extern "C" ti_err ti_cuda_create(ti_cuda **out, int device)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: create: NULL output");
    *out = NULL;
    int n = 0;
    ti_err err = ti_cuda_device_count(&n);
    if (err) return err;
    if (device < 0 || device >= n)
        return ti_errorf(TI_ERR_RANGE, "cuda: create: device %d out of range [0, %d)", device, n);
    ti_cuda *cu = (ti_cuda *)calloc(1, sizeof *cu);
    if (!cu) return ti_errorf(TI_ERR_NOMEM, "cuda: create: out of memory");
    cu->device = device;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&cu->prop, device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&cu->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&cu->d_partial, TI_CUDA_RED_BLOCKS * 2 * sizeof(double));
    if (e == cudaSuccess) e = cudaMalloc((void **)&cu->d_result, 2 * sizeof(double));
    if (e == cudaSuccess) e = cudaMalloc(&cu->d_blas_ws, TI_CUDA_BLAS_WS);
    if (e != cudaSuccess) {
        err = ti_cuda__err(e, "create");
        ti_cuda_destroy(cu);
        return err;
    }
    cublasStatus_t s = cublasCreate(&cu->blas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetStream(cu->blas, cu->stream);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetWorkspace(cu->blas, cu->d_blas_ws, TI_CUDA_BLAS_WS);
    /* Plain FP32 so results compare with the CPU reference (no TF32 rounding). */
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetMathMode(cu->blas, CUBLAS_PEDANTIC_MATH);
    if (s != CUBLAS_STATUS_SUCCESS) {
        err = ti_errorf(TI_ERR_STATE, "cuda: create: cuBLAS init failed: %s",
                        cublasGetStatusString(s));
        ti_cuda_destroy(cu);
        return err;
    }
    *out = cu;
    return TI_OK;
}

extern "C" void ti_cuda_destroy(ti_cuda *cu)
{
    if (!cu) return;
    if (cu->blas) cublasDestroy(cu->blas);
    cudaFree(cu->d_partial);
    cudaFree(cu->d_result);
    cudaFree(cu->d_blas_ws);
    if (cu->stream) cudaStreamDestroy(cu->stream);
    free(cu);
}

extern "C" ti_err ti_cuda_get_info(const ti_cuda *cu, ti_cuda_info *info)
{
    TI_CU_CHECK_CTX(cu, "get_info");
    if (!info) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: get_info: NULL output");
    memset(info, 0, sizeof *info);
    const cudaDeviceProp *p = &cu->prop;
    snprintf(info->name, sizeof info->name, "%s", p->name);
    info->cc_major = p->major;
    info->cc_minor = p->minor;
    info->sm_count = p->multiProcessorCount;
    info->mem_bytes = p->totalGlobalMem;
    /* CUDA 13 dropped the clock fields from cudaDeviceProp: ask the attributes (kHz). */
    int mem_khz = 0, sm_khz = 0, bus_bits = p->memoryBusWidth;
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, cu->device);
    cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, cu->device);
    (void)cudaGetLastError();
    info->peak_bw_gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    /* FP32 lanes per SM: 64 on sm_80 (A100), 128 on sm_86/89/90 (GA10x, Ada, Hopper). */
    const int lanes = (p->major == 8 && p->minor == 0) ? 64 : 128;
    info->peak_fp32_tflops = (double)p->multiProcessorCount * lanes * 2 * sm_khz * 1e3 / 1e12;
    return TI_OK;
}

extern "C" ti_err ti_cuda_malloc(ti_cuda *cu, void **d_ptr, size_t bytes)
{
    TI_CU_CHECK_CTX(cu, "malloc");
    if (!d_ptr) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: malloc: NULL output");
    *d_ptr = NULL;
    cudaError_t e = cudaMalloc(d_ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *d_ptr = NULL;
        return ti_errorf(TI_ERR_NOMEM, "cuda: malloc of %zu bytes failed: %s", bytes,
                         cudaGetErrorString(e));
    }
    return TI_OK;
}

extern "C" void ti_cuda_free(ti_cuda *cu, void *d_ptr)
{
    (void)cu;
    if (d_ptr) cudaFree(d_ptr);
}

extern "C" ti_err ti_cuda_upload(ti_cuda *cu, void *d_dst, const void *src, size_t bytes)
{
    TI_CU_CHECK_CTX(cu, "upload");
    if (!bytes) return TI_OK;
    TI_CU(cudaMemcpyAsync(d_dst, src, bytes, cudaMemcpyHostToDevice, cu->stream));
    return TI_OK;
}

extern "C" ti_err ti_cuda_download(ti_cuda *cu, void *dst, const void *d_src, size_t bytes)
{
    TI_CU_CHECK_CTX(cu, "download");
    if (bytes) TI_CU(cudaMemcpyAsync(dst, d_src, bytes, cudaMemcpyDeviceToHost, cu->stream));
    TI_CU(cudaStreamSynchronize(cu->stream));
    return TI_OK;
}

extern "C" ti_err ti_cuda_memset0(ti_cuda *cu, void *d_dst, size_t bytes)
{
    TI_CU_CHECK_CTX(cu, "memset0");
    if (bytes) TI_CU(cudaMemsetAsync(d_dst, 0, bytes, cu->stream));
    return TI_OK;
}

extern "C" ti_err ti_cuda_sync(ti_cuda *cu)
{
    TI_CU_CHECK_CTX(cu, "sync");
    TI_CU(cudaStreamSynchronize(cu->stream));
    return TI_OK;
}

extern "C" ti_err ti_cuda_time_ms(ti_cuda *cu, float *ms, ti_err (*fn)(void *arg), void *arg)
{
    TI_CU_CHECK_CTX(cu, "time_ms");
    if (!ms || !fn) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: time_ms: NULL argument");
    cudaEvent_t a, b;
    TI_CU(cudaEventCreate(&a));
    cudaError_t e = cudaEventCreate(&b);
    if (e != cudaSuccess) {
        cudaEventDestroy(a);
        return ti_cuda__err(e, "cudaEventCreate");
    }
    ti_err err = TI_OK;
    e = cudaEventRecord(a, cu->stream);
    if (e == cudaSuccess) {
        err = fn(arg);
        if (!err) e = cudaEventRecord(b, cu->stream);
        if (!err && e == cudaSuccess) e = cudaEventSynchronize(b);
        if (!err && e == cudaSuccess) e = cudaEventElapsedTime(ms, a, b);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    if (err) return err;
    if (e != cudaSuccess) return ti_cuda__err(e, "event timing");
    return TI_OK;
}

/* ---- CUDA graphs: capture a fixed sequence of launches once, replay it with one call ---- */
struct ti_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

extern "C" ti_err ti_cuda_graph_capture(ti_cuda *cu, ti_cuda_graph **out, ti_err (*fn)(void *arg),
                                        void *arg)
{
    TI_CU_CHECK_CTX(cu, "graph_capture");
    if (!out || !fn) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: graph_capture: NULL argument");
    *out = NULL;
    ti_cuda_graph *g = (ti_cuda_graph *)calloc(1, sizeof *g);
    if (!g) return ti_errorf(TI_ERR_NOMEM, "cuda: graph_capture: out of memory");
    /* Thread-local mode: other threads' CUDA calls do not invalidate the capture. */
    cudaError_t e = cudaStreamBeginCapture(cu->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        free(g);
        return ti_cuda__err(e, "cudaStreamBeginCapture");
    }
    ti_err err = fn(arg);
    e = cudaStreamEndCapture(cu->stream, &g->graph); /* always end, even after an error */
    if (!err && e != cudaSuccess) err = ti_cuda__err(e, "cudaStreamEndCapture");
    if (!err) {
        e = cudaGraphInstantiate(&g->exec, g->graph, 0);
        if (e != cudaSuccess) err = ti_cuda__err(e, "cudaGraphInstantiate");
    }
    if (err) {
        (void)cudaGetLastError();
        ti_cuda_graph_destroy(g);
        return err;
    }
    *out = g;
    return TI_OK;
}

extern "C" ti_err ti_cuda_graph_launch(ti_cuda *cu, ti_cuda_graph *g)
{
    TI_CU_CHECK_CTX(cu, "graph_launch");
    if (!g) return ti_errorf(TI_ERR_INVALID_ARG, "cuda: graph_launch: NULL graph");
    TI_CU(cudaGraphLaunch(g->exec, cu->stream));
    return TI_OK;
}

extern "C" void ti_cuda_graph_destroy(ti_cuda_graph *g)
{
    if (!g) return;
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    free(g);
}
