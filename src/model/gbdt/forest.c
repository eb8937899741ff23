/* The forest: building, validation, the compiled layout, the reference and fast
 * predictors, the links.  See forest.h for the exactness rules. */
#include "model/gbdt/forest.h"

#include <float.h>
#include "tickinfer/cpu.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LGB_ZERO 1e-35f /* LightGBM's kZeroThreshold */
#define XGB_MAX_CAT 16777216.0f /* categories must be exact integers in float */

ti_err gb_forest_init(gb_forest *f, gb_flavor flavor, int n_outputs)
{
    memset(f, 0, sizeof *f);
    f->flavor = flavor;
    f->n_outputs = n_outputs;
    f->sigmoid = 1.0;
    if (n_outputs < 1 || n_outputs > GB_MAX_CLASSES)
        return ti_errorf(TI_ERR_UNSUPPORTED, "trees: %d outputs (classes); 1..%d are supported", n_outputs,
                         GB_MAX_CLASSES);
    return TI_OK;
}

/* The compiled layout (gb_forest_finish) alone. */
static void compiled_free(gb_forest *f)
{
    free(f->fn), free(f->froot), free(f->fspecial), free(f->fleaf_d), free(f->fleaf_f);
    free(f->sthr), free(f->sfeat), free(f->sright), free(f->spack);
    f->fn = NULL, f->froot = NULL, f->fspecial = NULL, f->fleaf_d = NULL, f->fleaf_f = NULL;
    f->sthr = NULL, f->sfeat = NULL, f->sright = NULL, f->spack = NULL;
}

void gb_forest_free(gb_forest *f)
{
    free(f->nodes);
    free(f->tree_first);
    free(f->tree_class);
    free(f->tree_weight);
    free(f->cats);
    compiled_free(f);
    memset(f, 0, sizeof *f);
}

static ti_err grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return TI_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return ti_errorf(TI_ERR_NOMEM, "trees: out of memory (%zu elements)", nc);
    *p = q;
    *cap = nc;
    return TI_OK;
}

ti_err gb_forest_add_tree(gb_forest *f, int cls, int n_nodes, gb_node **nodes)
{
    if (cls < 0 || cls >= f->n_outputs)
        return ti_errorf(TI_ERR_FORMAT, "trees: tree %d adds to output %d of %d", f->n_trees, cls, f->n_outputs);
    if (n_nodes < 1 || n_nodes > (1 << 24) || f->n_nodes + (size_t)n_nodes > (size_t)INT32_MAX / 2)
        return ti_errorf(TI_ERR_LIMIT, "trees: tree %d has %d nodes (1..16M per tree, 1G in all)", f->n_trees, n_nodes);
    if (f->n_trees + 2 > f->cap_trees) {
        const int nc = f->cap_trees ? f->cap_trees * 2 : 64;
        int32_t *a = realloc(f->tree_first, (size_t)(nc + 1) * sizeof *a);
        if (a) f->tree_first = a;
        int32_t *b = a ? realloc(f->tree_class, (size_t)nc * sizeof *b) : NULL;
        if (b) f->tree_class = b;
        if (!a || !b) return ti_errorf(TI_ERR_NOMEM, "trees: out of memory");
        f->cap_trees = nc;
    }
    ti_err e = grow((void **)&f->nodes, &f->cap_nodes, f->n_nodes + (size_t)n_nodes, sizeof *f->nodes);
    if (e) return e;
    gb_node *n = f->nodes + f->n_nodes;
    memset(n, 0, (size_t)n_nodes * sizeof *n);
    for (int i = 0; i < n_nodes; i++) n[i].feature = -1;
    f->tree_first[f->n_trees] = (int32_t)f->n_nodes;
    f->tree_class[f->n_trees] = cls;
    f->n_trees++;
    f->n_nodes += (size_t)n_nodes;
    f->tree_first[f->n_trees] = (int32_t)f->n_nodes;
    *nodes = n;
    return TI_OK;
}

ti_err gb_forest_add_cats(gb_forest *f, const uint32_t *words, size_t n, uint32_t *off)
{
    if (f->n_cats + n > UINT32_MAX / 2) return ti_errorf(TI_ERR_LIMIT, "trees: categorical sets too large");
    ti_err e = grow((void **)&f->cats, &f->cap_cats, f->n_cats + n + 1, sizeof *f->cats);
    if (e) return e;
    if (n) memcpy(f->cats + f->n_cats, words, n * sizeof *words);
    *off = (uint32_t)f->n_cats;
    f->n_cats += n;
    return TI_OK;
}

ti_err gb_forest_limit(gb_forest *f, int n_iter, int trees_per_iter, const char *label)
{
    if (n_iter < 0) return ti_errorf(TI_ERR_INVALID_ARG, "%s: num_iteration %d < 0", label, n_iter);
    if (n_iter == 0) return TI_OK;
    const long long keep = (long long)n_iter * trees_per_iter;
    if (keep > f->n_trees)
        return ti_errorf(TI_ERR_RANGE, "%s: num_iteration %d asks for %lld trees but the model has %d (%d per iteration)",
                         label, n_iter, keep, f->n_trees, trees_per_iter);
    f->n_trees = (int)keep;
    f->n_nodes = (size_t)f->tree_first[f->n_trees];
    return TI_OK;
}

/* ---- decisions (reference: the libraries' rules, one node at a time) --------------------- */

static int bit_set(const uint32_t *w, uint32_t n_words, uint32_t v)
{
    const uint32_t i = v / 32u;
    return i < n_words && ((w[i] >> (v % 32u)) & 1u);
}

static int goes_left(const gb_forest *f, const gb_node *n, float xf)
{
    switch (n->op) {
    case GB_OP_LE_D: {
        double v = xf;
        if (isnan(v) && n->missing != GB_MISS_NAN) v = 0.0;
        if (fabs(v) <= (double)LGB_ZERO) v = 0.0; /* LightGBM drops |x| <= 1e-35 from a dense row */
        if ((n->missing == GB_MISS_ZERO && v == 0.0) || (n->missing == GB_MISS_NAN && isnan(v))) return n->default_left;
        return v <= n->thr_d;
    }
    case GB_OP_LT_F:
        if (isnan(xf)) return n->default_left;
        return xf < n->thr_f;
    case GB_OP_LE_F:
        if (isnan(xf)) return n->default_left;
        return xf <= n->thr_f;
    case GB_OP_EQ_F:
        if (isnan(xf)) return n->default_left;
        return xf == n->thr_f;
    case GB_OP_CAT_LGB: {
        double v = xf;
        if (fabs(v) <= (double)LGB_ZERO) v = 0.0;
        int iv;
        if (isnan(v)) {
            if (n->missing == GB_MISS_NAN) return 0;
            iv = 0;
        } else {
            /* C++'s static_cast<int> of an out-of-range double is INT_MIN on x86: negative */
            if (!(v > -2147483649.0 && v < 2147483648.0)) return 0;
            iv = (int)v;
            if (iv < 0) return 0;
        }
        return bit_set(f->cats + n->cat_off, n->cat_words, (uint32_t)iv);
    }
    case GB_OP_CAT_XGB:
        if (isnan(xf)) return n->default_left;
        if (xf < 0.0f || xf >= XGB_MAX_CAT) return 1; /* an invalid category goes left */
        return !bit_set(f->cats + n->cat_off, n->cat_words, (uint32_t)xf);
    default: return 0;
    }
}

static double leaf_value(const gb_forest *f, int t, const gb_node *n)
{
    return f->tree_weight ? (double)((float)n->value * f->tree_weight[t]) : n->value;
}

/* Aggregate tree t's leaf into the running score of its output, in the flavor's precision. */
static void acc_add(const gb_forest *f, double *acc, double v, int first)
{
    if (f->flavor == GB_LIGHTGBM) {
        *acc += v;
        return;
    }
    const float a = (float)*acc, b = (float)v;
    switch (f->agg) {
    case GB_AGG_MIN: *acc = first ? b : (b < a ? b : a); break;
    case GB_AGG_MAX: *acc = first ? b : (b > a ? b : a); break;
    default: *acc = (double)(a + b); break;
    }
}

/* Start and finish of an output's score around the tree sums. */
static double acc_start(const gb_forest *f, int k)
{
    return f->flavor == GB_XGBOOST ? (double)(float)f->base[k] : 0.0;
}

static double acc_end(const gb_forest *f, int k, double acc, int n_trees_k)
{
    if (f->flavor == GB_LIGHTGBM) {
        if (f->average && n_trees_k > 0) acc /= (double)n_trees_k;
        return acc + f->base[k];
    }
    if (f->flavor == GB_ONNX) {
        float a = (float)acc;
        if (f->agg == GB_AGG_AVERAGE && n_trees_k > 0) a /= (float)n_trees_k;
        return (double)(a + (float)f->base[k]);
    }
    return acc;
}

void gb_forest_predict_ref(const gb_forest *f, double *y, const float *x, size_t B, size_t ld)
{
    const int K = f->n_outputs;
    int count[GB_MAX_CLASSES] = {0};
    for (int t = 0; t < f->n_trees; t++) count[f->tree_class[t]]++;
    for (size_t b = 0; b < B; b++) {
        const float *xr = x + b * ld;
        double *yr = y + b * (size_t)K;
        int seen[GB_MAX_CLASSES] = {0};
        for (int k = 0; k < K; k++) yr[k] = acc_start(f, k);
        for (int t = 0; t < f->n_trees; t++) {
            const gb_node *nodes = f->nodes + f->tree_first[t];
            int i = 0;
            while (nodes[i].feature >= 0) i = goes_left(f, &nodes[i], xr[nodes[i].feature]) ? nodes[i].left : nodes[i].right;
            const int k = f->tree_class[t];
            acc_add(f, &yr[k], leaf_value(f, t, &nodes[i]), !seen[k]);
            seen[k] = 1;
        }
        for (int k = 0; k < K; k++) yr[k] = acc_end(f, k, yr[k], count[k]);
    }
}

/* ---- links ---------------------------------------------------------------------------------- */

const char *gb_link_name(gb_link l)
{
    static const char *const n[GB_LINK__COUNT] = {"identity", "sigmoid", "softmax", "exp", "signed_square",
                                                  "log1p_exp", "argmax", "probit", "softmax_zero"};
    return (unsigned)l < GB_LINK__COUNT ? n[l] : "?";
}

static void link_double(const gb_forest *f, double *s, int K)
{
    switch (f->link) {
    case GB_LINK_SIGMOID:
        for (int k = 0; k < K; k++) s[k] = 1.0 / (1.0 + exp(-f->sigmoid * s[k]));
        break;
    case GB_LINK_SOFTMAX: {
        double m = s[0], sum = 0;
        for (int k = 1; k < K; k++) m = s[k] > m ? s[k] : m;
        for (int k = 0; k < K; k++) sum += (s[k] = exp(s[k] - m));
        for (int k = 0; k < K; k++) s[k] /= sum;
        break;
    }
    case GB_LINK_EXP:
        for (int k = 0; k < K; k++) s[k] = exp(s[k]);
        break;
    case GB_LINK_SIGNED_SQUARE:
        for (int k = 0; k < K; k++) s[k] = (s[k] > 0 ? 1.0 : s[k] < 0 ? -1.0 : 0.0) * s[k] * s[k];
        break;
    case GB_LINK_LOG1P_EXP:
        for (int k = 0; k < K; k++) s[k] = log1p(exp(s[k]));
        break;
    default: break;
    }
}

/* XGBoost and ONNX Runtime compute their links in float. */
static void link_float(const gb_forest *f, double *s, int K)
{
    float v[GB_MAX_CLASSES];
    v[0] = (float)s[0]; /* K >= 1 */
    for (int k = 1; k < K; k++) v[k] = (float)s[k];
    switch (f->link) {
    case GB_LINK_SIGMOID:
        for (int k = 0; k < K; k++) {
            if (f->flavor == GB_ONNX) { /* ORT: symmetric in |x| */
                const float a = 1.0f / (1.0f + expf(-fabsf(v[k])));
                v[k] = v[k] < 0 ? 1.0f - a : a;
            } else {
                v[k] = 1.0f / (expf(-v[k]) + 1.0f);
            }
        }
        break;
    case GB_LINK_SOFTMAX: {
        /* both take expf(x - max); XGBoost sums them in double, ONNX Runtime in float */
        float m = v[0], sum = 0;
        double sumd = 0;
        for (int k = 1; k < K; k++) m = v[k] > m ? v[k] : m;
        for (int k = 0; k < K; k++) v[k] = expf(v[k] - m), sum += v[k], sumd += v[k];
        if (f->flavor == GB_XGBOOST) sum = (float)sumd;
        for (int k = 0; k < K; k++) v[k] /= sum;
        break;
    }
    case GB_LINK_EXP:
        for (int k = 0; k < K; k++) v[k] = expf(v[k]);
        break;
    case GB_LINK_ARGMAX: {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (v[k] > v[best]) best = k;
        v[0] = (float)best;
        break;
    }
    default: break;
    }
    for (int k = 0; k < K; k++) s[k] = v[k];
}

void gb_forest_link(const gb_forest *f, double *s)
{
    const int K = f->n_outputs;
    if (f->flavor == GB_LIGHTGBM) link_double(f, s, K);
    else link_float(f, s, K);
}

int gb_forest_out_cols(const gb_forest *f)
{
    if (f->link == GB_LINK_ARGMAX) return 1;
    if (f->onnx_binary) return 2;
    return f->n_outputs;
}

/* Raw scores of one row -> the output row (link, binary expansion). */
static void finish_row(const gb_forest *f, float *y, double *s)
{
    gb_forest_link(f, s);
    if (f->onnx_binary) {
        y[1] = (float)s[0];
        y[0] = 1.0f - (float)s[0];
        return;
    }
    const int C = gb_forest_out_cols(f);
    for (int k = 0; k < C; k++) y[k] = (float)s[k];
}

/* ---- validation and the compiled layout ------------------------------------------------- */

/* The largest float <= d (d not NaN). */
static float float_at_or_below(double d)
{
    if (d >= (double)FLT_MAX) return FLT_MAX;
    float r = (float)d;
    if ((double)r > d) r = nextafterf(r, -INFINITY);
    return r;
}

static ti_err check_tree(const gb_forest *f, int t, uint8_t *seen, int *depth_out, const char *label)
{
    const int32_t n0 = f->tree_first[t], nn = f->tree_first[t + 1] - n0;
    const gb_node *nodes = f->nodes + n0;
    memset(seen, 0, (size_t)nn);
    /* iterative walk with an explicit stack of (node, depth) */
    int32_t *stack = malloc((size_t)nn * 2 * sizeof *stack);
    if (!stack) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
    int sp = 0, maxd = 0;
    stack[sp++] = 0;
    stack[sp++] = 0;
    ti_err e = TI_OK;
    while (sp && !e) {
        const int d = stack[--sp], i = stack[--sp];
        if (i < 0 || i >= nn) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: child index %d outside its %d nodes", label, t, i, nn);
            break;
        }
        if (seen[i]) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %d is reached twice (not a tree)", label, t, i);
            break;
        }
        seen[i] = 1;
        maxd = d > maxd ? d : maxd;
        const gb_node *n = &nodes[i];
        if (n->feature < 0) {
            if (!isfinite(n->value))
                e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %d is a leaf with value %g", label, t, i, n->value);
            continue;
        }
        if (n->feature >= f->n_features)
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %d splits on feature %d but the model has %d features", label, t,
                          i, n->feature, f->n_features);
        else if ((n->op == GB_OP_CAT_LGB || n->op == GB_OP_CAT_XGB) && n->cat_off + (size_t)n->cat_words > f->n_cats)
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %d: categorical set outside the model's sets", label, t, i);
        else if (n->op == GB_OP_LE_D && isnan(n->thr_d))
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %d has threshold NaN", label, t, i);
        stack[sp++] = n->right;
        stack[sp++] = d + 1;
        stack[sp++] = n->left;
        stack[sp++] = d + 1;
    }
    free(stack);
    *depth_out = maxd;
    return e;
}

/* Compile one loaded node into the fast layout's flags and threshold. */
static void compile_node(const gb_node *n, gb_fnode *o)
{
    uint32_t fl = 0;
    float thr = 0;
    switch (n->op) {
    case GB_OP_LE_D:
        thr = float_at_or_below(n->thr_d);
        if (n->missing == GB_MISS_ZERO) fl |= GB_F_SPECIAL;
        else if (n->missing == GB_MISS_AS_ZERO) fl |= (0.0 <= n->thr_d) ? GB_F_NAN_LEFT : 0;
        else fl |= n->default_left ? GB_F_NAN_LEFT : 0;
        /* values |x| <= 1e-35 read as 0: only a threshold t in that band tells them apart,
         * and there the rule is a plain one too: t < 0 -> left iff x < -1e-35 (LightGBM's
         * own split below zero sits at t = -1e-35); t >= 0 -> left iff x <= 1e-35 */
        if (n->thr_d >= -(double)LGB_ZERO && n->thr_d < (double)LGB_ZERO)
            thr = n->thr_d < 0 ? nextafterf(-LGB_ZERO, -INFINITY) : LGB_ZERO;
        break;
    case GB_OP_LT_F:
        if (isnan(n->thr_f) || n->thr_f == -INFINITY) fl |= GB_F_SPECIAL;
        else thr = nextafterf(n->thr_f, -INFINITY);
        fl |= n->default_left ? GB_F_NAN_LEFT : 0;
        break;
    case GB_OP_LE_F:
        if (isnan(n->thr_f)) fl |= GB_F_SPECIAL;
        thr = n->thr_f;
        fl |= n->default_left ? GB_F_NAN_LEFT : 0;
        break;
    default: fl |= GB_F_SPECIAL; break;
    }
    o->thr = thr;
    o->feat = (uint32_t)n->feature | (fl << 24);
}

ti_err gb_forest_finish(gb_forest *f, const char *label)
{
    if (f->n_trees < 1) return ti_errorf(TI_ERR_FORMAT, "%s: the model has no trees", label);
    if (f->n_features < 1 || f->n_features > GB_MAX_FEATURES)
        return ti_errorf(TI_ERR_FORMAT, "%s: %d features (1..%d supported)", label, f->n_features, GB_MAX_FEATURES);
    compiled_free(f);
    const size_t NN = f->n_nodes + 1; /* + the zero leaf */
    f->fn = malloc(NN * sizeof *f->fn);
    f->froot = malloc((size_t)f->n_trees * sizeof *f->froot);
    f->fspecial = malloc(NN * sizeof *f->fspecial);
    f->fleaf_d = malloc(NN * sizeof *f->fleaf_d);
    f->fleaf_f = malloc(NN * sizeof *f->fleaf_f);
    int32_t max_nn = 1;
    for (int t = 0; t < f->n_trees; t++) {
        const int32_t nn = f->tree_first[t + 1] - f->tree_first[t];
        max_nn = nn > max_nn ? nn : max_nn;
    }
    uint8_t *seen = malloc((size_t)max_nn);
    int32_t *order = malloc((size_t)max_nn * sizeof *order), *stack = malloc((size_t)max_nn * sizeof *stack),
            *newidx = malloc((size_t)max_nn * sizeof *newidx);
    if (!f->fn || !f->froot || !f->fspecial || !f->fleaf_d || !f->fleaf_f || !seen || !order || !stack || !newidx) {
        free(seen), free(order), free(stack), free(newidx);
        return ti_errorf(TI_ERR_NOMEM, "%s: out of memory compiling %zu nodes", label, f->n_nodes);
    }
    ti_err e = TI_OK;
    int single = 1;
    f->max_depth = 0;
    for (int t = 0; t < f->n_trees && !e; t++) {
        int depth = 0;
        e = check_tree(f, t, seen, &depth, label);
        if (e) break;
        f->max_depth = depth > f->max_depth ? depth : f->max_depth;
        if (f->tree_class[t] != 0) single = 0;
        const int32_t n0 = f->tree_first[t], nn = f->tree_first[t + 1] - n0;
        const gb_node *nodes = f->nodes + n0;
        /* pre-order: a node's left child right after it (reached nodes only) */
        int no = 0, sp = 0;
        stack[sp++] = 0;
        while (sp) {
            const int i = stack[--sp];
            newidx[i] = n0 + no;
            order[no++] = i;
            if (nodes[i].feature >= 0) {
                stack[sp++] = nodes[i].right;
                stack[sp++] = nodes[i].left;
            }
        }
        for (int j = no; j < nn; j++) { /* unreachable nodes (allowed): parked as leaves */
            f->fn[n0 + j] = (gb_fnode){.thr = NAN, .feat = GB_F_LEAF << 24, .left = n0 + j, .right = n0 + j};
            f->fleaf_d[n0 + j] = 0;
            f->fleaf_f[n0 + j] = 0;
        }
        for (int j = 0; j < no; j++) {
            const gb_node *n = &nodes[order[j]];
            gb_fnode *o = &f->fn[n0 + j];
            const int32_t self = n0 + j;
            f->fspecial[self] = n0 + order[j];
            if (n->feature < 0) {
                *o = (gb_fnode){.thr = NAN, .feat = GB_F_LEAF << 24, .left = self, .right = self};
                f->fleaf_d[self] = leaf_value(f, t, n);
                f->fleaf_f[self] = (float)f->fleaf_d[self];
                continue;
            }
            compile_node(n, o);
            o->left = newidx[n->left];
            o->right = newidx[n->right];
            f->fleaf_d[self] = 0;
            f->fleaf_f[self] = 0;
        }
        f->froot[t] = n0;
    }
    free(seen), free(order), free(stack), free(newidx);
    f->single_output = single && f->n_outputs == 1;
    if (e) return e;
    memset(f->class_trees, 0, sizeof f->class_trees);
    for (int t = 0; t < f->n_trees; t++) f->class_trees[f->tree_class[t]]++;
    f->fzero = (int32_t)f->n_nodes;
    f->fn[f->fzero] = (gb_fnode){.thr = NAN, .feat = GB_F_LEAF << 24, .left = f->fzero, .right = f->fzero};
    f->fleaf_d[f->fzero] = 0, f->fleaf_f[f->fzero] = 0, f->fspecial[f->fzero] = 0;
    f->n_special = 0;
    for (size_t i = 0; i < NN; i++) f->n_special += (f->fn[i].feat >> 24 & GB_F_SPECIAL) != 0;
    f->sthr = malloc(NN * sizeof *f->sthr);
    f->sfeat = malloc(NN * sizeof *f->sfeat);
    f->sright = malloc(NN * sizeof *f->sright);
    if (!f->sthr || !f->sfeat || !f->sright) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory compiling", label);
    for (size_t i = 0; i < NN; i++) f->sthr[i] = f->fn[i].thr, f->sfeat[i] = f->fn[i].feat, f->sright[i] = f->fn[i].right;
    int32_t widest = 0;
    for (int t = 0; t < f->n_trees; t++)
        widest = f->tree_first[t + 1] - f->tree_first[t] > widest ? f->tree_first[t + 1] - f->tree_first[t] : widest;
    if (widest < 65536 && f->n_features <= 16384 && (f->spack = malloc(NN * sizeof *f->spack))) {
        for (size_t i = 0; i < NN; i++) {
            const gb_fnode *n = &f->fn[i];
            const uint32_t fl = n->feat >> 24;
            uint32_t thr_bits;
            memcpy(&thr_bits, &n->thr, 4);
            const uint32_t meta = (uint32_t)(n->right - (int32_t)i) | (n->feat & 0x3FFFu) << 16 |
                                  (fl & GB_F_NAN_LEFT ? GB_P_NAN_LEFT : 0) | (fl & GB_F_LEAF ? GB_P_LEAF : 0);
            f->spack[i] = (uint64_t)thr_bits | (uint64_t)meta << 32;
        }
    }
    gb_forest_set_simd(f, 1);
    return TI_OK;
}

void gb_forest_set_simd(gb_forest *f, int on)
{
    /* gathers index with int32: rows of a 64-row block and node counts must fit */
    f->simd = on && ti_simd_active() >= TI_SIMD_AVX512 && f->n_special == 0 && f->single_output &&
              (f->flavor == GB_LIGHTGBM || f->agg == GB_AGG_SUM) && f->n_nodes < (1u << 30) &&
              (size_t)f->n_features * 64 < (1u << 30);
}

/* ---- the fast predictor ------------------------------------------------------------------ */

#define GB_LANES 8

/* Walk 8 (row, tree) lanes to their leaves: idx[k] starts at a root, xs[k] is its row. */
static inline void walk8(const gb_forest *f, int32_t *restrict idx, const float *const *xs)
{
    const gb_fnode *fn = f->fn;
    for (;;) {
        uint32_t all = GB_F_LEAF;
        for (int k = 0; k < GB_LANES; k++) {
            const gb_fnode *n = fn + idx[k];
            const uint32_t fl = n->feat >> 24;
            const float v = xs[k][n->feat & 0xFFFFFFu];
            int left = (v <= n->thr) | ((v != v) & (int)(fl & GB_F_NAN_LEFT));
            if (__builtin_expect((fl & GB_F_SPECIAL) != 0, 0)) {
                const gb_node *ln = f->nodes + f->fspecial[idx[k]];
                left = goes_left(f, ln, v);
            }
            idx[k] = left ? n->left : n->right;
            all &= fl;
        }
        if (all & GB_F_LEAF) return;
    }
}

/* Raw scores of rows [0, n) of a block (n <= 8), tree-major: the 8 lanes are 8 rows. */
static void block_rows(const gb_forest *f, double *s, const float *x, size_t n, size_t ld)
{
    const int K = f->n_outputs;
    const float *xs[GB_LANES];
    for (int k = 0; k < GB_LANES; k++) xs[k] = x + (size_t)(k < (int)n ? k : (int)n - 1) * ld;
    int32_t idx[GB_LANES];
    if (f->flavor == GB_LIGHTGBM && f->single_output) {
        double acc[GB_LANES] = {0};
        for (int t = 0; t < f->n_trees; t++) {
            for (int k = 0; k < GB_LANES; k++) idx[k] = f->froot[t];
            walk8(f, idx, xs);
            for (int k = 0; k < GB_LANES; k++) acc[k] += f->fleaf_d[idx[k]];
        }
        for (size_t k = 0; k < n; k++) s[k] = acc[k];
        return;
    }
    if (f->flavor != GB_LIGHTGBM && f->single_output && f->agg == GB_AGG_SUM) {
        const float b = f->flavor == GB_XGBOOST ? (float)f->base[0] : 0.0f;
        float acc[GB_LANES];
        for (int k = 0; k < GB_LANES; k++) acc[k] = b;
        for (int t = 0; t < f->n_trees; t++) {
            for (int k = 0; k < GB_LANES; k++) idx[k] = f->froot[t];
            walk8(f, idx, xs);
            for (int k = 0; k < GB_LANES; k++) acc[k] += f->fleaf_f[idx[k]];
        }
        for (size_t k = 0; k < n; k++) s[k] = acc[k];
        return;
    }
    /* general: several outputs or MIN/MAX aggregation */
    uint8_t seen[GB_LANES][GB_MAX_CLASSES];
    memset(seen, 0, sizeof seen);
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < K; k++) s[r * (size_t)K + (size_t)k] = acc_start(f, k);
    for (int t = 0; t < f->n_trees; t++) {
        for (int k = 0; k < GB_LANES; k++) idx[k] = f->froot[t];
        walk8(f, idx, xs);
        const int c = f->tree_class[t];
        for (size_t r = 0; r < n; r++) {
            acc_add(f, &s[r * (size_t)K + (size_t)c], f->fleaf_d[idx[r]], !seen[r][c]);
            seen[r][c] = 1;
        }
    }
}

/* One row, the 8 lanes are 8 consecutive trees (added in tree order afterwards). */
static void one_row(const gb_forest *f, double *s, const float *x)
{
    const int K = f->n_outputs;
    const float *xs[GB_LANES];
    for (int k = 0; k < GB_LANES; k++) xs[k] = x;
    int32_t idx[GB_LANES];
    uint8_t seen[GB_MAX_CLASSES];
    memset(seen, 0, (size_t)K);
    for (int k = 0; k < K; k++) s[k] = acc_start(f, k);
    double accd = 0;
    float accf = (float)s[0];
    const int fast_d = f->flavor == GB_LIGHTGBM && f->single_output;
    const int fast_f = f->flavor != GB_LIGHTGBM && f->single_output && f->agg == GB_AGG_SUM;
    for (int t0 = 0; t0 < f->n_trees; t0 += GB_LANES) {
        const int nt = f->n_trees - t0 < GB_LANES ? f->n_trees - t0 : GB_LANES;
        for (int k = 0; k < GB_LANES; k++) idx[k] = f->froot[t0 + (k < nt ? k : nt - 1)];
        walk8(f, idx, xs);
        if (fast_d) {
            for (int k = 0; k < nt; k++) accd += f->fleaf_d[idx[k]];
        } else if (fast_f) {
            for (int k = 0; k < nt; k++) accf += f->fleaf_f[idx[k]];
        } else {
            for (int k = 0; k < nt; k++) {
                const int c = f->tree_class[t0 + k];
                acc_add(f, &s[c], f->fleaf_d[idx[k]], !seen[c]);
                seen[c] = 1;
            }
        }
    }
    if (fast_d) s[0] = accd;
    if (fast_f) s[0] = accf;
}

typedef struct pred_job {
    const gb_forest *f;
    float *y;
    const float *x;
    size_t B, ld;
} pred_job;

static void predict_range(const gb_forest *f, float *y, const float *x, size_t b0, size_t b1, size_t ld)
{
    const int K = f->n_outputs, C = gb_forest_out_cols(f);
    const int *count = f->class_trees;
    double s[8 * GB_MAX_CLASSES]; /* >= 64 rows x 1 output (vector walk), 8 rows x K (scalar) */
    const int simd = f->simd && ld < (1u << 24);
    for (size_t b = b0; b < b1;) {
        size_t n = b1 - b;
        if (n == 1 || (b1 - b0) == 1) {
            n = 1;
            if (simd) s[0] = gb_avx512_one(f, x + b * ld);
            else one_row(f, s, x + b * ld);
        } else if (simd) {
            n = n < 64 ? n : 64;
            gb_avx512_rows(f, s, x + b * ld, n, ld);
        } else {
            n = n < GB_LANES ? n : GB_LANES;
            block_rows(f, s, x + b * ld, n, ld);
        }
        for (size_t r = 0; r < n; r++) {
            double *sr = s + r * (size_t)K;
            for (int k = 0; k < K; k++) sr[k] = acc_end(f, k, sr[k], count[k]);
            finish_row(f, y + (b + r) * (size_t)C, sr);
        }
        b += n;
    }
}

static void pred_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    const pred_job *j = ctx;
    predict_range(j->f, j->y, j->x, begin, end, j->ld);
}

void gb_forest_predict(const gb_forest *f, float *y, const float *x, size_t B, size_t ld, ti_pool *pool)
{
    if (pool && ti_pool_size(pool) > 1 && B >= 128) {
        pred_job j = {f, y, x, B, ld};
        ti_pool_parallel_for(pool, B, 64, pred_chunk, &j);
        return;
    }
    predict_range(f, y, x, 0, B, ld);
}

void gb_forest_predict_ref_out(const gb_forest *f, float *y, const float *x, size_t B, size_t ld)
{
    const int K = f->n_outputs, C = gb_forest_out_cols(f);
    double s[GB_MAX_CLASSES];
    for (size_t b = 0; b < B; b++) {
        gb_forest_predict_ref(f, s, x + b * ld, 1, ld);
        finish_row(f, y + b * (size_t)C, s);
    }
    (void)K;
}
