/* ONNX import: pattern-match a transformer graph into a tickinfer model.
 *
 * Pass 1 walks the nodes (topologically sorted, as ONNX requires) and tracks, for every
 * value, whether it is a constant (initializer, Constant, Identity / Transpose of one), an
 * activation (derived from the input x) or a shape computation (Shape, Range, ...).  Shape
 * arithmetic is free to do anything; every op on an activation must be one of a few known
 * forms and becomes an event: Linear (MatMul + bias Add, or Gemm), LayerNorm (the op, or
 * torch's ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add decomposition before opset 17), CLS concat,
 * pos add, scalar scale / add, softmax, activation, attention bias (ALiBi).  Pass 2 matches
 * the event list against the pre-norm block template of model.h and reads the weights.
 * The first node that fits neither pass is named in the error. */
#define TICKINFER_ONNX_WANT_PROTO
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "tickinfer/fileio.h"
#include "tickinfer/onnx.h"

enum { V_UNDEF = -1, V_ACT = -2, V_SHAPE = -3 }; /* value codes; >= 0 indexes consts */

typedef struct ox_const {
    const Onnx__TensorProto *t;
    int transposed; /* the value is t^T (a Transpose of a 2-D constant) */
} ox_const;

enum { EV_LINEAR, EV_LN, EV_CLS, EV_POS, EV_SCALE, EV_ADDS, EV_SOFTMAX, EV_ACT, EV_BIAS };

typedef struct ox_event {
    int type;
    const Onnx__NodeProto *node;
    const Onnx__TensorProto *w, *b;
    int w_nk;       /* LINEAR: w is [N,K] (PyTorch layout) rather than [K,N] */
    int64_t K, N;
    float v;        /* SCALE: factor; ADDS: addend; LN: eps */
    ti_act act;
    const char *out; /* LINEAR: output value (its bias Add reads it) */
} ox_event;

typedef struct ox_ctx {
    const char *label;
    ox_map vals;
    ox_const *consts;
    int n_consts;
    ox_event *ev;
    int n_ev;
    const Onnx__TensorProto *slopes;
    const char *ln_mul_out; /* pending decomposed LayerNorm: output of Mul(x, weight) */
    const Onnx__TensorProto *ln_mul_w;
} ox_ctx;

static const char *op_of(const Onnx__NodeProto *n) { return n->op_type ? n->op_type : ""; }
static const char *name_of(const Onnx__NodeProto *n)
{
    if (n->name && *n->name) return n->name;
    return n->n_output && n->output[0] ? n->output[0] : "?";
}

static ti_err unsupported(ox_ctx *c, const Onnx__NodeProto *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ti_err unsupported(ox_ctx *c, const Onnx__NodeProto *n, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: node '%s' (op %s) is not supported: %s", c->label,
                     name_of(n), op_of(n), why);
}

static const Onnx__TensorProto *cst(const ox_ctx *c, int code) { return code >= 0 ? c->consts[code].t : NULL; }
static int ndim_of(const Onnx__TensorProto *t) { return (int)t->n_dims; }

static int is_vec(const Onnx__TensorProto *t) { return t && t->n_dims == 1 && ox_numel(t) > 0; }

static ti_err push_event(ox_ctx *c, const ox_event *e)
{
    if (c->n_ev >= TI_ONNX_MAX_NODES) return ti_errorf(TI_ERR_LIMIT, "onnx import %s: too many events", c->label);
    c->ev[c->n_ev++] = *e;
    return TI_OK;
}

static int add_const(ox_ctx *c, const Onnx__TensorProto *t, int transposed)
{
    c->consts[c->n_consts] = (ox_const){t, transposed};
    return c->n_consts++;
}

/* ---- pass 1: nodes -> events ------------------------------------------------------------ */

static int in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(op, *list) == 0) return 1;
    return 0;
}

/* Ops that only move data around: an activation in, an activation out, nothing to check. */
static const char *const MOVE_OPS[] = {"Identity", "Transpose", "Reshape", "Slice", "Split", "Gather",
                                       "Squeeze", "Unsqueeze", "Concat", "Cast", "Sqrt", "ReduceMean", NULL};
/* Ops allowed on shape computations (never on activations unless listed above / below). */
static const char *const SHAPE_OPS[] = {"Constant", "Identity", "Shape", "Gather", "Unsqueeze", "Squeeze",
                                        "Concat", "Reshape", "Transpose", "Slice", "Cast", "ConstantOfShape",
                                        "Equal", "Where", "Expand", "Range", "Greater", "Less", "Sub", "Div",
                                        "Mul", "Add", "Neg", "Floor", NULL};
static const char *const ACT_OPS[] = {"MatMul", "Gemm", "Add", "Sub", "Div", "Mul", "Pow", "LayerNormalization",
                                      "Softmax", "Relu", "Tanh", "Erf", NULL};

/* A node none of whose inputs is an activation. */
static ti_err visit_static(ox_ctx *c, const Onnx__NodeProto *n, const int *code, int *out_code)
{
    const char *op = op_of(n);
    *out_code = V_SHAPE;
    if (strcmp(op, "Constant") == 0) {
        const Onnx__AttributeProto *a = ox_attr(n, "value");
        if (a && a->t) *out_code = add_const(c, a->t, 0);
        return TI_OK;
    }
    if (!in_list(op, SHAPE_OPS) && !in_list(op, ACT_OPS))
        return unsupported(c, n, "op outside the supported set (docs/onnx.md lists it)");
    const Onnx__TensorProto *t0 = n->n_input > 0 ? cst(c, code[0]) : NULL;
    if (strcmp(op, "Identity") == 0 && t0) {
        *out_code = code[0];
    } else if (strcmp(op, "Transpose") == 0 && t0 && ndim_of(t0) == 2) {
        const Onnx__AttributeProto *p = ox_attr(n, "perm");
        if (!p || (p->n_ints == 2 && p->ints[0] == 1 && p->ints[1] == 0))
            *out_code = add_const(c, t0, !c->consts[code[0]].transposed);
    } else if (strcmp(op, "Expand") == 0 && t0 && ndim_of(t0) == 3 && t0->dims[0] == 1 && t0->dims[1] == 1) {
        ox_event e = {.type = EV_CLS, .node = n, .w = t0};
        *out_code = V_ACT; /* the CLS token joins the activations */
        return push_event(c, &e);
    } else if (strcmp(op, "Mul") == 0 && n->n_input == 2) {
        for (int i = 0; i < 2; i++) { /* ALiBi: slopes [H,1,1] * relative positions */
            const Onnx__TensorProto *t = cst(c, code[i]);
            if (t && ndim_of(t) == 3 && t->dims[1] == 1 && t->dims[2] == 1 && t->dims[0] > 1) c->slopes = t;
        }
    }
    return TI_OK;
}

static ti_err visit_add(ox_ctx *c, const Onnx__NodeProto *n, const int *code)
{
    const int ai = code[0] == V_ACT ? 0 : 1, oi = 1 - ai;
    const char *act_in = n->input[ai];
    if (code[oi] == V_ACT) return TI_OK; /* residual */
    if (code[oi] == V_SHAPE) {
        ox_event e = {.type = EV_BIAS, .node = n};
        return push_event(c, &e);
    }
    const Onnx__TensorProto *t = cst(c, code[oi]);
    if (!t) return unsupported(c, n, "adds something that is neither an activation, a constant nor a shape value");
    ox_event *last = c->n_ev ? &c->ev[c->n_ev - 1] : NULL;
    if (is_vec(t) && last && last->type == EV_LINEAR && !last->b && strcmp(last->out, act_in) == 0) {
        last->b = t; /* the Linear's bias */
        last->out = n->output[0];
        return TI_OK;
    }
    if (is_vec(t) && c->ln_mul_out && strcmp(act_in, c->ln_mul_out) == 0) { /* decomposed LayerNorm's bias */
        if (!last || last->type != EV_ADDS)
            return unsupported(c, n, "a LayerNorm decomposition without its epsilon Add");
        *last = (ox_event){.type = EV_LN, .node = n, .w = c->ln_mul_w, .b = t, .v = last->v}; /* eps -> LN */
        c->ln_mul_out = NULL;
        return TI_OK;
    }
    float v;
    if (ox_scalar_f32(&v, t) && ndim_of(t) <= 1) {
        ox_event e = {.type = EV_ADDS, .node = n, .v = v};
        return push_event(c, &e);
    }
    if (is_vec(t)) return unsupported(c, n, "adds a vector that is neither a Linear bias nor a LayerNorm bias");
    if (ndim_of(t) == 3 && t->dims[0] == 1) {
        ox_event e = {.type = EV_POS, .node = n, .w = t};
        return push_event(c, &e);
    }
    return unsupported(c, n, "adds a constant of an unexpected shape");
}

/* A node with at least one activation input. */
static ti_err visit_act(ox_ctx *c, const Onnx__NodeProto *n, const int *code)
{
    const char *op = op_of(n);
    const int nin = (int)n->n_input;
    const int all_act = code[0] == V_ACT && (nin < 2 || code[1] == V_ACT);
    if (strcmp(op, "Concat") == 0) {
        for (int i = 0; i < nin; i++) {
            const Onnx__TensorProto *t = cst(c, code[i]);
            if (!t) continue;
            if (ndim_of(t) != 3 || t->dims[0] != 1 || t->dims[1] != 1)
                return unsupported(c, n, "concatenates a constant other than a [1,1,C] CLS token");
            ox_event e = {.type = EV_CLS, .node = n, .w = t};
            ti_err err = push_event(c, &e);
            if (err) return err;
        }
        return TI_OK;
    }
    if (in_list(op, MOVE_OPS)) {
        if (code[0] != V_ACT) return unsupported(c, n, "an activation used as shape or index input");
        return TI_OK;
    }
    if (!in_list(op, ACT_OPS)) return unsupported(c, n, "op not supported on activations (docs/onnx.md)");
    /* arity: binary ops take exactly two defined inputs, Gemm/LayerNormalization 2-3 */
    const int unary = in_list(op, (const char *const[]){"Softmax", "Relu", "Tanh", "Erf", NULL});
    const int lo = unary ? 1 : 2, hi = unary ? 1 : (strcmp(op, "Gemm") == 0 || op[0] == 'L') ? 3 : 2;
    if (nin < lo || nin > hi) return unsupported(c, n, "%d inputs", nin);
    for (int i = 0; i < lo; i++)
        if (code[i] == V_UNDEF) return unsupported(c, n, "input %d omitted", i);
    if (code[0] != V_ACT && strcmp(op, "Add") != 0 && strcmp(op, "Mul") != 0)
        return unsupported(c, n, "the activation must be the first input");
    const Onnx__TensorProto *t1 = nin > 1 ? cst(c, code[1]) : NULL;
    float v = 0;
    ox_event e = {.node = n, .out = n->output[0]};
    if (strcmp(op, "MatMul") == 0) {
        if (all_act) return TI_OK; /* attention scores / weighted values */
        if (!t1 || ndim_of(t1) != 2) return unsupported(c, n, "MatMul with a right operand that is not a 2-D weight");
        e.type = EV_LINEAR;
        e.w = t1;
        e.w_nk = c->consts[code[1]].transposed;
        e.K = e.w_nk ? t1->dims[1] : t1->dims[0];
        e.N = e.w_nk ? t1->dims[0] : t1->dims[1];
        return push_event(c, &e);
    }
    if (strcmp(op, "Gemm") == 0) {
        const Onnx__TensorProto *t2 = nin > 2 ? cst(c, code[2]) : NULL;
        if (!t1 || ndim_of(t1) != 2 || (nin > 2 && !is_vec(t2)))
            return unsupported(c, n, "Gemm needs a 2-D weight and a 1-D bias initializer");
        if (ox_attr_f(n, "alpha", 1) != 1 || ox_attr_f(n, "beta", 1) != 1 || ox_attr_i(n, "transA", 0) != 0)
            return unsupported(c, n, "Gemm with alpha/beta != 1 or transA");
        e.type = EV_LINEAR;
        e.w = t1;
        e.b = t2;
        e.w_nk = (ox_attr_i(n, "transB", 0) != 0) != c->consts[code[1]].transposed;
        e.K = e.w_nk ? t1->dims[1] : t1->dims[0];
        e.N = e.w_nk ? t1->dims[0] : t1->dims[1];
        return push_event(c, &e);
    }
    if (strcmp(op, "Add") == 0) return visit_add(c, n, code);
    if (strcmp(op, "Sub") == 0) {
        if (!all_act) return unsupported(c, n, "Sub with a constant");
        return TI_OK;
    }
    if (strcmp(op, "Div") == 0 || strcmp(op, "Mul") == 0) {
        const int mul = op[0] == 'M';
        if (all_act) return TI_OK;
        const int ai = code[0] == V_ACT ? 0 : 1;
        const Onnx__TensorProto *t = cst(c, code[1 - ai]);
        if (mul && is_vec(t) && ox_numel(t) > 1) { /* decomposed LayerNorm's weight */
            if (c->ln_mul_out) return unsupported(c, n, "two vector Muls without the LayerNorm bias Add between");
            c->ln_mul_out = n->output[0];
            c->ln_mul_w = t;
            return TI_OK;
        }
        if (!t || !ox_scalar_f32(&v, t) || (!mul && (ai != 0 || v == 0)))
            return unsupported(c, n, "%s by something other than a scalar constant", op);
        e.type = EV_SCALE;
        e.v = mul ? v : 1.0f / v;
        return push_event(c, &e);
    }
    if (strcmp(op, "Pow") == 0) {
        if (!t1 || !ox_scalar_f32(&v, t1) || v != 2.0f) return unsupported(c, n, "Pow other than the square of a LayerNorm");
        return TI_OK;
    }
    if (strcmp(op, "LayerNormalization") == 0) {
        const Onnx__TensorProto *t2 = nin > 2 ? cst(c, code[2]) : NULL;
        if (!is_vec(t1) || !is_vec(t2)) return unsupported(c, n, "LayerNormalization needs scale and bias initializers");
        if (ox_attr_i(n, "axis", -1) != -1 && ox_attr_i(n, "axis", -1) != 2)
            return unsupported(c, n, "LayerNormalization over an axis other than the last");
        e.type = EV_LN;
        e.w = t1;
        e.b = t2;
        e.v = ox_attr_f(n, "epsilon", 1e-5f);
        return push_event(c, &e);
    }
    if (strcmp(op, "Softmax") == 0) {
        int64_t ax = ox_attr_i(n, "axis", -1);
        if (ax != -1 && ax != 3) return unsupported(c, n, "Softmax over an axis other than the last");
        e.type = EV_SOFTMAX;
        return push_event(c, &e);
    }
    e.type = EV_ACT;
    e.act = strcmp(op, "Relu") == 0 ? TI_ACT_RELU : strcmp(op, "Tanh") == 0 ? TI_ACT_GELU_TANH : TI_ACT_GELU_ERF;
    return push_event(c, &e);
}

static ti_err visit(ox_ctx *c, const Onnx__NodeProto *n)
{
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return unsupported(c, n, "custom domain '%s'", n->domain);
    if (n->n_output < 1 || !n->output[0] || !*n->output[0])
        return ti_errorf(TI_ERR_FORMAT, "onnx import %s: node '%s' has no output", c->label, name_of(n));
    if (n->n_input > 16) return unsupported(c, n, "%zu inputs", n->n_input);
    int code[16];
    for (int i = 0; i < 16; i++) code[i] = V_UNDEF;
    int any_act = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const char *in = n->input[i];
        code[i] = V_UNDEF;
        if (!in || !*in) continue; /* omitted optional input */
        code[i] = ox_map_get(&c->vals, in);
        if (code[i] == V_UNDEF)
            return ti_errorf(TI_ERR_FORMAT, "onnx import %s: node '%s' reads '%s', which nothing before it defines",
                             c->label, name_of(n), in);
        any_act |= code[i] == V_ACT;
    }
    int out = V_ACT;
    ti_err e = TI_OK;
    if (any_act && strcmp(op_of(n), "Shape") == 0) out = V_SHAPE; /* shapes of activations are shape values */
    else e = any_act ? visit_act(c, n, code) : visit_static(c, n, code, &out);
    if (e) return e;
    for (size_t i = 0; i < n->n_output; i++)
        if (n->output[i] && *n->output[i]) ox_map_put(&c->vals, n->output[i], out);
    return TI_OK;
}

/* ---- pass 2: events -> model ------------------------------------------------------------- */

typedef struct ox_layer {
    const ox_event *ln1, *qkv[3], *out, *ln2, *fc1, *fc2;
    int n_qkv, has_bias;
    float scale;
} ox_layer;

typedef struct ox_match {
    const ox_event *proj, *cls, *pos, *head_ln, *head;
    ox_layer *layers;
    int n_layers;
    ti_act act;
    float eps;
} ox_match;

static ti_err mismatch(const ox_ctx *c, int i, const char *want)
{
    if (i >= c->n_ev)
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: the graph ends where %s was expected", c->label, want);
    const Onnx__NodeProto *n = c->ev[i].node;
    return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: node '%s' (op %s) does not fit the transformer pattern: expected %s",
                     c->label, name_of(n), op_of(n), want);
}

static int is_type(const ox_ctx *c, int i, int type) { return i < c->n_ev && c->ev[i].type == type; }

/* A Linear K -> N with its bias at event i. */
static int linear_at(const ox_ctx *c, int i, int64_t K, int64_t N)
{
    if (!is_type(c, i, EV_LINEAR)) return 0;
    const ox_event *e = &c->ev[i];
    return e->b && ox_numel(e->b) == e->N && (K < 0 || e->K == K) && (N < 0 || e->N == N);
}

static int ln_at(const ox_ctx *c, int i, int64_t C)
{
    return is_type(c, i, EV_LN) && ox_numel(c->ev[i].w) == C && ox_numel(c->ev[i].b) == C;
}

/* gelu constants (tanh and erf forms) and the +1 */
static int gelu_const(float v)
{
    static const float k[] = {0.5f, 0.044715f, 0.7978845608f, 0.70710678f, 1.0f};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (fabsf(v - k[i]) <= 1e-6f * (1 + k[i])) return 1;
    return 0;
}

static ti_err match_layer(const ox_ctx *c, int *pi, int64_t C, ox_layer *L, ox_match *mt)
{
    int i = *pi;
    L->ln1 = &c->ev[i++];
    if (linear_at(c, i, C, 3 * C)) {
        L->qkv[0] = &c->ev[i++];
        L->n_qkv = 1;
    } else if (linear_at(c, i, C, C) && linear_at(c, i + 1, C, C) && linear_at(c, i + 2, C, C)) {
        for (int k = 0; k < 3; k++) L->qkv[k] = &c->ev[i++];
        L->n_qkv = 3;
    } else {
        return mismatch(c, i, "the attention in_proj: one Linear C->3C or three Linear C->C (q, k, v)");
    }
    L->scale = 1;
    for (; is_type(c, i, EV_SCALE) || is_type(c, i, EV_BIAS); i++) {
        if (c->ev[i].type == EV_SCALE) L->scale *= c->ev[i].v;
        else L->has_bias++;
    }
    if (!is_type(c, i, EV_SOFTMAX)) return mismatch(c, i, "the attention softmax");
    i++;
    if (!linear_at(c, i, C, C)) return mismatch(c, i, "the attention out_proj Linear C->C");
    L->out = &c->ev[i++];
    if (!ln_at(c, i, C)) return mismatch(c, i, "the feed-forward LayerNorm (norm2)");
    L->ln2 = &c->ev[i++];
    if (!linear_at(c, i, C, -1)) return mismatch(c, i, "the feed-forward linear1 C->d_ff");
    L->fc1 = &c->ev[i++];
    int n_act = 0;
    for (; is_type(c, i, EV_ACT) || is_type(c, i, EV_SCALE) || is_type(c, i, EV_ADDS); i++) {
        const ox_event *e = &c->ev[i];
        if (e->type == EV_ACT) {
            if (n_act++ || (mt->act != TI_ACT_NONE && mt->act != e->act))
                return mismatch(c, i, "one activation per feed-forward, the same in every layer");
            mt->act = e->act;
        } else if (!gelu_const(e->v)) {
            return mismatch(c, i, "the feed-forward activation (a constant that is not part of gelu)");
        }
    }
    if (n_act != 1) return mismatch(c, i, "the feed-forward activation (Relu, or gelu via Tanh / Erf)");
    if (!linear_at(c, i, L->fc1->N, C)) return mismatch(c, i, "the feed-forward linear2 d_ff->C");
    L->fc2 = &c->ev[i++];
    *pi = i;
    return TI_OK;
}

static ti_err match_events(const ox_ctx *c, ox_match *mt)
{
    int i = 0;
    memset(mt, 0, sizeof *mt);
    mt->act = TI_ACT_NONE;
    if (!linear_at(c, i, -1, -1)) return mismatch(c, i, "the input projection Linear F->C");
    mt->proj = &c->ev[i++];
    const int64_t C = mt->proj->N;
    for (; is_type(c, i, EV_CLS) || is_type(c, i, EV_POS); i++) {
        const ox_event *e = &c->ev[i];
        if (e->type == EV_CLS ? mt->cls != NULL : mt->pos != NULL) return mismatch(c, i, "one CLS token and one pos table");
        if (e->type == EV_CLS) mt->cls = e;
        else mt->pos = e;
    }
    if (!mt->cls != !mt->pos) return mismatch(c, i, "both the CLS token and the learned positions (TinyRV)");
    if (mt->cls && (mt->cls->w->dims[2] != C || mt->pos->w->dims[2] != C || mt->pos->w->dims[1] < 2))
        return mismatch(c, i - 1, "CLS [1,1,C] and pos [1,T+1,C] with C from the projection");
    mt->layers = calloc((size_t)c->n_ev / 6 + 1, sizeof *mt->layers);
    if (!mt->layers) return ti_errorf(TI_ERR_NOMEM, "onnx import %s: layer table", c->label);
    /* blocks until the head: LayerNorm followed by Linear C->1 at the end */
    while (ln_at(c, i, C) && !(linear_at(c, i + 1, C, 1) && i + 2 == c->n_ev)) {
        if (mt->n_layers >= TI_MODEL_MAX_LAYERS) return ti_errorf(TI_ERR_LIMIT, "onnx import %s: over %d layers", c->label, TI_MODEL_MAX_LAYERS);
        ti_err e = match_layer(c, &i, C, &mt->layers[mt->n_layers], mt);
        if (e) return e;
        mt->n_layers++;
    }
    if (mt->n_layers == 0) return mismatch(c, i, "a pre-norm transformer block (LayerNorm, attention, ...)");
    if (!ln_at(c, i, C)) return mismatch(c, i, "the head LayerNorm");
    mt->head_ln = &c->ev[i++];
    if (!linear_at(c, i, C, 1)) return mismatch(c, i, "the head Linear C->1");
    mt->head = &c->ev[i++];
    if (i != c->n_ev) return mismatch(c, i, "the end of the graph after the head");
    mt->eps = mt->head_ln->v;
    for (int l = 0; l < mt->n_layers; l++) {
        const ox_layer *L = &mt->layers[l];
        if (L->ln1->v != mt->eps || L->ln2->v != mt->eps)
            return mismatch(c, (int)(L->ln1 - c->ev), "the same LayerNorm epsilon in every norm");
        if (!mt->cls != !!L->has_bias || L->has_bias > 1)
            return mismatch(c, (int)(L->ln1 - c->ev), mt->cls ? "attention without a bias (TinyRV)"
                                                              : "attention with one ALiBi bias (rv_causal)");
        if (fabsf(L->scale - mt->layers[0].scale) > 1e-6f * mt->layers[0].scale)
            return mismatch(c, (int)(L->ln1 - c->ev), "the same attention scale in every layer");
    }
    return TI_OK;
}

/* Copy constant t into dst [rows, cols] of a PyTorch [N,K] tensor; nk says t is [N,K]
 * rather than [K,N].  scratch holds numel floats. */
static ti_err put_matrix(const ox_ctx *c, float *dst, const Onnx__TensorProto *t, int nk, int64_t N, int64_t K,
                         float *scratch)
{
    const int64_t n = ox_numel(t);
    if (n != N * K) return ti_errorf(TI_ERR_FORMAT, "onnx import %s: tensor '%s' has %lld values, expected %lld",
                                     c->label, t->name ? t->name : "?", (long long)n, (long long)(N * K));
    if (nk) return ox_tensor_f32(dst, n, t, c->label);
    ti_err e = ox_tensor_f32(scratch, n, t, c->label);
    if (e) return e;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) dst[j * K + k] = scratch[k * N + j];
    return TI_OK;
}

static float *param(ti_tfm *m, const char *fmt, int l)
{
    char name[TI_MODEL_MAX_NAME];
    snprintf(name, sizeof name, fmt, l);
    const ti_tfm_tensor *t = ti_tfm_find_tensor(m, name);
    return t ? ti_tfm_params_mut(m) + t->offset : NULL;
}

static ti_err put_linear(const ox_ctx *c, ti_tfm *m, const ox_event *e, const char *wfmt, const char *bfmt, int l,
                         float *scratch)
{
    float *w = param(m, wfmt, l), *b = param(m, bfmt, l);
    if (!w || !b) return ti_errorf(TI_ERR_STATE, "onnx import: model lacks %s", wfmt);
    ti_err err = put_matrix(c, w, e->w, e->w_nk, e->N, e->K, scratch);
    return err ? err : ox_tensor_f32(b, e->N, e->b, c->label);
}

static ti_err put_vec(const ox_ctx *c, ti_tfm *m, const Onnx__TensorProto *t, const char *fmt, int l)
{
    float *p = param(m, fmt, l);
    if (!p) return ti_errorf(TI_ERR_STATE, "onnx import: model lacks %s", fmt);
    return ox_tensor_f32(p, ox_numel(t), t, c->label);
}

static ti_err fill_weights(const ox_ctx *c, const ox_match *mt, ti_tfm *m, float *scratch)
{
    const ti_tfm_config *cfg = ti_tfm_get_config(m);
    const ti_tfm_arch k = cfg->kind;
    const int64_t C = cfg->d_model;
    ti_err e = put_linear(c, m, mt->proj, "proj.weight", "proj.bias", 0, scratch);
    if (!e && mt->cls) e = put_vec(c, m, mt->cls->w, "cls", 0);
    if (!e && mt->pos) e = put_vec(c, m, mt->pos->w, "pos", 0);
    for (int l = 0; !e && l < mt->n_layers; l++) {
        const ox_layer *L = &mt->layers[l];
        e = put_vec(c, m, L->ln1->w, onnx_layer_fmt(k, OX_LN1_W), l);
        if (!e) e = put_vec(c, m, L->ln1->b, onnx_layer_fmt(k, OX_LN1_B), l);
        if (!e && L->n_qkv == 1) e = put_linear(c, m, L->qkv[0], onnx_layer_fmt(k, OX_QKV_W), onnx_layer_fmt(k, OX_QKV_B), l, scratch);
        for (int q = 0; !e && L->n_qkv == 3 && q < 3; q++) { /* stack Wq, Wk, Wv */
            float *w = param(m, onnx_layer_fmt(k, OX_QKV_W), l), *b = param(m, onnx_layer_fmt(k, OX_QKV_B), l);
            e = put_matrix(c, w + q * C * C, L->qkv[q]->w, L->qkv[q]->w_nk, C, C, scratch);
            if (!e) e = ox_tensor_f32(b + q * C, C, L->qkv[q]->b, c->label);
        }
        if (!e) e = put_linear(c, m, L->out, onnx_layer_fmt(k, OX_OUT_W), onnx_layer_fmt(k, OX_OUT_B), l, scratch);
        if (!e) e = put_vec(c, m, L->ln2->w, onnx_layer_fmt(k, OX_LN2_W), l);
        if (!e) e = put_vec(c, m, L->ln2->b, onnx_layer_fmt(k, OX_LN2_B), l);
        if (!e) e = put_linear(c, m, L->fc1, onnx_layer_fmt(k, OX_FC1_W), onnx_layer_fmt(k, OX_FC1_B), l, scratch);
        if (!e) e = put_linear(c, m, L->fc2, onnx_layer_fmt(k, OX_FC2_W), onnx_layer_fmt(k, OX_FC2_B), l, scratch);
    }
    if (!e) e = put_vec(c, m, mt->head_ln->w, "head.0.weight", 0);
    if (!e) e = put_vec(c, m, mt->head_ln->b, "head.0.bias", 0);
    if (!e) e = put_linear(c, m, mt->head, "head.1.weight", "head.1.bias", 0, scratch);
    return e;
}

/* ---- config, metadata ------------------------------------------------------------------ */

static ti_err build_config(const ox_ctx *c, const ox_match *mt, const Onnx__ModelProto *mp,
                           const ti_onnx_import_opts *opts, ti_tfm_config *cfg, ti_config_source *src)
{
    const int tiny = mt->cls != NULL;
    ti_tfm_config_default(cfg, tiny ? TI_TFM_TINYRV : TI_TFM_RV_CAUSAL);
    const int64_t C = mt->proj->N, F = mt->proj->K, D = mt->layers[0].fc1->N;
    for (int l = 1; l < mt->n_layers; l++)
        if (mt->layers[l].fc1->N != D)
            return mismatch(c, (int)(mt->layers[l].fc1 - c->ev), "the same d_ff in every layer");
    if (C > TI_MODEL_MAX_D || F > TI_MODEL_MAX_FEATURES || D > TI_MODEL_MAX_FF)
        return ti_errorf(TI_ERR_LIMIT, "onnx import %s: model size F %lld, C %lld, d_ff %lld over the limits",
                         c->label, (long long)F, (long long)C, (long long)D);
    cfg->n_features = (int)F;
    cfg->d_model = (int)C;
    cfg->d_ff = (int)D;
    cfg->n_layers = mt->n_layers;
    cfg->activation = mt->act;
    cfg->ln_eps = mt->eps;
    if (tiny) {
        if (mt->pos->w->dims[1] - 1 > TI_MODEL_MAX_CONTEXT)
            return ti_errorf(TI_ERR_LIMIT, "onnx import %s: pos table of %lld rows", c->label, (long long)mt->pos->w->dims[1]);
        cfg->context = (int)mt->pos->w->dims[1] - 1;
    }
    /* heads: from the attention scale 1/sqrt(hd), the ALiBi slopes, the metadata or opts */
    int H = 0;
    const float s = mt->layers[0].scale;
    if (s != 1.0f && s > 0) {
        const double hd = 1.0 / ((double)s * s), r = floor(hd + 0.5);
        if (r < 1 || r > (double)C || fabs(hd - r) > 1e-3 * r || C % (int64_t)r)
            return mismatch(c, (int)(mt->layers[0].ln1 - c->ev), "an attention scale 1/sqrt(head_dim) with head_dim dividing C");
        H = (int)(C / (int64_t)r);
    }
    if (!tiny) {
        if (!c->slopes) return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: causal attention bias without ALiBi slopes [H,1,1]", c->label);
        const int Hs = (int)c->slopes->dims[0];
        if (H && Hs != H)
            return ti_errorf(TI_ERR_FORMAT, "onnx import %s: %d ALiBi slopes for %d heads", c->label, Hs, H);
        H = Hs;
    }
    *src = TI_CONFIG_INFERRED;
    const char *js = ox_meta_get(mp, "tickinfer.config");
    if (js) {
        ti_tfm_config mc;
        ti_err e = ti_tfm_config_from_json(&mc, js, "onnx metadata tickinfer.config");
        if (e) return ti_error_wrap(e, "onnx import %s", c->label);
        if (mc.kind != cfg->kind || mc.n_features != cfg->n_features || mc.d_model != cfg->d_model ||
            mc.d_ff != cfg->d_ff || mc.n_layers != cfg->n_layers || (H && mc.n_heads != H) ||
            mc.activation != cfg->activation || (tiny && mc.context != cfg->context))
            return ti_errorf(TI_ERR_FORMAT, "onnx import %s: metadata tickinfer.config %s disagrees with the graph", c->label, js);
        *cfg = mc;
        cfg->ln_eps = mt->eps;
        *src = TI_CONFIG_FROM_METADATA;
        H = mc.n_heads;
    }
    if (!H && opts && opts->n_heads > 0) H = opts->n_heads;
    if (!H) return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: cannot tell the number of heads (no attention scale); pass n_heads", c->label);
    cfg->n_heads = H;
    ti_err e = ti_tfm_config_validate(cfg);
    return e ? ti_error_wrap(e, "onnx import %s", c->label) : TI_OK;
}

/* The causal model computes its slopes from H; a graph with other slopes is another model. */
static ti_err check_slopes(const ox_ctx *c, const ti_tfm *m)
{
    const int H = ti_tfm_get_config(m)->n_heads;
    float v[TI_MODEL_MAX_HEADS];
    ti_err e = ox_tensor_f32(v, H, c->slopes, c->label);
    if (e) return e;
    const float *want = ti_tfm_alibi(m);
    for (int h = 0; h < H; h++)
        if (fabsf(v[h] - want[h]) > 1e-6f * want[h])
            return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: ALiBi slope %d is %g, tickinfer uses 2^(-8(h+1)/H) = %g",
                             c->label, h, (double)v[h], (double)want[h]);
    return TI_OK;
}

/* ---- entry points --------------------------------------------------------------------------- */

static int64_t default_opset(const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0) return o->has_version ? o->version : 0;
    }
    return 0;
}

/* Register the graph's constants and its one data input. */
static ti_err graph_values(ox_ctx *c, const Onnx__GraphProto *g)
{
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name) return ti_errorf(TI_ERR_FORMAT, "onnx import %s: initializer %zu has no name", c->label, i);
        if (ox_numel(t) < 0) return ti_errorf(TI_ERR_FORMAT, "onnx import %s: initializer '%s' has a bad shape", c->label, t->name);
        ox_map_put(&c->vals, t->name, add_const(c, t, 0));
    }
    const char *data_in = NULL;
    size_t n_data = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || !*vi->name) return ti_errorf(TI_ERR_FORMAT, "onnx import %s: graph input %zu has no name", c->label, i);
        if (ox_map_get(&c->vals, vi->name) >= 0) continue; /* an initializer listed as input (IR < 4) */
        if (n_data++ == 0) data_in = vi->name;
    }
    if (n_data != 1)
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: the graph has %zu data inputs; only forward graphs with one input "
                         "x [B,T,F] import (not decode graphs with past key/values)", c->label, n_data);
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__TypeProto *tp = g->input[i]->type;
        if (strcmp(g->input[i]->name, data_in) == 0 && tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
            tp->tensor_type && tp->tensor_type->shape && tp->tensor_type->shape->n_dim != 3)
            return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: input '%s' has rank %zu, expected x [B,T,F]", c->label,
                             data_in, tp->tensor_type->shape->n_dim);
    }
    if (g->n_output != 1)
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: the graph has %zu outputs, expected one (y)", c->label, g->n_output);
    ox_map_put(&c->vals, data_in, V_ACT);
    return TI_OK;
}

static ti_err import_graph(ti_tfm **out, ti_onnx_info *info, const Onnx__ModelProto *mp, ox_ctx *c,
                           const ti_onnx_import_opts *opts)
{
    const Onnx__GraphProto *g = mp->graph;
    const int64_t opset = default_opset(mp);
    if (opset < 14 || opset > 20)
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: default-domain opset %lld (14-20 import)", c->label, (long long)opset);
    if (g->n_node > TI_ONNX_MAX_NODES || g->n_initializer > TI_ONNX_MAX_INITIALIZERS)
        return ti_errorf(TI_ERR_LIMIT, "onnx import %s: %zu nodes, %zu initializers (limits %d, %d)", c->label, g->n_node,
                         g->n_initializer, TI_ONNX_MAX_NODES, TI_ONNX_MAX_INITIALIZERS);
    size_t n_names = g->n_initializer + g->n_input;
    for (size_t i = 0; i < g->n_node; i++) n_names += g->node[i]->n_output;
    if (n_names > 8 * (size_t)TI_ONNX_MAX_NODES) return ti_errorf(TI_ERR_LIMIT, "onnx import %s: %zu value names", c->label, n_names);
    ti_err e = ox_map_init(&c->vals, n_names);
    if (e) return e;
    c->consts = calloc(g->n_initializer + g->n_node + 1, sizeof *c->consts);
    c->ev = calloc(g->n_node + 1, sizeof *c->ev);
    if (!c->consts || !c->ev) return ti_errorf(TI_ERR_NOMEM, "onnx import %s: tables for %zu nodes", c->label, g->n_node);
    e = graph_values(c, g);
    for (size_t i = 0; !e && i < g->n_node; i++) e = visit(c, g->node[i]);
    if (e) return e;
    if (c->ln_mul_out) return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: a vector Mul ('%s') without a LayerNorm bias Add", c->label, c->ln_mul_out);
    ox_match mt;
    e = match_events(c, &mt);
    ti_tfm_config cfg;
    ti_config_source src = TI_CONFIG_INFERRED;
    if (!e) e = build_config(c, &mt, mp, opts, &cfg, &src);
    ti_tfm *m = NULL;
    float *scratch = NULL;
    if (!e) e = ti_tfm_create(&m, &cfg);
    if (!e) {
        scratch = malloc(ti_tfm_n_params(m) * sizeof *scratch + 64);
        if (!scratch) e = ti_errorf(TI_ERR_NOMEM, "onnx import: scratch");
    }
    if (!e) e = fill_weights(c, &mt, m, scratch);
    if (!e && cfg.kind == TI_TFM_RV_CAUSAL) e = check_slopes(c, m);
    if (!e && !(opts && opts->no_pack)) e = ti_tfm_pack(m);
    if (!e && info) {
        info->meta.config = cfg;
        info->meta.config_source = src;
        info->opset = opset;
        info->pattern = cfg.kind == TI_TFM_TINYRV ? "tinyrv: pre-norm encoder, CLS token + learned positions"
                                                    : "rv_causal: pre-norm causal blocks, ALiBi";
        e = ox_read_info(info, mp, cfg.n_features, c->label);
    }
    free(scratch);
    free(mt.layers);
    if (e) {
        ti_tfm_destroy(m);
        return e;
    }
    *out = m;
    return TI_OK;
}

ti_err ti_onnx_import_memory(ti_tfm **out, ti_onnx_info *info, const uint8_t *data, size_t len,
                             const char *label, const ti_onnx_import_opts *opts)
{
    if (!out || (!data && len)) return ti_errorf(TI_ERR_INVALID_ARG, "onnx import: NULL argument");
    *out = NULL;
    if (info) memset(info, 0, sizeof *info);
    ox_ctx c;
    memset(&c, 0, sizeof c);
    c.label = label ? label : "<memory>";
    Onnx__ModelProto *mp = NULL;
    ti_err e = ox_unpack(&mp, data, len, c.label);
    if (!e) e = import_graph(out, info, mp, &c, opts);
    if (e && info) ti_onnx_info_free(info);
    ox_map_free(&c.vals);
    free(c.consts);
    free(c.ev);
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    return e;
}

ti_err ti_onnx_import(ti_tfm **out, ti_onnx_info *info, const char *path, const ti_onnx_import_opts *opts)
{
    if (!path) return ti_errorf(TI_ERR_INVALID_ARG, "onnx import: NULL path");
    char *buf = NULL;
    size_t len = 0;
    ti_err e = ti_read_file(path, TI_ONNX_MAX_FILE - 1, &buf, &len);
    if (e) return ti_error_wrap(e, "onnx import");
    e = ti_onnx_import_memory(out, info, (const uint8_t *)buf, len, path, opts);
    free(buf);
    return e;
}
