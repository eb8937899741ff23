/* Task-queue kernels, SIMD body: instantiated per ISA by taskq_avx2.c / taskq_avx512.c
 * after their vector layer (simd_avx2.h / simd_avx512.h).  Included without a layer, it
 * only declares the per-level fill functions (for taskq.c and taskq_scalar.c). */
#ifndef TI_TASKQ_SIMD_DECLS
#define TI_TASKQ_SIMD_DECLS
#include "tickinfer/taskq.h"
void ti_taskq_fill_scalar(ti_taskq_kernels *k);
void ti_taskq_fill_avx2(ti_taskq_kernels *k);
void ti_taskq_fill_avx512(ti_taskq_kernels *k);
#endif

#ifdef TI_SIMD_LAYER_H
#include "tickinfer/kernels.h"

static inline int tq_w(int n, int c) { return n - c < VW ? n - c : VW; }

/* batched_softmax is the model's row softmax (kernels.h softmax_forward, same level):
 * one implementation, tested there and here. */

/* y[b] = x[b] @ W[b]: memory bound (every weight is used once), so the kernel reads W in
 * address order: row i of W[b] is added, times x[b][i], into y[b], which stays in L1
 * (out floats).  Each output still sums i = 0, 1, ... in order, as the scalar reference
 * does.  (Column blocks held in registers read each row in pieces, 1 KB apart, which the
 * hardware prefetcher follows less well: 10-25% slower on the bench machine.) */
static void tq_gemv(float *y, const float *W, const float *x, int B, int in, int out)
{
    for (int b = 0; b < B; b++) {
        const float *w = W + (size_t)b * (size_t)in * (size_t)out, *xb = x + (size_t)b * (size_t)in;
        float *yb = y + (size_t)b * (size_t)out;
        for (int o = 0; o < out; o += VW) vf_store_w(yb + o, vf_zero(), tq_w(out, o));
        for (int i = 0; i < in; i++, w += out) {
            vf xi = vf_set1(xb[i]);
            int o = 0;
            for (; o + 2 * VW <= out; o += 2 * VW) {
                vf_store(yb + o, vf_fma(xi, vf_load(w + o), vf_load(yb + o)));
                vf_store(yb + o + VW, vf_fma(xi, vf_load(w + o + VW), vf_load(yb + o + VW)));
            }
            for (; o < out; o += VW) {
                int n = tq_w(out, o);
                vf_store_w(yb + o, vf_fma(xi, vf_load_w(w + o, n), vf_load_w(yb + o, n)), n);
            }
        }
    }
}

/* W is small (assets x features, 4 KB at 50 x 20) and stays in L1.  Four price rows go
 * together: each W load feeds four independent FMA chains, which hides the FMA latency
 * that a single row's one chain per output vector would expose. */
static void tq_price(float *out, const float *prices, const float *W, int B, int assets, int features)
{
    const size_t la = (size_t)assets, lf = (size_t)features;
    int b = 0;
    for (; b + 4 <= B; b += 4) {
        const float *p = prices + (size_t)b * la;
        float *o = out + (size_t)b * lf;
        for (int f = 0; f < features; f += VW) {
            int n = tq_w(features, f);
            vf a0 = vf_zero(), a1 = vf_zero(), a2 = vf_zero(), a3 = vf_zero();
            const float *w = W + f;
            for (int a = 0; a < assets; a++, w += features) {
                vf wv = vf_load_w(w, n);
                a0 = vf_fma(vf_set1(p[a]), wv, a0);
                a1 = vf_fma(vf_set1(p[la + (size_t)a]), wv, a1);
                a2 = vf_fma(vf_set1(p[2 * la + (size_t)a]), wv, a2);
                a3 = vf_fma(vf_set1(p[3 * la + (size_t)a]), wv, a3);
            }
            vf_store_w(o + f, a0, n);
            vf_store_w(o + lf + f, a1, n);
            vf_store_w(o + 2 * lf + f, a2, n);
            vf_store_w(o + 3 * lf + f, a3, n);
        }
    }
    for (; b < B; b++) { /* last rows, one at a time */
        const float *p = prices + (size_t)b * la;
        float *o = out + (size_t)b * lf;
        for (int f = 0; f < features; f += VW) {
            int n = tq_w(features, f);
            vf acc = vf_zero();
            const float *w = W + f;
            for (int a = 0; a < assets; a++, w += features) acc = vf_fma(vf_set1(p[a]), vf_load_w(w, n), acc);
            vf_store_w(o + f, acc, n);
        }
    }
}

void TI_SFX(ti_taskq_fill)(ti_taskq_kernels *k)
{
    k->batched_gemv = tq_gemv;
    k->process_price_vectors = tq_price;
}
#endif
