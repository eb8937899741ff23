/* The tree walk in AVX-512: 16 lanes per vector, 4 vectors in flight (64 rows of a batch
 * through one tree, or 64 trees of one row), so the gathers' latency overlaps.  Used for
 * forests whose every split is a plain `x <= thr` (forest.h: no special node), one output
 * and summed trees; the scalar walk in forest.c is the reference it is tested against
 * (tests/model/test_trees.c). Relies on the compiled layout: a split's left child is the
 * next node, leaves loop on themselves (thr = NaN never goes left). */
#include <immintrin.h>
#include <string.h>

#include "model/gbdt/forest.h"

#define V 4 /* vectors in flight */

/* Walk V vectors of lanes to their leaves.  xoff: per lane, the float offset of its row in
 * x (rows of a batch) or 0 (one row); idx: the roots in, the leaves out. */
static inline void walk(const gb_forest *f, __m512i *idx, const __m512i *xoff, const float *x, int nv)
{
    const __m512i one = _mm512_set1_epi32(1), fmask = _mm512_set1_epi32(0xFFFFFF);
    const __m512i leafbit = _mm512_set1_epi32((int)(GB_F_LEAF << 24)), nanbit = _mm512_set1_epi32((int)(GB_F_NAN_LEFT << 24));
    const int *feat = (const int *)f->sfeat, *right = f->sright;
    const float *thr = f->sthr;
    for (;;) {
        __mmask16 all = 0xFFFF;
        for (int k = 0; k < nv; k++) {
            const __m512i fe = _mm512_i32gather_epi32(idx[k], feat, 4);
            all &= _mm512_test_epi32_mask(fe, leafbit);
            const __m512 th = _mm512_i32gather_ps(idx[k], thr, 4);
            const __m512i ri = _mm512_i32gather_epi32(idx[k], right, 4);
            const __m512i xi = _mm512_add_epi32(xoff[k], _mm512_and_si512(fe, fmask));
            const __m512 v = _mm512_i32gather_ps(xi, x, 4);
            const __mmask16 le = _mm512_cmp_ps_mask(v, th, _CMP_LE_OQ);
            const __mmask16 nl = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_test_epi32_mask(fe, nanbit);
            idx[k] = _mm512_mask_add_epi32(ri, le | nl, idx[k], one);
        }
        if (all == 0xFFFF) return;
    }
}

/* The same walk over the packed 8-byte nodes (forest.h: spack), when every tree has
 * < 65,536 nodes and the model < 16,384 features: two 8-lane qword gathers fetch 16 nodes
 * (threshold and meta), one gather their features' values. */
static inline void walk_packed(const gb_forest *f, __m512i *idx, const __m512i *xoff, const float *x, int nv)
{
    const __m512i one = _mm512_set1_epi32(1), lo16 = _mm512_set1_epi32(0xFFFF), fmask = _mm512_set1_epi32(0x3FFF);
    const __m512i leafbit = _mm512_set1_epi32((int)GB_P_LEAF), nanbit = _mm512_set1_epi32((int)GB_P_NAN_LEFT);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const long long *nodes = (const long long *)f->spack;
    for (;;) {
        __mmask16 all = 0xFFFF;
        for (int k = 0; k < nv; k++) {
            const __m512i a = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx[k]), nodes, 8);
            const __m512i b = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx[k], 1), nodes, 8);
            const __m512 th = _mm512_castsi512_ps(_mm512_permutex2var_epi32(a, even, b));
            const __m512i meta = _mm512_permutex2var_epi32(a, odd, b);
            all &= _mm512_test_epi32_mask(meta, leafbit);
            const __m512i xi = _mm512_add_epi32(xoff[k], _mm512_and_si512(_mm512_srli_epi32(meta, 16), fmask));
            const __m512 v = _mm512_i32gather_ps(xi, x, 4);
            const __mmask16 le = _mm512_cmp_ps_mask(v, th, _CMP_LE_OQ);
            const __mmask16 nl = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_test_epi32_mask(meta, nanbit);
            const __m512i right = _mm512_add_epi32(idx[k], _mm512_and_si512(meta, lo16));
            idx[k] = _mm512_mask_add_epi32(right, le | nl, idx[k], one);
        }
        if (all == 0xFFFF) return;
    }
}

/* nv vectors (1..V) in flight; the common counts get their own unrolled copies */
static inline void walk_any(const gb_forest *f, __m512i *idx, const __m512i *xoff, const float *x, int nv)
{
    if (f->spack) {
        if (nv == V) walk_packed(f, idx, xoff, x, V);
        else if (nv == 2) walk_packed(f, idx, xoff, x, 2);
        else walk_packed(f, idx, xoff, x, nv);
    } else {
        walk(f, idx, xoff, x, nv);
    }
}

/* Raw sums (before base/average/link) of rows [0, n) of a block, n <= 64. */
void gb_avx512_rows(const gb_forest *f, double *s, const float *x, size_t n, size_t ld)
{
    __m512i xoff[V], idx[V];
    const int nv = (int)((n + 15) / 16); /* vectors holding rows */
    for (int k = 0; k < V; k++) {
        int off[16];
        for (int l = 0; l < 16; l++) {
            const size_t r = (size_t)(k * 16 + l) < n ? (size_t)(k * 16 + l) : n - 1;
            off[l] = (int)(r * ld);
        }
        xoff[k] = _mm512_loadu_si512(off);
    }
    if (f->flavor == GB_LIGHTGBM) {
        __m512d acc[2 * V];
        for (int k = 0; k < 2 * V; k++) acc[k] = _mm512_setzero_pd();
        for (int t = 0; t < f->n_trees; t++) {
            for (int k = 0; k < nv; k++) idx[k] = _mm512_set1_epi32(f->froot[t]);
            walk_any(f, idx, xoff, x, nv);
            for (int k = 0; k < nv; k++) {
                acc[2 * k] = _mm512_add_pd(acc[2 * k], _mm512_i32gather_pd(_mm512_castsi512_si256(idx[k]), f->fleaf_d, 8));
                acc[2 * k + 1] = _mm512_add_pd(acc[2 * k + 1],
                                               _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx[k], 1), f->fleaf_d, 8));
            }
        }
        double out[16 * V];
        for (int k = 0; k < 2 * V; k++) _mm512_storeu_pd(out + 8 * k, acc[k]);
        memcpy(s, out, n * sizeof *s);
        return;
    }
    __m512 acc[V];
    for (int k = 0; k < V; k++) acc[k] = _mm512_set1_ps(f->flavor == GB_XGBOOST ? (float)f->base[0] : 0.0f);
    for (int t = 0; t < f->n_trees; t++) {
        for (int k = 0; k < nv; k++) idx[k] = _mm512_set1_epi32(f->froot[t]);
        walk_any(f, idx, xoff, x, nv);
        for (int k = 0; k < nv; k++) acc[k] = _mm512_add_ps(acc[k], _mm512_i32gather_ps(idx[k], f->fleaf_f, 4));
    }
    float out[16 * V];
    for (int k = 0; k < V; k++) _mm512_storeu_ps(out + 16 * k, acc[k]);
    for (size_t r = 0; r < n; r++) s[r] = out[r];
}

/* Raw sum of one row: 64 trees at a time, added in tree order. */
double gb_avx512_one(const gb_forest *f, const float *x)
{
    __m512i xoff[V], idx[V];
    for (int k = 0; k < V; k++) xoff[k] = _mm512_setzero_si512();
    double accd = 0;
    float accf = f->flavor == GB_XGBOOST ? (float)f->base[0] : 0.0f;
    for (int t0 = 0; t0 < f->n_trees; t0 += 16 * V) {
        const int nt = f->n_trees - t0 < 16 * V ? f->n_trees - t0 : 16 * V;
        int roots[16 * V];
        for (int j = 0; j < 16 * V; j++) roots[j] = j < nt ? f->froot[t0 + j] : f->fzero;
        const int nvt = (nt + 15) / 16;
        for (int k = 0; k < V; k++) idx[k] = _mm512_loadu_si512(roots + 16 * k);
        walk_any(f, idx, xoff, x, nvt);
        int leaf[16 * V];
        for (int k = 0; k < V; k++) _mm512_storeu_si512(leaf + 16 * k, idx[k]);
        if (f->flavor == GB_LIGHTGBM)
            for (int j = 0; j < nt; j++) accd += f->fleaf_d[leaf[j]];
        else
            for (int j = 0; j < nt; j++) accf += f->fleaf_f[leaf[j]];
    }
    return f->flavor == GB_LIGHTGBM ? accd : (double)accf;
}

