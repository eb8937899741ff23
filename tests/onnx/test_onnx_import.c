/* ONNX import.
 * Without Python: the bundled fixtures (tests/data/onnx/, made by tests/py/onnx_make_fixtures.py)
 * import to the expected configs and reproduce PyTorch's outputs (reference.json, <= 1e-4):
 * torch.onnx.export of TinyRV at opset 14 and 17 (constant folding on and off, i.e. MatMul
 * on pre-transposed weights, Gemm, Transpose + MatMul, LayerNormalization and its opset-14
 * decomposition) and our rv_causal export; malformed / unsupported files fail with the
 * expected code and a message naming the problem; every truncation of a valid file fails
 * cleanly; our exports of the real models round-trip bit for bit with their metadata.
 * With TI_PYTHON: PyTorch exports the seed TinyRV (best.pt) at several opsets, we import it
 * and our forward matches PyTorch's within 1e-4. */
#include <jansson.h>

#include "onnx_test_util.h"
#include "tickinfer/fileio.h"
#include "tickinfer/transformer.h"
#include "tickinfer/onnx.h"

#define TOL 1e-4
#define FIX "tests/data/onnx/"

static float *json_floats(json_t *root, const char *key, size_t *n)
{
    json_t *a = json_object_get(root, key);
    *n = json_array_size(a);
    float *v = malloc(*n * sizeof *v + 4);
    for (size_t i = 0; v && i < *n; i++) v[i] = (float)json_real_value(json_array_get(a, i));
    return v;
}

static void forward_check(ti_tfm *m, const float *x, int B, int T, const float *want, size_t n_want, const char *what)
{
    ti_runstate *rs = NULL;
    float *y = malloc(n_want * sizeof *y);
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, T, 0));
    TI_CHECK_OK(ti_tfm_forward(m, rs, y, x, B, T, NULL));
    double d = max_abs_diff(y, want, n_want);
    TI_CHECK_MSG(d <= TOL, "%s: max |tickinfer - PyTorch| = %.3g > %g", what, d, TOL);
    ti_runstate_destroy(rs);
    free(y);
}

TI_TEST(fixtures_import_and_match_pytorch)
{
    json_error_t je;
    json_t *ref = json_load_file(FIX "reference.json", 0, &je);
    TI_CHECK_MSG(ref != NULL, "reference.json: %s", je.text);
    if (!ref) return;
    size_t nx, nt, nc;
    float *x = json_floats(ref, "x", &nx), *yt = json_floats(ref, "tinyrv_y", &nt), *yc = json_floats(ref, "causal_y", &nc);
    TI_CHECK(nx == 12 && nt == 2 && nc == 6);
    static const char *const torch_files[] = {"torch_tinyrv_op14.onnx", "torch_tinyrv_op17.onnx",
                                              "torch_tinyrv_op17_nofold.onnx"};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, FIX "%s", torch_files[i]);
        ti_tfm *m = NULL;
        ti_onnx_info info;
        TI_CHECK_OK(ti_onnx_import(&m, &info, path, NULL));
        if (!m) continue;
        const ti_tfm_config *c = ti_tfm_get_config(m);
        TI_CHECK(c->kind == TI_TFM_TINYRV && c->n_features == 2 && c->context == 3 && c->d_model == 4);
        TI_CHECK(c->n_heads == 2 && c->n_layers == 1 && c->d_ff == 8 && c->activation == TI_ACT_RELU);
        TI_CHECK_NEAR(c->ln_eps, 1e-5, 1e-9);
        TI_CHECK(info.meta.config_source == TI_CONFIG_INFERRED);
        TI_CHECK(info.opset == (i == 0 ? 14 : 17));
        TI_CHECK(strstr(info.producer, "pytorch") != NULL);
        forward_check(m, x, 2, 3, yt, nt, torch_files[i]);
        ti_onnx_info_free(&info);
        ti_tfm_destroy(m);
    }
    /* the same causal weights with q, k, v as three Linears joined by a Concat */
    ti_tfm *m = NULL;
    TI_CHECK_OK(ti_onnx_import(&m, NULL, FIX "causal_split_qkv.onnx", NULL));
    if (m) forward_check(m, x, 2, 3, yc, nc, "causal_split_qkv.onnx");
    ti_tfm_destroy(m);
    m = NULL;
    ti_onnx_info info;
    TI_CHECK_OK(ti_onnx_import(&m, &info, FIX "ti_causal_full.onnx", NULL));
    if (m) {
        const ti_tfm_config *c = ti_tfm_get_config(m);
        TI_CHECK(c->kind == TI_TFM_RV_CAUSAL && c->context == 16 && c->n_heads == 2 && c->activation == TI_ACT_GELU_TANH);
        TI_CHECK(info.meta.config_source == TI_CONFIG_FROM_METADATA);
        TI_CHECK(info.meta.n_features == 2 && info.meta.feature_names && strcmp(info.meta.feature_names[1], "f1") == 0);
        TI_CHECK(info.n_extra == 1 && strcmp(info.extra_keys[0], "rv_scale") == 0 && strcmp(info.extra_values[0], "0.5") == 0);
        forward_check(m, x, 2, 3, yc, nc, "ti_causal_full.onnx");
    }
    ti_onnx_info_free(&info);
    ti_tfm_destroy(m);
    free(x), free(yt), free(yc);
    json_decref(ref);
}

TI_TEST(bad_files_fail_clearly)
{
    static const struct {
        const char *file;
        ti_err code;
        const char *msg;
    } cases[] = {
        {"empty.onnx", TI_ERR_FORMAT, "empty file"},
        {"garbage.onnx", TI_ERR_FORMAT, "not an ONNX ModelProto"},
        {"truncated_half.onnx", TI_ERR_FORMAT, "truncated or corrupt"},
        {"truncated_end.onnx", TI_ERR_FORMAT, "truncated or corrupt"},
        {"deep_nesting.onnx", TI_ERR_LIMIT, "nest deeper than 64"},
        {"opset12.onnx", TI_ERR_UNSUPPORTED, "opset 12"},
        {"external_data.onnx", TI_ERR_UNSUPPORTED, "external file"},
        {"unknown_op.onnx", TI_ERR_UNSUPPORTED, "(op Selu) is not supported"},
        {"softmax_to_relu.onnx", TI_ERR_UNSUPPORTED, "(op Relu) does not fit the transformer pattern: expected the attention softmax"},
        {"wrong_shape.onnx", TI_ERR_UNSUPPORTED, "expected the attention out_proj Linear C->C"},
        {"ti_causal_decode.onnx", TI_ERR_UNSUPPORTED, "3 data inputs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, FIX "%s", cases[i].file);
        ti_tfm *m = (ti_tfm *)&m; /* must come back NULL */
        ti_onnx_info info;
        TI_CHECK_ERR(ti_onnx_import(&m, &info, path, NULL), cases[i].code, cases[i].msg);
        TI_CHECK(m == NULL && info.pattern == NULL && info.n_extra == 0);
        TI_CHECK(strstr(ti_errmsg(), path) != NULL); /* names the file */
    }
    ti_tfm *m = NULL;
    TI_CHECK_ERR(ti_onnx_import(&m, NULL, FIX "no-such.onnx", NULL), TI_ERR_NOT_FOUND, "no-such.onnx");
    TI_CHECK_ERR(ti_onnx_import_memory(&m, NULL, NULL, 3, "x", NULL), TI_ERR_INVALID_ARG, "NULL");
}

/* Every prefix of a valid file fails (or, for a prefix that is itself a valid protobuf, still
 * fails the pattern) without crashing; ASan checks the reads. */
TI_TEST(every_truncation_fails)
{
    char *buf = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file(FIX "ti_causal_full.onnx", 0, &buf, &len));
    if (!buf) return;
    int ok = 0;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 64) {
        ti_tfm *m = NULL;
        if (ti_onnx_import_memory(&m, NULL, (const uint8_t *)buf, cut, "cut", NULL) == TI_OK) ok++;
        ti_tfm_destroy(m);
    }
    TI_CHECK_MSG(ok == 0, "%d truncated files imported", ok);
    free(buf);
}

/* Our exports of the real models import back bit for bit, metadata included. */
static void round_trip(const char *ckpt)
{
    ti_tfm *m = NULL, *back = NULL;
    ti_ckpt_meta meta;
    TI_CHECK_OK(ti_tfm_load(&m, &meta, ckpt, NULL));
    if (!m) return;
    const char *k[2] = {"rv_scale", "note"}, *v[2] = {"0.894328401", "round \"trip\""};
    ti_ckpt_data d = {.n_features = meta.n_features, .feature_names = (const char *const *)meta.feature_names,
                      .mean = meta.mean, .std = meta.std, .n_extra = 2, .extra_keys = k, .extra_values = v};
    uint8_t *buf = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_onnx_export_memory(&buf, &len, m, &d, NULL));
    ti_onnx_info info;
    TI_CHECK_OK(ti_onnx_import_memory(&back, &info, buf, len, ckpt, NULL));
    if (back) {
        const ti_tfm_config *a = ti_tfm_get_config(m), *b = ti_tfm_get_config(back);
        TI_CHECK(memcmp(a, b, sizeof *a) == 0);
        TI_CHECK(ti_tfm_n_params(back) == ti_tfm_n_params(m));
        TI_CHECK(memcmp(ti_tfm_params(back), ti_tfm_params(m), ti_tfm_n_params(m) * sizeof(float)) == 0);
        TI_CHECK(info.meta.n_features == meta.n_features);
        for (int i = 0; meta.feature_names && i < meta.n_features; i++)
            TI_CHECK(info.meta.feature_names && strcmp(info.meta.feature_names[i], meta.feature_names[i]) == 0);
        for (int i = 0; meta.mean && i < meta.n_features; i++) {
            TI_CHECK(info.meta.mean && info.meta.mean[i] == meta.mean[i]); /* %.9g round-trips floats */
            TI_CHECK(info.meta.std && info.meta.std[i] == meta.std[i]);
        }
        TI_CHECK(info.n_extra == 2 && strcmp(info.extra_values[1], "round \"trip\"") == 0);
        TI_CHECK(strcmp(info.meta.version, "0.1.0") == 0 && strncmp(info.producer, "tickinfer", 9) == 0);
    }
    free(buf);
    ti_onnx_info_free(&info);
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(back);
    ti_tfm_destroy(m);
}

TI_TEST(own_exports_round_trip)
{
    round_trip(RV_CAUSAL_CKPT);
    round_trip(SEED_PT);
}

/* PyTorch's own export of the seed model, at several opsets, imports and matches PyTorch. */
TI_TEST(torch_seed_export_imports)
{
    if (!python()) TI_SKIP("TI_PYTHON unset: no PyTorch exporter");
    static const struct {
        int opset, fold;
    } v[] = {{14, 1}, {16, 0}, {17, 1}};
    const int B = 2, T = 600, F = 14;
    float *x = malloc((size_t)B * T * F * sizeof *x);
    fill_inputs(x, (size_t)B * T * F, 9);
    char xp[192], yp[192]; /* tmp_path's buffers rotate */
    snprintf(xp, sizeof xp, "%s", tmp_path("x.f32"));
    snprintf(yp, sizeof yp, "%s", tmp_path("y.f32"));
    TI_CHECK(write_f32(xp, x, (size_t)B * T * F));
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "seed_op%d_%d.onnx", v[i].opset, v[i].fold);
        const char *onnx = tmp_path(name);
        if (oracle("torch_tinyrv '%s' %d %d '%s' '%s' %d '%s'", SEED_PT, v[i].opset, v[i].fold, onnx, xp, B, yp) != 0) {
            TI_FAILF("torch export at opset %d failed", v[i].opset);
            continue;
        }
        float *yt = read_f32(yp, (size_t)B);
        ti_tfm *m = NULL;
        ti_onnx_info info;
        TI_CHECK_OK(ti_onnx_import(&m, &info, onnx, NULL));
        if (m && yt) {
            TI_CHECK(ti_tfm_get_config(m)->n_heads == 4 && ti_tfm_get_config(m)->n_layers == 3);
            TI_CHECK(info.opset == v[i].opset);
            forward_check(m, x, B, T, yt, (size_t)B, name);
            ti_onnx_info_free(&info);
        }
        ti_tfm_destroy(m);
        free(yt);
    }
    free(x);
}

int main(void)
{
    tmp_init();
    TI_RUN(fixtures_import_and_match_pytorch);
    TI_RUN(bad_files_fail_clearly);
    TI_RUN(every_truncation_fails);
    TI_RUN(own_exports_round_trip);
    TI_RUN(torch_seed_export_imports);
    tmp_cleanup();
    return ti_test_summary();
}
