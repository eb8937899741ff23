/* The tree kind's model: a forest of decision trees in one in-memory form for every file
 * format (LightGBM text, XGBoost JSON/UBJSON, ONNX-ML TreeEnsemble*), and its predictor.
 *
 * Loaders build a forest with gb_forest_* (nodes as the library wrote them, leaf values in
 * double), then gb_forest_finish validates it and compiles the fast layout: one 16-byte
 * node per split and per leaf (leaves loop on themselves), children by index, every
 * numerical test rewritten as `x <= thr` on float32 with the library's missing-value rule
 * folded into one bit.  What the libraries compare differently is made exact here:
 *   LightGBM  left iff (double)x <= t      -> thr = the largest float <= t
 *   XGBoost   left iff x < t (float)        -> thr = nextafterf(t, -inf)
 *   ONNX-ML   BRANCH_LEQ/LT/GTE/GT          -> LE/LT as above, GTE/GT by swapping children
 * so the predictor is bit-for-bit the library's decision on every float input.  Sums
 * follow the library's order and precision (LightGBM: double; XGBoost and ONNX Runtime:
 * float), then the objective's link in the library's own arithmetic. */
#ifndef TICKINFER_MODEL_GBDT_FOREST_H
#define TICKINFER_MODEL_GBDT_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/threadpool.h"

#define GB_MAX_CLASSES 256
#define GB_MAX_FEATURES (1 << 24)

/* How a split treats a missing value (NaN) and, for LightGBM, zero. */
typedef enum gb_missing {
    GB_MISS_NAN,       /* NaN goes the default direction */
    GB_MISS_AS_ZERO,   /* LightGBM missing_type None: NaN is read as 0.0 */
    GB_MISS_ZERO,      /* LightGBM missing_type Zero: |x| <= 1e-35 or NaN go the default direction */
} gb_missing;

typedef enum gb_op {
    GB_OP_LE_D,        /* left iff (double)x <= thr_d (LightGBM) */
    GB_OP_LT_F,        /* left iff x < thr_f (XGBoost, ONNX BRANCH_LT) */
    GB_OP_LE_F,        /* left iff x <= thr_f (ONNX BRANCH_LEQ) */
    GB_OP_EQ_F,        /* left iff x == thr_f (ONNX BRANCH_EQ; NEQ swaps children) */
    GB_OP_CAT_LGB,     /* LightGBM: left iff (int)x is in the bitset (negative / NaN rules) */
    GB_OP_CAT_XGB,     /* XGBoost: right iff (int)x is in the set; invalid categories left */
} gb_op;

/* One node as loaded.  feature < 0: a leaf with `value`. */
typedef struct gb_node {
    int32_t feature;
    uint8_t op, missing, default_left, pad;
    int32_t left, right;   /* node indices within the tree */
    float thr_f;
    double thr_d;
    double value;          /* leaf value */
    uint32_t cat_off, cat_words; /* categorical: bitset words in the forest's pool */
} gb_node;

typedef enum gb_link {
    GB_LINK_IDENTITY,
    GB_LINK_SIGMOID,       /* per output, 1 / (1 + exp(-s * x)) */
    GB_LINK_SOFTMAX,       /* across the classes */
    GB_LINK_EXP,           /* poisson, gamma, tweedie */
    GB_LINK_SIGNED_SQUARE, /* LightGBM `sqrt` regression: sign(x) x^2 */
    GB_LINK_LOG1P_EXP,     /* LightGBM cross_entropy_lambda: log1p(exp(x)) */
    GB_LINK_ARGMAX,        /* XGBoost multi:softmax: the class index */
    GB_LINK_PROBIT,        /* ONNX post_transform PROBIT */
    GB_LINK_SOFTMAX_ZERO,  /* ONNX SOFTMAX_ZERO */
    GB_LINK__COUNT
} gb_link;

/* Whose arithmetic the sums and links follow. */
typedef enum gb_flavor { GB_LIGHTGBM, GB_XGBOOST, GB_ONNX } gb_flavor;

typedef enum gb_aggregate { GB_AGG_SUM, GB_AGG_AVERAGE, GB_AGG_MIN, GB_AGG_MAX } gb_aggregate;

/* The fast layout's node.  LEAF nodes loop on themselves (thr = NaN never goes left). */
typedef struct gb_fnode {
    float thr;
    uint32_t feat;         /* feature index (low 24 bits) | flags << 24 */
    int32_t left, right;   /* absolute node indices */
} gb_fnode;

#define GB_F_NAN_LEFT 1u   /* NaN goes left */
#define GB_F_SPECIAL 2u    /* not a plain `x <= thr`: the slow path decides (node in `special`) */
#define GB_F_LEAF 4u
#define GB_P_NAN_LEFT (1u << 30)
#define GB_P_LEAF (1u << 31)

typedef struct gb_forest {
    gb_flavor flavor;
    int n_features;        /* columns a row must have (max feature index + 1, or declared) */
    int n_outputs;         /* 1, or the number of classes */
    int n_trees;
    gb_link link;
    double sigmoid;        /* LightGBM's sigmoid parameter (1 by default) */
    gb_aggregate agg;      /* ONNX aggregate_function; SUM elsewhere */
    int average;           /* LightGBM random forest: divide by the iterations */
    int onnx_binary;       /* ONNX binary classifier: one score -> two probabilities */
    double base[GB_MAX_CLASSES]; /* added to each output before the link (margin space) */
    char objective[300];   /* the file's objective, for info and messages */
    /* as loaded */
    gb_node *nodes;        /* all trees' nodes */
    size_t n_nodes, cap_nodes;
    int32_t *tree_first;   /* [n_trees + 1] first node of each tree in `nodes` */
    int32_t *tree_class;   /* [n_trees] output each tree adds to */
    float *tree_weight;    /* [n_trees] or NULL: XGBoost dart weights */
    int cap_trees;
    uint32_t *cats;        /* categorical bitsets */
    size_t n_cats, cap_cats;
    /* compiled (gb_forest_finish) */
    gb_fnode *fn;          /* [n_nodes] */
    int32_t *froot;        /* [n_trees] */
    int32_t *fspecial;     /* [n_nodes]: index into nodes of the loaded node (special ones) */
    double *fleaf_d;       /* [n_nodes] leaf value at a leaf node (dart weight applied) */
    float *fleaf_f;        /* [n_nodes] the same in float (float-summing flavors) */
    int single_output;     /* n_outputs == 1 and every tree adds to output 0 */
    int class_trees[GB_MAX_CLASSES]; /* trees adding to each output */
    int max_depth;
    /* the vector walk (forest_avx512.c): structure-of-arrays copies of fn, and a leaf of
     * value 0 (fzero) that unused lanes start on */
    int simd;              /* 1: the AVX-512 walk runs this forest */
    int n_special;         /* nodes the fast layout cannot express as `x <= thr` */
    float *sthr;
    uint32_t *sfeat;
    int32_t *sright;
    uint64_t *spack;       /* or NULL: thr bits | meta << 32, meta = (right - self) |
                            * feature << 16 | GB_P_NAN_LEFT | GB_P_LEAF */
    int32_t fzero;
} gb_forest;

ti_err gb_forest_init(gb_forest *f, gb_flavor flavor, int n_outputs);
void gb_forest_free(gb_forest *f);
/* Start a tree adding to output `cls` with `n_nodes` nodes (returned zeroed, all leaves
 * until filled).  Node 0 is the tree's root. */
ti_err gb_forest_add_tree(gb_forest *f, int cls, int n_nodes, gb_node **nodes);
/* Append n words to the categorical pool; *off receives their offset. */
ti_err gb_forest_add_cats(gb_forest *f, const uint32_t *words, size_t n, uint32_t *off);
/* Keep only the first n_iter iterations (n_iter * trees per iteration trees); 0 = all. */
ti_err gb_forest_limit(gb_forest *f, int n_iter, int trees_per_iter, const char *label);
/* Check every tree (children in range, each node reached once, no cycles, features and
 * categories in range) and compile the fast layout.  label names the file in errors. */
ti_err gb_forest_finish(gb_forest *f, const char *label);

/* Raw scores (margins, base added, before the link) y [B, n_outputs]: the reference
 * predictor, one node at a time over the loaded nodes (tests compare the fast path to it). */
void gb_forest_predict_ref(const gb_forest *f, double *y, const float *x, size_t B, size_t ld);
/* The fast path: y [B, n_outputs] float after the link, rows x [B, ld] (ld >= n_features).
 * Rows are split over the pool's threads when there are many. */
void gb_forest_predict(const gb_forest *f, float *y, const float *x, size_t B, size_t ld, ti_pool *pool);
/* Use the vector walk where the CPU and the forest allow it (on by default; tests turn it
 * off to compare against the scalar walk). */
void gb_forest_set_simd(gb_forest *f, int on);
/* forest_avx512.c: raw sums of rows [0, n <= 64) of a block; of one row. */
void gb_avx512_rows(const gb_forest *f, double *s, const float *x, size_t n, size_t ld);
double gb_avx512_one(const gb_forest *f, const float *x);

/* The link on one row's raw scores (in place, double), in the flavor's arithmetic. */
void gb_forest_link(const gb_forest *f, double *s);
/* Columns of an output row: n_outputs, 2 for an ONNX binary classifier, 1 for argmax. */
int gb_forest_out_cols(const gb_forest *f);
/* The reference predictor's final outputs (link applied), y [B, out_cols]. */
void gb_forest_predict_ref_out(const gb_forest *f, float *y, const float *x, size_t B, size_t ld);
const char *gb_link_name(gb_link l);

/* The loaders.  num_iteration: keep only the first iterations (0 = all). */
ti_err gb_load_lightgbm(gb_forest *f, const char *text, size_t len, int num_iteration, const char *label);
ti_err gb_load_xgboost_json(gb_forest *f, const char *text, size_t len, int num_iteration, const char *label);
ti_err gb_load_xgboost_ubj(gb_forest *f, const uint8_t *data, size_t len, int num_iteration, const char *label);
/* ONNX-ML TreeEnsembleRegressor / TreeEnsembleClassifier (src/onnx/onnx_trees.c). */
ti_err gb_load_onnx(gb_forest *f, const uint8_t *data, size_t len, int num_iteration, const char *label);

/* The forest of a model of the tree kind, NULL for other kinds (tests, benchmarks). */
struct ti_model;
const gb_forest *ti_trees_forest(const struct ti_model *m);

#endif
