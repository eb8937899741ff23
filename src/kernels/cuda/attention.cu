/* CUDA backend: attention -- full/causal over a [B,T,3C] qkv buffer, and single-query
 * decode over a paged (fp32 or int8) KV cache.  One warp per query row and head: lane l
 * holds dims l, l+32, l+64, l+96 of q and of the running output; each key's score is a warp
 * sum, folded into an online softmax (running max m, running sum l), so no [T,T] score
 * matrix is ever stored. */
#include "cuda_internal.cuh"

#define ATT_PER_LANE (TI_ATTN_MAX_HD / 32)
#define ATT_WARPS 4

typedef struct att_slopes {
    float s[TI_CUDA_MAX_HEADS];
} att_slopes;

/* slopes.s[h] with a run-time h would copy the whole struct to the stack (local memory);
 * an unrolled select keeps every read a constant-offset parameter load. */
__device__ __forceinline__ float att_slope(const att_slopes &sl, int h)
{
    float r = 0.f;
#pragma unroll
    for (int i = 0; i < TI_CUDA_MAX_HEADS; i++)
        if (i == h) r = sl.s[i];
    return r;
}

/* State of one online softmax, held by one lane for its ATT_PER_LANE dims. */
typedef struct att_state {
    float m, l, acc[ATT_PER_LANE];
} att_state;

__device__ __forceinline__ void att_init(att_state *st)
{
    st->m = -INFINITY;
    st->l = 0.f;
    for (int j = 0; j < ATT_PER_LANE; j++) st->acc[j] = 0.f;
}

/* Fold key (score s, value row v) into the state; every lane of the warp calls it. */
__device__ __forceinline__ void att_push(att_state *st, float s, const float v[ATT_PER_LANE])
{
    const float m_new = fmaxf(st->m, s);
    const float corr = expf(st->m - m_new); /* exp(-inf) = 0 on the first key */
    const float p = expf(s - m_new);
    st->l = st->l * corr + p;
    for (int j = 0; j < ATT_PER_LANE; j++) st->acc[j] = st->acc[j] * corr + p * v[j];
    st->m = m_new;
}

__global__ void k_attention(float *out, const float *qkv, int B, int T, int H, int hd,
                            int causal, int use_alibi, att_slopes slopes, float scale)
{
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5); /* (b, h, t) */
    if (row >= (long)B * H * T) return;
    const int t = (int)(row % T), h = (int)((row / T) % H), b = (int)(row / ((long)T * H));
    const int C = H * hd;
    const size_t ld = 3 * (size_t)C;
    const float *base = qkv + (size_t)b * T * ld;
    float q[ATT_PER_LANE], v[ATT_PER_LANE];
    for (int j = 0; j < ATT_PER_LANE; j++) {
        const int d = lane + 32 * j;
        q[j] = d < hd ? base[(size_t)t * ld + h * hd + d] * scale : 0.f;
    }
    const float slope = use_alibi ? att_slope(slopes, h) : 0.f;
    att_state st;
    att_init(&st);
    const int n_keys = causal ? t + 1 : T;
    for (int k = 0; k < n_keys; k++) {
        const float *kr = base + (size_t)k * ld + C + h * hd;
        float dot = 0.f;
        for (int j = 0; j < ATT_PER_LANE; j++) {
            const int d = lane + 32 * j;
            if (d < hd) dot = fmaf(q[j], kr[d], dot);
            v[j] = d < hd ? kr[C + d] : 0.f;
        }
        float s = ti_cu_warp_sum(dot);
        if (use_alibi) s -= slope * (float)abs(t - k);
        att_push(&st, s, v);
    }
    float *o = out + ((size_t)b * T + t) * C + h * hd;
    const float inv = 1.f / st.l;
    for (int j = 0; j < ATT_PER_LANE; j++) {
        const int d = lane + 32 * j;
        if (d < hd) o[d] = st.acc[j] * inv;
    }
}

static ti_err att_slopes_from(att_slopes *sl, const float *alibi, int H, const char *fn)
{
    if (H > TI_CUDA_MAX_HEADS)
        return ti_errorf(TI_ERR_LIMIT, "cuda: %s: %d heads > TI_CUDA_MAX_HEADS (%d)", fn, H,
                         TI_CUDA_MAX_HEADS);
    for (int h = 0; h < TI_CUDA_MAX_HEADS; h++) sl->s[h] = (alibi && h < H) ? alibi[h] : 0.f;
    return TI_OK;
}

extern "C" ti_err ti_cuda_attention(ti_cuda *cu, float *d_out, const float *d_qkv,
                                    const ti_attn_cfg *cfg)
{
    TI_CU_CHECK_CTX(cu, "attention");
    if (!cfg || cfg->B <= 0 || cfg->T <= 0 || cfg->H <= 0 || cfg->hd <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: attention: bad shape");
    if (cfg->hd > TI_ATTN_MAX_HD)
        return ti_errorf(TI_ERR_LIMIT, "cuda: attention: head dim %d > %d", cfg->hd, TI_ATTN_MAX_HD);
    att_slopes sl;
    ti_err err = att_slopes_from(&sl, cfg->alibi, cfg->H, "attention");
    if (err) return err;
    const float scale = cfg->scale != 0.f ? cfg->scale : 1.f / sqrtf((float)cfg->hd);
    const long rows = (long)cfg->B * cfg->H * cfg->T;
    const long blocks = (rows + ATT_WARPS - 1) / ATT_WARPS;
    if (blocks > 0x7fffffffL) return ti_errorf(TI_ERR_LIMIT, "cuda: attention: too many rows");
    k_attention<<<(unsigned)blocks, 32 * ATT_WARPS, 0, cu->stream>>>(
        d_out, d_qkv, cfg->B, cfg->T, cfg->H, cfg->hd, cfg->causal, cfg->alibi != NULL, sl, scale);
    TI_CU_LAUNCHED("attention");
    return TI_OK;
}

/* Paged decode: warp per (sequence s, head h).  Block ids and lengths come from device
 * memory written by the host, so they are range-checked here: a bad entry zeroes the
 * sequence's output instead of reading outside the pool. */
__global__ void k_paged_decode(float *out, const float *q_all, ti_cuda_paged_kv kv, int S,
                               int use_alibi, att_slopes slopes, float scale)
{
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5);
    if (row >= (long)S * kv.H) return;
    const int s = (int)(row / kv.H), h = (int)(row % kv.H);
    const int C = kv.H * kv.hd, hd = kv.hd;
    float *o = out + (size_t)s * C + h * hd;
    const int len = kv.len[s];
    int ok = len >= 1 && len <= kv.max_blocks * TI_CUDA_KV_BLOCK;
    float q[ATT_PER_LANE], v[ATT_PER_LANE], kk[ATT_PER_LANE];
    for (int j = 0; j < ATT_PER_LANE; j++) {
        const int d = lane + 32 * j;
        q[j] = d < hd ? q_all[(size_t)s * C + h * hd + d] * scale : 0.f;
    }
    const float slope = use_alibi ? att_slope(slopes, h) : 0.f;
    att_state st;
    att_init(&st);
    const int32_t *tab = kv.table + (size_t)s * kv.max_blocks;
    for (int t = 0; ok && t < len; t++) {
        const int blk = tab[t / TI_CUDA_KV_BLOCK];
        if (blk < 0 || blk >= kv.n_blocks) {
            ok = 0;
            break;
        }
        const size_t slot = (size_t)blk * TI_CUDA_KV_BLOCK + t % TI_CUDA_KV_BLOCK;
        const size_t off = slot * C + (size_t)h * hd;
        float ks = 1.f, vs = 1.f;
        if (kv.int8) {
            ks = kv.k_scale[slot * kv.H + h];
            vs = kv.v_scale[slot * kv.H + h];
        }
        float dot = 0.f;
        for (int j = 0; j < ATT_PER_LANE; j++) {
            const int d = lane + 32 * j;
            if (d < hd) {
                kk[j] = kv.int8 ? (float)kv.k8[off + d] * ks : kv.k[off + d];
                v[j] = kv.int8 ? (float)kv.v8[off + d] * vs : kv.v[off + d];
                dot = fmaf(q[j], kk[j], dot);
            } else {
                v[j] = 0.f;
            }
        }
        float sc = ti_cu_warp_sum(dot);
        if (use_alibi) sc -= slope * (float)(len - 1 - t);
        att_push(&st, sc, v);
    }
    const float inv = ok ? 1.f / st.l : 0.f;
    for (int j = 0; j < ATT_PER_LANE; j++) {
        const int d = lane + 32 * j;
        if (d < hd) o[d] = ok ? st.acc[j] * inv : 0.f;
    }
}

extern "C" ti_err ti_cuda_paged_decode(ti_cuda *cu, float *d_out, const float *d_q,
                                       const ti_cuda_paged_kv *kv, int S, const float *alibi,
                                       float scale)
{
    TI_CU_CHECK_CTX(cu, "paged_decode");
    if (!kv || S <= 0 || kv->H <= 0 || kv->hd <= 0 || kv->n_blocks <= 0 || kv->max_blocks <= 0 ||
        !kv->table || !kv->len)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: paged_decode: bad shape or NULL cache");
    if (kv->hd > TI_ATTN_MAX_HD)
        return ti_errorf(TI_ERR_LIMIT, "cuda: paged_decode: head dim %d > %d", kv->hd, TI_ATTN_MAX_HD);
    if (kv->int8 ? (!kv->k8 || !kv->v8 || !kv->k_scale || !kv->v_scale) : (!kv->k || !kv->v))
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: paged_decode: %s cache buffers missing",
                         kv->int8 ? "int8" : "fp32");
    att_slopes sl;
    ti_err err = att_slopes_from(&sl, alibi, kv->H, "paged_decode");
    if (err) return err;
    const float sc = scale != 0.f ? scale : 1.f / sqrtf((float)kv->hd);
    const long rows = (long)S * kv->H;
    k_paged_decode<<<(unsigned)((rows + ATT_WARPS - 1) / ATT_WARPS), 32 * ATT_WARPS, 0, cu->stream>>>(
        d_out, d_q, *kv, S, alibi != NULL, sl, sc);
    TI_CU_LAUNCHED("paged_decode");
    return TI_OK;
}

__global__ void k_quantize_kv(int8_t *qout, float *scale, const float *x, int rows, int H, int hd)
{
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5); /* (r, h) */
    if (row >= (long)rows * H) return;
    const size_t off = (size_t)(row / H) * H * hd + (size_t)(row % H) * hd;
    float mx = 0.f;
    for (int d = lane; d < hd; d += 32) mx = fmaxf(mx, fabsf(x[off + d]));
    mx = ti_cu_warp_max(mx);
    const float sc = mx > 0.f ? mx / 127.f : 1.f;
    for (int d = lane; d < hd; d += 32) {
        float r = rintf(x[off + d] / sc);
        r = fminf(fmaxf(r, -127.f), 127.f);
        qout[off + d] = (int8_t)r;
    }
    if (lane == 0) scale[row] = sc;
}

extern "C" ti_err ti_cuda_quantize_kv(ti_cuda *cu, int8_t *d_q, float *d_scale, const float *d_x,
                                      int rows, int H, int hd)
{
    TI_CU_CHECK_CTX(cu, "quantize_kv");
    if (rows <= 0 || H <= 0 || hd <= 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "cuda: quantize_kv: bad shape rows=%d H=%d hd=%d", rows, H, hd);
    const long n = (long)rows * H;
    k_quantize_kv<<<(unsigned)((n + ATT_WARPS - 1) / ATT_WARPS), 32 * ATT_WARPS, 0, cu->stream>>>(
        d_q, d_scale, d_x, rows, H, hd);
    TI_CU_LAUNCHED("quantize_kv");
    return TI_OK;
}
