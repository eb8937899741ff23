/* The linear kind: y = b0 + sum_k b_k * term_k(x), each term a transform of one feature
 * aggregated over the trailing rows of the window (HAR-style regressions as servable
 * models).  File: safetensors with tickinfer.format "linear", tensor "coef" [1 + K] F32
 * (intercept first) and metadata tickinfer.linear (JSON):
 *   {"n_features":F,"context":T,"terms":[{"feature":7,"agg":"last","window":1,
 *    "transform":"log","floor":1e-5}, ...]}
 * Each term is a window term (include/tickinfer/window_terms.h).  Inputs are raw features
 * (the file may still carry tickinfer.norm_* to standardise them first). */
#include "model/linear/linear.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "tickinfer/safetensors.h"

/* y [B] = b0 + sum b_k term_k(x_b), x [B,T,F] */
void ti_linear_predict(const ti_linear *lm, float *y, const float *x, int B, int T)
{
    const int F = lm->n_features;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * (size_t)T * (size_t)F;
        double z = lm->coef[0];
        for (int k = 0; k < lm->n_terms; k++) z += lm->coef[1 + k] * ti_wterm_eval(&lm->terms[k], xb, T, F);
        y[b] = (float)z;
    }
}

ti_err ti_linear_terms_from_json(ti_linear *lm, const char *text, const char *label)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    ti_err e = TI_OK;
    if (!root || !json_is_object(root)) {
        e = ti_errorf(TI_ERR_FORMAT, "%s: tickinfer.linear is not a JSON object (%s)", label, je.text);
        goto done;
    }
    lm->n_features = (int)json_integer_value(json_object_get(root, "n_features"));
    lm->context = (int)json_integer_value(json_object_get(root, "context"));
    json_t *terms = json_object_get(root, "terms");
    if (lm->n_features < 1 || lm->n_features > 4096 || lm->context < 1 || lm->context > 65536 || !json_is_array(terms) ||
        json_array_size(terms) > TI_LINEAR_MAX_TERMS) {
        e = ti_errorf(TI_ERR_FORMAT, "%s: tickinfer.linear needs n_features 1..4096, context 1..65536 and 0..%d terms",
                      label, TI_LINEAR_MAX_TERMS);
        goto done;
    }
    lm->n_terms = (int)json_array_size(terms);
    for (int k = 0; k < lm->n_terms && !e; k++)
        e = ti_wterm_from_json(&lm->terms[k], json_array_get(terms, (size_t)k), lm->n_features, lm->context, label, k);
done:
    json_decref(root);
    return e;
}

ti_err ti_linear_terms_to_json(char **out, const ti_linear *lm)
{
    json_t *root = json_object(), *terms = json_array();
    json_object_set_new(root, "n_features", json_integer(lm->n_features));
    json_object_set_new(root, "context", json_integer(lm->context));
    for (int k = 0; k < lm->n_terms; k++) json_array_append_new(terms, ti_wterm_to_json(&lm->terms[k]));
    json_object_set_new(root, "terms", terms);
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    return *out ? TI_OK : ti_errorf(TI_ERR_NOMEM, "linear: out of memory");
}

ti_err ti_linear_save(const ti_linear *lm, const char *path, const char *const *feature_names, float rv_scale)
{
    ti_st_builder *b = NULL;
    char *terms = NULL;
    ti_err e = ti_st_builder_create(&b);
    float coef[1 + TI_LINEAR_MAX_TERMS];
    for (int k = 0; k <= lm->n_terms; k++) coef[k] = (float)lm->coef[k];
    const int64_t shape[1] = {1 + lm->n_terms};
    if (!e) e = ti_st_builder_add(b, "coef", TI_ST_F32, 1, shape, coef);
    if (!e) e = ti_st_builder_set_meta(b, "tickinfer.format", "linear");
    if (!e) e = ti_st_builder_set_meta(b, "tickinfer.format_version", "1");
    if (!e) e = ti_linear_terms_to_json(&terms, lm);
    if (!e) e = ti_st_builder_set_meta(b, "tickinfer.linear", terms);
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", rv_scale);
    if (!e) e = ti_st_builder_set_meta(b, "rv_scale", buf);
    if (!e && feature_names) {
        json_t *a = json_array();
        for (int i = 0; i < lm->n_features; i++) json_array_append_new(a, json_string(feature_names[i]));
        char *s = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        e = s ? ti_st_builder_set_meta(b, "tickinfer.features", s) : ti_errorf(TI_ERR_NOMEM, "linear: out of memory");
        free(s);
    }
    if (!e) e = ti_st_builder_write(b, path);
    free(terms);
    ti_st_builder_destroy(b);
    return e ? ti_error_wrap(e, "linear model %s", path) : TI_OK;
}

/* ---- the kind -------------------------------------------------------------------------- */

static int lin_probe(const char *path, const uint8_t *head, size_t n)
{
    if (n < 9 || head[8] != '{') return 0;
    ti_safetensors *st = NULL;
    if (ti_safetensors_open(&st, path) != TI_OK) {
        ti_error_clear();
        return 0;
    }
    const char *f = ti_safetensors_meta(st, "tickinfer.format");
    const int yes = f && strcmp(f, "linear") == 0;
    ti_safetensors_close(st);
    return yes ? 20 : 0;
}

static ti_err lin_load(void **impl, ti_model_info *mi, ti_model_norm *norm, const char *path, const ti_model_opts *o)
{
    ti_safetensors *st = NULL;
    ti_err e = ti_safetensors_open(&st, path);
    if (e) return e;
    ti_linear *lm = calloc(1, sizeof *lm);
    if (!lm) e = ti_errorf(TI_ERR_NOMEM, "linear model %s: out of memory", path);
    const char *terms = e ? NULL : ti_safetensors_meta(st, "tickinfer.linear");
    if (!e && !terms) e = ti_errorf(TI_ERR_FORMAT, "linear model %s: metadata tickinfer.linear is missing", path);
    if (!e) e = ti_linear_terms_from_json(lm, terms, path);
    const float *coef = NULL;
    if (!e) {
        const int64_t shape[1] = {1 + lm->n_terms};
        e = ti_safetensors_get_f32(st, "coef", 1, shape, &coef);
    }
    if (!e) {
        for (int k = 0; k <= lm->n_terms; k++) lm->coef[k] = coef[k];
        const char *v = ti_safetensors_meta(st, "rv_scale");
        norm->rv_scale = v ? strtof(v, NULL) : 1.0f;
        norm->n_features = lm->n_features;
        snprintf(mi->arch, sizeof mi->arch, "linear");
        mi->n_features = lm->n_features;
        mi->context = lm->context;
        mi->n_params = (size_t)lm->n_terms + 1;
        ti_model_info_main_io(mi);
    }
    ti_safetensors_close(st);
    if (e) {
        free(lm);
        return ti_error_wrap(e, "linear model");
    }
    *impl = lm;
    return TI_OK;
}

static void lin_destroy(void *impl) { free(impl); }
static ti_err lin_ctx_create(void **ctx, const void *impl, int max_batch)
{
    *ctx = NULL; /* stateless: nothing to keep */
    return TI_OK;
}
static void lin_ctx_destroy(void *ctx) {}

static ti_err lin_forward(const void *impl, void *ctx, ti_tensor *out, int n_out, const ti_tensor *in, int n_in,
                          ti_pool *pool)
{
    ti_linear_predict(impl, out[0].data, in[0].data, (int)in[0].shape[0], (int)in[0].shape[1]);
    return TI_OK;
}

const ti_model_kind_ops ti_kind_linear = {
    .name = "linear",
    .probe = lin_probe,
    .load = lin_load,
    .destroy = lin_destroy,
    .ctx_create = lin_ctx_create,
    .ctx_destroy = lin_ctx_destroy,
    .forward = lin_forward,
};
