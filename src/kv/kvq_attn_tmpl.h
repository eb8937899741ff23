/* Internal template: the decode-attention loop shared by every ISA variant.  The including
 * file defines, before including this:
 *   KVQ_ATTEND_NAME                                   the function name
 *   static float kvq_dot(q, row, dt, H, hd, h)        <q_h, K_h> for a whole head
 *   static void  kvq_axpy(acc, p, row, dt, H, hd, h)  acc += p * V_h
 *   static float kvq_exp_sum(p, n, m)                 p[j] = exp(p[j] - m), returns the sum
 * Heads are the outer loop so the state is one head's accumulator (hd floats) on the
 * stack; each head streams over the cached rows in blocks of KVQ_KB tokens: scores of the
 * block, one max / rescale per block (not per token: fewer exps, no unpredictable branch),
 * exps of the block in vector form, then the weighted V sum.  tok_weight needs the final
 * max and normaliser, so it takes a second pass that recomputes the scores. */
#include <math.h>

#ifndef KVQ_KB
#define KVQ_KB 64
#endif

void KVQ_ATTEND_NAME(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs, int nseg,
                     ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi, float scale)
{
    float acc[TI_KVQ_MAX_HD], p[KVQ_KB];
    if (tok_weight) {
        size_t total = 0;
        for (int s = 0; s < nseg; s++) total += (size_t)segs[s].n;
        for (size_t t = 0; t < total; t++) tok_weight[t] = 0.0f;
    }
    for (int h = 0; h < H; h++) {
        const float *qh = q + (size_t)h * hd;
        float slope = alibi ? alibi[h] : 0.0f;
        float m = -INFINITY, l = 0.0f;
        for (int i = 0; i < hd; i++) acc[i] = 0.0f;
        for (int s = 0; s < nseg; s++) {
            const ti_kvq_seg *g = &segs[s];
            for (int t0 = 0; t0 < g->n; t0 += KVQ_KB) {
                int nb = g->n - t0 < KVQ_KB ? g->n - t0 : KVQ_KB;
                float bm = -INFINITY;
                for (int j = 0; j < nb; j++) {
                    int t = t0 + j;
                    const uint8_t *kr = (const uint8_t *)g->k + (size_t)t * g->stride;
                    int64_t pt = g->pos ? g->pos[t] : g->pos0 + t;
                    p[j] = scale * kvq_dot(qh, kr, dt, H, hd, h) - slope * (float)(q_pos - pt);
                    bm = p[j] > bm ? p[j] : bm;
                }
                if (bm > m) {
                    /* New running max: rescale what was accumulated (exp(-inf) = 0 at start). */
                    float c = expf(m - bm);
                    l *= c;
                    for (int i = 0; i < hd; i++) acc[i] *= c;
                    m = bm;
                }
                l += kvq_exp_sum(p, nb, m);
                for (int j = 0; j < nb; j++)
                    kvq_axpy(acc, p[j], (const uint8_t *)g->v + (size_t)(t0 + j) * g->stride, dt, H, hd, h);
            }
        }
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int i = 0; i < hd; i++) out[(size_t)h * hd + i] = acc[i] * inv;
        if (!tok_weight || l <= 0.0f) continue;
        size_t idx = 0;
        for (int s = 0; s < nseg; s++) {
            const ti_kvq_seg *g = &segs[s];
            for (int t = 0; t < g->n; t++, idx++) {
                const uint8_t *kr = (const uint8_t *)g->k + (size_t)t * g->stride;
                int64_t pt = g->pos ? g->pos[t] : g->pos0 + t;
                float sc = scale * kvq_dot(qh, kr, dt, H, hd, h) - slope * (float)(q_pos - pt);
                tok_weight[idx] += expf(sc - m) * inv;
            }
        }
    }
}
