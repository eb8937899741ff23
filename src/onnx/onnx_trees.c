/* ONNX-ML tree ensembles (ai.onnx.ml TreeEnsembleRegressor / TreeEnsembleClassifier, as
 * onnxmltools, skl2onnx and hummingbird export them) into the tree kind's forest, with
 * ONNX Runtime's semantics: nodes_modes BRANCH_LEQ/LT/GTE/GT/EQ/NEQ (true branch when the
 * test holds), NaN takes the true branch when nodes_missing_value_tracks_true says so and
 * otherwise fails the test, leaf weights summed per target/class in float, then
 * aggregate_function (SUM, AVERAGE, MIN, MAX), base_values and post_transform (NONE,
 * LOGISTIC, SOFTMAX).  A classifier with two classes and weights on one class gives
 * [1 - p, p]. */
#define TICKINFER_ONNX_WANT_PROTO
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt/forest.h"
#include "onnx/onnx_internal.h"

typedef struct ox_tree_attrs {
    const Onnx__AttributeProto *treeids, *nodeids, *featureids, *modes, *values, *trues, *falses, *missing;
    const Onnx__AttributeProto *w_tree, *w_node, *w_id, *w_weight;
} ox_tree_attrs;

static int str_is(const ProtobufCBinaryData *s, const char *v)
{
    return s->len == strlen(v) && memcmp(s->data, v, s->len) == 0;
}

static const char *attr_s(const Onnx__NodeProto *n, const char *name, const char *dflt, char *buf, size_t cap)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    if (!a || !a->has_s) return dflt;
    snprintf(buf, cap, "%.*s", (int)a->s.len, (const char *)a->s.data);
    return buf;
}

static ti_err need_ints(const Onnx__AttributeProto *a, size_t n, const char *name, const char *label)
{
    if (!a || a->n_ints != n)
        return ti_errorf(TI_ERR_FORMAT, "%s: TreeEnsemble attribute %s must hold %zu integers", label, name, n);
    return TI_OK;
}

/* The F of the graph's first input [N, F] (0 if not static). */
static int input_width(const Onnx__GraphProto *g)
{
    if (!g->n_input || !g->input[0]->type || g->input[0]->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return 0;
    const Onnx__TensorShapeProto *s = g->input[0]->type->tensor_type->shape;
    if (!s || s->n_dim != 2 || s->dim[1]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) return 0;
    const int64_t v = s->dim[1]->dim_value;
    return v > 0 && v <= GB_MAX_FEATURES ? (int)v : 0;
}

static ti_err build(gb_forest *f, const Onnx__NodeProto *nd, int classifier, int n_in, const char *label)
{
    ox_tree_attrs a = {
        ox_attr(nd, "nodes_treeids"), ox_attr(nd, "nodes_nodeids"), ox_attr(nd, "nodes_featureids"),
        ox_attr(nd, "nodes_modes"), ox_attr(nd, "nodes_values"), ox_attr(nd, "nodes_truenodeids"),
        ox_attr(nd, "nodes_falsenodeids"), ox_attr(nd, "nodes_missing_value_tracks_true"),
        ox_attr(nd, classifier ? "class_treeids" : "target_treeids"), ox_attr(nd, classifier ? "class_nodeids" : "target_nodeids"),
        ox_attr(nd, classifier ? "class_ids" : "target_ids"), ox_attr(nd, classifier ? "class_weights" : "target_weights")};
    if (ox_attr(nd, "nodes_values_as_tensor") || ox_attr(nd, "target_weights_as_tensor") ||
        ox_attr(nd, "class_weights_as_tensor") || ox_attr(nd, "base_values_as_tensor"))
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: *_as_tensor attributes (double thresholds/weights) are not supported", label);
    if (!a.treeids || !a.modes) return ti_errorf(TI_ERR_FORMAT, "%s: TreeEnsemble without nodes_treeids/nodes_modes", label);
    const size_t N = a.treeids->n_ints;
    ti_err e = need_ints(a.nodeids, N, "nodes_nodeids", label);
    if (!e) e = need_ints(a.featureids, N, "nodes_featureids", label);
    if (!e) e = need_ints(a.trues, N, "nodes_truenodeids", label);
    if (!e) e = need_ints(a.falses, N, "nodes_falsenodeids", label);
    if (!e && a.missing && a.missing->n_ints != N && a.missing->n_ints != 0)
        e = ti_errorf(TI_ERR_FORMAT, "%s: nodes_missing_value_tracks_true must hold %zu integers", label, N);
    if (!e && (a.modes->n_strings != N || !a.values || a.values->n_floats != N))
        e = ti_errorf(TI_ERR_FORMAT, "%s: nodes_modes and nodes_values must hold %zu entries", label, N);
    if (!e && (!a.w_tree || !a.w_node || !a.w_id || !a.w_weight || a.w_node->n_ints != a.w_tree->n_ints ||
               a.w_id->n_ints != a.w_tree->n_ints || a.w_weight->n_floats != a.w_tree->n_ints))
        e = ti_errorf(TI_ERR_FORMAT, "%s: %s_treeids/nodeids/ids/weights must be present and of one length", label,
                      classifier ? "class" : "target");
    if (e) return e;
    /* outputs */
    int K = 1;
    if (classifier) {
        const Onnx__AttributeProto *li = ox_attr(nd, "classlabels_int64s"), *ls = ox_attr(nd, "classlabels_strings");
        K = li ? (int)li->n_ints : ls ? (int)ls->n_strings : 0;
        if (K < 2) return ti_errorf(TI_ERR_FORMAT, "%s: TreeEnsembleClassifier needs 2 or more class labels", label);
    } else {
        const int64_t nt = ox_attr_i(nd, "n_targets", 1);
        if (nt != 1) return ti_errorf(TI_ERR_UNSUPPORTED, "%s: n_targets %lld (one target is supported)", label, (long long)nt);
    }
    for (size_t i = 0; i < a.w_id->n_ints; i++)
        if (a.w_id->ints[i] < 0 || a.w_id->ints[i] >= K)
            return ti_errorf(TI_ERR_FORMAT, "%s: leaf weight for class/target %lld of %d", label, (long long)a.w_id->ints[i], K);
    int used[GB_MAX_CLASSES] = {0}, n_used = 0;
    for (size_t i = 0; i < a.w_id->n_ints; i++)
        if (!used[a.w_id->ints[i]]++) n_used++;
    const int binary = classifier && K == 2 && n_used <= 1;
    e = gb_forest_init(f, GB_ONNX, binary ? 1 : K);
    if (e) return e;
    f->onnx_binary = binary;
    /* two classes, weights on one class id (onnxmltools writes 0): ONNX Runtime reads the
     * score as the second class's, probabilities [1 - p, p] */
    char buf[64];
    const char *agg = attr_s(nd, "aggregate_function", "SUM", buf, sizeof buf);
    f->agg = !strcmp(agg, "SUM") ? GB_AGG_SUM : !strcmp(agg, "AVERAGE") ? GB_AGG_AVERAGE : !strcmp(agg, "MIN") ? GB_AGG_MIN
                                                                                      : !strcmp(agg, "MAX") ? GB_AGG_MAX : -1;
    if ((int)f->agg < 0) e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: aggregate_function %s", label, agg);
    char pbuf[64];
    const char *pt = attr_s(nd, "post_transform", "NONE", pbuf, sizeof pbuf);
    if (!strcmp(pt, "NONE")) f->link = GB_LINK_IDENTITY;
    else if (!strcmp(pt, "LOGISTIC")) f->link = GB_LINK_SIGMOID;
    else if (!strcmp(pt, "SOFTMAX") && !binary) f->link = GB_LINK_SOFTMAX;
    else if (!e) e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: post_transform %s is not supported (NONE, LOGISTIC, SOFTMAX)", label, pt);
    snprintf(f->objective, sizeof f->objective, "%s %s", classifier ? "classifier" : "regressor", pt);
    const Onnx__AttributeProto *bv = ox_attr(nd, "base_values");
    if (!e && bv && bv->n_floats) {
        if (binary && bv->n_floats == 2) f->base[0] = bv->floats[1];
        else if ((int)bv->n_floats == f->n_outputs)
            for (int k = 0; k < f->n_outputs; k++) f->base[k] = bv->floats[k];
        else if (binary && bv->n_floats == 1) f->base[0] = bv->floats[0];
        else e = ti_errorf(TI_ERR_FORMAT, "%s: %zu base_values for %d outputs", label, bv->n_floats, f->n_outputs);
    }
    /* trees in order of first appearance; node ids local to each tree */
    int64_t max_tree = -1;
    for (size_t i = 0; i < N; i++) {
        if (a.treeids->ints[i] < 0 || a.treeids->ints[i] > (1 << 24) || a.nodeids->ints[i] < 0 || a.nodeids->ints[i] > (1 << 24))
            e = e ? e : ti_errorf(TI_ERR_FORMAT, "%s: node %zu: tree id / node id out of range", label, i);
        max_tree = a.treeids->ints[i] > max_tree ? a.treeids->ints[i] : max_tree;
    }
    int32_t *tree_n = NULL, *tree_pos = NULL, *tree_order = NULL, *local = NULL, *tree_cls = NULL;
    int32_t n_order = 0;
    if (!e) {
        const size_t T = (size_t)max_tree + 1;
        tree_n = calloc(T, sizeof *tree_n);      /* max node id + 1 */
        tree_pos = malloc(T * sizeof *tree_pos); /* first node index in the forest */
        tree_order = malloc(T * sizeof *tree_order);
        tree_cls = malloc(T * sizeof *tree_cls);
        local = malloc((N ? N : 1) * sizeof *local);
        if (!tree_n || !tree_pos || !tree_order || !local || !tree_cls) e = ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
        for (size_t t = 0; !e && t < T; t++) tree_pos[t] = -1, tree_cls[t] = -1;
        for (size_t i = 0; !e && i < N; i++) {
            const int64_t t = a.treeids->ints[i], id = a.nodeids->ints[i];
            if (tree_n[t] == 0) tree_order[n_order++] = (int32_t)t;
            tree_n[t] = id + 1 > tree_n[t] ? (int32_t)(id + 1) : tree_n[t];
        }
        /* each tree's class: the class of its leaves' weights (one per tree) */
        for (size_t i = 0; !e && i < a.w_tree->n_ints; i++) {
            const int64_t t = a.w_tree->ints[i], c = binary ? 0 : a.w_id->ints[i];
            if (t < 0 || t > max_tree || tree_n[t] == 0) e = ti_errorf(TI_ERR_FORMAT, "%s: leaf weight for unknown tree %lld", label, (long long)t);
            else if (tree_cls[t] >= 0 && tree_cls[t] != c)
                e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: tree %lld has leaves for several classes (one class per tree is "
                              "supported)", label, (long long)t);
            else tree_cls[t] = (int32_t)c;
        }
    }
    for (int32_t o = 0; !e && o < n_order; o++) {
        const int32_t t = tree_order[o];
        gb_node *nodes;
        e = gb_forest_add_tree(f, tree_cls[t] >= 0 ? tree_cls[t] : 0, tree_n[t], &nodes);
        if (!e) tree_pos[t] = f->tree_first[f->n_trees - 1];
    }
    int max_feat = -1;
    uint8_t *defined = e ? NULL : calloc(f->n_nodes ? f->n_nodes : 1, 1);
    if (!e && !defined) e = ti_errorf(TI_ERR_NOMEM, "%s: out of memory", label);
    for (size_t i = 0; !e && i < N; i++) {
        const int64_t t = a.treeids->ints[i], id = a.nodeids->ints[i];
        const size_t gi = (size_t)tree_pos[t] + (size_t)id;
        gb_node *n = &f->nodes[gi];
        if (defined[gi]++) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %lld node %lld defined twice", label, (long long)t, (long long)id);
            break;
        }
        const ProtobufCBinaryData *m = &a.modes->strings[i];
        if (str_is(m, "LEAF")) {
            n->feature = -1;
            continue;
        }
        const int64_t tn = a.trues->ints[i], fnode = a.falses->ints[i], fe = a.featureids->ints[i];
        if (tn < 0 || tn >= tree_n[t] || fnode < 0 || fnode >= tree_n[t] || fe < 0 || fe >= GB_MAX_FEATURES) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %lld node %lld: children or feature out of range", label, (long long)t, (long long)id);
            break;
        }
        const int tracks = a.missing && a.missing->n_ints == N && a.missing->ints[i] != 0;
        n->feature = (int32_t)fe;
        max_feat = (int)fe > max_feat ? (int)fe : max_feat;
        n->missing = GB_MISS_NAN;
        n->thr_f = a.values->floats[i];
        int swap = 0;
        if (str_is(m, "BRANCH_LEQ")) n->op = GB_OP_LE_F;
        else if (str_is(m, "BRANCH_LT")) n->op = GB_OP_LT_F;
        else if (str_is(m, "BRANCH_GTE")) n->op = GB_OP_LT_F, swap = 1;
        else if (str_is(m, "BRANCH_GT")) n->op = GB_OP_LE_F, swap = 1;
        else if (str_is(m, "BRANCH_EQ")) n->op = GB_OP_EQ_F;
        else if (str_is(m, "BRANCH_NEQ")) n->op = GB_OP_EQ_F, swap = 1;
        else {
            e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: node mode '%.*s' is not supported", label, (int)m->len, (const char *)m->data);
            break;
        }
        /* our left = where the (un-swapped) test holds; NaN fails every test */
        n->left = (int32_t)(swap ? fnode : tn);
        n->right = (int32_t)(swap ? tn : fnode);
        n->default_left = swap ? !tracks : tracks;
    }
    for (size_t i = 0; !e && i < a.w_tree->n_ints; i++) {
        const int64_t t = a.w_tree->ints[i], id = a.w_node->ints[i];
        if (id < 0 || id >= tree_n[t]) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: leaf weight for node %lld of tree %lld", label, (long long)id, (long long)t);
            break;
        }
        gb_node *n = &f->nodes[(size_t)tree_pos[t] + (size_t)id];
        if (n->feature >= 0) {
            e = ti_errorf(TI_ERR_FORMAT, "%s: tree %lld: a weight on node %lld, which is not a leaf", label, (long long)t, (long long)id);
            break;
        }
        n->value = (double)((float)n->value + a.w_weight->floats[i]);
    }
    for (size_t i = 0; !e && i < f->n_nodes; i++)
        if (!defined[i]) {
            /* ids with no node: only legal when no split points at them (checked by finish) */
            f->nodes[i].feature = -1;
        }
    if (!e) {
        f->n_features = n_in > 0 ? n_in : max_feat + 1;
        if (max_feat >= f->n_features)
            e = ti_errorf(TI_ERR_FORMAT, "%s: a split reads feature %d but the input has %d", label, max_feat, f->n_features);
    }
    free(defined);
    free(tree_n), free(tree_pos), free(tree_order), free(local), free(tree_cls);
    return e;
}

static const char *const PASS_OPS[] = {"Identity", "Cast", NULL};

/* A Mul whose second input is an initializer of ones. */
static int mul_by_one(const Onnx__GraphProto *g, const Onnx__NodeProto *n)
{
    if (n->n_input != 2) return 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || strcmp(t->name, n->input[1]) != 0) continue;
        const int64_t c = ox_numel(t);
        if (c < 1 || c > 1024) return 0;
        float v[1024];
        if (ox_tensor_f32(v, c, t, "mul") != TI_OK) {
            ti_error_clear();
            return 0;
        }
        for (int64_t k = 0; k < c; k++)
            if (v[k] != 1.0f) return 0;
        return 1;
    }
    return 0;
}

ti_err gb_load_onnx(gb_forest *f, const uint8_t *data, size_t len, int num_iteration, const char *label)
{
    Onnx__ModelProto *mp = NULL;
    ti_err e = ox_unpack(&mp, data, len, label);
    if (e) return e;
    const Onnx__GraphProto *g = mp->graph;
    const Onnx__NodeProto *te = NULL;
    int classifier = 0;
    for (size_t i = 0; !e && g && i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        const char *op = n->op_type ? n->op_type : "";
        if (!strcmp(op, "TreeEnsembleRegressor") || !strcmp(op, "TreeEnsembleClassifier")) {
            if (te) e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: more than one TreeEnsemble node", label);
            te = n;
            classifier = !strcmp(op, "TreeEnsembleClassifier");
            continue;
        }
        int ok = 0;
        for (int k = 0; PASS_OPS[k]; k++) ok |= !strcmp(op, PASS_OPS[k]);
        if (!strcmp(op, "Mul")) ok = mul_by_one(g, n); /* onnxmltools scales probabilities by 1 */
        if (!ok)
            e = ti_errorf(TI_ERR_UNSUPPORTED, "%s: node '%s' (%s) besides the tree ensemble is not supported%s", label,
                          n->name ? n->name : "", op, !strcmp(op, "ZipMap") ? " (export with zipmap=False)" : "");
    }
    if (!e && !te) e = ti_errorf(TI_ERR_FORMAT, "%s: no TreeEnsembleRegressor/Classifier node", label);
    if (!e) e = build(f, te, classifier, input_width(g), label);
    if (!e && num_iteration > 0) e = gb_forest_limit(f, num_iteration, f->n_outputs, label);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!e) e = gb_forest_finish(f, label);
    if (e) gb_forest_free(f);
    return e;
}
