/* ONNX export of both models (full forward) and rv_causal's one-step decode graph.
 *
 * Built from primitive opset-17 ops so any runtime runs it: MatMul + Add for Linear (the
 * weight stays in PyTorch's [out,in] layout under its state-dict name and goes through a
 * Transpose, which runtimes fold at load), LayerNormalization, Reshape/Transpose/Gather to
 * split heads, MatMul + Softmax attention, Tanh for gelu_tanh, Relu.  ALiBi + the causal
 * mask are computed in the graph from Range over the sequence length (a constant [H,T,T]
 * table would cost H * context^2 floats), so T stays dynamic. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_build.h"
#include "onnx/onnx_internal.h"
#include "tickinfer/fileio.h"
#include "tickinfer/onnx.h"
#include "tickinfer/version.h"

#define OPSET 17

typedef struct gx {
    ob_graph *b;
    const ti_tfm *m;
    const ti_tfm_config *c;
    int H, hd, C;
    const char *alibi; /* ALiBi bias to add to the scores (rv_causal), or NULL */
} gx;

/* The initializer for model tensor `name` (each is used once per graph). */
static const char *wt(gx *g, const char *name)
{
    const ti_tfm_tensor *t = ti_tfm_find_tensor(g->m, name);
    if (!t) { /* a bug in the name tables, not bad input */
        if (!g->b->err) g->b->err = ti_errorf(TI_ERR_STATE, "onnx export: model has no tensor '%s'", name);
        return "";
    }
    return ob_init_f32(g->b, name, t->ndim, t->shape, ti_tfm_params(g->m) + t->offset, 0);
}

static const char *lwt(gx *g, int l, int slot)
{
    char name[TI_MODEL_MAX_NAME];
    snprintf(name, sizeof name, onnx_layer_fmt(g->c->kind, slot), l);
    return wt(g, name);
}

static const char *perm_op(gx *g, const char *x, int n, const int64_t *perm, const char *hint)
{
    const char *y = ob_op(g->b, "Transpose", hint, NULL, 1, x);
    ob_attr_ints(g->b, "perm", n, perm);
    return y;
}

/* y [...,N] = x [...,K] @ W^T + b with W [N,K] */
static const char *linear(gx *g, const char *x, const char *w, const char *bias, const char *hint)
{
    static const int64_t t2[2] = {1, 0};
    const char *w_t = perm_op(g, w, 2, t2, hint);
    return ob_op(g->b, "Add", hint, NULL, 2, ob_op(g->b, "MatMul", hint, NULL, 2, x, w_t), bias);
}

static const char *layernorm(gx *g, const char *x, const char *w, const char *bias, const char *hint)
{
    const char *y = ob_op(g->b, "LayerNormalization", hint, NULL, 3, x, w, bias);
    ob_attr_i(g->b, "axis", -1);
    ob_attr_f(g->b, "epsilon", g->c->ln_eps);
    return y;
}

/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's approximate="tanh" */
static const char *gelu_tanh(gx *g, const char *x)
{
    ob_graph *b = g->b;
    const char *x3 = ob_op(b, "Mul", "gelu", NULL, 2, ob_op(b, "Mul", "gelu", NULL, 2, x, x), x);
    const char *in = ob_op(b, "Add", "gelu", NULL, 2, x,
                           ob_op(b, "Mul", "gelu", NULL, 2, x3, ob_scalar_f32(b, "gelu_c", 0.044715f)));
    const char *th = ob_op(b, "Tanh", "gelu", NULL, 1,
                           ob_op(b, "Mul", "gelu", NULL, 2, in, ob_scalar_f32(b, "gelu_k", 0.7978845608028654f)));
    const char *half = ob_op(b, "Mul", "gelu", NULL, 2, x, ob_scalar_f32(b, "gelu_half", 0.5f));
    return ob_op(b, "Mul", "gelu", NULL, 2, half, ob_op(b, "Add", "gelu", NULL, 2, th, ob_scalar_f32(b, "one", 1.0f)));
}

static const char *activation(gx *g, const char *x)
{
    switch (g->c->activation) {
    case TI_ACT_RELU: return ob_op(g->b, "Relu", "relu", NULL, 1, x);
    case TI_ACT_GELU_TANH: return gelu_tanh(g, x);
    case TI_ACT_NONE: return x;
    default:
        if (!g->b->err)
            g->b->err = ti_errorf(TI_ERR_UNSUPPORTED, "onnx export: activation %s has no ONNX lowering here",
                                  ti_tfm_act_name(g->c->activation));
        return "";
    }
}

/* qkv [B,T,3C] -> q, k, v [B,H,T,hd] */
static void split_heads(gx *g, const char *qkv, const char **q, const char **k, const char **v)
{
    static const int64_t perm[5] = {2, 0, 3, 1, 4};
    const int64_t shape[5] = {0, 0, 3, g->H, g->hd}; /* 0 = keep B, T */
    const char *r = ob_op(g->b, "Reshape", "heads", NULL, 2, qkv, ob_const_i64(g->b, "heads_shape", 5, shape));
    const char *t = perm_op(g, r, 5, perm, "heads"); /* [3,B,H,T,hd] */
    const char **dst[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
        *dst[i] = ob_op(g->b, "Gather", "heads", NULL, 2, t, ob_scalar_i64(g->b, "qkv_index", i));
        ob_attr_i(g->b, "axis", 0);
    }
}

/* softmax(q k^T / sqrt(hd) + bias) v: q [B,H,Tq,hd], k, v [B,H,Tk,hd] -> [B,Tq,C] */
static const char *attention(gx *g, const char *q, const char *k, const char *v)
{
    static const int64_t kt[4] = {0, 1, 3, 2}, back[4] = {0, 2, 1, 3};
    ob_graph *b = g->b;
    const char *s = ob_op(b, "MatMul", "scores", NULL, 2, q, perm_op(g, k, 4, kt, "k_t"));
    s = ob_op(b, "Mul", "scores", NULL, 2, s, ob_scalar_f32(b, "attn_scale", 1.0f / sqrtf((float)g->hd)));
    if (g->alibi) s = ob_op(b, "Add", "scores", NULL, 2, s, g->alibi);
    const char *p = ob_op(b, "Softmax", "probs", NULL, 1, s);
    ob_attr_i(b, "axis", -1);
    const char *o = perm_op(g, ob_op(b, "MatMul", "attn", NULL, 2, p, v), 4, back, "attn");
    const int64_t shape[3] = {0, 0, g->C};
    return ob_op(b, "Reshape", "attn", NULL, 2, o, ob_const_i64(b, "merge_shape", 3, shape));
}

/* One pre-norm block on h [B,T,C].  For the decode graph past_k/past_v name the cached
 * keys/values and present_k/present_v the outputs; NULL in the full graph. */
static const char *block(gx *g, const char *h, int l, const char *past_k, const char *past_v,
                         const char *present_k, const char *present_v)
{
    ob_graph *b = g->b;
    const char *ln = layernorm(g, h, lwt(g, l, OX_LN1_W), lwt(g, l, OX_LN1_B), "ln1");
    const char *q, *k, *v;
    split_heads(g, linear(g, ln, lwt(g, l, OX_QKV_W), lwt(g, l, OX_QKV_B), "qkv"), &q, &k, &v);
    if (past_k) {
        k = ob_op(b, "Concat", NULL, present_k, 2, past_k, k);
        ob_attr_i(b, "axis", 2);
        v = ob_op(b, "Concat", NULL, present_v, 2, past_v, v);
        ob_attr_i(b, "axis", 2);
    }
    const char *a = linear(g, attention(g, q, k, v), lwt(g, l, OX_OUT_W), lwt(g, l, OX_OUT_B), "out_proj");
    h = ob_op(b, "Add", "residual", NULL, 2, h, a);
    ln = layernorm(g, h, lwt(g, l, OX_LN2_W), lwt(g, l, OX_LN2_B), "ln2");
    const char *f = activation(g, linear(g, ln, lwt(g, l, OX_FC1_W), lwt(g, l, OX_FC1_B), "fc1"));
    f = linear(g, f, lwt(g, l, OX_FC2_W), lwt(g, l, OX_FC2_B), "fc2");
    return ob_op(b, "Add", "residual", NULL, 2, h, f);
}

/* head LN + Linear(C,1): h [...,C] -> [...] squeezed on `axis`, named `out` */
static const char *head(gx *g, const char *h, int64_t axis, const char *out)
{
    const char *y = linear(g, layernorm(g, h, wt(g, "head.0.weight"), wt(g, "head.0.bias"), "head_ln"),
                           wt(g, "head.1.weight"), wt(g, "head.1.bias"), "head");
    return ob_op(g->b, "Squeeze", NULL, out, 2, y, ob_const_i64(g->b, "squeeze_axis", 1, &axis));
}

/* Shape(x)[axis] as a 0-D int64 */
static const char *dim_of(gx *g, const char *x, int64_t axis)
{
    const char *s = ob_op(g->b, "Shape", "dim", NULL, 1, x);
    ob_attr_i(g->b, "start", axis);
    ob_attr_i(g->b, "end", axis + 1);
    const int64_t zero = 0;
    return ob_op(g->b, "Squeeze", "dim", NULL, 2, s, ob_const_i64(g->b, "squeeze_axis", 1, &zero));
}

/* [0, 1, ..., n-1] as float from a 0-D int64 n */
static const char *range_f(gx *g, const char *n)
{
    const char *r = ob_op(g->b, "Range", "pos", NULL, 3, ob_scalar_i64(g->b, "zero", 0), n,
                          ob_scalar_i64(g->b, "one_i", 1));
    const char *f = ob_op(g->b, "Cast", "pos", NULL, 1, r);
    ob_attr_i(g->b, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    return f;
}

static const char *slopes(gx *g)
{
    const int64_t dims[3] = {g->H, 1, 1};
    return ob_init_f32(g->b, OX_SLOPES, 3, dims, ti_tfm_alibi(g->m), 0);
}

/* Full-sequence ALiBi + causal mask [H,T,T]: slope_h (j - i) for j <= i, -inf after. */
static const char *alibi_full(gx *g, const char *x)
{
    ob_graph *b = g->b;
    const char *pos = range_f(g, dim_of(g, x, 1));
    const int64_t a0 = 0, a1 = 1;
    const char *j = ob_op(b, "Unsqueeze", "alibi", NULL, 2, pos, ob_const_i64(b, "axes", 1, &a0)); /* [1,T] */
    const char *i = ob_op(b, "Unsqueeze", "alibi", NULL, 2, pos, ob_const_i64(b, "axes", 1, &a1)); /* [T,1] */
    const char *rel = ob_op(b, "Sub", "alibi", NULL, 2, j, i);
    const char *bias = ob_op(b, "Mul", "alibi", NULL, 2, slopes(g), rel);
    const char *future = ob_op(b, "Greater", "alibi", NULL, 2, rel, ob_scalar_f32(b, "zero_f", 0.0f));
    return ob_op(b, "Where", "alibi", NULL, 3, future, ob_scalar_f32(b, "neg_inf", -INFINITY), bias);
}

/* Decode ALiBi [H,1,P+1] for one query after the P cached keys of past_key_0: key j gets
 * slope_h (j - P) (0 for the new step itself, as in the full graph's diagonal). */
static const char *alibi_decode(gx *g, const char *past_k)
{
    ob_graph *b = g->b;
    const char *P = dim_of(g, past_k, 2);
    const char *S = ob_op(b, "Add", "alibi", NULL, 2, P, ob_scalar_i64(b, "one_i", 1));
    const char *Pf = ob_op(b, "Cast", "alibi", NULL, 1, P);
    ob_attr_i(b, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    const char *rel = ob_op(b, "Sub", "alibi", NULL, 2, range_f(g, S), Pf);
    return ob_op(b, "Mul", "alibi", NULL, 2, slopes(g), rel);
}

static void build_full(gx *g)
{
    ob_graph *b = g->b;
    const ti_tfm_config *c = g->c;
    const int tiny = c->kind == TI_TFM_TINYRV;
    const int64_t xd[3] = {-1, tiny ? c->context : -1, c->n_features};
    const char *const xp[3] = {"batch", "time", NULL};
    ob_input(b, "x", 3, xd, xp);
    const char *h = linear(g, "x", wt(g, "proj.weight"), wt(g, "proj.bias"), "proj");
    if (tiny) { /* [cls; h] + pos */
        const char *bdim = ob_op(b, "Shape", "batch", NULL, 1, "x");
        ob_attr_i(b, "start", 0);
        ob_attr_i(b, "end", 1);
        const int64_t rest[2] = {1, c->d_model};
        const char *shape = ob_op(b, "Concat", "cls_shape", NULL, 2, bdim, ob_const_i64(b, "cls_rest", 2, rest));
        ob_attr_i(b, "axis", 0);
        const char *cls = ob_op(b, "Expand", "cls", NULL, 2, wt(g, "cls"), shape);
        h = ob_op(b, "Concat", "embed", NULL, 2, cls, h);
        ob_attr_i(b, "axis", 1);
        h = ob_op(b, "Add", "embed", NULL, 2, h, wt(g, "pos"));
    } else {
        g->alibi = alibi_full(g, "x");
    }
    for (int l = 0; l < c->n_layers; l++) h = block(g, h, l, NULL, NULL, NULL, NULL);
    if (tiny) {
        h = ob_op(b, "Gather", "cls_row", NULL, 2, h, ob_scalar_i64(b, "zero", 0));
        ob_attr_i(b, "axis", 1);
        head(g, h, 1, "y_log");
        const int64_t yd[1] = {-1};
        const char *const yp[1] = {"batch"};
        ob_output(b, "y_log", 1, yd, yp);
    } else {
        head(g, h, 2, "y_log");
        const int64_t yd[2] = {-1, -1};
        ob_output(b, "y_log", 2, yd, xp);
    }
}

static void build_decode(gx *g)
{
    ob_graph *b = g->b;
    const ti_tfm_config *c = g->c;
    const int64_t xd[3] = {-1, 1, c->n_features};
    const char *const xp[3] = {"batch", NULL, NULL};
    ob_input(b, "x_t", 3, xd, xp);
    const int64_t kd[4] = {-1, g->H, -1, g->hd};
    const char *const pp[4] = {"batch", NULL, "past", NULL}, *const qp[4] = {"batch", NULL, "present", NULL};
    char pk[64], pv[64], nk[64], nv[64];
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(pk, sizeof pk, "past_key_%d", l);
        snprintf(pv, sizeof pv, "past_value_%d", l);
        ob_input(b, pk, 4, kd, pp);
        ob_input(b, pv, 4, kd, pp);
    }
    const char *h = linear(g, "x_t", wt(g, "proj.weight"), wt(g, "proj.bias"), "proj");
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(pk, sizeof pk, "past_key_%d", l);
        snprintf(pv, sizeof pv, "past_value_%d", l);
        snprintf(nk, sizeof nk, "present_key_%d", l);
        snprintf(nv, sizeof nv, "present_value_%d", l);
        if (l == 0) g->alibi = alibi_decode(g, pk); /* every layer caches the same P steps */
        h = block(g, h, l, pk, pv, nk, nv);
    }
    head(g, h, 2, "y_t");
    const int64_t yd[2] = {-1, 1};
    ob_output(b, "y_t", 2, yd, xp);
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(nk, sizeof nk, "present_key_%d", l);
        snprintf(nv, sizeof nv, "present_value_%d", l);
        ob_output(b, nk, 4, kd, qp);
        ob_output(b, nv, 4, kd, qp);
    }
}

/* JSON array text of n names or floats (%.9g) into metadata; jansson keeps escaping right. */
static void meta_json(ob_graph *b, const char *key, json_t *arr)
{
    char *s = arr ? json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (!s) {
        if (!b->err) b->err = ti_errorf(TI_ERR_NOMEM, "onnx export: metadata '%s'", key);
    } else {
        ob_meta(b, key, s);
    }
    free(s);
    json_decref(arr);
}

static json_t *floats_json(const float *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%.9g", (double)v[i]);
        json_array_append_new(a, json_real(strtod(num, NULL)));
    }
    return a;
}

static ti_err write_meta(ob_graph *b, const ti_tfm *m, const ti_ckpt_data *data, ti_onnx_graph kind)
{
    const ti_tfm_config *c = ti_tfm_get_config(m);
    char cfg[512];
    ti_err e = ti_tfm_config_to_json(cfg, sizeof cfg, c);
    if (e) return e;
    ob_meta(b, "tickinfer.config", cfg);
    ob_meta(b, "tickinfer.version", TI_VERSION_STRING);
    ob_meta(b, OX_META_GRAPH, kind == TI_ONNX_DECODE ? "decode" : "full");
    if (!data) return TI_OK;
    if ((data->feature_names || data->mean) && data->n_features != c->n_features)
        return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: %d feature entries for a model of %d features",
                         data->n_features, c->n_features);
    if (data->feature_names) {
        json_t *a = json_array();
        for (int i = 0; a && i < data->n_features; i++) json_array_append_new(a, json_string(data->feature_names[i]));
        meta_json(b, "tickinfer.features", a);
    }
    if (data->mean && data->std) {
        meta_json(b, "tickinfer.norm_mean", floats_json(data->mean, data->n_features));
        meta_json(b, "tickinfer.norm_std", floats_json(data->std, data->n_features));
    }
    for (size_t i = 0; i < data->n_extra; i++) {
        if (strncmp(data->extra_keys[i], "tickinfer.", 10) == 0)
            return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: extra metadata key '%s' uses the reserved prefix",
                             data->extra_keys[i]);
        ob_meta(b, data->extra_keys[i], data->extra_values[i]);
    }
    return b->err;
}

ti_err ti_onnx_export_memory(uint8_t **out, size_t *out_len, const ti_tfm *m, const ti_ckpt_data *data,
                             const ti_onnx_export_opts *opts)
{
    if (!out || !out_len || !m) return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: NULL argument");
    *out = NULL;
    *out_len = 0;
    const ti_onnx_graph kind = opts ? opts->graph : TI_ONNX_FULL;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    if ((unsigned)kind >= TI_ONNX__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: unknown graph kind %d", (int)kind);
    if (kind == TI_ONNX_DECODE && c->kind != TI_TFM_RV_CAUSAL)
        return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: the decode graph needs an rv_causal model, not %s",
                         ti_tfm_arch_name(c->kind));
    ob_graph b;
    ti_err e = ob_init(&b, kind == TI_ONNX_DECODE ? "tickinfer_rv_causal_decode" : "tickinfer_forward");
    if (e) return e;
    gx g = {.b = &b, .m = m, .c = c, .H = c->n_heads, .hd = c->d_model / c->n_heads, .C = c->d_model};
    if (kind == TI_ONNX_DECODE) build_decode(&g);
    else build_full(&g);
    e = b.err ? b.err : write_meta(&b, m, data, kind);
    if (!e) {
        const char *pv = opts && opts->producer_version ? opts->producer_version : TI_VERSION_STRING;
        e = ob_pack(&b, OPSET, pv, out, out_len);
    }
    ob_free(&b);
    return e;
}

ti_err ti_onnx_export(const char *path, const ti_tfm *m, const ti_ckpt_data *data,
                      const ti_onnx_export_opts *opts)
{
    if (!path) return ti_errorf(TI_ERR_INVALID_ARG, "onnx export: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    ti_err e = ti_onnx_export_memory(&buf, &len, m, data, opts);
    if (!e) {
        e = ti_write_file_atomic(path, buf, len);
        if (e) e = ti_error_wrap(e, "onnx export %s", path);
    }
    free(buf);
    return e;
}
