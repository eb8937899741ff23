/* Whole-model GPU forward (ti_cuda_model_*) against ti_tfm_forward on the CPU: small
 * random-init TinyRV and rv_causal models and the seed TinyRV checkpoint.  Tolerance:
 * |gpu - cpu| <= 1e-4 + 1e-3 |cpu| (FP32 with different summation orders through a few
 * layers).  Skips, saying why, without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tickinfer/cuda.h"
#include "tickinfer/transformer.h"

static ti_cuda *g_cu;
static char g_why[512];

static void fill(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) / 16777216.0) * 2.f - 1.f;
    }
}

/* Forward B x T on both devices and compare. */
static void compare(const ti_tfm *m, int B, int T)
{
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const int tiny = c->kind == TI_TFM_TINYRV;
    const size_t nx = (size_t)B * T * c->n_features, ny = (size_t)B * (tiny ? 1 : T);
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *ref = malloc(ny * 4);
    fill(x, nx, 42 + (uint64_t)B);
    ti_runstate *rs = NULL;
    ti_cuda_model *gm = NULL;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, tiny ? 0 : T, 0));
    TI_CHECK_OK(ti_tfm_forward(m, rs, ref, x, B, T, NULL));
    TI_CHECK_OK(ti_cuda_model_create(g_cu, &gm, m, B, tiny ? 0 : T));
    if (gm) {
        TI_CHECK_OK(ti_cuda_model_forward_host(gm, y, x, B, T));
        for (size_t i = 0; i < ny; i++)
            if (!(fabs((double)y[i] - ref[i]) <= 1e-4 + 1e-3 * fabs((double)ref[i]))) {
                TI_FAILF("kind %d B=%d T=%d: y[%zu] gpu %.7g cpu %.7g", (int)c->kind, B, T, i, y[i], ref[i]);
                break;
            }
        TI_CHECK_ERR(ti_cuda_model_forward_host(gm, y, x, B + 1, T), TI_ERR_INVALID_ARG, "out of range");
    }
    ti_cuda_model_destroy(gm);
    ti_runstate_destroy(rs);
    free(x), free(y), free(ref);
}

static ti_tfm *small_model(ti_tfm_arch kind)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, kind);
    c.context = kind == TI_TFM_TINYRV ? 24 : 64;
    c.d_model = 32;
    c.n_heads = 4;
    c.n_layers = 2;
    c.d_ff = 64;
    ti_tfm *m = NULL;
    if (ti_tfm_create(&m, &c)) return NULL;
    ti_tfm_init(m, 7);
    return m;
}

TI_TEST(tinyrv_small_matches_cpu)
{
    if (!g_cu) TI_SKIP("%s", g_why);
    ti_tfm *m = small_model(TI_TFM_TINYRV);
    TI_CHECK(m != NULL);
    if (!m) return;
    compare(m, 1, 24);
    compare(m, 5, 24);
    ti_tfm_destroy(m);
}

TI_TEST(rv_causal_small_matches_cpu)
{
    if (!g_cu) TI_SKIP("%s", g_why);
    ti_tfm *m = small_model(TI_TFM_RV_CAUSAL);
    TI_CHECK(m != NULL);
    if (!m) return;
    compare(m, 3, 50);
    compare(m, 2, 64);
    ti_tfm_destroy(m);
}

TI_TEST(seed_tinyrv_matches_cpu)
{
    if (!g_cu) TI_SKIP("%s", g_why);
    ti_tfm *m = NULL;
    TI_CHECK_OK(ti_tfm_load(&m, NULL, "tests/model/data/seed_rv_tiny/best.pt", NULL));
    if (!m) return;
    compare(m, 4, ti_tfm_get_config(m)->context);
    ti_tfm_destroy(m);
}


/* Step-by-step decode of S symbols must give what the full causal forward gives at each
 * position (causal: y[s,t] depends only on x[s,0..t]). */
TI_TEST(decoder_steps_match_causal_forward)
{
    if (!g_cu) TI_SKIP("%s", g_why);
    ti_tfm *m = small_model(TI_TFM_RV_CAUSAL);
    TI_CHECK(m != NULL);
    if (!m) return;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const int S = 3, T = 40, F = c->n_features;
    float *x = malloc((size_t)S * T * F * 4), *ref = malloc((size_t)S * T * 4);
    float *xs = malloc((size_t)S * F * 4), y[3];
    fill(x, (size_t)S * T * F, 99);
    ti_runstate *rs = NULL;
    TI_CHECK_OK(ti_runstate_create(&rs, m, S, T, 0));
    TI_CHECK_OK(ti_tfm_forward(m, rs, ref, x, S, T, NULL));
    ti_cuda_decoder *d = NULL;
    TI_CHECK_OK(ti_cuda_decoder_create(g_cu, &d, m, S, T));
    for (int pass = 0; d && pass < 2; pass++) { /* the second pass checks reset */
        for (int t = 0; t < T; t++) {
            for (int s = 0; s < S; s++) memcpy(xs + (size_t)s * F, x + ((size_t)s * T + t) * F, (size_t)F * 4);
            TI_CHECK_OK(ti_cuda_decoder_step(d, y, xs));
            for (int s = 0; s < S; s++)
                if (!(fabs((double)y[s] - ref[s * T + t]) <= 1e-4 + 1e-3 * fabs((double)ref[s * T + t]))) {
                    TI_FAILF("pass %d t=%d s=%d: gpu %.7g cpu %.7g", pass, t, s, y[s], ref[s * T + t]);
                    t = T;
                    break;
                }
        }
        /* T = 40 rounds up to 48 positions (3 blocks): 8 more steps fit, the 9th fails. */
        for (int t = 0; t < 8; t++) TI_CHECK_OK(ti_cuda_decoder_step(d, y, xs));
        TI_CHECK_ERR(ti_cuda_decoder_step(d, y, xs), TI_ERR_LIMIT, "context is full");
        TI_CHECK_OK(ti_cuda_decoder_reset(d));
    }
    ti_cuda_decoder_destroy(d);
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
    free(x), free(ref), free(xs);
}

int main(void)
{
    int n = 0;
    if (ti_cuda_device_count(&n) || ti_cuda_create(&g_cu, 0)) snprintf(g_why, sizeof g_why, "%s", ti_errmsg());
    TI_RUN(tinyrv_small_matches_cpu);
    TI_RUN(rv_causal_small_matches_cpu);
    TI_RUN(seed_tinyrv_matches_cpu);
    TI_RUN(decoder_steps_match_causal_forward);
    ti_cuda_destroy(g_cu);
    return ti_test_summary();
}
