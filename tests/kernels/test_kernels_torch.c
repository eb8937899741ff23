/* Kernels against PyTorch itself (tests/py/kernels_oracle.py): nn.MultiheadAttention
 * (in_proj layout, head split, causal and ALiBi masks, gradients through the projection),
 * F.layer_norm, F.gelu (erf and tanh), relu, softmax and torch.optim.AdamW, on the same
 * float32 inputs, at the scalar level and the best SIMD level.  Bound: NMSE < 1e-10
 * (kcheck.h), the same as SIMD vs scalar, i.e. agreement up to fp32 summation order.
 * Skipped when TI_PYTHON is unset (make test sets it to the .venv interpreter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kcheck.h"
#include "tickinfer/kernels.h"

static char g_dir[64];
static int g_ready; /* 1: the oracle ran and its outputs are in g_dir */
static int g_oracle_failed; /* TI_PYTHON was set but the oracle did not run: a failure, not a skip */

static void path_of(char *buf, size_t cap, const char *name, const char *tensor, const char *ext)
{
    snprintf(buf, cap, "%s/%s.%s.%s", g_dir, name, tensor, ext);
}

static void put(const char *name, const char *tensor, const float *x, size_t n)
{
    char p[256];
    path_of(p, sizeof p, name, tensor, "bin");
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(x, sizeof(float), n, f) != n) fprintf(stderr, "cannot write %s\n", p);
    if (f) fclose(f);
}

/* float array [n] from <name>.<tensor>.<ext>, or NULL (test fails) when missing/short */
static float *get(const char *name, const char *tensor, const char *ext, size_t n)
{
    char p[256];
    path_of(p, sizeof p, name, tensor, ext);
    float *x = kc_alloc(n);
    FILE *f = fopen(p, "rb");
    size_t got = f ? fread(x, sizeof(float), n, f) : 0;
    if (f) fclose(f);
    if (got != n) {
        TI_FAILF("oracle file %s: %zu of %zu floats", p, got, n);
        free(x);
        return NULL;
    }
    return x;
}

static float *put_rand(const char *name, const char *tensor, size_t n, float scale)
{
    float *x = kc_rand(n, scale);
    put(name, tensor, x, n);
    return x;
}

/* ---- cases: inputs written before the oracle runs ------------------------------------ */
typedef struct mha_case {
    const char *name;
    int B, T, C, H, causal, alibi;
} mha_case;
static const mha_case MHA[] = {
    {"mha_full", 2, 37, 32, 4, 0, 0},
    {"mha_causal", 1, 70, 32, 4, 1, 0},
    {"mha_alibi", 2, 33, 24, 3, 0, 1},
    {"mha_tinyrv", 1, 601, 128, 4, 1, 1}, /* TinyRV: T=601, C=128, 4 heads of 32 */
};
static const char *ACTS[] = {"none", "relu", "gelu_tanh", "gelu_erf"};
#define LIN_M 37
#define LIN_N 40
#define LIN_K 33

static void write_inputs(FILE *spec)
{
    kc_seed(4242);
    for (size_t c = 0; c < sizeof MHA / sizeof MHA[0]; c++) {
        const mha_case *m = &MHA[c];
        const size_t n = (size_t)m->B * m->T * m->C;
        float slopes[16];
        ti_alibi_slopes(slopes, m->H);
        free(put_rand(m->name, "x", n, 1.0f));
        free(put_rand(m->name, "win", 3 * (size_t)m->C * m->C, 0.4f));
        free(put_rand(m->name, "bin", 3 * (size_t)m->C, 0.2f));
        free(put_rand(m->name, "r", n, 1.0f));
        put(m->name, "slopes", slopes, (size_t)m->H);
        fprintf(spec, "mha %s %d %d %d %d %d %d\n", m->name, m->B, m->T, m->C, m->H, m->causal, m->alibi);
    }
    const int ln_shapes[][2] = {{9, 128}, {3, 17}};
    for (int c = 0; c < 2; c++) {
        const char *name = c ? "ln_odd" : "ln";
        const size_t n = (size_t)ln_shapes[c][0] * ln_shapes[c][1];
        float *x = kc_rand(n, 2.0f);
        for (size_t i = 0; i < n; i++) x[i] += 1.5f;
        put(name, "x", x, n);
        free(x);
        free(put_rand(name, "w", (size_t)ln_shapes[c][1], 1.0f));
        free(put_rand(name, "b", (size_t)ln_shapes[c][1], 1.0f));
        free(put_rand(name, "r", n, 1.0f));
        fprintf(spec, "ln %s %d %d\n", name, ln_shapes[c][0], ln_shapes[c][1]);
    }
    for (int a = 1; a < TI_ACT__COUNT; a++) {
        free(put_rand(ACTS[a], "x", 1000, 4.0f));
        free(put_rand(ACTS[a], "r", 1000, 1.0f));
        fprintf(spec, "act %s 1000 %s\n", ACTS[a], ACTS[a]);
    }
    for (int a = 0; a < TI_ACT__COUNT; a++) {
        char name[32];
        snprintf(name, sizeof name, "linear_%s", ACTS[a]);
        free(put_rand(name, "x", (size_t)LIN_M * LIN_K, 1.0f));
        free(put_rand(name, "w", (size_t)LIN_N * LIN_K, 0.5f));
        free(put_rand(name, "b", (size_t)LIN_N, 0.5f));
        fprintf(spec, "linear %s %d %d %d %s\n", name, LIN_M, LIN_N, LIN_K, ACTS[a]);
    }
    free(put_rand("softmax", "x", 5 * 601, 6.0f));
    free(put_rand("softmax", "r", 5 * 601, 1.0f));
    fprintf(spec, "softmax softmax 5 601\n");
    free(put_rand("adamw", "p", 100, 1.0f));
    free(put_rand("adamw", "g", 3 * 100, 1.0f));
    fprintf(spec, "adamw adamw 100 3\n");
}

/* ---- checks ---------------------------------------------------------------------------- */
static const ti_kernels *levels[2];
static int n_levels;

#define NEED_ORACLE() \
    do {              \
        if (g_oracle_failed) {                                                          \
            TI_FAILF("the PyTorch oracle (tests/py/kernels_oracle.py) failed to run");      \
            return;                                                                       \
        }                                                                                 \
        if (!g_ready) TI_SKIP("no PyTorch oracle: TI_PYTHON unset"); \
    } while (0)

TI_TEST(multihead_attention_matches_torch)
{
    NEED_ORACLE();
    for (size_t c = 0; c < sizeof MHA / sizeof MHA[0]; c++) {
        const mha_case *m = &MHA[c];
        const int BT = m->B * m->T, C = m->C;
        const size_t n = (size_t)BT * C, n3 = 3 * n;
        float *x = get(m->name, "x", "bin", n), *win = get(m->name, "win", "bin", 3 * (size_t)C * C);
        float *bin = get(m->name, "bin", "bin", 3 * (size_t)C), *r = get(m->name, "r", "bin", n);
        float *slopes = get(m->name, "slopes", "bin", (size_t)m->H);
        float *y = get(m->name, "y", "out", n), *dx_t = get(m->name, "dx", "out", n);
        float *dwin_t = get(m->name, "dwin", "out", 3 * (size_t)C * C), *dbin_t = get(m->name, "dbin", "out", 3 * (size_t)C);
        if (x && win && bin && r && slopes && y && dx_t && dwin_t && dbin_t) {
            ti_attn_cfg cfg = {.B = m->B, .T = m->T, .H = m->H, .hd = C / m->H, .causal = m->causal,
                               .alibi = m->alibi ? slopes : NULL};
            float *qkv = kc_alloc(n3), *out = kc_alloc(n), *lse = kc_alloc((size_t)m->B * m->H * m->T);
            float *dqkv = kc_alloc(n3), *dx = kc_alloc(n), *dwin = kc_alloc(3 * (size_t)C * C), *dbin = kc_alloc(3 * (size_t)C);
            for (int l = 0; l < n_levels; l++) {
                const ti_kernels *k = levels[l];
                char ctx[64];
                snprintf(ctx, sizeof ctx, "%s %s", m->name, k->name);
                k->matmul_forward(qkv, x, win, bin, BT, 3 * C, C, TI_ACT_NONE, NULL);
                TI_CHECK_OK(k->attention_forward(out, lse, qkv, &cfg, NULL));
                kc_check_nmse("attention out vs torch", ctx, out, y, n);
                memset(dqkv, 0, n3 * sizeof(float));
                memset(dx, 0, n * sizeof(float));
                memset(dwin, 0, 3 * (size_t)C * C * sizeof(float));
                memset(dbin, 0, 3 * (size_t)C * sizeof(float));
                TI_CHECK_OK(k->attention_backward(dqkv, r, qkv, out, lse, &cfg, NULL));
                k->matmul_backward(dx, dwin, dbin, dqkv, x, win, BT, 3 * C, C, NULL);
                kc_check_nmse("dx vs torch", ctx, dx, dx_t, n);
                kc_check_nmse("d in_proj_weight vs torch", ctx, dwin, dwin_t, 3 * (size_t)C * C);
                kc_check_nmse("d in_proj_bias vs torch", ctx, dbin, dbin_t, 3 * (size_t)C);
            }
            free(qkv), free(out), free(lse), free(dqkv), free(dx), free(dwin), free(dbin);
        }
        free(x), free(win), free(bin), free(r), free(slopes), free(y), free(dx_t), free(dwin_t), free(dbin_t);
    }
}

TI_TEST(layernorm_matches_torch)
{
    NEED_ORACLE();
    const int shapes[][2] = {{9, 128}, {3, 17}};
    for (int c = 0; c < 2; c++) {
        const char *name = c ? "ln_odd" : "ln";
        const int N = shapes[c][0], C = shapes[c][1];
        const size_t n = (size_t)N * C;
        float *x = get(name, "x", "bin", n), *w = get(name, "w", "bin", (size_t)C), *b = get(name, "b", "bin", (size_t)C);
        float *r = get(name, "r", "bin", n), *y_t = get(name, "y", "out", n), *dx_t = get(name, "dx", "out", n);
        float *dw_t = get(name, "dw", "out", (size_t)C), *db_t = get(name, "db", "out", (size_t)C);
        if (x && w && b && r && y_t && dx_t && dw_t && db_t) {
            float *y = kc_alloc(n), *mean = kc_alloc((size_t)N), *rstd = kc_alloc((size_t)N);
            for (int l = 0; l < n_levels; l++) {
                float *dx = kc_alloc(n), *dw = kc_alloc((size_t)C), *db = kc_alloc((size_t)C);
                levels[l]->layernorm_forward(y, mean, rstd, x, w, b, N, C, 1e-5f);
                levels[l]->layernorm_backward(dx, dw, db, r, x, w, mean, rstd, N, C);
                kc_check_nmse("layernorm y vs torch", levels[l]->name, y, y_t, n);
                kc_check_nmse("layernorm dx vs torch", levels[l]->name, dx, dx_t, n);
                kc_check_nmse("layernorm dw vs torch", levels[l]->name, dw, dw_t, (size_t)C);
                kc_check_nmse("layernorm db vs torch", levels[l]->name, db, db_t, (size_t)C);
                free(dx), free(dw), free(db);
            }
            free(y), free(mean), free(rstd);
        }
        free(x), free(w), free(b), free(r), free(y_t), free(dx_t), free(dw_t), free(db_t);
    }
}

TI_TEST(activations_and_linear_match_torch)
{
    NEED_ORACLE();
    for (int a = 1; a < TI_ACT__COUNT; a++) {
        float *x = get(ACTS[a], "x", "bin", 1000), *r = get(ACTS[a], "r", "bin", 1000);
        float *y_t = get(ACTS[a], "y", "out", 1000), *dx_t = get(ACTS[a], "dx", "out", 1000);
        if (x && r && y_t && dx_t)
            for (int l = 0; l < n_levels; l++) {
                float y[1000], dx[1000] = {0};
                levels[l]->act_forward(y, x, 1000, (ti_act)a);
                levels[l]->act_backward(dx, x, r, 1000, (ti_act)a);
                kc_check_nmse(ACTS[a], levels[l]->name, y, y_t, 1000);
                kc_check_nmse(ACTS[a], levels[l]->name, dx, dx_t, 1000);
            }
        free(x), free(r), free(y_t), free(dx_t);
    }
    for (int a = 0; a < TI_ACT__COUNT; a++) {
        char name[32];
        snprintf(name, sizeof name, "linear_%s", ACTS[a]);
        float *x = get(name, "x", "bin", (size_t)LIN_M * LIN_K), *w = get(name, "w", "bin", (size_t)LIN_N * LIN_K);
        float *b = get(name, "b", "bin", LIN_N), *y_t = get(name, "y", "out", (size_t)LIN_M * LIN_N);
        if (x && w && b && y_t)
            for (int l = 0; l < n_levels; l++) {
                float y[LIN_M * LIN_N];
                levels[l]->matmul_forward(y, x, w, b, LIN_M, LIN_N, LIN_K, (ti_act)a, NULL);
                kc_check_nmse(name, levels[l]->name, y, y_t, (size_t)LIN_M * LIN_N);
            }
        free(x), free(w), free(b), free(y_t);
    }
}

TI_TEST(softmax_and_adamw_match_torch)
{
    NEED_ORACLE();
    const size_t n = 5 * 601;
    float *x = get("softmax", "x", "bin", n), *r = get("softmax", "r", "bin", n);
    float *y_t = get("softmax", "y", "out", n), *dx_t = get("softmax", "dx", "out", n);
    float *p0 = get("adamw", "p", "bin", 100), *g = get("adamw", "g", "bin", 300);
    float *p_t = get("adamw", "p", "out", 100), *m_t = get("adamw", "m", "out", 100), *v_t = get("adamw", "v", "out", 100);
    if (x && r && y_t && dx_t && p0 && g && p_t && m_t && v_t)
        for (int l = 0; l < n_levels; l++) {
            float *y = kc_alloc(n), *dx = kc_alloc(n);
            levels[l]->softmax_forward(y, x, 5, 601);
            levels[l]->softmax_backward(dx, r, y, 5, 601);
            kc_check_nmse("softmax y vs torch", levels[l]->name, y, y_t, n);
            kc_check_nmse("softmax dx vs torch", levels[l]->name, dx, dx_t, n);
            free(y), free(dx);
            ti_adamw_cfg cfg = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f};
            float p[100], m[100] = {0}, v[100] = {0};
            memcpy(p, p0, sizeof p);
            for (int t = 1; t <= 3; t++) levels[l]->adamw_step(p, m, v, g + (t - 1) * 100, 100, &cfg, t);
            kc_check_nmse("adamw p vs torch", levels[l]->name, p, p_t, 100);
            kc_check_nmse("adamw m vs torch", levels[l]->name, m, m_t, 100);
            kc_check_nmse("adamw v vs torch", levels[l]->name, v, v_t, 100);
        }
    free(x), free(r), free(y_t), free(dx_t), free(p0), free(g), free(p_t), free(m_t), free(v_t);
}

/* Writes the inputs, runs the oracle once; g_ready says whether it worked. */
static void run_oracle(void)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) return;
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_kernels_torch_XXXXXX");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        g_oracle_failed = 1;
        return;
    }
    char spec_path[128], cmd[512];
    snprintf(spec_path, sizeof spec_path, "%s/spec.txt", g_dir);
    FILE *spec = fopen(spec_path, "w");
    if (!spec) {
        fprintf(stderr, "cannot write %s\n", spec_path);
        g_oracle_failed = 1;
        return;
    }
    write_inputs(spec);
    fclose(spec);
    snprintf(cmd, sizeof cmd, "'%s' tests/py/kernels_oracle.py '%s'", py, g_dir);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "oracle failed (%d): %s\n", rc, cmd);
    g_ready = rc == 0;
    g_oracle_failed = rc != 0;
}

int main(void)
{
    levels[n_levels++] = ti_kernels_get(TI_SIMD_SCALAR);
    if (ti_kernels_best()->level != TI_SIMD_SCALAR) levels[n_levels++] = ti_kernels_best();
    run_oracle();
    TI_RUN(multihead_attention_matches_torch);
    TI_RUN(layernorm_matches_torch);
    TI_RUN(activations_and_linear_match_torch);
    TI_RUN(softmax_and_adamw_match_torch);
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return ti_test_summary();
}
