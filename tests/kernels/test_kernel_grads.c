/* The scalar reference kernels themselves: every backward against central finite
 * differences (fp32 forward, objective sum_i out_i r_i accumulated in double), forwards
 * against naive double-precision formulas, and known values (PyTorch's gelu, ALiBi
 * slopes, AdamW steps).  test_kernels.c then holds every SIMD level to this reference. */
#include <stdio.h>
#include <string.h>

#include "kernels/kcheck.h"
#include "tickinfer/kernels.h"

#define FD_COORDS 40 /* coordinates sampled per tensor */

static const ti_kernels *R; /* the scalar table */

/* ---- linear layer -------------------------------------------------------------------------- */
typedef struct mm_ctx {
    float *inp, *W, *bias, *out, *r;
    int M, N, K;
} mm_ctx;

static double mm_obj(void *p)
{
    mm_ctx *c = p;
    R->matmul_forward(c->out, c->inp, c->W, c->bias, c->M, c->N, c->K, TI_ACT_NONE, NULL);
    return kc_weighted_sum(c->out, c->r, (size_t)c->M * c->N);
}

TI_TEST(matmul_backward_fd)
{
    const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {9, 17, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        kc_seed(100 + s);
        mm_ctx c = {kc_rand((size_t)M * K, 1.0f), kc_rand((size_t)N * K, 1.0f), kc_rand((size_t)N, 1.0f),
                    kc_alloc((size_t)M * N), kc_rand((size_t)M * N, 1.0f), M, N, K};
        float *dinp = kc_alloc((size_t)M * K), *dW = kc_alloc((size_t)N * K), *db = kc_alloc((size_t)N);
        R->matmul_backward(dinp, dW, db, c.r, c.inp, c.W, M, N, K, NULL);
        char ctx[48];
        snprintf(ctx, sizeof ctx, "M=%d N=%d K=%d", M, N, K);
        kc_check_fd("dinp", ctx, kc_fd_rel_err(mm_obj, &c, c.inp, (size_t)M * K, dinp, KC_FD_EPS, FD_COORDS));
        kc_check_fd("dW", ctx, kc_fd_rel_err(mm_obj, &c, c.W, (size_t)N * K, dW, KC_FD_EPS, FD_COORDS));
        kc_check_fd("dbias", ctx, kc_fd_rel_err(mm_obj, &c, c.bias, (size_t)N, db, KC_FD_EPS, FD_COORDS));
        free(c.inp), free(c.W), free(c.bias), free(c.out), free(c.r), free(dinp), free(dW), free(db);
    }
}

/* Forward with every activation against the formula in double. */
TI_TEST(matmul_forward_vs_double)
{
    const int M = 7, N = 19, K = 23;
    kc_seed(1);
    float *inp = kc_rand((size_t)M * K, 1.0f), *W = kc_rand((size_t)N * K, 1.0f), *b = kc_rand((size_t)N, 1.0f);
    float *out = kc_alloc((size_t)M * N), *want = kc_alloc((size_t)M * N);
    for (int act = 0; act < TI_ACT__COUNT; act++) {
        R->matmul_forward(out, inp, W, b, M, N, K, (ti_act)act, NULL);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = b[n];
                for (int k = 0; k < K; k++) acc += (double)inp[m * K + k] * W[n * K + k];
                double y = acc;
                if (act == TI_ACT_RELU) y = acc > 0 ? acc : 0;
                if (act == TI_ACT_GELU_TANH) y = 0.5 * acc * (1 + tanh(0.7978845608028654 * (acc + 0.044715 * acc * acc * acc)));
                if (act == TI_ACT_GELU_ERF) y = 0.5 * acc * (1 + erf(acc / sqrt(2.0)));
                want[m * N + n] = (float)y;
            }
        TI_CHECK(kc_check_nmse("matmul vs double", "", out, want, (size_t)M * N));
    }
    free(inp), free(W), free(b), free(out), free(want);
}

/* ---- activations --------------------------------------------------------------------------- */
typedef struct act_ctx {
    float *x, *out, *r;
    size_t n;
    ti_act act;
} act_ctx;

static double act_obj(void *p)
{
    act_ctx *c = p;
    R->act_forward(c->out, c->x, c->n, c->act);
    return kc_weighted_sum(c->out, c->r, c->n);
}

TI_TEST(act_backward_fd)
{
    const size_t n = 64;
    for (int act = 0; act < TI_ACT__COUNT; act++) {
        kc_seed(200 + act);
        act_ctx c = {kc_rand(n, 4.0f), kc_alloc(n), kc_rand(n, 1.0f), n, (ti_act)act};
        for (size_t i = 0; i < n; i++) /* keep relu's kink out of reach of the step */
            if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.05f;
        float *g = kc_alloc(n);
        R->act_backward(g, c.x, c.r, n, (ti_act)act);
        char ctx[16];
        snprintf(ctx, sizeof ctx, "act=%d", act);
        kc_check_fd("act_backward", ctx, kc_fd_rel_err(act_obj, &c, c.x, n, g, KC_FD_EPS, FD_COORDS));
        free(c.x), free(c.out), free(c.r), free(g);
    }
}

/* PyTorch values: F.gelu(x), F.gelu(x, approximate='tanh'), relu. */
TI_TEST(act_known_values)
{
    const float x[] = {-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f};
    const double gelu_erf[] = {-0.0040496886, -0.15865525, -0.15426877, 0.0, 0.34573123, 0.84134475, 2.9959503};
    const double gelu_tanh[] = {-0.0036374, -0.15880801, -0.15428599, 0.0, 0.34571401, 0.84119199, 2.9963627};
    float y[7];
    R->act_forward(y, x, 7, TI_ACT_GELU_ERF);
    for (int i = 0; i < 7; i++) TI_CHECK_NEAR(y[i], gelu_erf[i], 2e-6 * (1 + fabs(gelu_erf[i])));
    R->act_forward(y, x, 7, TI_ACT_GELU_TANH);
    for (int i = 0; i < 7; i++) TI_CHECK_NEAR(y[i], gelu_tanh[i], 2e-6 * (1 + fabs(gelu_tanh[i])));
    R->act_forward(y, x, 7, TI_ACT_RELU);
    for (int i = 0; i < 7; i++) TI_CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
}

/* ---- layer norm ----------------------------------------------------------------------------- */
typedef struct ln_ctx {
    float *x, *w, *b, *out, *r;
    int N, C;
} ln_ctx;

static double ln_obj(void *p)
{
    ln_ctx *c = p;
    R->layernorm_forward(c->out, NULL, NULL, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return kc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

TI_TEST(layernorm_backward_fd)
{
    const int N = 3, C = 19;
    kc_seed(300);
    ln_ctx c = {kc_rand((size_t)N * C, 2.0f), kc_rand((size_t)C, 1.0f), kc_rand((size_t)C, 1.0f),
                kc_alloc((size_t)N * C), kc_rand((size_t)N * C, 1.0f), N, C};
    float mean[3], rstd[3];
    float *dx = kc_alloc((size_t)N * C), *dw = kc_alloc((size_t)C), *db = kc_alloc((size_t)C);
    R->layernorm_forward(c.out, mean, rstd, c.x, c.w, c.b, N, C, 1e-5f);
    /* mean / rstd against double */
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int k = 0; k < C; k++) m += c.x[i * C + k];
        m /= C;
        for (int k = 0; k < C; k++) v += (c.x[i * C + k] - m) * (c.x[i * C + k] - m);
        v /= C;
        TI_CHECK_NEAR(mean[i], m, 1e-6);
        TI_CHECK_NEAR(rstd[i], 1.0 / sqrt(v + 1e-5), 1e-5 / sqrt(v));
    }
    R->layernorm_backward(dx, dw, db, c.r, c.x, c.w, mean, rstd, N, C);
    kc_check_fd("layernorm dinp", "", kc_fd_rel_err(ln_obj, &c, c.x, (size_t)N * C, dx, KC_FD_EPS, FD_COORDS));
    kc_check_fd("layernorm dw", "", kc_fd_rel_err(ln_obj, &c, c.w, (size_t)C, dw, KC_FD_EPS, FD_COORDS));
    kc_check_fd("layernorm db", "", kc_fd_rel_err(ln_obj, &c, c.b, (size_t)C, db, KC_FD_EPS, FD_COORDS));
    free(c.x), free(c.w), free(c.b), free(c.out), free(c.r), free(dx), free(dw), free(db);
}

/* ---- softmax --------------------------------------------------------------------------------- */
typedef struct sm_ctx {
    float *x, *out, *r;
    int N, C;
} sm_ctx;

static double sm_obj(void *p)
{
    sm_ctx *c = p;
    R->softmax_forward(c->out, c->x, c->N, c->C);
    return kc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

TI_TEST(softmax_backward_fd)
{
    const int N = 4, C = 13;
    kc_seed(400);
    sm_ctx c = {kc_rand((size_t)N * C, 3.0f), kc_alloc((size_t)N * C), kc_rand((size_t)N * C, 1.0f), N, C};
    float *dx = kc_alloc((size_t)N * C);
    R->softmax_forward(c.out, c.x, N, C);
    for (int i = 0; i < N; i++) { /* rows sum to 1 */
        double s = 0;
        for (int k = 0; k < C; k++) s += c.out[i * C + k];
        TI_CHECK_NEAR(s, 1.0, 1e-6);
    }
    R->softmax_backward(dx, c.r, c.out, N, C);
    kc_check_fd("softmax dinp", "", kc_fd_rel_err(sm_obj, &c, c.x, (size_t)N * C, dx, KC_FD_EPS, FD_COORDS));
    free(c.x), free(c.out), free(c.r), free(dx);
}

/* ---- attention -------------------------------------------------------------------------------- */
typedef struct at_ctx {
    float *qkv, *out, *r;
    ti_attn_cfg cfg;
} at_ctx;

static double at_obj(void *p)
{
    at_ctx *c = p;
    ti_err e = R->attention_forward(c->out, NULL, c->qkv, &c->cfg, NULL);
    if (e) return NAN;
    return kc_weighted_sum(c->out, c->r, (size_t)c->cfg.B * c->cfg.T * c->cfg.H * c->cfg.hd);
}

/* out and lse against softmax over the full score row, in double. */
static void attn_naive(double *out, double *lse, const float *qkv, const ti_attn_cfg *cfg)
{
    const int T = cfg->T, H = cfg->H, hd = cfg->hd, C = H * hd;
    const double scale = 1.0 / sqrt((double)hd);
    double *s = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < cfg->B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hd;
                const int kend = cfg->causal ? i + 1 : T;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < kend; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hd;
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += (double)q[e] * k[e];
                    s[j] = d * scale - (cfg->alibi ? cfg->alibi[h] * fabs((double)(i - j)) : 0.0);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j < kend; j++) sum += exp(s[j] - mx);
                double *o = out + ((size_t)b * T + i) * C + h * hd;
                for (int e = 0; e < hd; e++) o[e] = 0;
                for (int j = 0; j < kend; j++) {
                    const float *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hd;
                    for (int e = 0; e < hd; e++) o[e] += exp(s[j] - mx) / sum * v[e];
                }
                lse[((size_t)b * H + h) * T + i] = mx + log(sum);
            }
    free(s);
}

TI_TEST(attention_forward_vs_double)
{
    float slopes[3];
    ti_alibi_slopes(slopes, 3);
    const int shapes[][4] = {{1, 1, 1, 4}, {2, 9, 3, 5}, {1, 130, 2, 8}}; /* T=130 spans 3 key blocks */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int mode = 0; mode < 4; mode++) {
            ti_attn_cfg cfg = {.B = shapes[s][0], .T = shapes[s][1], .H = shapes[s][2], .hd = shapes[s][3],
                               .causal = mode & 1, .alibi = (mode & 2) ? slopes : NULL};
            const size_t n = (size_t)cfg.B * cfg.T * cfg.H * cfg.hd, nl = (size_t)cfg.B * cfg.H * cfg.T;
            kc_seed(500 + s);
            float *qkv = kc_rand(3 * n, 2.0f), *out = kc_alloc(n), *lse = kc_alloc(nl);
            float *wo = kc_alloc(n), *wl = kc_alloc(nl);
            double *dout = malloc(n * sizeof(double)), *dl = malloc(nl * sizeof(double));
            TI_CHECK_OK(R->attention_forward(out, lse, qkv, &cfg, NULL));
            attn_naive(dout, dl, qkv, &cfg);
            for (size_t i = 0; i < n; i++) wo[i] = (float)dout[i];
            for (size_t i = 0; i < nl; i++) wl[i] = (float)dl[i];
            char ctx[64];
            snprintf(ctx, sizeof ctx, "shape %zu causal=%d alibi=%d", s, mode & 1, mode >> 1);
            kc_check_nmse("attention out vs double", ctx, out, wo, n);
            kc_check_nmse("attention lse vs double", ctx, lse, wl, nl);
            free(qkv), free(out), free(lse), free(wo), free(wl), free(dout), free(dl);
        }
}

TI_TEST(attention_backward_fd)
{
    float slopes[2];
    ti_alibi_slopes(slopes, 2);
    const int shapes[][4] = {{1, 1, 1, 4}, {2, 5, 2, 4}, {1, 70, 2, 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int mode = 0; mode < 4; mode++) {
            at_ctx c = {.cfg = {.B = shapes[s][0], .T = shapes[s][1], .H = shapes[s][2], .hd = shapes[s][3],
                                .causal = mode & 1, .alibi = (mode & 2) ? slopes : NULL}};
            const size_t n = (size_t)c.cfg.B * c.cfg.T * c.cfg.H * c.cfg.hd;
            kc_seed(600 + s * 4 + mode);
            c.qkv = kc_rand(3 * n, 1.5f);
            c.out = kc_alloc(n);
            c.r = kc_rand(n, 1.0f);
            float *lse = kc_alloc((size_t)c.cfg.B * c.cfg.H * c.cfg.T), *g = kc_alloc(3 * n);
            TI_CHECK_OK(R->attention_forward(c.out, lse, c.qkv, &c.cfg, NULL));
            TI_CHECK_OK(R->attention_backward(g, c.r, c.qkv, c.out, lse, &c.cfg, NULL));
            char ctx[64];
            snprintf(ctx, sizeof ctx, "shape %zu causal=%d alibi=%d", s, mode & 1, mode >> 1);
            kc_check_fd("attention dqkv", ctx, kc_fd_rel_err(at_obj, &c, c.qkv, 3 * n, g, KC_FD_EPS, 3 * FD_COORDS));
            free(c.qkv), free(c.out), free(c.r), free(lse), free(g);
        }
}

/* Decoding the last token against the cache = the causal forward's last row. */
TI_TEST(attention_decode_matches_forward)
{
    const int T = 37, H = 3, hd = 8, C = H * hd;
    float slopes[3];
    ti_alibi_slopes(slopes, H);
    ti_attn_cfg cfg = {.B = 1, .T = T, .H = H, .hd = hd, .causal = 1, .alibi = slopes};
    kc_seed(700);
    float *qkv = kc_rand((size_t)T * 3 * C, 1.5f), *out = kc_alloc((size_t)T * C), *dec = kc_alloc((size_t)C);
    TI_CHECK_OK(R->attention_forward(out, NULL, qkv, &cfg, NULL));
    TI_CHECK_OK(R->attention_decode(dec, qkv + (size_t)(T - 1) * 3 * C, qkv + C, qkv + 2 * C, T, H, hd,
                                    3 * (size_t)C, T - 1, slopes, 0.0f));
    kc_check_nmse("decode vs forward", "", dec, out + (size_t)(T - 1) * C, (size_t)C);
    free(qkv), free(out), free(dec);
}

TI_TEST(alibi_slopes_as_in_paper)
{
    float s[8];
    ti_alibi_slopes(s, 8);
    for (int h = 0; h < 8; h++) TI_CHECK_NEAR(s[h], pow(2.0, -(h + 1)), 1e-9);
    ti_alibi_slopes(s, 4);
    for (int h = 0; h < 4; h++) TI_CHECK_NEAR(s[h], pow(2.0, -2 * (h + 1)), 1e-9);
    /* 6 heads: the 4-head slopes, then slopes 0 and 2 of the 8-head list */
    const double want6[] = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
    ti_alibi_slopes(s, 6);
    for (int h = 0; h < 6; h++) TI_CHECK_NEAR(s[h], want6[h], 1e-9);
}

/* ---- rope -------------------------------------------------------------------------------------- */
typedef struct rope_ctx {
    float *x, *work, *r, *rc, *rs;
    int B, T, H, hd, pos0;
} rope_ctx;

static double rope_obj(void *p)
{
    rope_ctx *c = p;
    const size_t n = (size_t)c->B * c->T * c->H * c->hd;
    memcpy(c->work, c->x, n * sizeof(float));
    R->rope_forward(c->work, c->rc, c->rs, c->B, c->T, c->H, c->hd, (size_t)c->H * c->hd, c->pos0);
    return kc_weighted_sum(c->work, c->r, n);
}

TI_TEST(rope_properties_and_fd)
{
    rope_ctx c = {.B = 2, .T = 6, .H = 2, .hd = 8, .pos0 = 3};
    const size_t n = (size_t)c.B * c.T * c.H * c.hd;
    c.rc = kc_alloc((size_t)(c.pos0 + c.T) * c.hd / 2);
    c.rs = kc_alloc((size_t)(c.pos0 + c.T) * c.hd / 2);
    TI_CHECK_OK(ti_rope_table(c.rc, c.rs, c.pos0 + c.T, c.hd, 10000.0f));
    TI_CHECK_NEAR(c.rc[1 * 4 + 1], cos(pow(10000.0, -2.0 / 8)), 1e-7); /* t=1, i=1 */
    TI_CHECK_ERR(ti_rope_table(c.rc, c.rs, 1, 7, 10000.0f), TI_ERR_INVALID_ARG, "even hd");
    kc_seed(800);
    c.x = kc_rand(n, 1.0f);
    c.work = kc_alloc(n);
    c.r = kc_rand(n, 1.0f);
    float *g = kc_copy(c.r, n);
    R->rope_backward(g, c.rc, c.rs, c.B, c.T, c.H, c.hd, (size_t)c.H * c.hd, c.pos0);
    kc_check_fd("rope dx", "", kc_fd_rel_err(rope_obj, &c, c.x, n, g, KC_FD_EPS, FD_COORDS));
    /* forward then backward is the identity (a rotation and its inverse) */
    float *y = kc_copy(c.x, n);
    R->rope_forward(y, c.rc, c.rs, c.B, c.T, c.H, c.hd, (size_t)c.H * c.hd, c.pos0);
    R->rope_backward(y, c.rc, c.rs, c.B, c.T, c.H, c.hd, (size_t)c.H * c.hd, c.pos0);
    kc_check_nmse("rope inverse", "", y, c.x, n);
    free(c.rc), free(c.rs), free(c.x), free(c.work), free(c.r), free(g), free(y);
}

/* ---- losses, optimizer, embeddings ------------------------------------------------------------------ */
typedef struct loss_ctx {
    float *pred, *target;
    size_t n;
    int rmspe;
} loss_ctx;

static double loss_obj(void *p)
{
    loss_ctx *c = p;
    double l = NAN;
    if (c->rmspe) ti_loss_rmspe(&l, NULL, c->pred, c->target, c->n, 1.0f);
    else ti_loss_mse(&l, NULL, c->pred, c->target, c->n, 1.0f);
    return l;
}

TI_TEST(losses)
{
    const float pred[] = {1.0f, 2.0f, 4.0f}, target[] = {2.0f, 2.0f, 2.0f};
    double l;
    float g[3];
    TI_CHECK_OK(ti_loss_mse(&l, g, pred, target, 3, 1.0f));
    TI_CHECK_NEAR(l, (1.0 + 0.0 + 4.0) / 3.0, 1e-12);
    TI_CHECK_NEAR(g[0], 2.0 * -1.0 / 3.0, 1e-7);
    TI_CHECK_OK(ti_loss_rmspe(&l, g, pred, target, 3, 1.0f));
    TI_CHECK_NEAR(l, sqrt((0.25 + 0.0 + 1.0) / 3.0), 1e-12);
    const float zero_t[] = {1.0f, 0.0f};
    TI_CHECK_ERR(ti_loss_rmspe(&l, NULL, pred, zero_t, 2, 1.0f), TI_ERR_RANGE, "target[1]");
    TI_CHECK_ERR(ti_loss_mse(&l, NULL, pred, target, 0, 1.0f), TI_ERR_INVALID_ARG, "empty");
    for (int rmspe = 0; rmspe < 2; rmspe++) {
        kc_seed(900 + rmspe);
        loss_ctx c = {kc_rand(50, 1.0f), kc_rand(50, 1.0f), 50, rmspe};
        for (int i = 0; i < 50; i++) c.target[i] = 0.5f + fabsf(c.target[i]);
        float *grad = kc_alloc(50);
        if (rmspe) TI_CHECK_OK(ti_loss_rmspe(&l, grad, c.pred, c.target, 50, 1.0f));
        else TI_CHECK_OK(ti_loss_mse(&l, grad, c.pred, c.target, 50, 1.0f));
        kc_check_fd(rmspe ? "rmspe grad" : "mse grad", "", kc_fd_rel_err(loss_obj, &c, c.pred, 50, grad, KC_FD_EPS, 50));
        free(c.pred), free(c.target), free(grad);
    }
}

/* Three AdamW steps against torch.optim.AdamW's update written out in double. */
TI_TEST(adamw_matches_torch_formula)
{
    ti_adamw_cfg cfg = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f};
    float p[4] = {1.0f, -2.0f, 0.5f, 0.0f}, m[4] = {0}, v[4] = {0};
    double pd[4] = {1.0, -2.0, 0.5, 0.0}, md[4] = {0}, vd[4] = {0};
    const float grads[3][4] = {{0.1f, -0.2f, 0.3f, 0.0f}, {0.5f, 0.5f, -0.1f, 1.0f}, {-1.0f, 0.0f, 0.2f, 0.3f}};
    for (int t = 1; t <= 3; t++) {
        R->adamw_step(p, m, v, grads[t - 1], 4, &cfg, t);
        for (int i = 0; i < 4; i++) {
            double g = grads[t - 1][i];
            pd[i] *= 1.0 - 0.01 * 0.1;
            md[i] = 0.9 * md[i] + 0.1 * g;
            vd[i] = 0.99 * vd[i] + 0.01 * g * g;
            double mh = md[i] / (1 - pow(0.9, t)), vh = vd[i] / (1 - pow(0.99, t));
            pd[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 4; i++) TI_CHECK_NEAR(p[i], pd[i], 1e-6);
}

TI_TEST(embeddings)
{
    const int B = 2, T = 3, C = 2, V = 4;
    const int32_t tok[] = {0, 3, 1, 2, 2, 0};
    float wte[8], wpe[6], out[12], dwte[8] = {0}, dwpe[6] = {0};
    for (int i = 0; i < 8; i++) wte[i] = (float)i;
    for (int i = 0; i < 6; i++) wpe[i] = 100.0f * (float)i;
    TI_CHECK_OK(ti_embedding_forward(out, tok, wte, wpe, B, T, C, V));
    TI_CHECK(out[2] == wte[6] + wpe[2] && out[3] == wte[7] + wpe[3]); /* b=0 t=1: token 3 */
    TI_CHECK(out[10] == wte[0] + wpe[4]);                              /* b=1 t=2: token 0 */
    float ones[12];
    for (int i = 0; i < 12; i++) ones[i] = 1.0f;
    TI_CHECK_OK(ti_embedding_backward(dwte, dwpe, ones, tok, B, T, C, V));
    TI_CHECK(dwte[0] == 2.0f && dwte[2] == 1.0f && dwte[4] == 2.0f && dwte[6] == 1.0f);
    TI_CHECK(dwpe[0] == 2.0f && dwpe[5] == 2.0f);
    const int32_t bad[] = {0, 4, 1, 2, 2, 0};
    TI_CHECK_ERR(ti_embedding_forward(out, bad, wte, wpe, B, T, C, V), TI_ERR_RANGE, "token 4");
    float pos_out[12], dpos[6] = {0};
    ti_pos_add_forward(pos_out, ones, wpe, B, T, C);
    TI_CHECK(pos_out[7] == 1.0f + wpe[1]);
    ti_pos_add_backward(dpos, ones, B, T, C);
    TI_CHECK(dpos[3] == 2.0f);
}

/* The finite-difference check can fail: a gradient 1% off is caught. */
TI_TEST(self_check_fd_detects_wrong_gradient)
{
    const int M = 4, N = 5, K = 6;
    kc_seed(1000);
    mm_ctx c = {kc_rand((size_t)M * K, 1.0f), kc_rand((size_t)N * K, 1.0f), NULL, kc_alloc((size_t)M * N),
                kc_rand((size_t)M * N, 1.0f), M, N, K};
    float *dinp = kc_alloc((size_t)M * K);
    R->matmul_backward(dinp, NULL, NULL, c.r, c.inp, c.W, M, N, K, NULL);
    TI_CHECK(kc_fd_rel_err(mm_obj, &c, c.inp, (size_t)M * K, dinp, KC_FD_EPS, FD_COORDS) < KC_FD_TOL);
    for (int i = 0; i < M * K; i++) dinp[i] *= 1.01f;
    TI_CHECK(kc_fd_rel_err(mm_obj, &c, c.inp, (size_t)M * K, dinp, KC_FD_EPS, FD_COORDS) >= KC_FD_TOL);
    free(c.inp), free(c.W), free(c.out), free(c.r), free(dinp);
}

int main(void)
{
    R = ti_kernels_get(TI_SIMD_SCALAR);
    TI_RUN(matmul_backward_fd);
    TI_RUN(matmul_forward_vs_double);
    TI_RUN(act_backward_fd);
    TI_RUN(act_known_values);
    TI_RUN(layernorm_backward_fd);
    TI_RUN(softmax_backward_fd);
    TI_RUN(attention_forward_vs_double);
    TI_RUN(attention_backward_fd);
    TI_RUN(attention_decode_matches_forward);
    TI_RUN(alibi_slopes_as_in_paper);
    TI_RUN(rope_properties_and_fd);
    TI_RUN(losses);
    TI_RUN(adamw_matches_torch_formula);
    TI_RUN(embeddings);
    TI_RUN(self_check_fd_detects_wrong_gradient);
    return ti_test_summary();
}
