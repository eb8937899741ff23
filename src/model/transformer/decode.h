/* The decode step of the causal model (decode.c): one new position against a KV cache,
 * through the same block as the full forward.  The stream engine (src/stream/) owns the
 * per-symbol state, the features and the caches, and calls this once per tick. */
#ifndef TICKINFER_TFM_DECODE_H
#define TICKINFER_TFM_DECODE_H

#include "tickinfer/kv.h"
#include "tickinfer/transformer.h"

/* Working set of one decode step (one row), carved by the caller out of its own block so
 * that a step never allocates. */
typedef struct tfm_decode_scratch {
    float *h, *ln, *att, *acc;       /* [C] (acc: the online softmax's sum) */
    float *qkv;                      /* [3C] */
    float *fc;                       /* [D] */
    float *mrun, *lrun;              /* [H] running max / sum of the online softmax */
} tfm_decode_scratch;

size_t tfm_decode_scratch_floats(const ti_tfm *m);
/* Points sc into base [tfm_decode_scratch_floats(m)]. */
void tfm_decode_scratch_bind(tfm_decode_scratch *sc, const ti_tfm *m, float *base);

/* Append position kv->n with normalised input xn [F]; y [1] = the head's output there.
 * segs: room for ti_kv_max_segments(kv); qsegs likewise for a quantized cache (else NULL). */
ti_err tfm_decode_step(const ti_tfm *m, ti_kv_cache *kv, tfm_decode_scratch *sc, ti_kv_seg *segs,
                       ti_kvq_seg *qsegs, const float *xn, float *y);

#endif
