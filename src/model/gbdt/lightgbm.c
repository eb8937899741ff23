/* LightGBM text models (Booster.save_model / model.txt): a header of key=value lines,
 * then one "Tree=N" section per tree, "end of trees", then importances and parameters
 * (ignored).  A tree of L leaves has L-1 splits: split_feature, threshold, decision_type
 * (bit 0 categorical, bit 1 default left, bits 2-3 missing type: 0 none, 1 zero, 2 NaN),
 * left_child / right_child (>= 0 a split, < 0 ~leaf), leaf_value; categorical splits
 * index cat_boundaries into the cat_threshold bitset words.  The predictor sums leaves in
 * double over iterations and applies the objective's output conversion. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt/forest.h"

typedef struct lgb_line {
    const char *key, *val; /* val: NULL when the line has no '=' */
    size_t klen, vlen;
} lgb_line;

/* Next line of [*p, end); 0 at the end. */
static int next_line(const char **p, const char *end, lgb_line *ln)
{
    if (*p >= end) return 0;
    const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
    if (!e) e = end;
    *p = e < end ? e + 1 : end;
    const char *le = e;
    if (le > s && le[-1] == '\r') le--;
    const char *eq = memchr(s, '=', (size_t)(le - s));
    ln->key = s;
    ln->klen = (size_t)((eq ? eq : le) - s);
    ln->val = eq ? eq + 1 : NULL;
    ln->vlen = eq ? (size_t)(le - eq - 1) : 0;
    return 1;
}

static int key_is(const lgb_line *ln, const char *k) { return ln->klen == strlen(k) && memcmp(ln->key, k, ln->klen) == 0; }

/* A bounded copy of a value (for strtol/strtod, which need a terminator). */
static char *val_dup(const lgb_line *ln)
{
    char *s = malloc(ln->vlen + 1);
    if (!s) return NULL;
    memcpy(s, ln->val, ln->vlen);
    s[ln->vlen] = 0;
    return s;
}

static ti_err parse_int(const lgb_line *ln, long *out, long lo, long hi, const char *label)
{
    char buf[32];
    if (!ln->val || ln->vlen == 0 || ln->vlen >= sizeof buf)
        return ti_errorf(TI_ERR_FORMAT, "%s: '%.*s' needs an integer value", label, (int)ln->klen, ln->key);
    memcpy(buf, ln->val, ln->vlen);
    buf[ln->vlen] = 0;
    char *e;
    errno = 0;
    const long v = strtol(buf, &e, 10);
    if (errno || *e || v < lo || v > hi)
        return ti_errorf(TI_ERR_FORMAT, "%s: %.*s=%s: want an integer in %ld..%ld", label, (int)ln->klen, ln->key, buf, lo,
                         hi);
    *out = v;
    return TI_OK;
}

/* n space-separated numbers of a line into out (double). */
static ti_err parse_array(const lgb_line *ln, double *out, long n, int integers, const char *label, int tree)
{
    char *s = val_dup(ln);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
    char *p = s;
    long i = 0;
    ti_err e = TI_OK;
    for (; i < n; i++) {
        char *q;
        errno = 0;
        const double v = integers ? (double)strtoll(p, &q, 10) : strtod(p, &q);
        if (q == p || errno == ERANGE) break;
        out[i] = v;
        p = q;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (i < n || *p)
        e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: %.*s holds %s where %ld %s were expected", label, tree, (int)ln->klen,
                      ln->key, i < n ? "fewer values" : "more values", n, integers ? "integers" : "numbers");
    free(s);
    return e;
}

static ti_err set_objective(gb_forest *f, const lgb_line *ln, const char *label)
{
    char obj[256];
    const size_t n = ln->vlen < sizeof obj - 1 ? ln->vlen : sizeof obj - 1;
    memcpy(obj, ln->val, n);
    obj[n] = 0;
    snprintf(f->objective, sizeof f->objective, "%s", obj);
    char *save = NULL, *name = strtok_r(obj, " ", &save);
    if (!name) return ti_errorf(TI_ERR_FORMAT, "%s: empty objective", label);
    int sqrt_out = 0;
    for (char *tok = strtok_r(NULL, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (strncmp(tok, "sigmoid:", 8) == 0) f->sigmoid = strtod(tok + 8, NULL);
        if (strcmp(tok, "sqrt") == 0) sqrt_out = 1;
    }
    static const char *const identity[] = {"regression", "regression_l1", "quantile", "huber", "fair", "mape",
                                           "lambdarank", "rank_xendcg", NULL};
    for (int i = 0; identity[i]; i++)
        if (strcmp(name, identity[i]) == 0) {
            f->link = sqrt_out ? GB_LINK_SIGNED_SQUARE : GB_LINK_IDENTITY;
            return TI_OK;
        }
    if (!strcmp(name, "binary") || !strcmp(name, "multiclassova")) f->link = GB_LINK_SIGMOID;
    else if (!strcmp(name, "cross_entropy")) f->link = GB_LINK_SIGMOID, f->sigmoid = 1.0;
    else if (!strcmp(name, "multiclass")) f->link = GB_LINK_SOFTMAX;
    else if (!strcmp(name, "poisson") || !strcmp(name, "gamma") || !strcmp(name, "tweedie")) f->link = GB_LINK_EXP;
    else if (!strcmp(name, "cross_entropy_lambda")) f->link = GB_LINK_LOG1P_EXP;
    else
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: objective '%s' is not supported (custom objectives have no known output "
                         "conversion; supported: regression family, binary, multiclass, multiclassova, cross_entropy, "
                         "cross_entropy_lambda, poisson, gamma, tweedie, ranking)",
                         label, name);
    if (!(f->sigmoid > 0) || !isfinite(f->sigmoid)) return ti_errorf(TI_ERR_FORMAT, "%s: objective sigmoid must be > 0", label);
    return TI_OK;
}

/* One tree's arrays, filled while reading its section. */
typedef struct lgb_tree {
    long num_leaves, num_cat;
    double *split_feature, *threshold, *decision_type, *left, *right, *leaf_value, *cat_boundaries, *cat_threshold;
    long n_cat_threshold;
    int have_feat, have_thr, have_dt, have_l, have_r, have_lv, have_cb, have_ct, linear;
} lgb_tree;

static void tree_free(lgb_tree *t)
{
    free(t->split_feature), free(t->threshold), free(t->decision_type), free(t->left), free(t->right);
    free(t->leaf_value), free(t->cat_boundaries), free(t->cat_threshold);
    memset(t, 0, sizeof *t);
}

static ti_err tree_array(double **dst, int *have, const lgb_line *ln, long n, int integers, const char *label, int tree)
{
    free(*dst);
    *dst = malloc((size_t)(n > 0 ? n : 1) * sizeof **dst);
    if (!*dst) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
    *have = 1;
    return parse_array(ln, *dst, n, integers, label, tree);
}

static ti_err tree_build(gb_forest *f, const lgb_tree *t, int cls, int idx, const char *label)
{
    const long L = t->num_leaves, S = L - 1;
    if (!t->have_lv) return ti_errorf(TI_ERR_FORMAT, "%s: tree %d has no leaf_value", label, idx);
    if (S > 0 && !(t->have_feat && t->have_thr && t->have_dt && t->have_l && t->have_r))
        return ti_errorf(TI_ERR_FORMAT, "%s: tree %d misses split_feature, threshold, decision_type, left_child or "
                         "right_child", label, idx);
    if (t->num_cat > 0 && !(t->have_cb && t->have_ct))
        return ti_errorf(TI_ERR_FORMAT, "%s: tree %d has num_cat=%ld but no cat_boundaries/cat_threshold", label, idx,
                         t->num_cat);
    gb_node *nodes;
    ti_err e = gb_forest_add_tree(f, cls, (int)(S + L), &nodes);
    if (e) return e;
    /* splits 0..S-1, leaf j at S + j; root = split 0 (or leaf 0 for a stump) */
    for (long j = 0; j < L; j++) nodes[S + j].value = t->leaf_value[j];
    for (long i = 0; i < S; i++) {
        gb_node *n = &nodes[i];
        const double fe = t->split_feature[i];
        if (!(fe >= 0 && fe < GB_MAX_FEATURES)) return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: split_feature %g", label, idx, fe);
        n->feature = (int32_t)fe;
        const int dt = (int)t->decision_type[i];
        if (dt < 0 || dt > 15) return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: decision_type %d", label, idx, dt);
        const int miss = (dt >> 2) & 3;
        if (miss == 3) return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: missing type 3 is not defined", label, idx);
        n->missing = miss == 0 ? GB_MISS_AS_ZERO : miss == 1 ? GB_MISS_ZERO : GB_MISS_NAN;
        n->default_left = (dt >> 1) & 1;
        for (int side = 0; side < 2; side++) {
            const double c = side ? t->right[i] : t->left[i];
            if (!(c >= -(double)L && c < (double)S))
                return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: child %g of split %ld out of range", label, idx, c, i);
            const int32_t ci = c >= 0 ? (int32_t)c : (int32_t)(S + (~(int32_t)c));
            if (side) n->right = ci;
            else n->left = ci;
        }
        if (dt & 1) {
            const double ci = t->threshold[i];
            if (!(ci >= 0 && ci < (double)t->num_cat) || ci != floor(ci))
                return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: categorical split %ld names set %g of %ld", label, idx, i, ci,
                                 t->num_cat);
            const double b0 = t->cat_boundaries[(long)ci], b1 = t->cat_boundaries[(long)ci + 1];
            if (!(b0 >= 0 && b1 >= b0 && b1 <= (double)t->n_cat_threshold))
                return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: cat_boundaries out of range", label, idx);
            uint32_t words[1024];
            const long nw = (long)(b1 - b0);
            if (nw > 1024) return ti_errorf(TI_ERR_UNSUPPORTED, "%s: tree %d: a categorical set of %ld words", label, idx, nw);
            for (long w = 0; w < nw; w++) {
                const double v = t->cat_threshold[(long)b0 + w];
                if (!(v >= 0 && v <= 4294967295.0)) return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: cat_threshold %g", label, idx, v);
                words[w] = (uint32_t)v;
            }
            n->op = GB_OP_CAT_LGB;
            n->cat_words = (uint32_t)nw;
            e = gb_forest_add_cats(f, words, (size_t)nw, &n->cat_off);
            if (e) return e;
            nodes = f->nodes + f->tree_first[f->n_trees - 1]; /* the pools do not move nodes, but keep it plain */
        } else {
            n->op = GB_OP_LE_D;
            n->thr_d = t->threshold[i];
        }
    }
    if (S == 0) nodes[0].feature = -1;
    return TI_OK;
}

ti_err gb_load_lightgbm(gb_forest *f, const char *text, size_t len, int num_iteration, const char *label)
{
    const char *p = text, *end = text + len;
    lgb_line ln;
    if (!next_line(&p, end, &ln) || !key_is(&ln, "tree") || ln.val)
        return ti_errorf(TI_ERR_FORMAT, "%s: not a LightGBM text model (the first line must be 'tree')", label);
    long num_class = 1, per_iter = 1, max_feat = -1;
    int have_obj = 0, average = 0;
    lgb_line obj = {0};
    /* header: up to the first Tree= */
    const char *tree_start = NULL;
    while (next_line(&p, end, &ln)) {
        if (key_is(&ln, "Tree")) {
            tree_start = ln.key;
            break;
        }
        ti_err e = TI_OK;
        if (key_is(&ln, "num_class")) e = parse_int(&ln, &num_class, 1, GB_MAX_CLASSES, label);
        else if (key_is(&ln, "num_tree_per_iteration")) e = parse_int(&ln, &per_iter, 1, GB_MAX_CLASSES, label);
        else if (key_is(&ln, "max_feature_idx")) e = parse_int(&ln, &max_feat, 0, GB_MAX_FEATURES - 1, label);
        else if (key_is(&ln, "objective")) have_obj = 1, obj = ln;
        else if (key_is(&ln, "average_output")) average = 1;
        else if (key_is(&ln, "linear_tree") && ln.val && ln.vlen == 1 && ln.val[0] == '1')
            e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: linear trees (linear_tree=true) are not supported", label);
        if (e) return e;
    }
    if (!tree_start) return ti_errorf(TI_ERR_FORMAT, "%s: LightGBM model without trees (no 'Tree=' section)", label);
    if (max_feat < 0) return ti_errorf(TI_ERR_FORMAT, "%s: LightGBM header has no max_feature_idx", label);
    if (per_iter != num_class && !(num_class == 1 && per_iter == 1))
        return ti_errorf(TI_ERR_FORMAT, "%s: num_tree_per_iteration %ld differs from num_class %ld", label, per_iter, num_class);
    ti_err e = gb_forest_init(f, GB_LIGHTGBM, (int)num_class);
    if (e) return e;
    f->n_features = (int)max_feat + 1;
    f->average = average;
    if (!have_obj) e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: the model has no objective line (a custom objective): its output "
                                 "conversion is unknown, so tickinfer refuses it", label);
    if (!e) e = set_objective(f, &obj, label);
    /* trees */
    p = tree_start;
    lgb_tree t = {0};
    int in_tree = 0, idx = 0;
    while (!e && next_line(&p, end, &ln)) {
        const int is_tree = key_is(&ln, "Tree"), is_end = ln.klen >= 12 && memcmp(ln.key, "end of trees", 12) == 0;
        if ((is_tree || is_end) && in_tree) {
            e = tree_build(f, &t, idx % (int)per_iter, idx, label);
            tree_free(&t);
            in_tree = 0;
            idx++;
            if (e) break;
        }
        if (is_end) break;
        if (is_tree) {
            in_tree = 1;
            continue;
        }
        if (!in_tree || !ln.val) continue;
        if (key_is(&ln, "num_leaves")) e = parse_int(&ln, &t.num_leaves, 1, 1 << 22, label);
        else if (key_is(&ln, "num_cat")) e = parse_int(&ln, &t.num_cat, 0, 1 << 22, label);
        else if (key_is(&ln, "is_linear") && ln.vlen == 1 && ln.val[0] == '1')
            e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: tree %d is a linear tree (linear_tree=true): not supported", label, idx);
        else if (t.num_leaves < 1 && (key_is(&ln, "split_feature") || key_is(&ln, "leaf_value")))
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: num_leaves must come before its arrays", label, idx);
        else if (key_is(&ln, "split_feature")) e = tree_array(&t.split_feature, &t.have_feat, &ln, t.num_leaves - 1, 1, label, idx);
        else if (key_is(&ln, "threshold")) e = tree_array(&t.threshold, &t.have_thr, &ln, t.num_leaves - 1, 0, label, idx);
        else if (key_is(&ln, "decision_type")) e = tree_array(&t.decision_type, &t.have_dt, &ln, t.num_leaves - 1, 1, label, idx);
        else if (key_is(&ln, "left_child")) e = tree_array(&t.left, &t.have_l, &ln, t.num_leaves - 1, 1, label, idx);
        else if (key_is(&ln, "right_child")) e = tree_array(&t.right, &t.have_r, &ln, t.num_leaves - 1, 1, label, idx);
        else if (key_is(&ln, "leaf_value")) e = tree_array(&t.leaf_value, &t.have_lv, &ln, t.num_leaves, 0, label, idx);
        else if (key_is(&ln, "cat_boundaries")) e = tree_array(&t.cat_boundaries, &t.have_cb, &ln, t.num_cat + 1, 1, label, idx);
        else if (key_is(&ln, "cat_threshold")) {
            /* its length is cat_boundaries' last entry */
            if (!t.have_cb) e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: cat_threshold before cat_boundaries", label, idx);
            else {
                const double n = t.cat_boundaries[t.num_cat];
                if (!(n >= 0 && n <= (double)(1 << 24))) e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: cat_boundaries", label, idx);
                else {
                    t.n_cat_threshold = (long)n;
                    e = tree_array(&t.cat_threshold, &t.have_ct, &ln, t.n_cat_threshold, 1, label, idx);
                }
            }
        }
    }
    if (!e && in_tree) e = ti_errorf(TI_ERR_FORMAT, "%s: truncated: tree %d has no end ('end of trees' missing)", label, idx);
    tree_free(&t);
    if (!e && f->n_trees % (int)per_iter)
        e = ti_errorf(TI_ERR_FORMAT, "%s: %d trees is not a whole number of iterations of %ld", label, f->n_trees, per_iter);
    if (!e) e = gb_forest_limit(f, num_iteration, (int)per_iter, label);
    if (!e) e = gb_forest_finish(f, label);
    if (e) gb_forest_free(f);
    return e;
}
