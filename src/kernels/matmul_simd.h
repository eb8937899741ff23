/* Linear layer, SIMD body (instantiated per ISA by matmul_avx2.c / matmul_avx512.c).
 *
 * Everything reduces to one register-blocked micro-tile: an MR x NR block of C
 * (NR = 2 vectors) accumulated in registers over a run of kc reduction steps, each step
 * one broadcast of A per row and two vector loads of B shared by all rows.
 *   forward   C = inp [M,K] @ W^T: B(p=k, j=n) = W[n,k] is transposed, so W is packed into
 *             panels [K][NR] (once at model load, or per call into a stack buffer);
 *   dinp     += dout [M,N] @ W [N,K]: B = W rows as they are (row stride K);
 *   dW       += dout^T @ inp: A is dout read down its columns, B = inp rows.
 * The reduction runs in blocks of MM_KC so that a B panel (MM_KC x NR floats, 32 KB on
 * AVX-512) stays in L1 while every row tile of a chunk streams past it. */
#include <stdint.h>
#include <string.h>

#include "kernels/kernels_internal.h"
#include "kernels/simd_math.h"

#define MR TI_MM_MR
#define NR (2 * VW)
#define MM_KC 256
#define MM_CHUNK_ROWS (MR * 8) /* rows per parallel work item (packed forward, dinp) */
#define MM_WCHUNK_ROWS (MR * 2) /* dW rows per work item */

static inline int mm_min(int a, int b) { return a < b ? a : b; }

/* C [mr, nr] (ldc) (+)= sum_{p < kc} A(i,p) B(p,j).
 * A(i,p) = A[i*lda + p] when a_rows (row-major A), else A[i + p*lda] (A read down columns);
 * B(p,j) = B[p*ldb + j]; when b_masked only the first nr floats of a B row are read
 * (otherwise NR are, e.g. a zero-padded packed panel).  mr, a_rows and b_masked are
 * compile-time constants at every call site, so the loops below unroll into registers. */
static inline __attribute__((always_inline)) void mm_tile(const int mr, const int a_rows,
                                                          const int b_masked, int kc,
                                                          const float *A, size_t lda,
                                                          const float *B, size_t ldb, float *C,
                                                          size_t ldc, int nr, int accumulate,
                                                          uintptr_t pf)
{
    vf c0[MR], c1[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        c0[i] = vf_zero();
        c1[i] = vf_zero();
    }
    const int n0 = nr < VW ? nr : VW, n1 = nr - n0;
    for (int p = 0; p < kc; p++) {
        vf b0, b1;
        if (b_masked) {
            b0 = vf_load_n(B, n0);
            b1 = vf_load_n(B + VW, n1);
        } else {
            b0 = vf_load(B);
            b1 = vf_load(B + VW);
        }
        B += ldb;
        /* Row-major A streams from memory on a chunk's first panel (pf set), in rows too
         * short for the hardware prefetcher: fetch the next tile's rows, one line per step
         * (row p % 16, line p / 16 covers 16 rows x kc floats over kc steps).  Later
         * panels find A in L2 and pass pf = 0.  An address, not a pointer: rows past the
         * end of A may be named, and a prefetch never faults. */
        if (a_rows && pf)
            __builtin_prefetch((const void *)(pf + ((size_t)(p & 15) * lda + (size_t)(p >> 4) * 16) * sizeof(float)), 0, 3);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            vf a = vf_set1(a_rows ? A[(size_t)i * lda] : A[i]);
            c0[i] = vf_fma(a, b0, c0[i]);
            c1[i] = vf_fma(a, b1, c1[i]);
        }
        A += a_rows ? 1 : lda;
    }
    if (nr == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            float *c = C + (size_t)i * ldc;
            if (accumulate) {
                c0[i] = vf_add(c0[i], vf_load(c));
                c1[i] = vf_add(c1[i], vf_load(c + VW));
            }
            vf_store(c, c0[i]);
            vf_store(c + VW, c1[i]);
        }
    } else {
        for (int i = 0; i < mr; i++) {
            float *c = C + (size_t)i * ldc;
            if (accumulate) {
                c0[i] = vf_add(c0[i], vf_load_n(c, n0));
                c1[i] = vf_add(c1[i], vf_load_n(c + VW, n1));
            }
            vf_store_n(c, c0[i], n0);
            vf_store_n(c + VW, c1[i], n1);
        }
    }
}

/* One function per (A layout, B masking) with the row count switched to a constant. */
#define MM_CASE(R, AR, BM) \
    case R: mm_tile(R, AR, BM, kc, A, lda, B, ldb, C, ldc, nr, accumulate, pf); break;
#if MR > 6
#define MM_CASES_HI(AR, BM) MM_CASE(7, AR, BM) MM_CASE(8, AR, BM) MM_CASE(9, AR, BM) \
    MM_CASE(10, AR, BM) MM_CASE(11, AR, BM) MM_CASE(12, AR, BM)
#else
#define MM_CASES_HI(AR, BM)
#endif
#define MM_TILE_FN(NAME, AR, BM)                                                               \
    static void NAME(int mr, int kc, const float *A, size_t lda, const float *B, size_t ldb,  \
                     float *C, size_t ldc, int nr, int accumulate, uintptr_t pf)              \
    {                                                                                          \
        switch (mr) {                                                                          \
            MM_CASE(1, AR, BM) MM_CASE(2, AR, BM) MM_CASE(3, AR, BM) MM_CASE(4, AR, BM)        \
            MM_CASE(5, AR, BM) MM_CASE(6, AR, BM) MM_CASES_HI(AR, BM)                          \
        default: break;                                                                        \
        }                                                                                      \
    }
MM_TILE_FN(mm_tile_rows_packed, 1, 0)
MM_TILE_FN(mm_tile_rows_masked, 1, 1)
MM_TILE_FN(mm_tile_cols_masked, 0, 1)
MM_TILE_FN(mm_tile_cols_full, 0, 0)
#if MR > 12
#error "matmul: MR above 12 needs more cases"
#endif

/* bias and activation over rows [0, rows) x cols [0, nr) of C (after the last k-block,
 * while the block is still in L1). */
static void mm_epilogue(float *C, size_t ldc, int rows, int nr, const float *bias, ti_act act)
{
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)r * ldc;
        for (int j = 0; j < nr; j += VW) {
            int n = mm_min(VW, nr - j);
            vf v = vf_load_n(c + j, n);
            if (bias) v = vf_add(v, vf_load_n(bias + j, n));
            vf_store_n(c + j, vf_act(v, act), n);
        }
    }
}

/* Packed layout: panel q holds columns [q*NR, q*NR+NR) of W^T as [K][NR], zero-padded
 * past N; panels follow each other. */
static size_t mm_packed_floats(int N, int K)
{
    if (N <= 0 || K <= 0) return 0;
    return (size_t)((N + NR - 1) / NR) * NR * (size_t)K;
}

/* dst [kc][NR] = W[n0 + j, k0 + p] (0 past nr) */
static void mm_pack_panel(float *dst, const float *W, int K, int n0, int nr, int k0, int kc)
{
    if (nr < NR) memset(dst, 0, (size_t)kc * NR * sizeof(float));
    for (int j = 0; j < nr; j++) {
        const float *w = W + (size_t)(n0 + j) * K + k0;
        for (int p = 0; p < kc; p++) dst[(size_t)p * NR + j] = w[p];
    }
}

static void mm_pack(float *packed, const float *W, int N, int K)
{
    if (N <= 0 || K <= 0) return;
    for (int n0 = 0; n0 < N; n0 += NR)
        mm_pack_panel(packed + (size_t)(n0 / NR) * NR * K, W, K, n0, mm_min(NR, N - n0), 0, K);
}

typedef struct mm_job {
    float *out, *dinp, *dW, *dbias;
    const float *inp, *W, *packed, *bias, *dout;
    int M, N, K, rows_per_item;
    ti_act act;
} mm_job;

/* Forward over rows [m0, m1): panels outer, k-blocks, then all row tiles. */
static void mm_fwd_rows(const mm_job *j, int m0, int m1)
{
    const int N = j->N, K = j->K;
    float bpack[MM_KC * NR] __attribute__((aligned(64)));
    for (int n0 = 0; n0 < N; n0 += NR) {
        const int nr = mm_min(NR, N - n0);
        float *C = j->out + (size_t)m0 * N + n0;
        if (K == 0)
            for (int m = m0; m < m1; m++) memset(j->out + (size_t)m * N + n0, 0, (size_t)nr * sizeof(float));
        for (int k0 = 0; k0 < K; k0 += MM_KC) {
            const int kc = mm_min(MM_KC, K - k0);
            const float *Bp;
            if (j->packed) {
                Bp = j->packed + ((size_t)(n0 / NR) * K + k0) * NR;
            } else {
                mm_pack_panel(bpack, j->W, K, n0, nr, k0, kc);
                Bp = bpack;
            }
            for (int m = m0; m < m1; m += MR)
                mm_tile_rows_packed(mm_min(MR, m1 - m), kc, j->inp + (size_t)m * K + k0, (size_t)K,
                                    Bp, NR, j->out + (size_t)m * N + n0, (size_t)N, nr, k0 > 0,
                                    n0 == 0 ? (uintptr_t)(j->inp + (size_t)m * K + k0) + (size_t)MR * K * sizeof(float) : 0);
        }
        if (j->bias || j->act != TI_ACT_NONE)
            mm_epilogue(C, (size_t)N, m1 - m0, nr, j->bias ? j->bias + n0 : NULL, j->act);
    }
}

static void mm_fwd_task(void *ctx, size_t b, size_t e, int worker)
{
    const mm_job *j = ctx;
    (void)worker;
    for (size_t it = b; it < e; it++) {
        int m0 = (int)it * j->rows_per_item, m1 = mm_min(m0 + j->rows_per_item, j->M);
        if (m0 >= m1) break;
        mm_fwd_rows(j, m0, m1);
    }
}

static int mm_items(int rows, int per) { return (rows + per - 1) / per; }

static void mm_forward_packed(float *out, const float *inp, const float *packed, const float *bias,
                              int M, int N, int K, ti_act act, ti_pool *pool)
{
    if (M <= 0 || N <= 0) return;
    mm_job j = {.out = out, .inp = inp, .packed = packed, .bias = bias, .M = M, .N = N, .K = K,
                .act = act, .rows_per_item = MM_CHUNK_ROWS};
    ti_pool_parallel_for(pool, (size_t)mm_items(M, j.rows_per_item), 1, mm_fwd_task, &j);
}

/* Unpacked W: a work item packs each panel it uses into a stack buffer, so items are
 * larger than for packed W (the packing, N*K moves, is then ~1% of the item's work). */
static void mm_forward(float *out, const float *inp, const float *W, const float *bias, int M,
                       int N, int K, ti_act act, ti_pool *pool)
{
    if (M <= 0 || N <= 0) return;
    mm_job j = {.out = out, .inp = inp, .W = W, .bias = bias, .M = M, .N = N, .K = K,
                .act = act, .rows_per_item = 4 * MM_CHUNK_ROWS};
    ti_pool_parallel_for(pool, (size_t)mm_items(M, j.rows_per_item), 1, mm_fwd_task, &j);
}

/* dinp rows [m0, m1) += dout @ W: A = dout rows (lda N), B = W rows (ldb K). */
static void mm_bwd_inp_task(void *ctx, size_t b, size_t e, int worker)
{
    const mm_job *j = ctx;
    (void)worker;
    const int N = j->N, K = j->K;
    int m0 = (int)b * j->rows_per_item, m1 = mm_min((int)e * j->rows_per_item, j->M);
    for (int c0 = 0; c0 < K; c0 += NR) {
        const int nr = mm_min(NR, K - c0);
        for (int k0 = 0; k0 < N; k0 += MM_KC) {
            const int kc = mm_min(MM_KC, N - k0);
            for (int m = m0; m < m1; m += MR)
                (nr == NR ? mm_tile_rows_packed : mm_tile_rows_masked)(
                    mm_min(MR, m1 - m), kc, j->dout + (size_t)m * N + k0, (size_t)N,
                    j->W + (size_t)k0 * K + c0, (size_t)K, j->dinp + (size_t)m * K + c0, (size_t)K, nr, 1,
                    c0 == 0 ? (uintptr_t)(j->dout + (size_t)m * N + k0) + (size_t)MR * N * sizeof(float) : 0);
        }
    }
}

/* dW rows [n0, n1) += dout^T @ inp and dbias[n0, n1) += column sums of dout. */
static void mm_bwd_w_task(void *ctx, size_t b, size_t e, int worker)
{
    const mm_job *j = ctx;
    (void)worker;
    const int M = j->M, N = j->N, K = j->K;
    int n0 = (int)b * j->rows_per_item, n1 = mm_min((int)e * j->rows_per_item, N);
    if (j->dW) {
        for (int p0 = 0; p0 < M; p0 += MM_KC) {
            const int kc = mm_min(MM_KC, M - p0);
            for (int c0 = 0; c0 < K; c0 += NR) {
                const int nr = mm_min(NR, K - c0);
                for (int n = n0; n < n1; n += MR)
                    (nr == NR ? mm_tile_cols_full : mm_tile_cols_masked)(
                        mm_min(MR, n1 - n), kc, j->dout + (size_t)p0 * N + n, (size_t)N,
                        j->inp + (size_t)p0 * K + c0, (size_t)K, j->dW + (size_t)n * K + c0, (size_t)K, nr, 1,
                        0);
            }
        }
    }
    if (j->dbias) {
        for (int n = n0; n < n1; n += VW) {
            const int w = mm_min(VW, n1 - n);
            vf acc = vf_zero();
            for (int m = 0; m < M; m++) acc = vf_add(acc, vf_load_n(j->dout + (size_t)m * N + n, w));
            vf_store_n(j->dbias + n, vf_add(acc, vf_load_n(j->dbias + n, w)), w);
        }
    }
}

static void mm_backward(float *dinp, float *dW, float *dbias, const float *dout, const float *inp,
                        const float *W, int M, int N, int K, ti_pool *pool)
{
    if (M <= 0 || N <= 0) return;
    mm_job j = {.dinp = dinp, .dW = dW, .dbias = dbias, .dout = dout, .inp = inp, .W = W,
                .M = M, .N = N, .K = K};
    if (dinp && K > 0) {
        j.rows_per_item = MM_CHUNK_ROWS;
        ti_pool_parallel_for(pool, (size_t)mm_items(M, j.rows_per_item), 1, mm_bwd_inp_task, &j);
    }
    if ((dW && K > 0) || dbias) {
        if (K <= 0) j.dW = NULL;
        j.rows_per_item = MM_WCHUNK_ROWS;
        ti_pool_parallel_for(pool, (size_t)mm_items(N, j.rows_per_item), 1, mm_bwd_w_task, &j);
    }
}

void TI_SFX(ti_kern_fill_matmul)(ti_kernels *k)
{
    k->matmul_forward = mm_forward;
    k->matmul_packed_floats = mm_packed_floats;
    k->matmul_pack = mm_pack;
    k->matmul_forward_packed = mm_forward_packed;
    k->matmul_backward = mm_backward;
}
