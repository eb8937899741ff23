/* The decode step of the causal model: one new position against a KV cache.
 * Same math as src/model/forward.c's inference path (packed weights, fused activation),
 * for one row; attention reads the cache segment by segment with one online softmax. */
#include <math.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"
#include "stream/stream_internal.h"

static void linear1(const ti_tfm *m, float *out, const float *inp, const float *W, size_t pack_off,
                    const float *bias, int N, int K, ti_act act)
{
    if (m->packed) m->k->matmul_forward_packed(out, inp, m->packed + pack_off, bias, 1, N, K, act, NULL);
    else m->k->matmul_forward(out, inp, W, bias, 1, N, K, act, NULL);
}

size_t stream_scratch_floats(const ti_tfm *m)
{
    const ti_tfm_config *c = &m->cfg;
    /* h, ln, att, tmp, acc [C]; qkv [3C]; fc [D]; m, l [H]; xn, feat [F] */
    return 5 * (size_t)c->d_model + 3 * (size_t)c->d_model + (size_t)c->d_ff + 2 * (size_t)c->n_heads +
           2 * (size_t)c->n_features + 16;
}

void stream_scratch_bind(stream_scratch *sc, const ti_tfm *m, float *base)
{
    const ti_tfm_config *c = &m->cfg;
    const size_t C = (size_t)c->d_model;
    sc->h = base, sc->ln = base + C, sc->att = base + 2 * C, sc->tmp = base + 3 * C, sc->acc = base + 4 * C;
    sc->qkv = base + 5 * C;
    sc->fc = sc->qkv + 3 * C;
    sc->mrun = sc->fc + c->d_ff;
    sc->lrun = sc->mrun + c->n_heads;
    sc->xn = sc->lrun + c->n_heads;
    sc->feat = sc->xn + c->n_features;
}

/* att [C] <- attention of the query in sc->qkv over fp32 segments, one online softmax. */
static ti_err attend_f32(const ti_tfm *m, stream_scratch *sc, const ti_kv_seg *segs, int ns, int64_t pos)
{
    const int H = m->cfg.n_heads, hd = m->cfg.d_model / H;
    memset(sc->acc, 0, (size_t)m->cfg.d_model * sizeof(float));
    for (int h = 0; h < H; h++) sc->mrun[h] = -INFINITY, sc->lrun[h] = 0.0f;
    for (int i = 0; i < ns; i++) {
        ti_err e = m->k->attention_decode_accum(sc->acc, sc->mrun, sc->lrun, sc->qkv, segs[i].k, segs[i].v,
                                                segs[i].n, H, hd, segs[i].stride, pos, segs[i].pos0, m->alibi, 0.0f);
        if (e) return e;
    }
    for (int h = 0; h < H; h++) {
        const float inv = 1.0f / sc->lrun[h];
        for (int d = 0; d < hd; d++) sc->att[h * hd + d] = sc->acc[h * hd + d] * inv;
    }
    return TI_OK;
}

ti_err stream_decode(const ti_tfm *m, ti_kv_cache *kv, stream_scratch *sc, ti_kv_seg *segs, ti_kvq_seg *qsegs,
                     const float *xn, float *y)
{
    const ti_tfm_config *c = &m->cfg;
    const ti_kernels *k = m->k;
    const int C = c->d_model, D = c->d_ff, H = c->n_heads, hd = C / H, L = c->n_layers;
    float *rows[TI_MODEL_MAX_LAYERS];
    const int64_t pos = kv->n;
    ti_err e = ti_kv_append(kv, rows);
    if (e) return e;
    linear1(m, sc->h, xn, mw(m, MW_PROJ_W), m->proj_pack, mw(m, MW_PROJ_B), C, c->n_features, TI_ACT_NONE);
    for (int l = 0; l < L; l++) {
        const model_packs *pk = &m->packs[l];
        k->layernorm_forward(sc->ln, NULL, NULL, sc->h, lw(m, l, LW_LN1_W), lw(m, l, LW_LN1_B), 1, C, c->ln_eps);
        linear1(m, sc->qkv, sc->ln, lw(m, l, LW_QKV_W), pk->qkv, lw(m, l, LW_QKV_B), 3 * C, C, TI_ACT_NONE);
        e = ti_kv_store(kv, rows[l], sc->qkv + C);
        if (e) return e;
        const int ns = ti_kv_segments(kv, l, segs);
        if (kv->dtype != TI_KV_F32) {
            /* quantized rows: dequantised inside the attention loops, never copied out */
            ti_kv_seg_to_q(qsegs, segs, ns);
            e = ti_kvq_attend(sc->att, NULL, sc->qkv, qsegs, ns, kv->dtype, H, hd, pos, m->alibi, 0.0f);
        } else {
            e = attend_f32(m, sc, segs, ns, pos);
        }
        if (e) return e;
        linear1(m, sc->tmp, sc->att, lw(m, l, LW_OUT_W), pk->out, lw(m, l, LW_OUT_B), C, C, TI_ACT_NONE);
        k->add_forward(sc->h, sc->h, sc->tmp, (size_t)C);
        k->layernorm_forward(sc->ln, NULL, NULL, sc->h, lw(m, l, LW_LN2_W), lw(m, l, LW_LN2_B), 1, C, c->ln_eps);
        linear1(m, sc->fc, sc->ln, lw(m, l, LW_FC1_W), pk->fc1, lw(m, l, LW_FC1_B), D, C, c->activation);
        linear1(m, sc->tmp, sc->fc, lw(m, l, LW_FC2_W), pk->fc2, lw(m, l, LW_FC2_B), C, D, TI_ACT_NONE);
        k->add_forward(sc->h, sc->h, sc->tmp, (size_t)C);
    }
    k->layernorm_forward(sc->ln, NULL, NULL, sc->h, mw(m, MW_HEADLN_W), mw(m, MW_HEADLN_B), 1, C, c->ln_eps);
    k->matmul_forward(y, sc->ln, mw(m, MW_HEAD_W), mw(m, MW_HEAD_B), 1, 1, C, TI_ACT_NONE, NULL);
    return TI_OK;
}
