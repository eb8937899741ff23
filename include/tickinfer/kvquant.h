/* tickinfer: quantized KV rows, decode attention over quantized segments, retention policies.
 *
 * Row formats: one row is one token's K (or V) for one layer, H heads x hd values, stored
 * self-contained so a cache can place rows anywhere (ring slot, paged block):
 *   TI_KV_F32   H*hd floats.
 *   TI_KV_INT8  H fp32 scales, then H*hd int8 (symmetric: x ~ scale[h] * q, q in [-127,127]).
 *   TI_KV_FP8   H fp32 scales, then H*hd FP8 E4M3 codes (x ~ scale[h] * e4m3(q), the head's
 *               max |x| maps to 448; round-to-nearest-even, saturating, never NaN).
 *   TI_KV_INT4  H*hd/G fp32 scales (G = min(hd, 32) values per group), then H*hd/2 bytes:
 *               two 4-bit codes per byte (element 2i in the low nibble), code = q + 8 with
 *               q in [-7,7].  Needs hd even and hd % G == 0 (hd <= 32 or a multiple of 32).
 * The scales come first so a row that starts 4-byte aligned has aligned scales.
 *
 * Attention (ti_kvq_attend) reads a cache as a list of segments, dequantising inside the
 * dot/axpy loops: no dequantised copy of the cache is ever made.
 *
 * Retention (ti_kv_retain_pick) is pure logic over a per-stream token index: given the
 * cached tokens' positions (and, for heavy hitters, accumulated attention) and a token
 * budget, it says which tokens to evict.  See docs/kv_quant.md. */
#ifndef TICKINFER_KVQUANT_H
#define TICKINFER_KVQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/cpu.h"
#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Same bound as the fp32 attention kernels (TI_ATTN_MAX_HD in kernels.h). */
#define TI_KVQ_MAX_HD 128
#define TI_KVQ_MAX_HEADS 256

typedef enum ti_kv_dtype { TI_KV_F32 = 0, TI_KV_INT8, TI_KV_FP8, TI_KV_INT4, TI_KV_DTYPE__COUNT } ti_kv_dtype;

const char *ti_kv_dtype_name(ti_kv_dtype dt); /* "f32", "int8", "fp8", "int4"; "?" if bad */
ti_err ti_kv_dtype_parse(ti_kv_dtype *out, const char *name);

/* Bytes of one row of H heads x hd values; 0 when the combination is not supported
 * (bad dtype, H outside 1..TI_KVQ_MAX_HEADS, hd outside 1..TI_KVQ_MAX_HD, int4 group rule). */
size_t ti_kvq_row_bytes(ti_kv_dtype dt, int H, int hd);
/* Values per int4 scale group: min(hd, 32). */
int ti_kvq_int4_group(int hd);

/* dst [row_bytes] <- src [H,hd].  TI_ERR_RANGE on a non-finite input value (the row is
 * left unspecified), TI_ERR_INVALID_ARG on an unsupported shape. */
ti_err ti_kvq_quantize_row(void *dst, const float *src, ti_kv_dtype dt, int H, int hd);
/* dst [H,hd] <- src [row_bytes]. */
ti_err ti_kvq_dequantize_row(float *dst, const void *src, ti_kv_dtype dt, int H, int hd);

/* FP8 E4M3 (OCP / NVIDIA "fn" variant: bias 7, no infinities, S.1111.111 is NaN, max 448).
 * Encoding rounds to nearest even and saturates to +-448 (also for +-inf); NaN -> 0x7F. */
uint8_t ti_fp8_e4m3_encode(float x);
float ti_fp8_e4m3_decode(uint8_t code);

/* n consecutive cached tokens of one layer, in one dtype: token t's K row at
 * (const char *)k + t*stride, V likewise; a row is ti_kvq_row_bytes(dtype, H, hd) bytes.
 * pos: [n] absolute positions, or NULL meaning pos0, pos0+1, ...  (Byte strides and
 * explicit positions, unlike ti_kv_seg in kv.h, so gap-leaving policies such as heavy
 * hitters can be described.) */
typedef struct ti_kvq_seg {
    const void *k, *v;
    size_t stride;
    int n;
    int64_t pos0;
    const int64_t *pos;
} ti_kvq_seg;

/* Decode attention of one query over all segments (in order), per head h:
 *   s_t = scale * <q_h, K_t,h> - alibi[h] * (q_pos - pos_t),  out_h = sum_t softmax(s)_t V_t,h
 * out [H,hd], q [H,hd]; alibi [H] slopes or NULL; scale 0 means 1/sqrt(hd).
 * tok_weight: NULL or [total tokens over segments], set to sum over heads of softmax(s)_t
 * (the heavy-hitter statistic).  With no tokens at all, out is zero.  No allocation. */
ti_err ti_kvq_attend(float *out, float *tok_weight, const float *q, const ti_kvq_seg *segs,
                     int nseg, ti_kv_dtype dt, int H, int hd, int64_t q_pos, const float *alibi,
                     float scale);
/* Same with an explicit implementation level (TI_ERR_UNSUPPORTED if the CPU lacks it);
 * ti_kvq_attend uses ti_simd_active(). */
ti_err ti_kvq_attend_level(ti_simd_level level, float *out, float *tok_weight, const float *q,
                           const ti_kvq_seg *segs, int nseg, ti_kv_dtype dt, int H, int hd,
                           int64_t q_pos, const float *alibi, float scale);

/* ---- retention policies ------------------------------------------------------------------ */

typedef enum ti_kv_retain_kind {
    TI_KV_RETAIN_RECENT = 0,  /* keep the `budget` most recent tokens */
    TI_KV_RETAIN_SINK_WINDOW, /* keep the `sinks` oldest tokens + the budget-sinks most recent */
    TI_KV_RETAIN_H2O,         /* keep the `recent` most recent + the budget-recent others with
                               * the largest accumulated attention score */
    TI_KV_RETAIN__COUNT
} ti_kv_retain_kind;

typedef struct ti_kv_retain_policy {
    ti_kv_retain_kind kind;
    int budget;  /* tokens kept at most (>= 1) */
    int sinks;   /* SINK_WINDOW: 0..budget */
    int recent;  /* H2O: 0..budget */
} ti_kv_retain_policy;

const char *ti_kv_retain_name(ti_kv_retain_kind k); /* "recent", "sink_window", "h2o" */
ti_err ti_kv_retain_parse(ti_kv_retain_kind *out, const char *name);

/* The n cached tokens are indexed 0..n-1 oldest first (pos [n] ascending; only the order
 * is used).  score [n]: accumulated attention (required for H2O, ignored otherwise).
 * Writes the indices to evict, ascending, into evict [n] and their count into *n_evict;
 * afterwards exactly min(n, budget) tokens remain.  H2O ties on score keep the more recent
 * token.  No allocation. */
ti_err ti_kv_retain_pick(int *evict, int *n_evict, const ti_kv_retain_policy *p, const int64_t *pos,
                         const float *score, int n);

/* Heavy-hitter accumulation rule: after each decode step, score[t] = decay * score[t] +
 * tok_weight[t] for the n tokens attended (decay 1 = plain sum, as in H2O); a token enters
 * with score 0.  tok_weight comes from ti_kvq_attend (summed over heads; callers with
 * several layers add each layer's weights before calling, or call once per layer). */
void ti_kv_retain_accumulate(float *score, const float *tok_weight, int n, float decay);

#ifdef __cplusplus
}
#endif
#endif
