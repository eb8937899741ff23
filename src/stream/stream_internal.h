/* Internals of src/stream/: the per-stream scratch and the decode step. */
#ifndef TICKINFER_STREAM_INTERNAL_H
#define TICKINFER_STREAM_INTERNAL_H

#include "tickinfer/kv.h"
#include "tickinfer/transformer.h"

typedef struct stream_scratch {
    float *h, *ln, *att, *tmp, *acc; /* [C] */
    float *qkv;                      /* [3C] */
    float *fc;                       /* [D] */
    float *mrun, *lrun;              /* [H] */
    float *xn, *feat;                /* [F] */
} stream_scratch;

size_t stream_scratch_floats(const ti_tfm *m);
void stream_scratch_bind(stream_scratch *sc, const ti_tfm *m, float *base);
/* Append position kv->n with normalised input xn [F]; y [1] = log-RV forecast.
 * segs: room for ti_kv_max_segments(kv); qsegs likewise for a quantized cache (else NULL). */
ti_err stream_decode(const ti_tfm *m, ti_kv_cache *kv, stream_scratch *sc, ti_kv_seg *segs, ti_kvq_seg *qsegs,
                     const float *xn, float *y);

#endif
