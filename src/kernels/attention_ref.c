/* Multi-head attention, scalar reference: flash-style forward (online softmax over key
 * blocks, no [T,T] buffer), backward that recomputes scores from the saved log-sum-exp,
 * and single-query decode against a KV cache.  Also the shape checks all levels share. */
#include <string.h>

#include "kernels/kernels_internal.h"

#define ATTN_REF_KB 64      /* keys per block in the forward */
#define ATTN_MAX_T (1 << 20) /* sequence length limit (keeps every index in int) */

ti_err ti_attn_check(const ti_attn_cfg *cfg, float *scale)
{
    if (!cfg) return ti_errorf(TI_ERR_INVALID_ARG, "attention: cfg is NULL");
    if (cfg->B < 1 || cfg->T < 1 || cfg->H < 1 || cfg->hd < 1)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention: B=%d T=%d H=%d hd=%d must all be >= 1",
                         cfg->B, cfg->T, cfg->H, cfg->hd);
    if (cfg->hd > TI_ATTN_MAX_HD)
        return ti_errorf(TI_ERR_LIMIT, "attention: head dim %d above the limit %d", cfg->hd,
                         TI_ATTN_MAX_HD);
    if (cfg->T > ATTN_MAX_T)
        return ti_errorf(TI_ERR_LIMIT, "attention: T=%d above the limit %d", cfg->T, ATTN_MAX_T);
    if ((size_t)cfg->B * (size_t)cfg->T * 3u * (size_t)cfg->H * (size_t)cfg->hd > ((size_t)1 << 40))
        return ti_errorf(TI_ERR_LIMIT, "attention: B*T*3*H*hd too large");
    if (!isfinite(cfg->scale) || cfg->scale < 0.0f)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention: scale %g must be finite and >= 0",
                         (double)cfg->scale);
    *scale = cfg->scale > 0.0f ? cfg->scale : 1.0f / sqrtf((float)cfg->hd);
    return TI_OK;
}

ti_err ti_attn_decode_check(int T, int H, int hd, size_t kv_stride, int q_pos, float *scale)
{
    if (T < 1 || H < 1 || hd < 1 || q_pos < 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention decode: T=%d H=%d hd=%d q_pos=%d invalid",
                         T, H, hd, q_pos);
    if (hd > TI_ATTN_MAX_HD || T > ATTN_MAX_T)
        return ti_errorf(TI_ERR_LIMIT, "attention decode: hd=%d or T=%d above the limits %d, %d",
                         hd, T, TI_ATTN_MAX_HD, ATTN_MAX_T);
    if (kv_stride < (size_t)H * (size_t)hd)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention decode: kv_stride %zu < H*hd = %d",
                         kv_stride, H * hd);
    if (!isfinite(*scale) || *scale < 0.0f)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention decode: scale %g must be finite and >= 0",
                         (double)*scale);
    if (*scale == 0.0f) *scale = 1.0f / sqrtf((float)hd);
    return TI_OK;
}

typedef struct attn_ref_job {
    const ti_attn_cfg *cfg;
    float scale;
    float *out, *lse, *dqkv;
    const float *qkv, *dout, *o, *lse_saved;
    int backward;
} attn_ref_job;

/* Where head h of sequence b starts: q of token t at base + t*C3 (k at +C, v at +2C). */
typedef struct attn_head {
    int T, hd, C;
    size_t C3;
    float slope;
    const float *base;
} attn_head;

static attn_head head_of(const attn_ref_job *j, int b, int h)
{
    attn_head a = {.T = j->cfg->T, .hd = j->cfg->hd, .C = j->cfg->H * j->cfg->hd};
    a.C3 = 3 * (size_t)a.C;
    a.slope = j->cfg->alibi ? j->cfg->alibi[h] : 0.0f;
    a.base = j->qkv + (size_t)b * a.T * a.C3 + (size_t)h * a.hd;
    return a;
}

static float dot(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* One (b, h) pair: every query row, keys in blocks with a running max m and sum l. */
static void attn_fwd_one(const attn_ref_job *j, int b, int h)
{
    const attn_head a = head_of(j, b, h);
    const int T = a.T, hd = a.hd, C = a.C, H = j->cfg->H;
    const size_t C3 = a.C3;
    const float slope = a.slope, *base = a.base;
    for (int i = 0; i < T; i++) {
        const float *q = base + (size_t)i * C3;
        float *o = j->out + ((size_t)b * T + i) * C + (size_t)h * hd; /* accumulator */
        for (int d = 0; d < hd; d++) o[d] = 0.0f;
        float m = -INFINITY, l = 0.0f, s[ATTN_REF_KB];
        const int kend = j->cfg->causal ? i + 1 : T;
        for (int k0 = 0; k0 < kend; k0 += ATTN_REF_KB) {
            const int kn = kend - k0 < ATTN_REF_KB ? kend - k0 : ATTN_REF_KB;
            float bm = -INFINITY;
            for (int t = 0; t < kn; t++) {
                const int k = k0 + t;
                s[t] = dot(q, base + (size_t)k * C3 + C, hd) * j->scale - slope * fabsf((float)(i - k));
                bm = s[t] > bm ? s[t] : bm;
            }
            const float mn = bm > m ? bm : m;
            const float corr = expf(m - mn); /* 0 on the first block (m = -inf) */
            l *= corr;
            for (int d = 0; d < hd; d++) o[d] *= corr;
            for (int t = 0; t < kn; t++) {
                const float p = expf(s[t] - mn);
                const float *v = base + (size_t)(k0 + t) * C3 + 2 * (size_t)C;
                l += p;
                for (int d = 0; d < hd; d++) o[d] += p * v[d];
            }
            m = mn;
        }
        for (int d = 0; d < hd; d++) o[d] /= l;
        if (j->lse) j->lse[((size_t)b * H + h) * T + i] = m + logf(l);
    }
}

static void attn_bwd_one(const attn_ref_job *j, int b, int h);

static void attn_task(void *ctx, size_t begin, size_t end, int worker)
{
    const attn_ref_job *j = ctx;
    (void)worker;
    for (size_t bh = begin; bh < end; bh++) {
        const int b = (int)(bh / (size_t)j->cfg->H), h = (int)(bh % (size_t)j->cfg->H);
        if (j->backward) attn_bwd_one(j, b, h);
        else attn_fwd_one(j, b, h);
    }
}

static ti_err attention_forward_ref(float *out, float *lse, const float *qkv, const ti_attn_cfg *cfg,
                                    ti_pool *pool)
{
    float scale;
    ti_err e = ti_attn_check(cfg, &scale);
    if (e) return e;
    attn_ref_job j = {.cfg = cfg, .scale = scale, .out = out, .lse = lse, .qkv = qkv};
    ti_pool_parallel_for(pool, (size_t)cfg->B * cfg->H, 1, attn_task, &j);
    return TI_OK;
}

/* With p = exp(s - lse), D_i = dout_i . out_i:  dv_j += p dout_i;  ds = p (dout_i . v_j - D_i);
 * dq_i += scale ds k_j;  dk_j += scale ds q_i.  A (b, h) pair owns its dqkv columns. */
static void attn_bwd_one(const attn_ref_job *j, int b, int h)
{
    const attn_head a = head_of(j, b, h);
    const int T = a.T, hd = a.hd, C = a.C, H = j->cfg->H;
    const size_t C3 = a.C3;
    const float slope = a.slope, *base = a.base;
    float *dbase = j->dqkv + (size_t)b * T * C3 + (size_t)h * hd;
    for (int i = 0; i < T; i++) {
        const float *q = base + (size_t)i * C3;
        const size_t orow = ((size_t)b * T + i) * C + (size_t)h * hd;
        const float *go = j->dout + orow;
        const float D = dot(go, j->o + orow, hd);
        const float lse = j->lse_saved[((size_t)b * H + h) * T + i];
        float *dq = dbase + (size_t)i * C3;
        const int kend = j->cfg->causal ? i + 1 : T;
        for (int k = 0; k < kend; k++) {
            const float *kk = base + (size_t)k * C3 + C, *v = kk + C;
            float *dk = dbase + (size_t)k * C3 + C, *dv = dk + C;
            float s = dot(q, kk, hd) * j->scale - slope * fabsf((float)(i - k));
            float p = expf(s - lse);
            float ds = p * (dot(go, v, hd) - D) * j->scale;
            for (int d = 0; d < hd; d++) {
                dv[d] += p * go[d];
                dq[d] += ds * kk[d];
                dk[d] += ds * q[d];
            }
        }
    }
}

static ti_err attention_backward_ref(float *dqkv, const float *dout, const float *qkv,
                                     const float *out, const float *lse, const ti_attn_cfg *cfg,
                                     ti_pool *pool)
{
    float scale;
    ti_err e = ti_attn_check(cfg, &scale);
    if (e) return e;
    attn_ref_job j = {.cfg = cfg, .scale = scale, .dqkv = dqkv, .dout = dout, .qkv = qkv,
                      .o = out, .lse_saved = lse, .backward = 1};
    ti_pool_parallel_for(pool, (size_t)cfg->B * cfg->H, 1, attn_task, &j);
    return TI_OK;
}

/* Online-softmax accumulation of keys t in [0,T) at positions pos0 + t into the running
 * (acc [H,hd], m [H], l [H]) of each head; ALiBi from the distance |q_pos - pos|. */
static void decode_heads_ref(float *acc, float *mrun, float *lrun, const float *q, const float *k,
                             const float *v, int T, int H, int hd, size_t kv_stride, int64_t q_pos,
                             int64_t pos0, const float *alibi, float scale)
{
    for (int h = 0; h < H; h++) {
        const float *qh = q + (size_t)h * hd;
        float *o = acc + (size_t)h * hd;
        const float slope = alibi ? alibi[h] : 0.0f;
        float m = mrun[h], l = lrun[h];
        for (int t = 0; t < T; t++) {
            const float *kt = k + (size_t)t * kv_stride + (size_t)h * hd;
            const float *vt = v + (size_t)t * kv_stride + (size_t)h * hd;
            float s = dot(qh, kt, hd) * scale - slope * fabsf((float)(q_pos - (pos0 + t)));
            if (s > m) { /* new running max: rescale what was summed so far */
                float corr = m == -INFINITY ? 0.0f : expf(m - s);
                l *= corr;
                for (int d = 0; d < hd; d++) o[d] *= corr;
                m = s;
            }
            float p = expf(s - m);
            l += p;
            for (int d = 0; d < hd; d++) o[d] += p * vt[d];
        }
        mrun[h] = m;
        lrun[h] = l;
    }
}

static ti_err attention_decode_ref(float *out, const float *q, const float *k, const float *v,
                                   int T, int H, int hd, size_t kv_stride, int q_pos,
                                   const float *alibi, float scale)
{
    ti_err e = ti_attn_decode_check(T, H, hd, kv_stride, q_pos, &scale);
    if (e) return e;
    if (H > TI_ATTN_MAX_HEADS_DECODE)
        return ti_errorf(TI_ERR_LIMIT, "attention decode: H=%d above %d", H, TI_ATTN_MAX_HEADS_DECODE);
    float m[TI_ATTN_MAX_HEADS_DECODE], l[TI_ATTN_MAX_HEADS_DECODE];
    for (int h = 0; h < H; h++) m[h] = -INFINITY, l[h] = 0.0f;
    memset(out, 0, (size_t)H * hd * sizeof(float));
    decode_heads_ref(out, m, l, q, k, v, T, H, hd, kv_stride, q_pos, 0, alibi, scale);
    for (int h = 0; h < H; h++)
        for (int d = 0; d < hd; d++) out[(size_t)h * hd + d] /= l[h];
    return TI_OK;
}

ti_err ti_attn_accum_check(int T, int H, int hd, size_t kv_stride, int64_t q_pos, int64_t pos0,
                           float *scale)
{
    if (T < 0 || H <= 0 || hd <= 0 || pos0 < 0 || (T > 0 && pos0 + T - 1 > q_pos))
        return ti_errorf(TI_ERR_INVALID_ARG,
                         "attention decode: T=%d H=%d hd=%d keys at %lld.. after the query at %lld",
                         T, H, hd, (long long)pos0, (long long)q_pos);
    if (hd > TI_ATTN_MAX_HD || H > TI_ATTN_MAX_HEADS_DECODE)
        return ti_errorf(TI_ERR_LIMIT, "attention decode: hd=%d or H=%d above the limits %d, %d", hd, H,
                         TI_ATTN_MAX_HD, TI_ATTN_MAX_HEADS_DECODE);
    if (kv_stride < (size_t)H * hd)
        return ti_errorf(TI_ERR_INVALID_ARG, "attention decode: kv_stride %zu < H*hd = %d", kv_stride, H * hd);
    if (!(*scale >= 0.0f) || !isfinite(*scale))
        return ti_errorf(TI_ERR_INVALID_ARG, "attention decode: scale %g must be finite and >= 0", *scale);
    if (*scale == 0.0f) *scale = 1.0f / sqrtf((float)hd);
    return TI_OK;
}

static ti_err attention_decode_accum_ref(float *acc, float *mrun, float *lrun, const float *q,
                                         const float *k, const float *v, int T, int H, int hd,
                                         size_t kv_stride, int64_t q_pos, int64_t pos0,
                                         const float *alibi, float scale)
{
    ti_err e = ti_attn_accum_check(T, H, hd, kv_stride, q_pos, pos0, &scale);
    if (e) return e;
    decode_heads_ref(acc, mrun, lrun, q, k, v, T, H, hd, kv_stride, q_pos, pos0, alibi, scale);
    return TI_OK;
}

void ti_kern_fill_attention_ref(ti_kernels *k)
{
    k->attention_forward = attention_forward_ref;
    k->attention_backward = attention_backward_ref;
    k->attention_decode = attention_decode_ref;
    k->attention_decode_accum = attention_decode_accum_ref;
}
