/* The tree kind ("trees"): gradient-boosted trees and forests from LightGBM, XGBoost and
 * ONNX-ML files behind the model interface.
 *
 * Two shapes:
 *   - a tree file itself (model.txt, model.json / .ubj, an ONNX TreeEnsemble*): a row
 *     model, x [B, 1, F] -> y [B] (or [B, C] for a classifier's C probabilities), exactly
 *     the library's predict;
 *   - a "tickinfer-trees" JSON that puts window terms (include/tickinfer/window_terms.h)
 *     in front of a tree file, so trees trained on the flat export (`tickinfer dataset
 *     export --flat`) read per-second windows x [B, T, F] like every RV model, stream
 *     through the window adapter and sit in ensembles beside transformers:
 *       {"format": "tickinfer-trees", "version": 1, "trees": "rv_lgbm.txt",
 *        "output": "rv" | "log_rv" | "raw", "n_features": F, "context": T,
 *        "terms": [...], "feature_names": [...F per-second names], "rv_scale": 1}
 *     "output": "rv" -> y = log(max(pred, 1e-12)) (the RV convention: y is log RV). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt/forest.h"
#include "model/model_internal.h"
#include "tickinfer/fileio.h"
#include "tickinfer/window_terms.h"

#define GB_MAX_TERMS 512
#define GB_FILE_MAX ((size_t)4 << 30)

enum { OUT_RAW = 0, OUT_RV, OUT_LOG_RV };

typedef struct gb_model {
    gb_forest f;
    char library[16];   /* "lightgbm", "xgboost", "onnx" */
    int windowed;       /* a tickinfer-trees wrapper */
    int n_terms;
    ti_wterm *terms;
    int n_sec, context; /* wrapper: per-second features and window */
    int output;
    int cols;
} gb_model;

typedef struct gb_ctx {
    float *rows;        /* [max_batch, n_terms] (wrapper) */
    float *pred;        /* [max_batch] */
    int max_batch;
} gb_ctx;

static int skip_ws(const uint8_t *h, size_t n, size_t i)
{
    while (i < n && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t')) i++;
    return (int)i;
}

static int has_bytes(const uint8_t *h, size_t n, const char *s)
{
    const size_t k = strlen(s);
    for (size_t j = 0; j + k <= n; j++)
        if (memcmp(h + j, s, k) == 0) return 1;
    return 0;
}

/* Which library wrote these bytes: 'L' LightGBM, 'J' XGBoost JSON, 'U' XGBoost UBJSON,
 * 'O' ONNX, 'W' the wrapper, 0 none. */
static int sniff(const char *path, const uint8_t *h, size_t n)
{
    if (n >= 5 && memcmp(h, "tree", 4) == 0 && (h[4] == '\n' || h[4] == '\r')) return 'L';
    const size_t i = (size_t)skip_ws(h, n, 0);
    if (i < n && h[i] == '{') {
        if (has_bytes(h, n, "\"tickinfer-trees\"")) return 'W';
        const size_t j = (size_t)skip_ws(h, n, i + 1);
        const int text = j < n && h[j] == '"';
        if (has_bytes(h, n, "learner")) return text ? 'J' : 'U';
        if (!text && ti_path_has_ext(path, ".ubj")) return 'U';
    }
    if (ti_path_has_ext(path, ".onnx") && has_bytes(h, n, "TreeEnsemble")) return 'O';
    return 0;
}

static int gb_probe(const char *path, const uint8_t *head, size_t n)
{
    int s = sniff(path, head, n);
    if (!s && ti_path_has_ext(path, ".onnx")) {
        /* the op type sits after the graph's first node's inputs: look further */
        char *buf = NULL;
        size_t len = 0;
        if (ti_read_file(path, GB_FILE_MAX, &buf, &len) == TI_OK) {
            const size_t k = len < ((size_t)1 << 20) ? len : ((size_t)1 << 20);
            s = has_bytes((const uint8_t *)buf, k, "TreeEnsemble") ? 'O' : 0;
        }
        ti_error_clear();
        free(buf);
    }
    if (!s && (ti_path_has_ext(path, ".txt") || ti_path_has_ext(path, ".ubj"))) return 5; /* let the loader explain */
    return s ? 40 : 0;
}

static ti_err load_forest(gb_model *g, const char *path, int num_iteration)
{
    char *buf = NULL;
    size_t len = 0;
    ti_err e = ti_read_file(path, GB_FILE_MAX, &buf, &len);
    if (e) return ti_error_wrap(e, "tree model %s", path);
    const int s = sniff(path, (const uint8_t *)buf, len < 4096 ? len : 4096);
    memset(&g->f, 0, sizeof g->f);
    switch (s) {
    case 'L':
        snprintf(g->library, sizeof g->library, "lightgbm");
        e = gb_load_lightgbm(&g->f, buf, len, num_iteration, path);
        break;
    case 'J':
        snprintf(g->library, sizeof g->library, "xgboost");
        e = gb_load_xgboost_json(&g->f, buf, len, num_iteration, path);
        break;
    case 'U':
        snprintf(g->library, sizeof g->library, "xgboost");
        e = gb_load_xgboost_ubj(&g->f, (const uint8_t *)buf, len, num_iteration, path);
        break;
    case 'O':
        snprintf(g->library, sizeof g->library, "onnx");
        e = gb_load_onnx(&g->f, (const uint8_t *)buf, len, num_iteration, path);
        break;
    default:
        e = ti_errorf(TI_ERR_FORMAT, "tree model %s: not a LightGBM text model (first line 'tree'), an XGBoost JSON/UBJSON "
                      "model (with a 'learner') or an ONNX TreeEnsemble", path);
    }
    free(buf);
    return e;
}

/* The wrapper's tree file: relative to the wrapper's folder. */
static void sibling(char *out, size_t cap, const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    if (name[0] == '/' || !slash) snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, name);
}

static ti_err load_wrapper(gb_model *g, ti_model_norm *norm, const char *path, const ti_model_opts *o)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return ti_errorf(TI_ERR_FORMAT, "tree model %s: not valid JSON (line %d: %s)", path, je.line, je.text);
    ti_err e = TI_OK;
    const char *trees = json_string_value(json_object_get(root, "trees"));
    const char *out = json_string_value(json_object_get(root, "output"));
    json_t *terms = json_object_get(root, "terms"), *names = json_object_get(root, "feature_names");
    g->n_sec = (int)json_integer_value(json_object_get(root, "n_features"));
    g->context = (int)json_integer_value(json_object_get(root, "context"));
    const json_int_t ver = json_integer_value(json_object_get(root, "version"));
    if (ver != 1) e = ti_errorf(TI_ERR_UNSUPPORTED, "tree model %s: version %lld (this tickinfer reads version 1)", path, (long long)ver);
    else if (!trees || !*trees) e = ti_errorf(TI_ERR_FORMAT, "tree model %s: 'trees' (the tree file) is missing", path);
    else if (g->n_sec < 1 || g->n_sec > 4096 || g->context < 1 || g->context > 65536)
        e = ti_errorf(TI_ERR_FORMAT, "tree model %s: n_features must be 1..4096 and context 1..65536", path);
    else if (!json_is_array(terms) || json_array_size(terms) < 1 || json_array_size(terms) > GB_MAX_TERMS)
        e = ti_errorf(TI_ERR_FORMAT, "tree model %s: 'terms' must list 1..%d window terms", path, GB_MAX_TERMS);
    else if (out && strcmp(out, "rv") && strcmp(out, "log_rv") && strcmp(out, "raw"))
        e = ti_errorf(TI_ERR_FORMAT, "tree model %s: output '%s' (rv | log_rv | raw)", path, out);
    else if (names && (!json_is_array(names) || json_array_size(names) != (size_t)g->n_sec))
        e = ti_errorf(TI_ERR_FORMAT, "tree model %s: feature_names must list n_features (%d) names", path, g->n_sec);
    if (!e) {
        g->output = !out || !strcmp(out, "raw") ? OUT_RAW : !strcmp(out, "rv") ? OUT_RV : OUT_LOG_RV;
        g->n_terms = (int)json_array_size(terms);
        g->terms = calloc((size_t)g->n_terms, sizeof *g->terms);
        if (!g->terms) e = ti_errorf(TI_ERR_NOMEM, "tree model %s: out of memory", path);
        for (int k = 0; !e && k < g->n_terms; k++)
            e = ti_wterm_from_json(&g->terms[k], json_array_get(terms, (size_t)k), g->n_sec, g->context, path, k);
    }
    if (!e) {
        char tpath[1024];
        sibling(tpath, sizeof tpath, path, trees);
        json_t *ni = json_object_get(root, "num_iteration");
        e = load_forest(g, tpath, o->num_iteration ? o->num_iteration : (int)json_integer_value(ni));
        if (!e && g->f.n_features != g->n_terms)
            e = ti_errorf(TI_ERR_FORMAT, "tree model %s: its %d terms feed trees of %d features (%s)", path, g->n_terms,
                          g->f.n_features, tpath);
        if (!e && gb_forest_out_cols(&g->f) != 1)
            e = ti_errorf(TI_ERR_UNSUPPORTED, "tree model %s: a windowed tree model must give one value per row (%s gives %d)",
                          path, tpath, gb_forest_out_cols(&g->f));
        if (e) e = ti_error_wrap(e, "tree model %s", path);
    }
    if (!e) {
        json_t *rs = json_object_get(root, "rv_scale");
        norm->rv_scale = rs ? (float)json_number_value(rs) : 1.0f;
        norm->n_features = g->n_sec;
        if (names) {
            norm->feature_names = calloc((size_t)g->n_sec, sizeof *norm->feature_names);
            for (int i = 0; norm->feature_names && i < g->n_sec; i++) {
                const char *s = json_string_value(json_array_get(names, (size_t)i));
                norm->feature_names[i] = strdup(s ? s : "");
            }
        }
        const char *v = json_string_value(json_object_get(root, "tickinfer_version"));
        if (v) snprintf(norm->version, sizeof norm->version, "%s", v);
    }
    json_decref(root);
    return e;
}

static ti_err gb_load(void **impl, ti_model_info *mi, ti_model_norm *norm, const char *path, const ti_model_opts *o)
{
    gb_model *g = calloc(1, sizeof *g);
    if (!g) return ti_errorf(TI_ERR_NOMEM, "tree model %s: out of memory", path);
    uint8_t head[4096];
    size_t n = 0;
    FILE *fp = fopen(path, "rb");
    if (fp) {
        n = fread(head, 1, sizeof head, fp);
        fclose(fp);
    }
    ti_err e;
    if (fp && sniff(path, head, n) == 'W') {
        g->windowed = 1;
        e = load_wrapper(g, norm, path, o);
    } else {
        e = load_forest(g, path, o->num_iteration);
    }
    if (e) {
        free(g->terms);
        free(g);
        return e;
    }
    g->cols = gb_forest_out_cols(&g->f);
    snprintf(mi->arch, sizeof mi->arch, "%s%s", g->library, g->windowed ? "-window" : "");
    if (g->windowed) {
        mi->n_features = g->n_sec;
        mi->context = g->context;
        mi->fixed_context = 0;
    } else {
        mi->n_features = g->f.n_features;
        mi->context = 1;
        mi->fixed_context = 1;
        norm->n_features = g->f.n_features;
    }
    mi->per_step = 0;
    mi->missing_values = !g->windowed; /* a raw tree file's rows may hold NaN; window terms may not */
    mi->n_params = g->f.n_nodes;
    ti_model_info_main_io(mi);
    if (g->cols > 1) {
        mi->outputs[0].ndim = 2;
        mi->outputs[0].shape[1] = g->cols;
    }
    *impl = g;
    return TI_OK;
}

static void gb_destroy(void *impl)
{
    gb_model *g = impl;
    gb_forest_free(&g->f);
    free(g->terms);
    free(g);
}

static ti_err gb_ctx_create(void **ctx, const void *impl, int max_batch)
{
    const gb_model *g = impl;
    gb_ctx *c = calloc(1, sizeof *c);
    if (!c) return ti_errorf(TI_ERR_NOMEM, "tree model: out of memory");
    c->max_batch = max_batch;
    if (g->windowed) {
        c->rows = malloc((size_t)max_batch * (size_t)g->n_terms * sizeof *c->rows);
        c->pred = malloc((size_t)max_batch * sizeof *c->pred);
        if (!c->rows || !c->pred) {
            free(c->rows), free(c->pred), free(c);
            return ti_errorf(TI_ERR_NOMEM, "tree model: out of memory for a batch of %d", max_batch);
        }
    }
    *ctx = c;
    return TI_OK;
}

static void gb_ctx_destroy(void *ctx)
{
    gb_ctx *c = ctx;
    if (!c) return;
    free(c->rows), free(c->pred), free(c);
}

static ti_err gb_forward(const void *impl, void *ctx, ti_tensor *out, int n_out, const ti_tensor *in, int n_in,
                         ti_pool *pool)
{
    const gb_model *g = impl;
    gb_ctx *c = ctx;
    const int B = (int)in[0].shape[0], T = (int)in[0].shape[1];
    const float *x = in[0].data;
    float *y = out[0].data;
    if (g->cols > 1 && (out[0].ndim != 2 || out[0].shape[1] != g->cols))
        return ti_errorf(TI_ERR_INVALID_ARG, "tree model: it gives %d values per row (y [B, %d]); pass a 2-d output", g->cols,
                         g->cols);
    if (!g->windowed) {
        gb_forest_predict(&g->f, y, x, (size_t)B, (size_t)T * (size_t)g->f.n_features, pool);
        return TI_OK;
    }
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * (size_t)T * (size_t)g->n_sec;
        float *r = c->rows + (size_t)b * (size_t)g->n_terms;
        for (int k = 0; k < g->n_terms; k++) r[k] = (float)ti_wterm_eval(&g->terms[k], xb, T, g->n_sec);
    }
    gb_forest_predict(&g->f, c->pred, c->rows, (size_t)B, (size_t)g->n_terms, pool);
    for (int b = 0; b < B; b++) {
        const float p = c->pred[b];
        y[b] = g->output == OUT_RV ? logf(p > 1e-12f ? p : 1e-12f) : p;
    }
    return TI_OK;
}

const ti_model_kind_ops ti_kind_trees = {
    .name = "trees",
    .probe = gb_probe,
    .load = gb_load,
    .destroy = gb_destroy,
    .ctx_create = gb_ctx_create,
    .ctx_destroy = gb_ctx_destroy,
    .forward = gb_forward,
};

const gb_forest *ti_trees_forest(const ti_model *m)
{
    return ti_model_get_kind(m) == &ti_kind_trees ? &((const gb_model *)ti_model_impl(m))->f : NULL;
}
