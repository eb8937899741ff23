/* CUDA backend stub, compiled instead of the .cu files when the build has no nvcc: every
 * call fails with TI_ERR_UNSUPPORTED so callers (CLI, tests, benches) link and can say why. */
#include "tickinfer/cuda.h"

#define TI_NO_CUDA(fn) ti_errorf(TI_ERR_UNSUPPORTED, "cuda: %s: built without CUDA (nvcc not found at build time)", fn)

int ti_cuda_compiled(void) { return 0; }

ti_err ti_cuda_device_count(int *n)
{
    if (n) *n = 0;
    return TI_NO_CUDA("device_count");
}
ti_err ti_cuda_create(ti_cuda **out, int device)
{
    (void)device;
    if (out) *out = NULL;
    return TI_NO_CUDA("create");
}
void ti_cuda_destroy(ti_cuda *cu) { (void)cu; }
ti_err ti_cuda_get_info(const ti_cuda *cu, ti_cuda_info *info) { return TI_NO_CUDA("get_info"); }
ti_err ti_cuda_malloc(ti_cuda *cu, void **d_ptr, size_t bytes)
{
    if (d_ptr) *d_ptr = NULL;
    return TI_NO_CUDA("malloc");
}
void ti_cuda_free(ti_cuda *cu, void *d_ptr) { (void)cu; (void)d_ptr; }
ti_err ti_cuda_upload(ti_cuda *cu, void *d_dst, const void *src, size_t bytes) { return TI_NO_CUDA("upload"); }
ti_err ti_cuda_download(ti_cuda *cu, void *dst, const void *d_src, size_t bytes) { return TI_NO_CUDA("download"); }
ti_err ti_cuda_memset0(ti_cuda *cu, void *d_dst, size_t bytes) { return TI_NO_CUDA("memset0"); }
ti_err ti_cuda_sync(ti_cuda *cu) { return TI_NO_CUDA("sync"); }
ti_err ti_cuda_time_ms(ti_cuda *cu, float *ms, ti_err (*fn)(void *arg), void *arg) { return TI_NO_CUDA("time_ms"); }
ti_err ti_cuda_batched_gemv(ti_cuda *cu, float *d_y, const float *d_W, const float *d_x, int B, int in, int out)
{
    return TI_NO_CUDA("batched_gemv");
}
ti_err ti_cuda_batched_softmax(ti_cuda *cu, float *d_out, const float *d_inp, int B, int dim)
{
    return TI_NO_CUDA("batched_softmax");
}
ti_err ti_cuda_price_vectors(ti_cuda *cu, float *d_out, const float *d_prices, const float *d_W, int B, int A, int F)
{
    return TI_NO_CUDA("price_vectors");
}
ti_err ti_cuda_rmspe(ti_cuda *cu, double *loss, float *d_dpred, const float *d_pred, const float *d_target,
                     size_t n, float dscale)
{
    return TI_NO_CUDA("rmspe");
}
ti_err ti_cuda_matmul(ti_cuda *cu, float *d_out, const float *d_inp, const float *d_W, const float *d_bias,
                      int M, int N, int K, ti_act act)
{
    return TI_NO_CUDA("matmul");
}
ti_err ti_cuda_bias_act(ti_cuda *cu, float *d_x, const float *d_bias, int M, int N, ti_act act)
{
    return TI_NO_CUDA("bias_act");
}
ti_err ti_cuda_layernorm(ti_cuda *cu, float *d_out, const float *d_inp, const float *d_w, const float *d_b,
                         int N, int C, float eps)
{
    return TI_NO_CUDA("layernorm");
}
ti_err ti_cuda_act(ti_cuda *cu, float *d_out, const float *d_inp, size_t n, ti_act act) { return TI_NO_CUDA("act"); }
ti_err ti_cuda_add(ti_cuda *cu, float *d_out, const float *d_a, const float *d_b, size_t n) { return TI_NO_CUDA("add"); }
ti_err ti_cuda_attention(ti_cuda *cu, float *d_out, const float *d_qkv, const ti_attn_cfg *cfg)
{
    return TI_NO_CUDA("attention");
}
ti_err ti_cuda_paged_decode(ti_cuda *cu, float *d_out, const float *d_q, const ti_cuda_paged_kv *kv, int S,
                            const float *alibi, float scale)
{
    return TI_NO_CUDA("paged_decode");
}
ti_err ti_cuda_quantize_kv(ti_cuda *cu, int8_t *d_q, float *d_scale, const float *d_x, int rows, int H, int hd)
{
    return TI_NO_CUDA("quantize_kv");
}
ti_err ti_cuda_graph_capture(ti_cuda *cu, ti_cuda_graph **out, ti_err (*fn)(void *arg), void *arg)
{
    if (out) *out = NULL;
    return TI_NO_CUDA("graph_capture");
}
ti_err ti_cuda_graph_launch(ti_cuda *cu, ti_cuda_graph *g) { return TI_NO_CUDA("graph_launch"); }
void ti_cuda_graph_destroy(ti_cuda_graph *g) { (void)g; }
ti_err ti_cuda_gemm_rowmajor(ti_cuda *cu, float *d_C, const float *d_A, const float *d_B, int M, int N, int K,
                             int batch, long long stride_a, long long stride_b, long long stride_c)
{
    return TI_NO_CUDA("gemm_rowmajor");
}
ti_err ti_cuda_model_create(ti_cuda *cu, ti_cuda_model **out, const ti_tfm *m, int B_max, int T_max)
{
    if (out) *out = NULL;
    return TI_NO_CUDA("model_create");
}
void ti_cuda_model_destroy(ti_cuda_model *gm) { (void)gm; }
ti_err ti_cuda_model_forward(ti_cuda_model *gm, float *d_y, const float *d_x, int B, int T)
{
    return TI_NO_CUDA("model_forward");
}
ti_err ti_cuda_model_forward_host(ti_cuda_model *gm, float *y, const float *x, int B, int T)
{
    return TI_NO_CUDA("model_forward_host");
}
ti_err ti_cuda_decoder_create(ti_cuda *cu, ti_cuda_decoder **out, const ti_tfm *m, int S, int max_ctx)
{
    if (out) *out = NULL;
    return TI_NO_CUDA("decoder_create");
}
void ti_cuda_decoder_destroy(ti_cuda_decoder *d) { (void)d; }
ti_err ti_cuda_decoder_reset(ti_cuda_decoder *d) { return TI_NO_CUDA("decoder_reset"); }
ti_err ti_cuda_decoder_step(ti_cuda_decoder *d, float *y, const float *x) { return TI_NO_CUDA("decoder_step"); }
