/* The decode step of the causal model: one new position against a KV cache.  The layers
 * are the block (block.c) on the CPU backend (ops.c) with one row, packed weights and the
 * activation fused, as the inference forward; only the attention differs: it stores the
 * new key and value, then reads the cache segment by segment with one online softmax. */
#include <math.h>
#include <string.h>

#include "model/transformer/decode.h"
#include "model/transformer/tfm_internal.h"

/* The CPU backend plus the cache the attention reads. */
typedef struct decode_ctx {
    tfm_cpu cpu; /* first: the CPU steps take this ctx as a tfm_cpu */
    const ti_tfm *m;
    ti_kv_cache *kv;
    tfm_decode_scratch *sc;
    ti_kv_seg *segs;
    ti_kvq_seg *qsegs;
    float *rows[TI_MODEL_MAX_LAYERS]; /* the new position's k|v slot per layer */
    int64_t pos;
} decode_ctx;

size_t tfm_decode_scratch_floats(const ti_tfm *m)
{
    const ti_tfm_config *c = &m->cfg;
    /* h, ln, att, acc [C]; qkv [3C]; fc [D]; m, l [H] */
    return 7 * (size_t)c->d_model + (size_t)c->d_ff + 2 * (size_t)c->n_heads;
}

void tfm_decode_scratch_bind(tfm_decode_scratch *sc, const ti_tfm *m, float *base)
{
    const ti_tfm_config *c = &m->cfg;
    const size_t C = (size_t)c->d_model;
    sc->h = base, sc->ln = base + C, sc->att = base + 2 * C, sc->acc = base + 3 * C;
    sc->qkv = base + 4 * C;
    sc->fc = sc->qkv + 3 * C;
    sc->mrun = sc->fc + c->d_ff;
    sc->lrun = sc->mrun + c->n_heads;
}

/* att [C] <- attention of q [C] over fp32 segments, one online softmax. */
static ti_err attend_f32(const ti_tfm *m, tfm_decode_scratch *sc, float *att, const float *q, const ti_kv_seg *segs,
                         int ns, int64_t pos)
{
    const int H = m->cfg.n_heads, hd = m->cfg.d_model / H;
    memset(sc->acc, 0, (size_t)m->cfg.d_model * sizeof(float));
    for (int h = 0; h < H; h++) sc->mrun[h] = -INFINITY, sc->lrun[h] = 0.0f;
    for (int i = 0; i < ns; i++) {
        ti_err e = m->k->attention_decode_accum(sc->acc, sc->mrun, sc->lrun, q, segs[i].k, segs[i].v, segs[i].n, H,
                                                hd, segs[i].stride, pos, segs[i].pos0, m->alibi, 0.0f);
        if (e) return e;
    }
    for (int h = 0; h < H; h++) {
        const float inv = 1.0f / sc->lrun[h];
        for (int d = 0; d < hd; d++) att[h * hd + d] = sc->acc[h * hd + d] * inv;
    }
    return TI_OK;
}

/* The block's attention step for the one new row: store its k|v (kv [2C]) in layer l's
 * slot, then attend over every cached position of the layer including it. */
static ti_err decode_attend(void *ctx, int l, float *att, float *lse, const float *q, const float *kvrow, int n)
{
    decode_ctx *d = ctx;
    const ti_tfm_config *c = &d->m->cfg;
    ti_err e = ti_kv_store(d->kv, d->rows[l], kvrow);
    if (e) return e;
    const int ns = ti_kv_segments(d->kv, l, d->segs);
    if (d->kv->dtype == TI_KV_F32) return attend_f32(d->m, d->sc, att, q, d->segs, ns, d->pos);
    /* quantized rows: dequantised inside the attention loops, never copied out */
    ti_kv_seg_to_q(d->qsegs, d->segs, ns);
    return ti_kvq_attend(att, NULL, q, d->qsegs, ns, d->kv->dtype, c->n_heads, c->d_model / c->n_heads, d->pos,
                         d->m->alibi, 0.0f);
}

static const tfm_ops DECODE_OPS = {tfm_cpu_norm, tfm_cpu_linear, tfm_cpu_add, tfm_cpu_act, decode_attend, NULL, NULL};

ti_err tfm_decode_step(const ti_tfm *m, ti_kv_cache *kv, tfm_decode_scratch *sc, ti_kv_seg *segs,
                       ti_kvq_seg *qsegs, const float *xn, float *y)
{
    decode_ctx d; /* not zero-initialised: rows[] is L_max pointers, ti_kv_append fills L of them */
    d.cpu = (tfm_cpu){.k = m->k, .packed = 1};
    d.m = m, d.kv = kv, d.sc = sc, d.segs = segs, d.qsegs = qsegs, d.pos = kv->n;
    ti_err e = ti_kv_append(kv, d.rows);
    if (e) return e;
    const tfm_block_io io = tfm_block_io_inplace(sc->h, sc->ln, sc->qkv, sc->att, sc->fc);
    tfm_cpu_linear(&d.cpu, sc->h, xn, &m->stem.proj, 1, TI_ACT_NONE);
    for (int l = 0; l < m->cfg.n_layers; l++)
        if ((e = tfm_block_forward(&DECODE_OPS, &d, &m->lv[l], l, &io, 1))) return e;
    return tfm_head_forward(&DECODE_OPS, &d, &m->stem, y, sc->ln, NULL, NULL, sc->h, 1);
}
