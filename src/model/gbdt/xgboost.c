/* XGBoost models saved with Booster.save_model: JSON (".json") and UBJSON (".ubj", read
 * through src/formats/ubjson.c into the same document).  learner.gradient_booster is
 * gbtree (or dart, whose weight_drop scales each tree); each tree holds parallel arrays
 * left_children / right_children (-1 at a leaf), split_indices, split_conditions (the
 * leaf value at a leaf), default_left, split_type (1 = categorical, its category list in
 * categories[categories_segments[k] ..][:categories_sizes[k]] for node
 * categories_nodes[k]: those categories go right).  learner_model_param.base_score is in
 * the objective's output space ("5E-1" or, from 3.0, "[5E-1]" one per output); the
 * predictor starts from its margin and adds trees in float. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ubjson.h"
#include "model/gbdt/forest.h"

static json_t *path_get(json_t *o, const char *const *keys)
{
    for (int i = 0; o && keys[i]; i++) o = json_object_get(o, keys[i]);
    return o;
}

/* A number that XGBoost may write as a string ("24") or a number. */
static int num_of(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_string(v)) {
        char *e;
        *out = strtod(json_string_value(v), &e);
        return *e == 0 && e != json_string_value(v);
    }
    return 0;
}

static ti_err set_objective(gb_forest *f, const char *name, const char *label)
{
    snprintf(f->objective, sizeof f->objective, "%s", name);
    static const char *const identity[] = {"reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror",
                                           "reg:absoluteerror", "reg:quantileerror", "binary:logitraw",
                                           "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", NULL};
    for (int i = 0; identity[i]; i++)
        if (!strcmp(name, identity[i])) {
            f->link = GB_LINK_IDENTITY;
            return TI_OK;
        }
    if (!strcmp(name, "binary:logistic") || !strcmp(name, "reg:logistic")) f->link = GB_LINK_SIGMOID;
    else if (!strcmp(name, "count:poisson") || !strcmp(name, "reg:gamma") || !strcmp(name, "reg:tweedie"))
        f->link = GB_LINK_EXP;
    else if (!strcmp(name, "multi:softprob")) f->link = GB_LINK_SOFTMAX;
    else if (!strcmp(name, "multi:softmax")) f->link = GB_LINK_ARGMAX;
    else
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: XGBoost objective '%s' is not supported (supported: reg:*, binary:logistic, "
                         "binary:logitraw, count:poisson, reg:gamma, reg:tweedie, multi:softprob, multi:softmax, rank:*)",
                         label, name);
    return TI_OK;
}

/* base_score (output space) -> margin, in XGBoost's float arithmetic. */
static float base_margin(const char *obj, float p)
{
    if (!strcmp(obj, "binary:logistic") || !strcmp(obj, "reg:logistic")) return -logf(1.0f / p - 1.0f);
    /* binary:logitraw starts from base_score as it is */
    if (!strcmp(obj, "count:poisson") || !strcmp(obj, "reg:gamma") || !strcmp(obj, "reg:tweedie")) return logf(p);
    return p;
}

/* "5E-1", "[5E-1]" or "[3E-1,3E-1]" -> values. */
static int parse_base(const char *s, float *v, int max)
{
    int n = 0;
    while (*s == ' ' || *s == '[') s++;
    while (*s && *s != ']' && n < max) {
        char *e;
        v[n++] = strtof(s, &e);
        if (e == s) return -1;
        s = e;
        while (*s == ',' || *s == ' ') s++;
    }
    return n;
}

static ti_err arr(json_t *tree, const char *key, size_t n, json_t **out, int t, const char *label)
{
    json_t *a = json_object_get(tree, key);
    if (!json_is_array(a) || json_array_size(a) != n)
        return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: '%s' must be an array of %zu values", label, t, key, n);
    *out = a;
    return TI_OK;
}

static ti_err load_tree(gb_forest *f, json_t *tree, int cls, int t, const char *label)
{
    double nn_d = 0, slv = 1;
    json_t *tp = json_object_get(tree, "tree_param");
    if (!num_of(json_object_get(tp, "num_nodes"), &nn_d) || !(nn_d >= 1 && nn_d <= (1 << 24)))
        return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: tree_param.num_nodes missing or out of range", label, t);
    if (num_of(json_object_get(tp, "size_leaf_vector"), &slv) && slv > 1)
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: tree %d has vector leaves (multi_strategy=multi_output_tree): not supported",
                         label, t);
    const size_t nn = (size_t)nn_d;
    json_t *lc, *rc, *si, *sc, *dl, *st = json_object_get(tree, "split_type");
    ti_err e = arr(tree, "left_children", nn, &lc, t, label);
    if (!e) e = arr(tree, "right_children", nn, &rc, t, label);
    if (!e) e = arr(tree, "split_indices", nn, &si, t, label);
    if (!e) e = arr(tree, "split_conditions", nn, &sc, t, label);
    if (!e) e = arr(tree, "default_left", nn, &dl, t, label);
    if (!e && st && (!json_is_array(st) || json_array_size(st) != nn))
        e = ti_errorf(TI_ERR_FORMAT, "%s: tree %d: 'split_type' must hold %zu values", label, t, nn);
    if (e) return e;
    gb_node *nodes;
    e = gb_forest_add_tree(f, cls, (int)nn, &nodes);
    if (e) return e;
    for (size_t i = 0; i < nn; i++) {
        gb_node *n = &nodes[i];
        const json_int_t l = json_integer_value(json_array_get(lc, i)), r = json_integer_value(json_array_get(rc, i));
        double cond;
        if (!json_is_integer(json_array_get(lc, i)) || !json_is_integer(json_array_get(rc, i)) ||
            !num_of(json_array_get(sc, i), &cond))
            return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %zu: children must be integers and split_conditions numbers",
                             label, t, i);
        if (l == -1) {
            n->feature = -1;
            n->value = (double)(float)cond;
            continue;
        }
        if (l < 0 || r < 0 || (size_t)l >= nn || (size_t)r >= nn)
            return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %zu: children %lld/%lld outside %zu nodes", label, t, i,
                             (long long)l, (long long)r, nn);
        const json_int_t fi = json_integer_value(json_array_get(si, i));
        if (fi < 0 || fi >= GB_MAX_FEATURES)
            return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %zu: split index %lld", label, t, i, (long long)fi);
        n->feature = (int32_t)fi;
        n->left = (int32_t)l;
        n->right = (int32_t)r;
        n->default_left = json_is_true(json_array_get(dl, i)) || json_integer_value(json_array_get(dl, i)) != 0;
        n->missing = GB_MISS_NAN;
        n->op = GB_OP_LT_F;
        n->thr_f = (float)cond;
        if (st && json_integer_value(json_array_get(st, i)) == 1) n->op = GB_OP_CAT_XGB;
    }
    /* categorical sets */
    json_t *cn = json_object_get(tree, "categories_nodes"), *cs = json_object_get(tree, "categories_segments"),
           *cz = json_object_get(tree, "categories_sizes"), *cats = json_object_get(tree, "categories");
    const size_t ncn = json_array_size(cn);
    if (ncn && (json_array_size(cs) != ncn || json_array_size(cz) != ncn || !json_is_array(cats)))
        return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: categories_nodes/segments/sizes disagree", label, t);
    for (size_t k = 0; k < ncn; k++) {
        const json_int_t node = json_integer_value(json_array_get(cn, k)), seg = json_integer_value(json_array_get(cs, k)),
                         sz = json_integer_value(json_array_get(cz, k));
        if (node < 0 || (size_t)node >= nn || seg < 0 || sz < 0 || (size_t)(seg + sz) > json_array_size(cats))
            return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: categorical set %zu out of range", label, t, k);
        gb_node *n = &f->nodes[f->tree_first[f->n_trees - 1] + node];
        if (n->op != GB_OP_CAT_XGB)
            return ti_errorf(TI_ERR_FORMAT, "%s: tree %d: node %lld has categories but is not a categorical split", label, t,
                             (long long)node);
        uint32_t words[2048] = {0};
        uint32_t nw = 0;
        for (json_int_t j = 0; j < sz; j++) {
            const json_int_t c = json_integer_value(json_array_get(cats, (size_t)(seg + j)));
            if (c < 0 || c >= 2048 * 32)
                return ti_errorf(TI_ERR_UNSUPPORTED, "%s: tree %d: category %lld (0..65535 supported)", label, t, (long long)c);
            words[c / 32] |= 1u << (c % 32);
            nw = (uint32_t)(c / 32 + 1) > nw ? (uint32_t)(c / 32 + 1) : nw;
        }
        uint32_t off;
        ti_err e2 = gb_forest_add_cats(f, words, nw, &off);
        if (e2) return e2;
        n = &f->nodes[f->tree_first[f->n_trees - 1] + node];
        n->cat_off = off;
        n->cat_words = nw;
    }
    return TI_OK;
}

static ti_err load_doc(gb_forest *f, json_t *root, int num_iteration, const char *label)
{
    json_t *learner = json_object_get(root, "learner");
    if (!json_is_object(learner))
        return ti_errorf(TI_ERR_FORMAT, "%s: not an XGBoost model (no 'learner' object; save it with "
                         "Booster.save_model(\"model.json\"))", label);
    json_t *gb = json_object_get(learner, "gradient_booster");
    const char *bname = json_string_value(json_object_get(gb, "name"));
    if (!bname) return ti_errorf(TI_ERR_FORMAT, "%s: learner.gradient_booster.name missing", label);
    json_t *model = NULL, *weights = NULL;
    if (!strcmp(bname, "gbtree")) model = json_object_get(gb, "model");
    else if (!strcmp(bname, "dart")) {
        model = path_get(gb, (const char *const[]){"gbtree", "model", NULL});
        weights = json_object_get(gb, "weight_drop");
    } else
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: XGBoost booster '%s' is not supported (gbtree and dart are; gblinear "
                         "is a linear model, not trees)", label, bname);
    json_t *trees = json_object_get(model, "trees"), *info = json_object_get(model, "tree_info");
    if (!json_is_array(trees) || !json_is_array(info) || json_array_size(info) != json_array_size(trees))
        return ti_errorf(TI_ERR_FORMAT, "%s: gradient_booster model needs 'trees' and a 'tree_info' of the same length", label);
    json_t *mp = json_object_get(learner, "learner_model_param");
    double num_class = 0, num_feature = 0, num_target = 1;
    num_of(json_object_get(mp, "num_class"), &num_class);
    num_of(json_object_get(mp, "num_target"), &num_target);
    if (!num_of(json_object_get(mp, "num_feature"), &num_feature) || !(num_feature >= 1 && num_feature <= GB_MAX_FEATURES))
        return ti_errorf(TI_ERR_FORMAT, "%s: learner_model_param.num_feature missing or out of range", label);
    if (num_target > 1)
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: %g targets (multi-target models) are not supported", label, num_target);
    if (!(num_class >= 0 && num_class <= GB_MAX_CLASSES))
        return ti_errorf(TI_ERR_FORMAT, "%s: num_class %g out of range", label, num_class);
    const int K = num_class >= 2 ? (int)num_class : 1;
    ti_err e = gb_forest_init(f, GB_XGBOOST, K);
    if (e) return e;
    f->n_features = (int)num_feature;
    const char *obj = json_string_value(path_get(learner, (const char *const[]){"objective", "name", NULL}));
    if (!obj) return ti_errorf(TI_ERR_FORMAT, "%s: learner.objective.name missing", label);
    e = set_objective(f, obj, label);
    if (e) return e;
    const char *bs = json_string_value(json_object_get(mp, "base_score"));
    float base[GB_MAX_CLASSES];
    const int nb = bs ? parse_base(bs, base, GB_MAX_CLASSES) : 0;
    if (nb != 1 && nb != K) return ti_errorf(TI_ERR_FORMAT, "%s: base_score '%s' is not 1 or %d numbers", label, bs ? bs : "", K);
    for (int k = 0; k < K; k++) f->base[k] = base_margin(obj, base[nb == 1 ? 0 : k]);
    const size_t nt = json_array_size(trees);
    if (weights && json_array_size(weights) != nt)
        return ti_errorf(TI_ERR_FORMAT, "%s: dart weight_drop has %zu weights for %zu trees", label, json_array_size(weights), nt);
    for (size_t t = 0; t < nt && !e; t++) {
        const json_int_t cls = json_integer_value(json_array_get(info, t));
        if (cls < 0 || cls >= K) return ti_errorf(TI_ERR_FORMAT, "%s: tree_info[%zu] = %lld of %d outputs", label, t, (long long)cls, K);
        e = load_tree(f, json_array_get(trees, t), (int)cls, (int)t, label);
    }
    if (e) return e;
    if (weights) {
        f->tree_weight = malloc(nt * sizeof *f->tree_weight);
        if (!f->tree_weight) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
        for (size_t t = 0; t < nt; t++) {
            double w;
            if (!num_of(json_array_get(weights, t), &w)) return ti_errorf(TI_ERR_FORMAT, "%s: weight_drop[%zu]", label, t);
            f->tree_weight[t] = (float)w;
        }
    }
    if (num_iteration > 0) {
        /* iteration_indptr (2.0+) gives each iteration's trees; else trees per iteration */
        json_t *ip = json_object_get(model, "iteration_indptr");
        if (json_is_array(ip) && json_array_size(ip) > 1) {
            if ((size_t)num_iteration >= json_array_size(ip))
                return ti_errorf(TI_ERR_RANGE, "%s: num_iteration %d but the model has %zu iterations", label, num_iteration,
                                 json_array_size(ip) - 1);
            const json_int_t keep = json_integer_value(json_array_get(ip, (size_t)num_iteration));
            if (keep < 1 || keep > f->n_trees) return ti_errorf(TI_ERR_FORMAT, "%s: iteration_indptr out of range", label);
            e = gb_forest_limit(f, (int)keep, 1, label);
        } else {
            double npt = 1;
            num_of(path_get(model, (const char *const[]){"gbtree_model_param", "num_parallel_tree", NULL}), &npt);
            e = gb_forest_limit(f, num_iteration, K * (npt >= 1 ? (int)npt : 1), label);
        }
    }
    return e;
}

static ti_err load_and_finish(gb_forest *f, json_t *root, int num_iteration, const char *label)
{
    ti_err e = load_doc(f, root, num_iteration, label);
    json_decref(root);
    if (!e) e = gb_forest_finish(f, label);
    if (e) gb_forest_free(f);
    return e;
}

ti_err gb_load_xgboost_json(gb_forest *f, const char *text, size_t len, int num_iteration, const char *label)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) return ti_errorf(TI_ERR_FORMAT, "%s: not valid JSON (line %d: %s)", label, je.line, je.text);
    return load_and_finish(f, root, num_iteration, label);
}

ti_err gb_load_xgboost_ubj(gb_forest *f, const uint8_t *data, size_t len, int num_iteration, const char *label)
{
    json_t *root = NULL;
    ti_err e = ti_ubjson_parse(&root, data, len, label);
    if (e) return e;
    return load_and_finish(f, root, num_iteration, label);
}
