/* Multi-head attention, SIMD body (instantiated per ISA by attention_avx2.c /
 * attention_avx512.c).  Same algorithm as attention_ref.c, vectorised two ways:
 *   scores  s[j] = q . k_j for AT_KB keys at once from a transposed copy of the key
 *           block, Kt [hd][AT_KB] (one broadcast of q[d] times one row of Kt);
 *   values  o += p_j v_j runs over rows of v with o held in registers (at_pv_*).
 * AT_QG queries go together so that they share every load of Kt and V and their
 * softmax bookkeeping (reductions, exp) overlaps.
 * Forward work item = (b, h, block of up to AT_QB_MAX queries): each key block is
 * transposed once for the item, and the queries' running max / sum / output live on the
 * stack, so the [T,T] score matrix never exists.  Backward work item = (b, h): key
 * blocks outer, query groups inner; dK, dV of the block are accumulated transposed and
 * added to dqkv once.  Stack use: at most 4 * TI_ATTN_MAX_HD * AT_KB floats (128 KB). */
#include <string.h>

#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

#define AT_KV 4              /* vectors per key block */
#define AT_KB (AT_KV * VW)   /* keys per block: 64 (AVX-512) or 32 (AVX2) */
/* queries per forward work item: each packs every key block once, so more queries
 * amortise the packing; the item's running outputs o [QB][hd] take AT_O_FLOATS. */
#define AT_O_FLOATS 8192
#define AT_QB_MAX 128
/* queries processed together: they share each load of Kt / V, and their softmax
 * bookkeeping (reductions, exp) interleaves; QG * AT_KV accumulators must fit. */
#define AT_QG (VW == 16 ? 4 : 2)

static inline int at_min(int a, int b) { return a < b ? a : b; }

/* dst [hd][AT_KB] = rows src + t*stride (t < kn) transposed, zero for t >= kn. */
static void at_pack_t(float *dst, const float *src, size_t stride, int kn, int hd)
{
    for (int t = 0; t < kn; t++) {
        const float *r = src + (size_t)t * stride;
        for (int d = 0; d < hd; d++) dst[d * AT_KB + t] = r[d];
    }
    if (kn < AT_KB)
        for (int d = 0; d < hd; d++) memset(dst + d * AT_KB + kn, 0, (size_t)(AT_KB - kn) * sizeof(float));
}

/* acc[q][v] = x_q . Xt[:, v-th vector of keys] for NQ rows x_q = x + q*xstride. */
static inline __attribute__((always_inline)) void at_xt_nq(const int NQ, vf acc[AT_QG][AT_KV],
                                                          const float *x, size_t xstride,
                                                          const float *Xt, int hd)
{
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++)
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) acc[q][v] = vf_zero();
    for (int d = 0; d < hd; d++) {
        vf kv[AT_KV];
        const float *r = Xt + d * AT_KB;
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) kv[v] = vf_load(r + v * VW);
#pragma GCC unroll 4
        for (int q = 0; q < NQ; q++) {
            const vf xd = vf_set1(x[(size_t)q * xstride + d]);
#pragma GCC unroll 4
            for (int v = 0; v < AT_KV; v++) acc[q][v] = vf_fma(xd, kv[v], acc[q][v]);
        }
    }
}

/* s [NQ][AT_KB]: s[q][j] = scale * q_q . k_j - slope * |(i0+q) - (k0+j)|, -inf for
 * j >= valid[q]; query q at x + q*xstride. */
static inline __attribute__((always_inline)) void at_scores_nq(const int NQ, float *s, const float *x,
                                                              size_t xstride, const float *Kt, int hd,
                                                              float scale, float slope, int i0, int k0,
                                                              const int *valid)
{
    vf acc[AT_QG][AT_KV];
    at_xt_nq(NQ, acc, x, xstride, Kt, hd);
    const vf vscale = vf_set1(scale), vslope = vf_set1(slope), ninf = vf_set1(-INFINITY);
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++)
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) {
            vf y = vf_mul(acc[q][v], vscale);
            if (slope != 0.0f) {
                vf dist = vf_abs(vf_add(vf_set1((float)(k0 + v * VW - (i0 + q))), vf_iota()));
                y = vf_fnma(vslope, dist, y);
            }
            if (valid[q] < AT_KB)
                y = vf_sel(vf_lt(vf_add(vf_iota(), vf_set1((float)(v * VW))), vf_set1((float)valid[q])), y, ninf);
            vf_store(s + q * AT_KB + v * VW, y);
        }
}

/* o_q [NV vectors] = corr[q] * o_q + sum_{t < n} p[q][t] * V[t*stride + .] for NQ rows
 * o_q = o + q*ostride, p rows AT_KB apart; the last vector has wl lanes (FULL: VW). */
static inline __attribute__((always_inline)) void at_pv_nq_nv(const int NQ, const int NV, const int FULL,
                                                             float *o, size_t ostride, const float *corr,
                                                             const float *p, const float *V,
                                                             size_t stride, int n, int wl)
{
    vf acc[AT_QG][4];
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
        const vf vc = vf_set1(corr[q]);
        const float *oq = o + (size_t)q * ostride;
#pragma GCC unroll 4
        for (int u = 0; u < NV; u++)
            acc[q][u] = vf_mul(vc, (FULL || u < NV - 1) ? vf_load(oq + u * VW) : vf_load_n(oq + u * VW, wl));
    }
    for (int t = 0; t < n; t++) {
        const float *r = V + (size_t)t * stride;
        vf vr[4];
#pragma GCC unroll 4
        for (int u = 0; u < NV; u++) vr[u] = (FULL || u < NV - 1) ? vf_load(r + u * VW) : vf_load_n(r + u * VW, wl);
#pragma GCC unroll 4
        for (int q = 0; q < NQ; q++) {
            const vf pt = vf_set1(p[q * AT_KB + t]);
#pragma GCC unroll 4
            for (int u = 0; u < NV; u++) acc[q][u] = vf_fma(pt, vr[u], acc[q][u]);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
        float *oq = o + (size_t)q * ostride;
#pragma GCC unroll 4
        for (int u = 0; u < NV; u++) {
            if (FULL || u < NV - 1) vf_store(oq + u * VW, acc[q][u]);
            else vf_store_n(oq + u * VW, acc[q][u], wl);
        }
    }
}

#define AT_PV_NV(NQ, NV)                                                                          \
    case NV:                                                                                      \
        if (wl == VW) at_pv_nq_nv(NQ, NV, 1, o + d0, ostride, corr, p, V + d0, stride, n, wl);    \
        else at_pv_nq_nv(NQ, NV, 0, o + d0, ostride, corr, p, V + d0, stride, n, wl);             \
        break;

/* NQ as a constant: hd is walked in chunks of up to 4 vectors. */
#define AT_PV_FN(NAME, NQ)                                                                        \
    static void NAME(float *o, size_t ostride, const float *corr, const float *p, const float *V, \
                     size_t stride, int n, int hd)                                                \
    {                                                                                             \
        for (int d0 = 0; d0 < hd; d0 += 4 * VW) {                                                 \
            const int nd = at_min(4 * VW, hd - d0), nv = (nd + VW - 1) / VW, wl = nd - (nv - 1) * VW; \
            switch (nv) {                                                                         \
                AT_PV_NV(NQ, 1) AT_PV_NV(NQ, 2) AT_PV_NV(NQ, 3) AT_PV_NV(NQ, 4)                   \
            default: break;                                                                       \
            }                                                                                     \
        }                                                                                         \
    }
AT_PV_FN(at_pv_1, 1)
AT_PV_FN(at_pv_g, AT_QG)

static void at_scores_1(float *s, const float *x, size_t xs, const float *Kt, int hd, float scale,
                        float slope, int i0, int k0, const int *valid)
{
    at_scores_nq(1, s, x, xs, Kt, hd, scale, slope, i0, k0, valid);
}

static void at_scores_g(float *s, const float *x, size_t xs, const float *Kt, int hd, float scale,
                        float slope, int i0, int k0, const int *valid)
{
    at_scores_nq(AT_QG, s, x, xs, Kt, hd, scale, slope, i0, k0, valid);
}

/* p [AT_KB] = exp(s - m) in place; returns the sum. */
static inline float at_exp_sum(float *s, float m)
{
    vf sum = vf_zero(), vm_ = vf_set1(m);
    for (int v = 0; v < AT_KV; v++) {
        vf e = vf_exp(vf_sub(vf_load(s + v * VW), vm_));
        vf_store(s + v * VW, e);
        sum = vf_add(sum, e);
    }
    return vf_reduce_add(sum);
}

/* Online-softmax step for NQ score rows s [NQ][AT_KB] (in place -> p = exp(s - m_new)):
 * m, l are the running max and sum of each row, corr the factor the row's output must be
 * scaled by.  The NQ rows' exps are interleaved so that their latency overlaps. */
static inline __attribute__((always_inline)) void at_softmax_nq(const int NQ, float *s, float *m,
                                                               float *l, float *corr)
{
    vf mx[AT_QG], sum[AT_QG], mn[AT_QG];
    float mns[AT_QG];
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
        mx[q] = vf_load(s + q * AT_KB);
#pragma GCC unroll 4
        for (int v = 1; v < AT_KV; v++) mx[q] = vf_max(mx[q], vf_load(s + q * AT_KB + v * VW));
        const float bm = vf_reduce_max(mx[q]);
        mns[q] = bm > m[q] ? bm : m[q];
        mn[q] = vf_set1(mns[q]);
        sum[q] = vf_zero();
    }
#pragma GCC unroll 4
    for (int v = 0; v < AT_KV; v++)
#pragma GCC unroll 4
        for (int q = 0; q < NQ; q++) {
            float *p = s + q * AT_KB + v * VW;
            vf e = vf_exp(vf_sub(vf_load(p), mn[q]));
            vf_store(p, e);
            sum[q] = vf_add(sum[q], e);
        }
    /* corr = exp(m_old - m_new), all rows in one vector (0 when m_old = -inf) */
    float d[VW];
    for (int q = 0; q < NQ; q++) d[q] = m[q] - mns[q];
    vf_store_n(corr, vf_exp(vf_load_n(d, NQ)), NQ);
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++) {
        l[q] = l[q] * corr[q] + vf_reduce_add(sum[q]);
        m[q] = mns[q];
    }
}

static void at_softmax_1(float *s, float *m, float *l, float *corr) { at_softmax_nq(1, s, m, l, corr); }
static void at_softmax_g(float *s, float *m, float *l, float *corr) { at_softmax_nq(AT_QG, s, m, l, corr); }

static inline float at_max(const float *s)
{
    vf mx = vf_load(s);
    for (int v = 1; v < AT_KV; v++) mx = vf_max(mx, vf_load(s + v * VW));
    return vf_reduce_max(mx);
}

/* Same over the first nv vectors only (decode: short segments pay for what they hold). */
static inline float at_max_nv(const float *s, int nv)
{
    vf mx = vf_load(s);
    for (int v = 1; v < nv; v++) mx = vf_max(mx, vf_load(s + v * VW));
    return vf_reduce_max(mx);
}

static inline float at_dot(const float *a, const float *b, int n)
{
    vf acc = vf_zero();
    int i = 0;
    for (; i + VW <= n; i += VW) acc = vf_fma(vf_load(a + i), vf_load(b + i), acc);
    if (i < n) acc = vf_fma(vf_load_n(a + i, n - i), vf_load_n(b + i, n - i), acc);
    return vf_reduce_add(acc);
}

typedef struct at_job {
    const ti_attn_cfg *cfg;
    float scale;
    int qb, nqb; /* queries per forward item, items per (b, h) */
    float *out, *lse, *dqkv;
    const float *qkv, *dout, *o, *lse_saved;
} at_job;

/* One query group of the forward: its scores / probabilities and bookkeeping. */
typedef struct at_group {
    float s[AT_QG * AT_KB] __attribute__((aligned(64))); /* scores, then p */
    float corr[AT_QG];
    int valid[AT_QG], qg, nq, vmax;
} at_group;

/* o rows of the group = corr * o + p V */
static void at_group_pv(const at_group *g, float *o, int hd, const float *V, size_t C3)
{
    if (g->nq == AT_QG) at_pv_g(o + (size_t)g->qg * hd, (size_t)hd, g->corr, g->s, V, C3, g->vmax, hd);
    else
        for (int q = 0; q < g->nq; q++)
            at_pv_1(o + (size_t)(g->qg + q) * hd, (size_t)hd, g->corr + q, g->s + q * AT_KB, V, C3, g->valid[q], hd);
}

static void at_fwd_item(const at_job *j, int b, int h, int q0)
{
    const int T = j->cfg->T, H = j->cfg->H, hd = j->cfg->hd, C = H * hd, causal = j->cfg->causal;
    const size_t C3 = 3 * (size_t)C;
    const float slope = j->cfg->alibi ? j->cfg->alibi[h] : 0.0f;
    const float *base = j->qkv + (size_t)b * T * C3 + (size_t)h * hd;
    const int qn = at_min(j->qb, T - q0);
    float Kt[TI_ATTN_MAX_HD * AT_KB] __attribute__((aligned(64)));
    float o[AT_O_FLOATS] __attribute__((aligned(64)));
    float m[AT_QB_MAX], l[AT_QB_MAX];
    for (int qi = 0; qi < qn; qi++) {
        m[qi] = -INFINITY;
        l[qi] = 0.0f;
    }
    memset(o, 0, (size_t)qn * hd * sizeof(float));
    const int kend = causal ? q0 + qn : T;
    for (int k0 = 0; k0 < kend; k0 += AT_KB) {
        const int kn = at_min(AT_KB, kend - k0);
        at_pack_t(Kt, base + (size_t)k0 * C3 + C, C3, kn, hd);
        const float *V = base + (size_t)k0 * C3 + 2 * (size_t)C;
        at_group gr;
        for (int qg = 0; qg < qn; qg += AT_QG) {
            gr.qg = qg;
            gr.nq = at_min(AT_QG, qn - qg);
            const int i0 = q0 + qg;
            if (causal && i0 + gr.nq - 1 < k0) continue; /* the whole group is before the block */
            /* keys seen by each query; 0 only for causal queries before k0, which have
             * seen block 0 already, so their running max stays finite */
            gr.vmax = 0;
            for (int q = 0; q < AT_QG; q++) {
                int v = q >= gr.nq ? 0 : causal ? at_min(kn, i0 + q - k0 + 1) : kn;
                gr.valid[q] = v < 0 ? 0 : v;
                gr.vmax = gr.valid[q] > gr.vmax ? gr.valid[q] : gr.vmax;
            }
            const float *x = base + (size_t)i0 * C3;
            if (gr.nq == AT_QG) at_scores_g(gr.s, x, C3, Kt, hd, j->scale, slope, i0, k0, gr.valid);
            else
                for (int q = 0; q < gr.nq; q++)
                    at_scores_1(gr.s + q * AT_KB, x + (size_t)q * C3, C3, Kt, hd, j->scale, slope, i0 + q, k0,
                                gr.valid + q);
            if (gr.nq == AT_QG) at_softmax_g(gr.s, m + qg, l + qg, gr.corr);
            else
                for (int q = 0; q < gr.nq; q++) at_softmax_1(gr.s + q * AT_KB, m + qg + q, l + qg + q, gr.corr + q);
            at_group_pv(&gr, o, hd, V, C3);
        }
    }
    for (int qi = 0; qi < qn; qi++) {
        const int i = q0 + qi;
        float *dst = j->out + ((size_t)b * T + i) * C + (size_t)h * hd;
        const vf inv = vf_set1(1.0f / l[qi]);
        for (int d = 0; d < hd; d += VW) {
            const int w = at_min(VW, hd - d);
            vf_store_w(dst + d, vf_mul(vf_load_w(o + qi * hd + d, w), inv), w);
        }
        if (j->lse) j->lse[((size_t)b * H + h) * T + i] = m[qi] + logf(l[qi]);
    }
}

static void at_fwd_task(void *ctx, size_t begin, size_t end, int worker)
{
    const at_job *j = ctx;
    (void)worker;
    for (size_t it = begin; it < end; it++) {
        const size_t bh = it / (size_t)j->nqb;
        const int qb = (int)(it % (size_t)j->nqb);
        at_fwd_item(j, (int)(bh / (size_t)j->cfg->H), (int)(bh % (size_t)j->cfg->H), qb * j->qb);
    }
}

static ti_err at_forward(float *out, float *lse, const float *qkv, const ti_attn_cfg *cfg, ti_pool *pool)
{
    float scale;
    ti_err e = ti_attn_check(cfg, &scale);
    if (e) return e;
    const int qb = at_min(AT_QB_MAX, AT_O_FLOATS / cfg->hd / AT_QG * AT_QG);
    at_job j = {.cfg = cfg, .scale = scale, .qb = qb, .nqb = (cfg->T + qb - 1) / qb, .out = out,
                .lse = lse, .qkv = qkv};
    ti_pool_parallel_for(pool, (size_t)cfg->B * cfg->H * j.nqb, 1, at_fwd_task, &j);
    return TI_OK;
}

/* dst rows (t < kn, stride) += Xt [hd][AT_KB] transposed back. */
static void at_add_t(float *dst, size_t stride, const float *Xt, int kn, int hd)
{
    for (int t = 0; t < kn; t++) {
        float *r = dst + (size_t)t * stride;
        for (int d = 0; d < hd; d++) r[d] += Xt[d * AT_KB + t];
    }
}

/* ds [NQ][AT_KB] = scale * p * (dout_q . v_j - D[q]); dout rows at go + q*gstride. */
static inline __attribute__((always_inline)) void at_ds_nq(const int NQ, float *ds, const float *p,
                                                          const float *go, size_t gstride,
                                                          const float *Vt, int hd, const float *D,
                                                          float scale)
{
    vf acc[AT_QG][AT_KV];
    at_xt_nq(NQ, acc, go, gstride, Vt, hd);
    const vf vscale = vf_set1(scale);
#pragma GCC unroll 4
    for (int q = 0; q < NQ; q++)
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) {
            vf pv = vf_load(p + q * AT_KB + v * VW);
            vf_store(ds + q * AT_KB + v * VW, vf_mul(vf_mul(pv, vf_sub(acc[q][v], vf_set1(D[q]))), vscale));
        }
}

/* Xt [hd][AT_KB] += sum_q x_q[d] * w[q][:] (x rows at x + q*xstride): dK^T, dV^T updates
 * for a group of queries with one pass over Xt. */
static inline __attribute__((always_inline)) void at_rank_nq(const int NQ, float *Xt, const float *w,
                                                            const float *x, size_t xstride, int hd)
{
    for (int d = 0; d < hd; d++) {
        float *r = Xt + d * AT_KB;
        vf acc[AT_KV];
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) acc[v] = vf_load(r + v * VW);
#pragma GCC unroll 4
        for (int q = 0; q < NQ; q++) {
            const vf xd = vf_set1(x[(size_t)q * xstride + d]);
#pragma GCC unroll 4
            for (int v = 0; v < AT_KV; v++) acc[v] = vf_fma(vf_load(w + q * AT_KB + v * VW), xd, acc[v]);
        }
#pragma GCC unroll 4
        for (int v = 0; v < AT_KV; v++) vf_store(r + v * VW, acc[v]);
    }
}

/* One group of nq queries (rows i0..) against the packed key block. */
static void at_bwd_group(const at_job *j, int b, int h, int i0, int nq, int k0, int kn,
                         const float *Kt, const float *Vt, float *dKt, float *dVt)
{
    const int T = j->cfg->T, H = j->cfg->H, hd = j->cfg->hd, C = H * hd, causal = j->cfg->causal;
    const size_t C3 = 3 * (size_t)C;
    const float slope = j->cfg->alibi ? j->cfg->alibi[h] : 0.0f;
    const float *base = j->qkv + (size_t)b * T * C3 + (size_t)h * hd;
    float *dbase = j->dqkv + (size_t)b * T * C3 + (size_t)h * hd;
    float p[AT_QG * AT_KB] __attribute__((aligned(64)));
    float ds[AT_QG * AT_KB] __attribute__((aligned(64)));
    int valid[AT_QG], vmax = 0;
    float D[AT_QG], one[AT_QG];
    const size_t orow = ((size_t)b * T + i0) * C + (size_t)h * hd;
    const float *x = base + (size_t)i0 * C3, *go = j->dout + orow;
    for (int q = 0; q < nq; q++) {
        valid[q] = causal ? at_min(kn, i0 + q - k0 + 1) : kn; /* >= 1: i0 >= k0 if causal */
        vmax = valid[q] > vmax ? valid[q] : vmax;
        D[q] = at_dot(go + (size_t)q * C, j->o + orow + (size_t)q * C, hd);
        one[q] = 1.0f;
    }
    if (nq == AT_QG) at_scores_g(p, x, C3, Kt, hd, j->scale, slope, i0, k0, valid);
    else
        for (int q = 0; q < nq; q++)
            at_scores_1(p + q * AT_KB, x + (size_t)q * C3, C3, Kt, hd, j->scale, slope, i0 + q, k0, valid + q);
    for (int q = 0; q < nq; q++) /* p = exp(s - lse) */
        at_exp_sum(p + q * AT_KB, j->lse_saved[((size_t)b * H + h) * T + i0 + q]);
    if (nq == AT_QG) {
        at_ds_nq(AT_QG, ds, p, go, (size_t)C, Vt, hd, D, j->scale);
        at_rank_nq(AT_QG, dVt, p, go, (size_t)C, hd);
        at_rank_nq(AT_QG, dKt, ds, x, C3, hd);
        /* dq_q += sum_t ds[q][t] k_t (ds is 0 past each query's valid keys) */
        at_pv_g(dbase + (size_t)i0 * C3, C3, one, ds, base + (size_t)k0 * C3 + C, C3, vmax, hd);
    } else {
        for (int q = 0; q < nq; q++) {
            const float *gq = go + (size_t)q * C, *xq = x + (size_t)q * C3;
            at_ds_nq(1, ds + q * AT_KB, p + q * AT_KB, gq, (size_t)C, Vt, hd, D + q, j->scale);
            at_rank_nq(1, dVt, p + q * AT_KB, gq, (size_t)C, hd);
            at_rank_nq(1, dKt, ds + q * AT_KB, xq, C3, hd);
            at_pv_1(dbase + (size_t)(i0 + q) * C3, C3, one, ds + q * AT_KB, base + (size_t)k0 * C3 + C, C3,
                    valid[q], hd);
        }
    }
}

static void at_bwd_bh(const at_job *j, int b, int h)
{
    const int T = j->cfg->T, hd = j->cfg->hd, C = j->cfg->H * hd, causal = j->cfg->causal;
    const size_t C3 = 3 * (size_t)C;
    const float *base = j->qkv + (size_t)b * T * C3 + (size_t)h * hd;
    float *dbase = j->dqkv + (size_t)b * T * C3 + (size_t)h * hd;
    float Kt[TI_ATTN_MAX_HD * AT_KB] __attribute__((aligned(64)));
    float Vt[TI_ATTN_MAX_HD * AT_KB] __attribute__((aligned(64)));
    float dKt[TI_ATTN_MAX_HD * AT_KB] __attribute__((aligned(64)));
    float dVt[TI_ATTN_MAX_HD * AT_KB] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < T; k0 += AT_KB) {
        const int kn = at_min(AT_KB, T - k0);
        at_pack_t(Kt, base + (size_t)k0 * C3 + C, C3, kn, hd);
        at_pack_t(Vt, base + (size_t)k0 * C3 + 2 * (size_t)C, C3, kn, hd);
        memset(dKt, 0, (size_t)hd * AT_KB * sizeof(float));
        memset(dVt, 0, (size_t)hd * AT_KB * sizeof(float));
        for (int i0 = causal ? k0 : 0; i0 < T; i0 += AT_QG)
            at_bwd_group(j, b, h, i0, at_min(AT_QG, T - i0), k0, kn, Kt, Vt, dKt, dVt);
        at_add_t(dbase + (size_t)k0 * C3 + C, C3, dKt, kn, hd);
        at_add_t(dbase + (size_t)k0 * C3 + 2 * (size_t)C, C3, dVt, kn, hd);
    }
}

static void at_bwd_task(void *ctx, size_t begin, size_t end, int worker)
{
    const at_job *j = ctx;
    (void)worker;
    for (size_t bh = begin; bh < end; bh++)
        at_bwd_bh(j, (int)(bh / (size_t)j->cfg->H), (int)(bh % (size_t)j->cfg->H));
}

static ti_err at_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                          const float *lse, const ti_attn_cfg *cfg, ti_pool *pool)
{
    float scale;
    ti_err e = ti_attn_check(cfg, &scale);
    if (e) return e;
    at_job j = {.cfg = cfg, .scale = scale, .dqkv = dqkv, .dout = dout, .qkv = qkv, .o = out,
                .lse_saved = lse};
    ti_pool_parallel_for(pool, (size_t)cfg->B * cfg->H, 1, at_bwd_task, &j);
    return TI_OK;
}

#if VW == 16
/* s[0..15] = q . k_t for 16 keys (hd == 16: one vector each), rows at k + t*stride, t < kn
 * (zero past kn): 16 products, then a transpose-add tree (unpack, shuffle_ps, shuffle_f32x4)
 * so lane t ends up holding key t's sum -- ~3 shuffles/adds per key instead of a full
 * horizontal reduction per key. */
static inline __m512 at_dot16x16(const float *q, const float *k, size_t stride, int kn)
{
    const __m512 qv = _mm512_loadu_ps(q);
    __m512 p[16];
    for (int t = 0; t < 16; t++)
        p[t] = t < kn ? _mm512_mul_ps(qv, _mm512_loadu_ps(k + (size_t)t * stride)) : _mm512_setzero_ps();
    __m512 a[8], b[4], e[2];
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_add_ps(_mm512_unpacklo_ps(p[2 * i], p[2 * i + 1]), _mm512_unpackhi_ps(p[2 * i], p[2 * i + 1]));
    for (int i = 0; i < 4; i++)
        b[i] = _mm512_add_ps(_mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++)
        e[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(e[0], e[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(e[0], e[1], _MM_SHUFFLE(3, 1, 3, 1)));
}
#endif

/* Decode: scores by dot products (one query, so nothing to share a transpose with).
 * Accumulates keys t in [0,T) (position pos0 + t) into the running (acc, m, l) of each head. */
static void at_decode_heads(float *acc, float *mrun, float *lrun, const float *q, const float *k,
                            const float *v, int T, int H, int hd, size_t kv_stride, int64_t q_pos,
                            int64_t pos0, const float *alibi, float scale)
{
    float s[AT_KB] __attribute__((aligned(64)));
    for (int h = 0; h < H; h++) {
        const float *qh = q + (size_t)h * hd;
        float *o = acc + (size_t)h * hd;
        const float slope = alibi ? alibi[h] : 0.0f;
        float m = mrun[h], l = lrun[h];
        for (int k0 = 0; k0 < T; k0 += AT_KB) {
            const int kn = at_min(AT_KB, T - k0);
            const float *kb = k + (size_t)k0 * kv_stride + (size_t)h * hd;
            const int64_t d0 = q_pos - (pos0 + k0);
#if VW == 16
            if (hd == 16) {
                const vf vs = vf_set1(scale), vsl = vf_set1(slope), io = vf_iota();
                for (int t0 = 0; t0 < kn; t0 += 16) {
                    const vf dist = vf_sub(vf_set1((float)(d0 - t0)), io); /* >= 0 for real keys */
                    const vf sc = vf_fnma(vsl, dist, vf_mul(at_dot16x16(qh, kb + (size_t)t0 * kv_stride, kv_stride,
                                                                        kn - t0), vs));
                    vf_store(s + t0, sc);
                }
            } else
#endif
            for (int t = 0; t < kn; t++)
                s[t] = at_dot(qh, kb + (size_t)t * kv_stride, hd) * scale - slope * fabsf((float)(d0 - t));
            const int nv = (kn + VW - 1) / VW;
            for (int t = kn; t < nv * VW; t++) s[t] = -INFINITY;
            const float bm = at_max_nv(s, nv);
            const float mn = bm > m ? bm : m;
            const float corr = m == -INFINITY ? 0.0f : expf(m - mn);
            vf sum = vf_zero(), vm_ = vf_set1(mn);
            for (int vi = 0; vi < nv; vi++) {
                vf ev = vf_exp(vf_sub(vf_load(s + vi * VW), vm_));
                vf_store(s + vi * VW, ev);
                sum = vf_add(sum, ev);
            }
            l = l * corr + vf_reduce_add(sum);
            at_pv_1(o, 0, &corr, s, v + (size_t)k0 * kv_stride + (size_t)h * hd, kv_stride, kn, hd);
            m = mn;
        }
        mrun[h] = m;
        lrun[h] = l;
    }
}

static ti_err at_decode_accum(float *acc, float *m, float *l, const float *q, const float *k,
                              const float *v, int T, int H, int hd, size_t kv_stride, int64_t q_pos,
                              int64_t pos0, const float *alibi, float scale)
{
    ti_err e = ti_attn_accum_check(T, H, hd, kv_stride, q_pos, pos0, &scale);
    if (e) return e;
    at_decode_heads(acc, m, l, q, k, v, T, H, hd, kv_stride, q_pos, pos0, alibi, scale);
    return TI_OK;
}

static ti_err at_decode(float *out, const float *q, const float *k, const float *v, int T, int H,
                        int hd, size_t kv_stride, int q_pos, const float *alibi, float scale)
{
    ti_err e = ti_attn_decode_check(T, H, hd, kv_stride, q_pos, &scale);
    if (e) return e;
    float m[TI_ATTN_MAX_HEADS_DECODE], l[TI_ATTN_MAX_HEADS_DECODE];
    if (H > TI_ATTN_MAX_HEADS_DECODE)
        return ti_errorf(TI_ERR_LIMIT, "attention decode: H=%d above %d", H, TI_ATTN_MAX_HEADS_DECODE);
    for (int h = 0; h < H; h++) m[h] = -INFINITY, l[h] = 0.0f;
    memset(out, 0, (size_t)H * hd * sizeof(float));
    at_decode_heads(out, m, l, q, k, v, T, H, hd, kv_stride, q_pos, 0, alibi, scale);
    for (int h = 0; h < H; h++) {
        float *o = out + (size_t)h * hd;
        const vf inv = vf_set1(1.0f / l[h]);
        for (int d = 0; d < hd; d += VW) {
            const int w = at_min(VW, hd - d);
            vf_store_w(o + d, vf_mul(vf_load_w(o + d, w), inv), w);
        }
    }
    return TI_OK;
}

void TI_SFX(ti_kern_fill_attention)(ti_kernels *k)
{
    k->attention_forward = at_forward;
    k->attention_backward = at_backward;
    k->attention_decode = at_decode;
    k->attention_decode_accum = at_decode_accum;
}
