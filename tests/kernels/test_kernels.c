/* Every kernel at every SIMD level this CPU has, against the scalar reference.
 *
 * One table: op -> runner + shapes (odd sizes for vector tails, T=1, T=601, K above the
 * matmul k-block).  Each runner computes the op with the scalar table and with the level
 * under test on the same random inputs and requires NMSE < KC_NMSE_BOUND (1e-10) for
 * every output, forward and backward (gradients start non-zero to test accumulation).
 * Gradients of the reference itself are checked in test_kernel_grads.c. */
#include <stdio.h>
#include <string.h>

#include "kernels/kcheck.h"
#include "tickinfer/kernels.h"
#include "tickinfer/threadpool.h"

static ti_pool *g_pool; /* 2 threads; runners use it on every other shape */

typedef void (*case_fn)(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                        const char *ctx);

/* ---- linear layer: s = {M, N, K} ---------------------------------------------------------- */
static void case_matmul(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                        const char *ctx)
{
    const int M = s[0], N = s[1], K = s[2];
    float *inp = kc_rand((size_t)M * K, 1.0f), *W = kc_rand((size_t)N * K, 0.5f), *bias = kc_rand((size_t)N, 1.0f);
    float *want = kc_alloc((size_t)M * N), *got = kc_alloc((size_t)M * N);
    float *packed = kc_alloc(k->matmul_packed_floats(N, K));
    k->matmul_pack(packed, W, N, K);
    char what[64];
    for (int act = 0; act < TI_ACT__COUNT; act++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *bb = with_bias ? bias : NULL;
            ref->matmul_forward(want, inp, W, bb, M, N, K, (ti_act)act, NULL);
            k->matmul_forward(got, inp, W, bb, M, N, K, (ti_act)act, pool);
            snprintf(what, sizeof what, "matmul_forward act=%d bias=%d", act, with_bias);
            kc_check_nmse(what, ctx, got, want, (size_t)M * N);
            memset(got, 0, (size_t)M * N * sizeof(float));
            k->matmul_forward_packed(got, inp, packed, bb, M, N, K, (ti_act)act, pool);
            snprintf(what, sizeof what, "matmul_forward_packed act=%d bias=%d", act, with_bias);
            kc_check_nmse(what, ctx, got, want, (size_t)M * N);
        }

    float *dout = kc_rand((size_t)M * N, 1.0f);
    float *dinp0 = kc_rand((size_t)M * K, 1.0f), *dW0 = kc_rand((size_t)N * K, 1.0f), *db0 = kc_rand((size_t)N, 1.0f);
    float *dinp_r = kc_copy(dinp0, (size_t)M * K), *dW_r = kc_copy(dW0, (size_t)N * K), *db_r = kc_copy(db0, (size_t)N);
    float *dinp_k = kc_copy(dinp0, (size_t)M * K), *dW_k = kc_copy(dW0, (size_t)N * K), *db_k = kc_copy(db0, (size_t)N);
    ref->matmul_backward(dinp_r, dW_r, db_r, dout, inp, W, M, N, K, NULL);
    k->matmul_backward(dinp_k, dW_k, db_k, dout, inp, W, M, N, K, pool);
    kc_check_nmse("matmul_backward dinp", ctx, dinp_k, dinp_r, (size_t)M * K);
    kc_check_nmse("matmul_backward dW", ctx, dW_k, dW_r, (size_t)N * K);
    kc_check_nmse("matmul_backward dbias", ctx, db_k, db_r, (size_t)N);
    /* each gradient alone (NULL for the others) gives the same numbers */
    memcpy(dW_k, dW0, (size_t)N * K * sizeof(float));
    k->matmul_backward(NULL, dW_k, NULL, dout, inp, W, M, N, K, pool);
    kc_check_nmse("matmul_backward dW alone", ctx, dW_k, dW_r, (size_t)N * K);
    memcpy(db_k, db0, (size_t)N * sizeof(float));
    k->matmul_backward(NULL, NULL, db_k, dout, inp, W, M, N, K, pool);
    kc_check_nmse("matmul_backward dbias alone", ctx, db_k, db_r, (size_t)N);

    free(inp), free(W), free(bias), free(want), free(got), free(packed), free(dout);
    free(dinp0), free(dW0), free(db0), free(dinp_r), free(dW_r), free(db_r), free(dinp_k), free(dW_k), free(db_k);
}

/* ---- layer norm: s = {N, C} ---------------------------------------------------------------- */
static void case_layernorm(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                           const char *ctx)
{
    const int N = s[0], C = s[1];
    const size_t n = (size_t)N * C;
    float *inp = kc_rand(n, 2.0f), *w = kc_rand((size_t)C, 1.0f), *b = kc_rand((size_t)C, 1.0f);
    for (size_t i = 0; i < n; i++) inp[i] += 3.0f; /* a mean far from 0 tests the centring */
    float *out_r = kc_alloc(n), *out_k = kc_alloc(n), *mean_r = kc_alloc((size_t)N), *mean_k = kc_alloc((size_t)N);
    float *rstd_r = kc_alloc((size_t)N), *rstd_k = kc_alloc((size_t)N);
    for (int affine = 0; affine < 2; affine++) {
        const float *ww = affine ? w : NULL, *bb = affine ? b : NULL;
        ref->layernorm_forward(out_r, mean_r, rstd_r, inp, ww, bb, N, C, 1e-5f);
        k->layernorm_forward(out_k, mean_k, rstd_k, inp, ww, bb, N, C, 1e-5f);
        kc_check_nmse(affine ? "layernorm_forward out" : "layernorm_forward out (no affine)", ctx, out_k, out_r, n);
        kc_check_nmse("layernorm_forward mean", ctx, mean_k, mean_r, (size_t)N);
        kc_check_nmse("layernorm_forward rstd", ctx, rstd_k, rstd_r, (size_t)N);
    }
    float *dout = kc_rand(n, 1.0f), *dinp_r = kc_rand(n, 1.0f), *dw_r = kc_rand((size_t)C, 1.0f), *db_r = kc_rand((size_t)C, 1.0f);
    float *dinp_k = kc_copy(dinp_r, n), *dw_k = kc_copy(dw_r, (size_t)C), *db_k = kc_copy(db_r, (size_t)C);
    ref->layernorm_backward(dinp_r, dw_r, db_r, dout, inp, w, mean_r, rstd_r, N, C);
    k->layernorm_backward(dinp_k, dw_k, db_k, dout, inp, w, mean_r, rstd_r, N, C);
    kc_check_nmse("layernorm_backward dinp", ctx, dinp_k, dinp_r, n);
    kc_check_nmse("layernorm_backward dw", ctx, dw_k, dw_r, (size_t)C);
    kc_check_nmse("layernorm_backward db", ctx, db_k, db_r, (size_t)C);
    free(inp), free(w), free(b), free(out_r), free(out_k), free(mean_r), free(mean_k), free(rstd_r), free(rstd_k);
    free(dout), free(dinp_r), free(dw_r), free(db_r), free(dinp_k), free(dw_k), free(db_k);
}

/* ---- softmax: s = {N, C} ----------------------------------------------------------------- */
static void case_softmax(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                         const char *ctx)
{
    const int N = s[0], C = s[1];
    const size_t n = (size_t)N * C;
    float *inp = kc_rand(n, 8.0f), *out_r = kc_alloc(n), *out_k = kc_alloc(n);
    ref->softmax_forward(out_r, inp, N, C);
    k->softmax_forward(out_k, inp, N, C);
    kc_check_nmse("softmax_forward", ctx, out_k, out_r, n);
    float *inplace = kc_copy(inp, n);
    k->softmax_forward(inplace, inplace, N, C);
    kc_check_nmse("softmax_forward in place", ctx, inplace, out_r, n);
    float *dout = kc_rand(n, 1.0f), *dinp_r = kc_rand(n, 1.0f), *dinp_k = kc_copy(dinp_r, n);
    ref->softmax_backward(dinp_r, dout, out_r, N, C);
    k->softmax_backward(dinp_k, dout, out_r, N, C);
    kc_check_nmse("softmax_backward", ctx, dinp_k, dinp_r, n);
    free(inp), free(out_r), free(out_k), free(inplace), free(dout), free(dinp_r), free(dinp_k);
}

/* Per element, the SIMD activations (vf_exp, vf_erf, sigmoid form of gelu_tanh) agree
 * with libm's to a few ulp; atol covers gelu_tanh far below 0, where the reference's
 * 1 + tanh(u) cancels to 0 and the SIMD form keeps a tiny value. */
#define KC_ACT_RTOL 2e-6
#define KC_ACT_ATOL 1e-6

/* ---- elementwise: s = {n} ---------------------------------------------------------------- */
static void case_act(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                     const char *ctx)
{
    const size_t n = (size_t)s[0];
    float *inp = kc_rand(n, 4.0f), *b = kc_rand(n, 1.0f);
    /* the far ends of the activations' ranges, where exp / erf saturate */
    const float far[] = {-30.0f, -12.0f, -9.0f, -5.5f, 5.5f, 9.0f, 12.0f, 30.0f, 0.0f, -0.0f};
    for (size_t i = 0; i < n && i < sizeof far / sizeof far[0]; i++) inp[(i * 7919) % n] = far[i];
    float *out_r = kc_alloc(n), *out_k = kc_alloc(n), *dout = kc_rand(n, 1.0f);
    float *d0 = kc_rand(n, 1.0f), *d_r = kc_alloc(n), *d_k = kc_alloc(n);
    char what[64];
    for (int act = 0; act < TI_ACT__COUNT; act++) {
        ref->act_forward(out_r, inp, n, (ti_act)act);
        k->act_forward(out_k, inp, n, (ti_act)act);
        snprintf(what, sizeof what, "act_forward act=%d", act);
        kc_check_nmse(what, ctx, out_k, out_r, n);
        kc_check_close(what, ctx, out_k, out_r, n, KC_ACT_RTOL, KC_ACT_ATOL);
        memcpy(d_r, d0, n * sizeof(float));
        memcpy(d_k, d0, n * sizeof(float));
        ref->act_backward(d_r, inp, dout, n, (ti_act)act);
        k->act_backward(d_k, inp, dout, n, (ti_act)act);
        snprintf(what, sizeof what, "act_backward act=%d", act);
        kc_check_nmse(what, ctx, d_k, d_r, n);
        kc_check_close(what, ctx, d_k, d_r, n, KC_ACT_RTOL, KC_ACT_ATOL);
    }
    ref->add_forward(out_r, inp, b, n);
    k->add_forward(out_k, inp, b, n);
    kc_check_nmse("add_forward", ctx, out_k, out_r, n);
    memcpy(d_r, d0, n * sizeof(float));
    memcpy(d_k, d0, n * sizeof(float));
    ref->accumulate(d_r, b, n);
    k->accumulate(d_k, b, n);
    kc_check_nmse("accumulate", ctx, d_k, d_r, n);
    free(inp), free(b), free(out_r), free(out_k), free(dout), free(d0), free(d_r), free(d_k);
}

/* ---- attention: s = {B, T, H, hd, causal, alibi} ---------------------------------------- */
static void case_attention(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                           const char *ctx)
{
    const int B = s[0], T = s[1], H = s[2], hd = s[3], C = H * hd;
    float slopes[64];
    ti_alibi_slopes(slopes, H);
    ti_attn_cfg cfg = {.B = B, .T = T, .H = H, .hd = hd, .causal = s[4], .alibi = s[5] ? slopes : NULL};
    const size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, nlse = (size_t)B * H * T;
    float *qkv = kc_rand(nqkv, 1.5f), *out_r = kc_alloc(nout), *out_k = kc_alloc(nout);
    float *lse_r = kc_alloc(nlse), *lse_k = kc_alloc(nlse);
    TI_CHECK_OK(ref->attention_forward(out_r, lse_r, qkv, &cfg, NULL));
    TI_CHECK_OK(k->attention_forward(out_k, lse_k, qkv, &cfg, pool));
    kc_check_nmse("attention_forward out", ctx, out_k, out_r, nout);
    kc_check_nmse("attention_forward lse", ctx, lse_k, lse_r, nlse);
    float *dout = kc_rand(nout, 1.0f), *dq_r = kc_rand(nqkv, 1.0f), *dq_k = kc_copy(dq_r, nqkv);
    TI_CHECK_OK(ref->attention_backward(dq_r, dout, qkv, out_r, lse_r, &cfg, NULL));
    TI_CHECK_OK(k->attention_backward(dq_k, dout, qkv, out_r, lse_r, &cfg, pool));
    kc_check_nmse("attention_backward dqkv", ctx, dq_k, dq_r, nqkv);
    free(qkv), free(out_r), free(out_k), free(lse_r), free(lse_k), free(dout), free(dq_r), free(dq_k);
}

/* ---- decode attention: s = {T, H, hd, alibi, extra kv stride} --------------------------- */
static void case_decode(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                        const char *ctx)
{
    const int T = s[0], H = s[1], hd = s[2];
    const size_t stride = (size_t)H * hd + (size_t)s[4];
    float slopes[64];
    ti_alibi_slopes(slopes, H);
    float *q = kc_rand((size_t)H * hd, 1.5f), *kc = kc_rand(stride * T, 1.5f), *vc = kc_rand(stride * T, 1.0f);
    float *out_r = kc_alloc((size_t)H * hd), *out_k = kc_alloc((size_t)H * hd);
    const float *al = s[3] ? slopes : NULL;
    TI_CHECK_OK(ref->attention_decode(out_r, q, kc, vc, T, H, hd, stride, T - 1, al, 0.0f));
    TI_CHECK_OK(k->attention_decode(out_k, q, kc, vc, T, H, hd, stride, T - 1, al, 0.0f));
    kc_check_nmse("attention_decode", ctx, out_k, out_r, (size_t)H * hd);
    free(q), free(kc), free(vc), free(out_r), free(out_k);
}

/* ---- rope: s = {B, T, H, hd, pos0} -------------------------------------------------------- */
static void case_rope(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                      const char *ctx)
{
    const int B = s[0], T = s[1], H = s[2], hd = s[3], pos0 = s[4];
    const size_t stride = 3 * (size_t)H * hd, n = (size_t)B * T * stride;
    float *rc = kc_alloc((size_t)(pos0 + T) * hd / 2), *rs = kc_alloc((size_t)(pos0 + T) * hd / 2);
    TI_CHECK_OK(ti_rope_table(rc, rs, pos0 + T, hd, 10000.0f));
    float *x_r = kc_rand(n, 1.0f), *x_k = kc_copy(x_r, n);
    ref->rope_forward(x_r, rc, rs, B, T, H, hd, stride, pos0);
    k->rope_forward(x_k, rc, rs, B, T, H, hd, stride, pos0);
    kc_check_nmse("rope_forward", ctx, x_k, x_r, n);
    ref->rope_backward(x_r, rc, rs, B, T, H, hd, stride, pos0);
    k->rope_backward(x_k, rc, rs, B, T, H, hd, stride, pos0);
    kc_check_nmse("rope_backward", ctx, x_k, x_r, n);
    free(rc), free(rs), free(x_r), free(x_k);
}

/* ---- AdamW: s = {n, t} -------------------------------------------------------------------- */
static void case_adamw(const ti_kernels *k, const ti_kernels *ref, const int *s, ti_pool *pool,
                       const char *ctx)
{
    const size_t n = (size_t)s[0];
    ti_adamw_cfg cfg = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    float *p_r = kc_rand(n, 1.0f), *m_r = kc_rand(n, 0.1f), *v_r = kc_rand(n, 0.01f), *g = kc_rand(n, 1.0f);
    for (size_t i = 0; i < n; i++) v_r[i] = fabsf(v_r[i]);
    float *p_k = kc_copy(p_r, n), *m_k = kc_copy(m_r, n), *v_k = kc_copy(v_r, n);
    ref->adamw_step(p_r, m_r, v_r, g, n, &cfg, s[1]);
    k->adamw_step(p_k, m_k, v_k, g, n, &cfg, s[1]);
    kc_check_nmse("adamw param", ctx, p_k, p_r, n);
    kc_check_nmse("adamw m", ctx, m_k, m_r, n);
    kc_check_nmse("adamw v", ctx, v_k, v_r, n);
    free(p_r), free(m_r), free(v_r), free(g), free(p_k), free(m_k), free(v_k);
}

#define KC_MAX_SHAPES 12
typedef struct kcase {
    const char *op;
    case_fn fn;
    int n_dims;
    int shapes[KC_MAX_SHAPES][6]; /* a row of zeros ends the list */
} kcase;

static const kcase CASES[] = {
    {"matmul", case_matmul, 3,
     {{1, 1, 1}, {5, 7, 3}, {13, 33, 17}, {37, 128, 14}, {25, 70, 300}, {11, 16, 513},
      {601, 128, 128}, {64, 384, 128}, {97, 130, 256}, {3, 600, 31}}},
    {"layernorm", case_layernorm, 2, {{1, 1}, {3, 7}, {5, 128}, {2, 33}, {601, 128}, {4, 17}}},
    {"softmax", case_softmax, 2, {{1, 1}, {4, 17}, {3, 601}, {2, 128}, {7, 16}}},
    {"act", case_act, 1, {{1}, {7}, {15}, {16}, {17}, {33}, {1000}, {4099}}},
    {"attention", case_attention, 6,
     {{1, 1, 1, 4, 0, 0}, {1, 1, 2, 32, 1, 1}, {2, 7, 2, 8, 0, 0}, {1, 33, 3, 5, 1, 1},
      {1, 70, 2, 16, 0, 1}, {2, 129, 2, 33, 1, 1}, {1, 65, 1, 128, 0, 0}, {1, 601, 4, 32, 1, 0},
      {1, 601, 4, 32, 0, 1}, {1, 200, 5, 17, 1, 1}}},
    {"attention_decode", case_decode, 5,
     {{1, 1, 4, 0, 0}, {7, 2, 8, 1, 0}, {601, 4, 32, 1, 0}, {100, 3, 33, 0, 5}, {65, 1, 128, 1, 3}}},
    {"rope", case_rope, 5, {{1, 1, 1, 2, 0}, {2, 9, 3, 8, 0}, {1, 5, 2, 32, 11}}},
    {"adamw", case_adamw, 2, {{1, 1}, {17, 1}, {1000, 10}, {4099, 3}}},
};

static void run_case(const char *op)
{
    const kcase *c = NULL;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        if (strcmp(CASES[i].op, op) == 0) c = &CASES[i];
    if (!c) {
        TI_FAILF("no case '%s'", op);
        return;
    }
    /* the scalar table is the reference; tables_complete checks its wiring */
    const ti_kernels *ref = ti_kernels_get(TI_SIMD_SCALAR);
    if (ti_simd_supported() == TI_SIMD_SCALAR) TI_SKIP("no SIMD level on this CPU");
    for (int l = TI_SIMD_SCALAR + 1; l < TI_SIMD__COUNT; l++) {
        const ti_kernels *k = ti_kernels_get((ti_simd_level)l);
        if (!k) continue;
        for (int si = 0; si < KC_MAX_SHAPES && c->shapes[si][0] != 0; si++) {
            char ctx[128];
            int len = snprintf(ctx, sizeof ctx, "%s %s shape", op, k->name);
            for (int d = 0; d < c->n_dims; d++) len += snprintf(ctx + len, sizeof ctx - (size_t)len, " %d", c->shapes[si][d]);
            kc_seed((uint64_t)(si * 31 + l));
            c->fn(k, ref, c->shapes[si], si % 2 ? g_pool : NULL, ctx);
        }
    }
}

TI_TEST(matmul_all_levels) { run_case("matmul"); }
TI_TEST(layernorm_all_levels) { run_case("layernorm"); }
TI_TEST(softmax_all_levels) { run_case("softmax"); }
TI_TEST(act_all_levels) { run_case("act"); }
TI_TEST(attention_all_levels) { run_case("attention"); }
TI_TEST(attention_decode_all_levels) { run_case("attention_decode"); }
TI_TEST(rope_all_levels) { run_case("rope"); }
TI_TEST(adamw_all_levels) { run_case("adamw"); }

/* Tables: complete, named, and the cached best one follows ti_simd_active(). */
TI_TEST(tables_complete)
{
    TI_CHECK(ti_kernels_get((ti_simd_level)-1) == NULL);
    TI_CHECK(ti_kernels_get(TI_SIMD__COUNT) == NULL);
    TI_CHECK(ti_kernels_get(TI_SIMD_SCALAR) != NULL);
    TI_CHECK(ti_kernels_best() != NULL && ti_kernels_best()->level == ti_simd_active());
    for (int l = 0; l < TI_SIMD__COUNT; l++) {
        const ti_kernels *k = ti_kernels_get((ti_simd_level)l);
        TI_CHECK((k != NULL) == (l <= (int)ti_simd_supported()));
        if (!k) continue;
        TI_CHECK(k->level == (ti_simd_level)l && strcmp(k->name, ti_simd_name((ti_simd_level)l)) == 0);
        /* every slot is set */
#define SLOT_SET(f) TI_CHECK_MSG(k->f != NULL, "%s: %s is NULL", k->name, #f);
        SLOT_SET(matmul_forward) SLOT_SET(matmul_packed_floats) SLOT_SET(matmul_pack)
        SLOT_SET(matmul_forward_packed) SLOT_SET(matmul_backward) SLOT_SET(layernorm_forward)
        SLOT_SET(layernorm_backward) SLOT_SET(softmax_forward) SLOT_SET(softmax_backward)
        SLOT_SET(act_forward) SLOT_SET(act_backward) SLOT_SET(add_forward) SLOT_SET(accumulate)
        SLOT_SET(rope_forward) SLOT_SET(rope_backward) SLOT_SET(attention_forward)
        SLOT_SET(attention_backward) SLOT_SET(attention_decode) SLOT_SET(adamw_step)
#undef SLOT_SET
    }
}

/* Whole-word search in the "flags" line of /proc/cpuinfo. */
static int has_flag(const char *flags, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)) != NULL; p += n)
        if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* The level the kernels run at is the one the CPU has: cpuid (libgcc, cpu.c) agrees with
 * the flags Linux reports (it clears those the OS does not enable), and TI_SIMD caps the
 * level but never raises it.  The levels above the CPU's are not run (tables_complete
 * checks they are refused); the verbose line names the highest one tested. */
TI_TEST(supported_level_matches_cpuinfo)
{
    static char line[1 << 16];
    FILE *f = fopen("/proc/cpuinfo", "r");
    TI_CHECK_MSG(f != NULL, "cannot read /proc/cpuinfo");
    if (!f) return;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strncmp(line, "flags", 5) == 0;
    fclose(f);
    TI_CHECK_MSG(found, "no flags line in /proc/cpuinfo");
    if (!found) return;
    ti_simd_level want = TI_SIMD_SCALAR;
    if (has_flag(line, "fma") && has_flag(line, "avx512f") && has_flag(line, "avx512bw") &&
        has_flag(line, "avx512dq") && has_flag(line, "avx512vl"))
        want = TI_SIMD_AVX512;
    else if (has_flag(line, "fma") && has_flag(line, "avx2"))
        want = TI_SIMD_AVX2;
    TI_CHECK_MSG(ti_simd_supported() == want, "detected %s, /proc/cpuinfo says %s",
                 ti_simd_name(ti_simd_supported()), ti_simd_name(want));
    if (getenv("TI_TEST_VERBOSE")) fprintf(stderr, "    levels tested: scalar .. %s\n", ti_simd_name(want));

    const char *env = getenv("TI_SIMD");
    char saved[32] = "";
    if (env) snprintf(saved, sizeof saved, "%s", env);
    for (int l = 0; l < TI_SIMD__COUNT; l++) {
        setenv("TI_SIMD", ti_simd_name((ti_simd_level)l), 1);
        ti_simd_level cap = (ti_simd_level)l < ti_simd_supported() ? (ti_simd_level)l : ti_simd_supported();
        TI_CHECK_MSG(ti_simd_active() == cap, "TI_SIMD=%s: active %s, want %s", ti_simd_name((ti_simd_level)l),
                     ti_simd_name(ti_simd_active()), ti_simd_name(cap));
    }
    if (env) setenv("TI_SIMD", saved, 1);
    else unsetenv("TI_SIMD");
}

/* The checks can fail: a 1% error in one output, or a kernel run with the wrong mask,
 * is far above the NMSE bound. */
TI_TEST(self_check_detects_errors)
{
    const ti_kernels *k = ti_kernels_best(), *ref = ti_kernels_get(TI_SIMD_SCALAR);
    const int M = 64, N = 48, K = 40;
    kc_seed(7);
    float *inp = kc_rand((size_t)M * K, 1.0f), *W = kc_rand((size_t)N * K, 1.0f);
    float *want = kc_alloc((size_t)M * N), *got = kc_alloc((size_t)M * N);
    ref->matmul_forward(want, inp, W, NULL, M, N, K, TI_ACT_NONE, NULL);
    k->matmul_forward(got, inp, W, NULL, M, N, K, TI_ACT_NONE, NULL);
    TI_CHECK(kc_nmse(got, want, (size_t)M * N) < KC_NMSE_BOUND);
    got[M * N / 2] *= 1.01f;
    TI_CHECK(kc_nmse(got, want, (size_t)M * N) >= KC_NMSE_BOUND);

    const int T = 20, H = 2, hd = 8;
    ti_attn_cfg cfg = {.B = 1, .T = T, .H = H, .hd = hd, .causal = 1};
    float *qkv = kc_rand((size_t)T * 3 * H * hd, 1.0f), *o1 = kc_alloc((size_t)T * H * hd), *o2 = kc_alloc((size_t)T * H * hd);
    TI_CHECK_OK(ref->attention_forward(o1, NULL, qkv, &cfg, NULL));
    cfg.causal = 0;
    TI_CHECK_OK(k->attention_forward(o2, NULL, qkv, &cfg, NULL));
    TI_CHECK(kc_nmse(o2, o1, (size_t)T * H * hd) >= KC_NMSE_BOUND);
    free(inp), free(W), free(want), free(got), free(qkv), free(o1), free(o2);
}

/* Impossible attention shapes are errors, not crashes. */
TI_TEST(attention_rejects_bad_shapes)
{
    const ti_kernels *k = ti_kernels_best();
    float buf[16] = {0};
    ti_attn_cfg cfg = {.B = 1, .T = 1, .H = 1, .hd = TI_ATTN_MAX_HD + 1};
    TI_CHECK_ERR(k->attention_forward(buf, NULL, buf, &cfg, NULL), TI_ERR_LIMIT, "head dim");
    cfg.hd = 4;
    cfg.T = 0;
    TI_CHECK_ERR(k->attention_forward(buf, NULL, buf, &cfg, NULL), TI_ERR_INVALID_ARG, "T=0");
    TI_CHECK_ERR(k->attention_backward(buf, buf, buf, buf, buf, NULL, NULL), TI_ERR_INVALID_ARG, "cfg");
    TI_CHECK_ERR(k->attention_decode(buf, buf, buf, buf, 1, 2, 4, 4, 0, NULL, 0.0f), TI_ERR_INVALID_ARG,
                 "kv_stride");
}

int main(void)
{
    if (ti_pool_create(&g_pool, 2) != TI_OK) {
        fprintf(stderr, "pool: %s\n", ti_errmsg());
        return 1;
    }
    TI_RUN(tables_complete);
    TI_RUN(supported_level_matches_cpuinfo);
    TI_RUN(self_check_detects_errors);
    TI_RUN(attention_rejects_bad_shapes);
    TI_RUN(matmul_all_levels);
    TI_RUN(layernorm_all_levels);
    TI_RUN(softmax_all_levels);
    TI_RUN(act_all_levels);
    TI_RUN(attention_all_levels);
    TI_RUN(attention_decode_all_levels);
    TI_RUN(rope_all_levels);
    TI_RUN(adamw_all_levels);
    ti_pool_destroy(g_pool);
    return ti_test_summary();
}
