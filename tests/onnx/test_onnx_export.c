/* ONNX export: every exported graph passes onnx.checker (full_check) and ONNX Runtime's
 * output equals tickinfer's forward within 1e-4 (max abs) on fixed inputs:
 *   rv_causal full graph (models/rv_causal_optiver.safetensors), two sequence lengths;
 *   rv_causal decode graph run as a stream from an empty past, against ti_tfm_forward on
 *   each growing prefix (last position);
 *   TinyRV full graph with the seed's weights (tests/model/data/seed_rv_tiny/best.pt).
 * Without Python: argument errors and the metadata round trip through the importer's
 * parser are checked in test_onnx_import.  Oracle tests skip when TI_PYTHON is unset. */
#include "onnx_test_util.h"
#include "tickinfer/transformer.h"
#include "tickinfer/onnx.h"

#define TOL 1e-4

static ti_tfm *load(const char *path, ti_ckpt_meta *meta)
{
    ti_tfm *m = NULL;
    TI_CHECK_OK(ti_tfm_load(&m, meta, path, NULL));
    return m;
}

/* Export m (graph kind) with its metadata to tmp/name and run the checker on it. */
static int export_checked(const ti_tfm *m, const ti_ckpt_meta *meta, ti_onnx_graph kind, const char *path)
{
    ti_ckpt_data d = {.n_features = meta->n_features,
                      .feature_names = (const char *const *)meta->feature_names,
                      .mean = meta->mean,
                      .std = meta->std};
    ti_onnx_export_opts o = {.graph = kind};
    ti_err e = ti_onnx_export(path, m, &d, &o);
    if (e) {
        TI_FAILF("export %s: %s", path, ti_errmsg());
        return 0;
    }
    if (oracle("check '%s'", path) != 0) {
        TI_FAILF("onnx.checker rejected %s", path);
        return 0;
    }
    return 1;
}

/* ORT full forward vs ti_tfm_forward on x [B,T,F]. */
static void full_parity(const char *ckpt, int B, int T, uint64_t seed, const char *name)
{
    ti_ckpt_meta meta;
    ti_tfm *m = load(ckpt, &meta);
    if (!m) return;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    const char *onnx = tmp_path(name);
    if (!export_checked(m, &meta, TI_ONNX_FULL, onnx)) goto done;
    const int F = c->n_features, ny = c->kind == TI_TFM_TINYRV ? B : B * T;
    float *x = malloc((size_t)B * T * F * sizeof *x), *y = malloc((size_t)ny * sizeof *y), *yo = NULL;
    fill_inputs(x, (size_t)B * T * F, seed);
    const char *xp = tmp_path("x.f32"), *yp = tmp_path("y.f32");
    TI_CHECK(write_f32(xp, x, (size_t)B * T * F));
    ti_runstate *rs = NULL;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, 0, 0));
    TI_CHECK_OK(ti_tfm_forward(m, rs, y, x, B, T, NULL));
    if (oracle("run '%s' '%s' %d %d %d '%s'", onnx, xp, B, T, F, yp) != 0) TI_FAILF("ORT run of %s failed", onnx);
    else if ((yo = read_f32(yp, (size_t)ny)) != NULL) {
        double d = max_abs_diff(y, yo, (size_t)ny);
        TI_CHECK_MSG(d <= TOL, "%s B=%d T=%d: max |ORT - tickinfer| = %.3g > %g", name, B, T, d, TOL);
        /* a non-trivial output: the comparison means something */
        TI_CHECK(fabsf(y[0]) > 1e-3f || fabsf(y[ny - 1]) > 1e-3f);
    }
    ti_runstate_destroy(rs);
    free(x), free(y), free(yo);
done:
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(m);
}

TI_TEST(causal_full_matches_ort)
{
    if (!python()) TI_SKIP("TI_PYTHON unset: no ONNX Runtime oracle");
    full_parity(RV_CAUSAL_CKPT, 3, 37, 1, "causal_a.onnx");
    full_parity(RV_CAUSAL_CKPT, 1, 300, 2, "causal_b.onnx"); /* the whole context */
}

TI_TEST(tinyrv_full_matches_ort)
{
    if (!python()) TI_SKIP("TI_PYTHON unset: no ONNX Runtime oracle");
    full_parity(SEED_PT, 2, 600, 3, "tiny.onnx");
}

/* The decode graph streamed from P = 0 equals the full forward on every growing prefix. */
TI_TEST(causal_decode_stream_matches_forward)
{
    if (!python()) TI_SKIP("TI_PYTHON unset: no ONNX Runtime oracle");
    ti_ckpt_meta meta;
    ti_tfm *m = load(RV_CAUSAL_CKPT, &meta);
    if (!m) return;
    const int B = 2, T = 24, F = ti_tfm_get_config(m)->n_features;
    const char *onnx = tmp_path("decode.onnx"), *xp = tmp_path("xs.f32"), *yp = tmp_path("ys.f32");
    float *x = malloc((size_t)B * T * F * sizeof *x), *pre = malloc((size_t)B * T * F * sizeof *pre);
    float *yfull = malloc((size_t)B * T * sizeof *yfull), *y = malloc((size_t)B * T * sizeof *y), *yo = NULL;
    fill_inputs(x, (size_t)B * T * F, 4);
    ti_runstate *rs = NULL;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, T, 0));
    /* reference: the last position of the forward on x[:, :t+1] */
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++)
            memcpy(pre + (size_t)b * (t + 1) * F, x + (size_t)b * T * F, (size_t)(t + 1) * F * sizeof *x);
        TI_CHECK_OK(ti_tfm_forward(m, rs, yfull, pre, B, t + 1, NULL));
        for (int b = 0; b < B; b++) y[(size_t)b * T + t] = yfull[(size_t)b * (t + 1) + t];
    }
    if (export_checked(m, &meta, TI_ONNX_DECODE, onnx) && write_f32(xp, x, (size_t)B * T * F)) {
        if (oracle("decode '%s' '%s' %d %d %d '%s'", onnx, xp, B, T, F, yp) != 0) TI_FAILF("ORT decode failed");
        else if ((yo = read_f32(yp, (size_t)B * T)) != NULL) {
            double d = max_abs_diff(y, yo, (size_t)B * T);
            TI_CHECK_MSG(d <= TOL, "decode stream: max |ORT - tickinfer| = %.3g > %g", d, TOL);
        }
    }
    ti_runstate_destroy(rs);
    free(x), free(pre), free(yfull), free(y), free(yo);
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(m);
}

TI_TEST(export_argument_errors)
{
    ti_ckpt_meta meta;
    ti_tfm *m = load(SEED_PT, &meta);
    if (!m) return;
    uint8_t *buf = NULL;
    size_t len = 0;
    ti_onnx_export_opts dec = {.graph = TI_ONNX_DECODE};
    TI_CHECK_ERR(ti_onnx_export_memory(&buf, &len, m, NULL, &dec), TI_ERR_INVALID_ARG, "needs an rv_causal");
    const float mean[3] = {0, 0, 0};
    ti_ckpt_data bad = {.n_features = 3, .mean = mean, .std = mean};
    TI_CHECK_ERR(ti_onnx_export_memory(&buf, &len, m, &bad, NULL), TI_ERR_INVALID_ARG, "3 feature entries");
    const char *k[1] = {"tickinfer.config"}, *v[1] = {"x"};
    ti_ckpt_data res = {.n_extra = 1, .extra_keys = k, .extra_values = v};
    TI_CHECK_ERR(ti_onnx_export_memory(&buf, &len, m, &res, NULL), TI_ERR_INVALID_ARG, "reserved prefix");
    TI_CHECK(ti_onnx_export("/nonexistent-dir/x.onnx", m, NULL, NULL) != TI_OK);
    TI_CHECK(strstr(ti_errmsg(), "onnx export /nonexistent-dir/x.onnx") != NULL);
    TI_CHECK(buf == NULL);
    TI_CHECK_OK(ti_onnx_export_memory(&buf, &len, m, NULL, NULL));
    TI_CHECK(len > ti_tfm_n_params(m) * sizeof(float)); /* the weights are in it */
    free(buf);
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(m);
}

int main(void)
{
    tmp_init();
    TI_RUN(export_argument_errors);
    TI_RUN(causal_full_matches_ort);
    TI_RUN(causal_decode_stream_matches_forward);
    TI_RUN(tinyrv_full_matches_ort);
    tmp_cleanup();
    return ti_test_summary();
}
