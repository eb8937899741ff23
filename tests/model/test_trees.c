/* The tree kind: the fast predictor against the reference on random forests of every
 * flavor and split rule (NaN, +-inf, +-0, subnormals, values on and next to every
 * threshold); LightGBM's rules on a hand-written model whose answers LightGBM gave;
 * parity with lightgbm / xgboost / onnxruntime on real models trained on the bundled
 * features (tests/py/gbdt_oracle.py, needs the .venv); broken files; the model
 * interface; the windowed model against the flat export it was trained on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_path.h"
#include "formats/ubjson.h"
#include "harness.h"
#include "model/gbdt/forest.h"
#include "tickinfer/batch.h"
#include "tickinfer/cpu.h"
#include "tickinfer/fileio.h"
#include "tickinfer/flat.h"
#include "tickinfer/ingest.h"
#include "tickinfer/model.h"
#include "tickinfer/npy.h"
#include "tickinfer/baseline.h"
#include "tickinfer/train.h"

static char g_dir[256];

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return g_rng;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static int rndi(int n) { return (int)(rnd() % (uint64_t)n); }

/* ---- random forests ---------------------------------------------------------------------- */

#define F_SYN 6

/* plain: only splits the fast layout expresses as `x <= thr` (the vector walk's forests) */
static void random_forest(gb_forest *f, gb_flavor fl, int K, int n_trees, int leaves, int plain)
{
    TI_CHECK_OK(gb_forest_init(f, fl, K));
    f->n_features = F_SYN;
    f->link = (gb_link)(K > 1 ? GB_LINK_SOFTMAX : rndi(2) ? GB_LINK_SIGMOID : GB_LINK_IDENTITY);
    if (fl == GB_ONNX) f->agg = plain ? GB_AGG_SUM : (gb_aggregate)rndi(4);
    if (fl == GB_LIGHTGBM) f->average = rndi(4) == 0;
    for (int k = 0; k < K; k++) f->base[k] = fl == GB_LIGHTGBM ? 0 : unif() - 0.5;
    for (int t = 0; t < n_trees; t++) {
        const int nn = 2 * leaves - 1;
        gb_node *nodes;
        TI_CHECK_OK(gb_forest_add_tree(f, t % K, nn, &nodes));
        int used = 1;
        int leaf_list[256], nl = 1;
        leaf_list[0] = 0;
        while (nl < leaves) { /* split a random leaf */
            const int pick = rndi(nl), id = leaf_list[pick];
            gb_node *n = &nodes[id];
            n->feature = rndi(F_SYN);
            n->left = used, n->right = used + 1;
            leaf_list[pick] = used, leaf_list[nl++] = used + 1;
            used += 2;
        }
        for (int i = 0; i < nn; i++) {
            gb_node *n = &nodes[i];
            if (n->feature < 0) {
                n->value = (unif() - 0.5) * 2;
                continue;
            }
            n->default_left = (uint8_t)rndi(2);
            const int r = plain ? 4 + rndi(6) : rndi(10);
            if (fl == GB_LIGHTGBM) {
                n->missing = (uint8_t)(plain ? (rndi(2) ? GB_MISS_NAN : GB_MISS_AS_ZERO) : rndi(3));
                if (r == 0) {
                    uint32_t w[2] = {(uint32_t)rnd(), (uint32_t)rnd()};
                    n->op = GB_OP_CAT_LGB;
                    n->cat_words = 1 + (uint32_t)rndi(2);
                    TI_CHECK_OK(gb_forest_add_cats(f, w, n->cat_words, &n->cat_off));
                    nodes = f->nodes + f->tree_first[f->n_trees - 1];
                    n = &nodes[i];
                } else {
                    n->op = GB_OP_LE_D;
                    /* thresholds between floats, in LightGBM's zero band, huge, integers */
                    const double v = r == 1 ? 1e-36 * (unif() - 0.5) : r == 2 ? 1e300 * (unif() - 0.5) : r == 3 ? (double)rndi(5)
                                                                                                      : unif() * 4 - 2;
                    n->thr_d = v;
                }
            } else if (fl == GB_XGBOOST) {
                n->missing = GB_MISS_NAN;
                if (r == 0) {
                    uint32_t w[2] = {(uint32_t)rnd(), (uint32_t)rnd()};
                    n->op = GB_OP_CAT_XGB;
                    n->cat_words = 1 + (uint32_t)rndi(2);
                    TI_CHECK_OK(gb_forest_add_cats(f, w, n->cat_words, &n->cat_off));
                    nodes = f->nodes + f->tree_first[f->n_trees - 1];
                    n = &nodes[i];
                } else {
                    n->op = GB_OP_LT_F;
                    n->thr_f = r == 1 ? -INFINITY : r == 2 ? (float)rndi(5) : (float)(unif() * 4 - 2);
                }
            } else {
                n->missing = GB_MISS_NAN;
                n->op = r < 2 ? GB_OP_EQ_F : r < 6 ? GB_OP_LE_F : GB_OP_LT_F;
                if (plain && n->op == GB_OP_EQ_F) n->op = GB_OP_LE_F;
                n->thr_f = r < 3 ? (float)rndi(5) : (float)(unif() * 4 - 2);
            }
        }
    }
    TI_CHECK_OK(gb_forest_finish(f, "random"));
}

/* Rows from values the splits care about: thresholds and their float neighbours, NaN,
 * +-inf, +-0, values inside LightGBM's zero band, small integers (categories), noise. */
static void adversarial_rows(const gb_forest *f, float *x, int B)
{
    for (int i = 0; i < B * F_SYN; i++) {
        const int r = rndi(12);
        const gb_node *n = &f->nodes[rndi((int)f->n_nodes)];
        const float thr = n->op == GB_OP_LE_D ? (float)n->thr_d : n->thr_f;
        float v;
        switch (r) {
        case 0: v = NAN; break;
        case 1: v = rndi(2) ? INFINITY : -INFINITY; break;
        case 2: v = rndi(2) ? 0.0f : -0.0f; break;
        case 3: v = (float)((unif() - 0.5) * 4e-35); break;
        case 4: v = (float)rndi(70) - 3; break;
        case 5: v = thr; break;
        case 6: v = nextafterf(thr, INFINITY); break;
        case 7: v = nextafterf(thr, -INFINITY); break;
        case 8: v = (float)rndi(8) + 0.5f; break;
        default: v = (float)(unif() * 6 - 3); break;
        }
        x[i] = v;
    }
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)); }

TI_TEST(fast_path_equals_reference_on_random_forests)
{
    ti_pool *pool = NULL;
    TI_CHECK_OK(ti_pool_create(&pool, 2));
    enum { B = 700 };
    float *x = malloc(sizeof(float) * B * F_SYN), *ya = malloc(sizeof(float) * B * 8), *yb = malloc(sizeof(float) * B * 8),
          *yc = malloc(sizeof(float) * B * 8), *yd = malloc(sizeof(float) * B * 8);
    int bad = 0, cases = 0, vector_forests = 0;
    for (int round = 0; round < 120; round++) {
        const gb_flavor fl = (gb_flavor)(round % 3);
        const int plain = (round / 3) % 2, K = plain ? 1 : rndi(3) == 0 ? 3 : 1;
        gb_forest f;
        memset(&f, 0, sizeof f);
        random_forest(&f, fl, K, 1 + rndi(plain ? 150 : 40), 1 + rndi(40), plain);
        adversarial_rows(&f, x, B);
        const int C = gb_forest_out_cols(&f);
        gb_forest_predict_ref_out(&f, ya, x, B, F_SYN);
        /* the vector walk where the CPU has it, then the scalar walk */
        for (int simd = 1; simd >= 0; simd--) {
            gb_forest_set_simd(&f, simd);
            vector_forests += f.simd;
            gb_forest_predict(&f, yb, x, B, F_SYN, NULL);
            gb_forest_predict(&f, yc, x, B, F_SYN, pool);
            for (int b = 0; b < B; b++) gb_forest_predict(&f, yd + b * C, x + b * F_SYN, 1, F_SYN, NULL);
            for (int i = 0; i < B * C; i++) {
                cases++;
                if (!same_bits(ya[i], yb[i]) || !same_bits(ya[i], yc[i]) || !same_bits(ya[i], yd[i])) {
                    if (bad++ < 5)
                        TI_FAILF("round %d flavor %d simd %d row %d: ref %.9g batch %.9g pool %.9g single %.9g", round, fl,
                                 f.simd, i / C, ya[i], yb[i], yc[i], yd[i]);
                }
            }
        }
        gb_forest_free(&f);
    }
    TI_CHECK_MSG(bad == 0, "%d of %d outputs differ from the reference", bad, cases);
    if (ti_simd_active() >= TI_SIMD_AVX512) TI_CHECK_MSG(vector_forests >= 50, "only %d forests took the vector walk", vector_forests);
    printf("  %d outputs checked, %d forests through the AVX-512 walk\n", cases, vector_forests);
    free(x), free(ya), free(yb), free(yc), free(yd);
    ti_pool_destroy(pool);
}

/* ---- LightGBM's rules on a hand-written model ------------------------------------------------ */

static const char *HAND_LGB =
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=2\n"
    "objective=regression\nfeature_names=a b c\nfeature_infos=[0:1] 1:3 [0:2]\ntree_sizes=400\n\n"
    "Tree=0\nnum_leaves=4\nnum_cat=1\nsplit_feature=0 1 2\nsplit_gain=1 1 1\nthreshold=0.5 0 1.5\n"
    "decision_type=10 1 4\nleft_child=1 -1 -3\nright_child=2 -2 -4\nleaf_value=1 2 3 4\n"
    "leaf_weight=1 1 1 1\nleaf_count=1 1 1 1\ninternal_value=0 0 0\ninternal_weight=1 1 1\n"
    "internal_count=4 2 2\ncat_boundaries=0 1\ncat_threshold=10\nis_linear=0\nshrinkage=1\n\n\n"
    "end of trees\n\nfeature_importances:\n\nparameters:\nend of parameters\n\npandas_categorical:null\n";

TI_TEST(lightgbm_rules_on_a_hand_written_model)
{
    /* split 0: a <= 0.5, NaN default left; split 1: b in {1, 3} (categorical, NaN -> 0,
     * negatives right); split 2: c <= 1.5, zero (and NaN, and |c| <= 1e-35) default right.
     * The answers are LightGBM 4.6's own predict on these rows. */
    const float n = NAN, inf = INFINITY;
    const float X[][3] = {{0.2f, 1, 5},  {0.2f, 2, 0}, {0.2f, n, 0},    {0.2f, -1, 0},   {0.2f, 3.7f, 0},
                          {n, 3, 0},     {0.5f, 3, 0}, {0x1.000002p-1f, 3, 1}, {1, 0, 0},  {1, 0, n},
                          {1, 0, 1.0f},  {1, 0, 1e-40f}, {1, 0, -0.5f},  {inf, 0, 2}};
    const float want[] = {1, 2, 2, 2, 1, 1, 1, 3, 4, 4, 3, 4, 3, 4};
    gb_forest f;
    memset(&f, 0, sizeof f);
    TI_CHECK_OK(gb_load_lightgbm(&f, HAND_LGB, strlen(HAND_LGB), 0, "hand"));
    const int B = (int)(sizeof want / sizeof want[0]);
    float y[16];
    gb_forest_predict(&f, y, &X[0][0], (size_t)B, 3, NULL);
    for (int i = 0; i < B; i++) TI_CHECK_MSG(y[i] == want[i], "row %d: %g, LightGBM says %g", i, y[i], want[i]);
    gb_forest_free(&f);
}

/* ---- broken files ----------------------------------------------------------------------- */

static ti_err load_lgb_text(const char *text)
{
    gb_forest f;
    memset(&f, 0, sizeof f);
    ti_err e = gb_load_lightgbm(&f, text, strlen(text), 0, "t.txt");
    if (!e) gb_forest_free(&f);
    return e;
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (!p) return NULL;
    char *o = malloc(strlen(s) + strlen(to) + 1);
    sprintf(o, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return o;
}

TI_TEST(broken_lightgbm_files_get_clear_errors)
{
    struct {
        const char *from, *to, *msg;
        ti_err code;
    } cases[] = {
        {"split_feature=0 1 2", "split_feature=0 1 7", "splits on feature 7 but the model has 3 features", TI_ERR_FORMAT},
        {"left_child=1 -1 -3", "left_child=1 -1 -9", "out of range", TI_ERR_FORMAT},
        {"left_child=1 -1 -3", "left_child=0 -1 -3", "reached twice", TI_ERR_FORMAT},
        {"threshold=0.5 0 1.5", "threshold=0.5 0", "fewer values", TI_ERR_FORMAT},
        {"threshold=0.5 0 1.5", "threshold=0.5 0 1.5 7", "more values", TI_ERR_FORMAT},
        {"threshold=0.5 0 1.5", "threshold=0.5 x 1.5", "fewer values", TI_ERR_FORMAT},
        {"objective=regression", "objective=mystery", "objective 'mystery' is not supported", TI_ERR_UNSUPPORTED},
        {"objective=regression\n", "", "no objective line", TI_ERR_UNSUPPORTED},
        {"is_linear=0", "is_linear=1", "linear tree", TI_ERR_UNSUPPORTED},
        {"cat_boundaries=0 1", "cat_boundaries=0 5", "cat_threshold holds fewer values where 5", TI_ERR_FORMAT},
        {"threshold=0.5 0 1.5", "threshold=0.5 3 1.5", "names set 3", TI_ERR_FORMAT},
        {"decision_type=10 1 4", "decision_type=10 1 12", "missing type 3", TI_ERR_FORMAT},
        {"max_feature_idx=2\n", "", "no max_feature_idx", TI_ERR_FORMAT},
        {"end of trees", "end of tree", "truncated", TI_ERR_FORMAT},
        {"tree\nversion", "xtree\nversion", "not a LightGBM text model", TI_ERR_FORMAT},
        {"leaf_value=1 2 3 4", "leaf_value=1 2 nan 4", "node 5 is a leaf with value nan", TI_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = replace(HAND_LGB, cases[i].from, cases[i].to);
        TI_CHECK_MSG(t != NULL, "case %zu: pattern missing", i);
        if (!t) continue;
        TI_CHECK_ERR(load_lgb_text(t), cases[i].code, cases[i].msg);
        free(t);
    }
    /* every truncation: a clean error (or, past the last tree, the whole model) */
    const size_t L = strlen(HAND_LGB);
    const char *end = strstr(HAND_LGB, "end of trees");
    for (size_t cut = 0; cut < L; cut++) {
        char *t = strndup(HAND_LGB, cut);
        ti_err e = load_lgb_text(t);
        if (cut < (size_t)(end - HAND_LGB) + 12) TI_CHECK_MSG(e != TI_OK, "cut at %zu loaded", cut);
        free(t);
    }
}

static const char *XGB_MIN =
    "{\"learner\":{\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"trees\":[{\"tree_param\":{\"num_nodes\":\"3\","
    "\"size_leaf_vector\":\"1\"},\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[1,0,0],"
    "\"split_conditions\":[0.5,-1.0,2.0],\"default_left\":[1,0,0],\"split_type\":[0,0,0],\"categories\":[],"
    "\"categories_nodes\":[],\"categories_segments\":[],\"categories_sizes\":[]}],\"tree_info\":[0]}},"
    "\"learner_model_param\":{\"base_score\":\"[5E-1]\",\"num_class\":\"0\",\"num_feature\":\"2\",\"num_target\":\"1\"},"
    "\"objective\":{\"name\":\"reg:squarederror\"}},\"version\":[3,1,2]}";

static ti_err load_xgb_text(const char *text)
{
    gb_forest f;
    memset(&f, 0, sizeof f);
    ti_err e = gb_load_xgboost_json(&f, text, strlen(text), 0, "x.json");
    if (!e) gb_forest_free(&f);
    return e;
}

TI_TEST(xgboost_json_rules_and_broken_files)
{
    gb_forest f;
    memset(&f, 0, sizeof f);
    TI_CHECK_OK(gb_load_xgboost_json(&f, XGB_MIN, strlen(XGB_MIN), 0, "x.json"));
    /* x1 < 0.5 left (leaf -1), NaN default left, 0.5 itself right (strict <); + base 0.5 */
    const float X[] = {0, 0.25f, 0, NAN, 0, 0.5f, 0, 0x1.fffffep-2f};
    float y[4];
    gb_forest_predict(&f, y, X, 4, 2, NULL);
    TI_CHECK(y[0] == -0.5f && y[1] == -0.5f && y[2] == 2.5f && y[3] == -0.5f);
    gb_forest_free(&f);
    struct {
        const char *from, *to, *msg;
        ti_err code;
    } cases[] = {
        {"\"gbtree\",\"model\"", "\"gblinear\",\"model\"", "gblinear", TI_ERR_UNSUPPORTED},
        {"[1,0,0],\"split_conditions\"", "[7,0,0],\"split_conditions\"", "feature 7 but the model has 2", TI_ERR_FORMAT},
        {"\"right_children\":[2,-1,-1]", "\"right_children\":[5,-1,-1]", "outside 3 nodes", TI_ERR_FORMAT},
        {"\"right_children\":[2,-1,-1]", "\"right_children\":[2,-1]", "right_children", TI_ERR_FORMAT},
        {"reg:squarederror", "survival:cox", "survival:cox", TI_ERR_UNSUPPORTED},
        {"\"size_leaf_vector\":\"1\"", "\"size_leaf_vector\":\"3\"", "vector leaves", TI_ERR_UNSUPPORTED},
        {"\"num_target\":\"1\"", "\"num_target\":\"2\"", "multi-target", TI_ERR_UNSUPPORTED},
        {"\"tree_info\":[0]", "\"tree_info\":[3]", "tree_info[0] = 3", TI_ERR_FORMAT},
        {"[5E-1]", "[5E-1,1]", "base_score", TI_ERR_FORMAT},
        {"{\"learner\"", "{\"lerner\"", "no 'learner'", TI_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = replace(XGB_MIN, cases[i].from, cases[i].to);
        TI_CHECK_MSG(t != NULL, "case %zu: pattern missing", i);
        if (!t) continue;
        TI_CHECK_ERR(load_xgb_text(t), cases[i].code, cases[i].msg);
        free(t);
    }
    for (size_t cut = 0; cut + 1 < strlen(XGB_MIN); cut++) {
        char *t = strndup(XGB_MIN, cut);
        TI_CHECK_MSG(load_xgb_text(t) != TI_OK, "JSON cut at %zu loaded", cut);
        free(t);
    }
    /* UBJSON: every truncation and a flipped byte fail cleanly */
    static const uint8_t ubj[] = {'{', 'U', 1, 'a', '[', '$', 'd', '#', 'U', 2, 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, '}'};
    json_t *j = NULL;
    TI_CHECK_OK(ti_ubjson_parse(&j, ubj, sizeof ubj, "t"));
    TI_CHECK(j && json_array_size(json_object_get(j, "a")) == 2 &&
             json_real_value(json_array_get(json_object_get(j, "a"), 1)) == 2.0);
    json_decref(j);
    for (size_t cut = 0; cut < sizeof ubj; cut++) {
        gb_forest g;
        memset(&g, 0, sizeof g);
        TI_CHECK(gb_load_xgboost_ubj(&g, ubj, cut, 0, "x.ubj") != TI_OK);
    }
    static const uint8_t huge[] = {'[', '$', 'd', '#', 'L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    TI_CHECK_ERR(ti_ubjson_parse(&j, huge, sizeof huge, "t"), TI_ERR_FORMAT, "exceeds the bytes left");
}

/* ---- the model interface ------------------------------------------------------------------ */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    TI_CHECK(f != NULL);
    if (f) fputs(text, f), fclose(f);
}

TI_TEST(tree_files_open_through_the_model_interface)
{
    char p[512];
    snprintf(p, sizeof p, "%s/hand.txt", g_dir);
    write_text(p, HAND_LGB);
    ti_model *m = NULL;
    TI_CHECK_OK(ti_model_open(&m, p, NULL));
    if (!m) return;
    const ti_model_info *mi = ti_model_get_info(m);
    TI_CHECK(strcmp(mi->kind, "trees") == 0 && strcmp(mi->arch, "lightgbm") == 0 && mi->n_features == 3 && mi->context == 1);
    TI_CHECK(mi->inputs[0].ndim == 3 && mi->inputs[0].shape[1] == 1 && mi->inputs[0].shape[2] == 3);
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, m, 4));
    const float x[2 * 3] = {0.2f, 1, 5, 1, 0, 1.0f};
    float y[2];
    TI_CHECK_OK(ti_ctx_forward(c, y, x, 2, 1, NULL));
    TI_CHECK(y[0] == 1 && y[1] == 3);
    /* a request with the wrong number of features is refused, naming the model's */
    float x4[4] = {0};
    ti_tensor in = {.dtype = TI_DTYPE_F32, .ndim = 3, .shape = {1, 1, 4}, .data = x4};
    ti_tensor out = {.dtype = TI_DTYPE_F32, .ndim = 1, .shape = {1}, .data = y};
    TI_CHECK_ERR(ti_ctx_run(c, &out, 1, &in, 1, NULL), TI_ERR_INVALID_ARG, "dim 2 is 4; the model needs 3");
    ti_ctx_destroy(c);
    ti_model_free(m);
    /* the same file under an XGBoost name is still sniffed as LightGBM; garbage is named */
    snprintf(p, sizeof p, "%s/junk.txt", g_dir);
    write_text(p, "not a model\n");
    TI_CHECK_ERR(ti_model_open(&m, p, NULL), TI_ERR_FORMAT, "not a LightGBM text model");
    ti_model_opts o;
    ti_model_default_opts(&o);
    o.num_iteration = 2;
    snprintf(p, sizeof p, "%s/hand.txt", g_dir);
    TI_CHECK_ERR(ti_model_open(&m, p, &o), TI_ERR_RANGE, "num_iteration 2 asks for 2 trees but the model has 1");
}

/* ---- real models against their libraries ----------------------------------------------- */

static ti_err build_flat(char *flat_dir, size_t cap, char *ds_dir, size_t dcap)
{
    snprintf(ds_dir, dcap, "%s/ds", g_dir);
    snprintf(flat_dir, cap, "%s/flat", g_dir);
    struct stat st;
    if (stat(flat_dir, &st) == 0) return TI_OK;
    ti_ingest_options io = {.source = "data/optiver/trade_train.parquet", .out_dir = ds_dir, .n_threads = 2};
    ti_ingest_report rep;
    ti_err e = ti_ingest(&io, &rep);
    ti_dataset *ds = NULL;
    if (!e) e = ti_dataset_open(&ds, ds_dir, 0);
    ti_wterm terms[TI_FLAT_MAX_TERMS];
    if (!e) e = ti_flat_export(ds, ds_dir, terms, ti_flat_default_terms(ti_dataset_get_info(ds), terms, TI_FLAT_MAX_TERMS), 7u,
                               flat_dir, 0);
    ti_dataset_close(ds);
    return e;
}

static const void *read_npy(const char *path, ti_npy_view *v, char **buf)
{
    size_t len;
    if (ti_read_file(path, 0, buf, &len) != TI_OK || ti_npy_parse(v, *buf, len) != TI_OK) return NULL;
    return v->data;
}

TI_TEST(predict_cli_takes_rows_with_missing_values)
{
    /* `tickinfer predict` on a tree file: a 2-D file is rows (not one window), NaN and
     * +-inf are the model's to decide; the hand model's LightGBM answers come back */
    char cli[512], p[512], in[512], out[512], cmd[2200];
    if (ti_test_find_cli(cli, sizeof cli) != 0) {
        TI_FAILF("the tickinfer CLI is not built");
        return;
    }
    snprintf(p, sizeof p, "%s/hand.txt", g_dir);
    write_text(p, HAND_LGB);
    const float x[4][3] = {{NAN, 3, 0}, {INFINITY, 0, 2}, {1, 0, NAN}, {0.2f, -1, 0}}, want[4] = {1, 4, 4, 2};
    char hdr[128];
    size_t hl;
    const int64_t shape[2] = {4, 3};
    TI_CHECK_OK(ti_npy_header_f32(hdr, sizeof hdr, &hl, 2, shape));
    snprintf(in, sizeof in, "%s/rows.npy", g_dir);
    snprintf(out, sizeof out, "%s/pred.npy", g_dir);
    FILE *f = fopen(in, "wb");
    TI_CHECK(f != NULL);
    if (!f) return;
    fwrite(hdr, 1, hl, f), fwrite(x, sizeof x, 1, f), fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' predict --model '%s' --input '%s' --output '%s' --quiet", cli, p, in, out);
    TI_CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    ti_npy_view v;
    char *buf = NULL;
    const float *y = read_npy(out, &v, &buf);
    TI_CHECK(y && v.ndim == 1 && v.shape[0] == 4);
    for (int i = 0; y && i < 4; i++) TI_CHECK_MSG(y[i] == want[i], "row %d: %g, LightGBM says %g", i, y[i], want[i]);
    free(buf);
}

TI_TEST(parity_with_lightgbm_xgboost_onnxruntime)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("TI_PYTHON unset: the lightgbm/xgboost/onnxruntime oracle needs the .venv (run via make test)");
    char flat[300], ds[300], out[300], cmd[1200];
    TI_CHECK_OK(build_flat(flat, sizeof flat, ds, sizeof ds));
    snprintf(out, sizeof out, "%s/oracle", g_dir);
    snprintf(cmd, sizeof cmd, "'%s' tests/py/gbdt_oracle.py '%s' --flat '%s' > '%s.log' 2>&1", py, out, flat, out);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "tail -20 '%s.log' >&2", out);
        (void)!system(cmd);
        TI_FAILF("tests/py/gbdt_oracle.py failed (log above)");
        return;
    }
    char path[600], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/cases.json", out);
    TI_CHECK_OK(ti_read_file(path, 0, &text, &len));
    json_t *cases = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    TI_CHECK(json_array_size(cases) >= 20);
    int n_exact = 0, n_close = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name")), *file = json_string_value(json_object_get(c, "file"));
        const char *expect = json_string_value(json_object_get(c, "expect_error"));
        const int num_it = (int)json_integer_value(json_object_get(c, "num_iteration"));
        snprintf(path, sizeof path, "%s/%s", out, file);
        ti_model_opts o;
        ti_model_default_opts(&o);
        o.num_iteration = num_it;
        ti_model *m = NULL;
        ti_err e = ti_model_open(&m, path, &o);
        if (expect) {
            TI_CHECK_MSG(e != TI_OK && strstr(ti_errmsg(), expect), "%s: want an error with '%s', got %s", name, expect,
                         e ? ti_errmsg() : "a model");
            ti_model_free(m);
            continue;
        }
        TI_CHECK_MSG(e == TI_OK, "%s: %s", name, ti_errmsg());
        if (e) continue;
        const gb_forest *f = ti_trees_forest(m);
        ti_npy_view vx, vp;
        char *bx = NULL, *bp = NULL;
        snprintf(path, sizeof path, "%s/%s.rows.npy", out, name);
        const float *x = read_npy(path, &vx, &bx);
        snprintf(path, sizeof path, "%s/%s.pred.npy", out, name);
        const double *want = read_npy(path, &vp, &bp);
        TI_CHECK_MSG(x && want && vx.dtype == TI_NPY_F32 && vp.dtype == TI_NPY_F64 && vx.ndim == 2, "%s: rows/pred files", name);
        if (!x || !want || vx.ndim != 2) {
            free(bx), free(bp), ti_model_free(m);
            continue;
        }
        const size_t B = (size_t)vx.shape[0], F = (size_t)vx.shape[1];
        const int C = gb_forest_out_cols(f);
        TI_CHECK_MSG((int)F == f->n_features && vp.count == B * (size_t)C, "%s: %zu x %zu rows, %zu preds, model %d x %d", name, B,
                     F, vp.count, f->n_features, C);
        float *y = malloc(sizeof(float) * B * (size_t)C), *y1 = malloc(sizeof(float) * (size_t)C);
        gb_forest_predict(f, y, x, B, F, NULL);
        size_t differ = 0, single_differ = 0;
        double max_rel = 0;
        for (size_t r = 0; r < B; r++) {
            gb_forest_predict(f, y1, x + r * F, 1, F, NULL);
            for (int k = 0; k < C; k++) {
                const size_t j = r * (size_t)C + (size_t)k;
                if (!same_bits(y1[k], y[j])) single_differ++;
                if (!same_bits(y[j], (float)want[j])) {
                    differ++;
                    const double rel = fabs((double)y[j] - want[j]) / fmax(fabs(want[j]), 1e-30);
                    max_rel = rel > max_rel ? rel : max_rel;
                }
            }
        }
        /* the contract: identical to the library's output rounded to float32; where a
         * library computes in a way float cannot reproduce bit for bit, <= 1e-6 relative */
        TI_CHECK_MSG(max_rel <= 1e-6 && single_differ == 0, "%s: %zu of %zu outputs differ (max rel %.3g), %zu single-row",
                     name, differ, B * (size_t)C, max_rel, single_differ);
        if (differ) n_close++, printf("  %s: %zu of %zu within %.3g relative (not bit-identical)\n", name, differ, B * (size_t)C, max_rel);
        else n_exact++;
        free(y), free(y1), free(bx), free(bp);
        ti_model_free(m);
    }
    printf("  oracle parity: %d cases bit-identical to the library (as float32), %d within 1e-6\n", n_exact, n_close);
    json_decref(cases);
}

/* ---- the windowed model ------------------------------------------------------------------- */

TI_TEST(windowed_model_equals_the_flat_rows_it_was_trained_on)
{
    char flat[300], ds_dir[300];
    TI_CHECK_OK(build_flat(flat, sizeof flat, ds_dir, sizeof ds_dir));
    ti_model *w = NULL, *raw = NULL;
    TI_CHECK_OK(ti_model_open(&w, "models/rv_lgbm.json", NULL));
    TI_CHECK_OK(ti_model_open(&raw, "models/rv_lgbm.txt", NULL));
    if (!w || !raw) {
        ti_model_free(w), ti_model_free(raw);
        return;
    }
    const ti_model_info *mi = ti_model_get_info(w);
    TI_CHECK(strcmp(mi->arch, "lightgbm-window") == 0 && mi->context == 300 && !ti_model_has_norm(w));
    ti_dataset *ds = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, ds_dir, 0));
    char *bx = NULL;
    ti_npy_view vx;
    char path[400];
    snprintf(path, sizeof path, "%s/X.npy", flat);
    const float *X = read_npy(path, &vx, &bx);
    TI_CHECK(X && vx.ndim == 2 && (size_t)vx.shape[0] == ti_dataset_num_buckets(ds));
    const int K = X ? (int)vx.shape[1] : 0, T = 300, F = mi->n_features;
    ti_ctx *cw = NULL, *cr = NULL;
    TI_CHECK_OK(ti_ctx_create(&cw, w, 1));
    TI_CHECK_OK(ti_ctx_create(&cr, raw, 1));
    float *win = malloc(sizeof(float) * (size_t)T * (size_t)F);
    ti_feat_state *st = malloc(sizeof *st);
    int bad = 0;
    for (size_t i = 0; X && cw && cr && i < ti_dataset_num_buckets(ds); i += 37) {
        ti_batch_bucket_features(win, st, ds, (uint32_t)i, 0);
        float yw, yr;
        TI_CHECK_OK(ti_ctx_forward(cw, &yw, win, 1, T, NULL));
        TI_CHECK_OK(ti_ctx_forward(cr, &yr, X + i * (size_t)K, 1, 1, NULL));
        if (yw != logf(yr)) bad++;
    }
    TI_CHECK_MSG(bad == 0, "%d buckets: the windowed model differs from log(trees(flat row))", bad);
    /* streaming: one row per second through ti_state ends on the window's forecast */
    ti_state *sst = NULL;
    TI_CHECK_OK(ti_state_create(&sst, w));
    if (sst && X) {
        ti_batch_bucket_features(win, st, ds, 5, 0);
        float ys = NAN, yw = 0;
        for (int t = 0; t < T; t++) TI_CHECK_OK(ti_state_step(sst, &ys, win + (size_t)t * (size_t)F));
        TI_CHECK_OK(ti_ctx_forward(cw, &yw, win, 1, T, NULL));
        TI_CHECK_MSG(ys == yw, "streamed %g, window %g", ys, yw);
    }
    ti_state_destroy(sst);
    /* eval scores it like any RV model: its test RMSPE is the flat rows' */
    const uint32_t *idx = NULL;
    const size_t n = ti_dataset_split(ds, TI_SPLIT_TEST, &idx);
    float *pred = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *pf = malloc(sizeof(float) * n);
    TI_CHECK_OK(ti_eval_predict(pred, y, w, ds, TI_SPLIT_TEST, 0, 1.0, NULL));
    for (size_t r = 0; X && cr && r < n; r++) TI_CHECK_OK(ti_ctx_forward(cr, &pf[r], X + (size_t)idx[r] * (size_t)K, 1, 1, NULL));
    const double e_eval = ti_rmspe(y, pred, n), e_flat = ti_rmspe(y, pf, n);
    TI_CHECK_MSG(n > 100 && fabs(e_eval - e_flat) < 1e-6 && e_eval > 0.1 && e_eval < 0.6, "test RMSPE eval %g, flat rows %g (%zu)",
                 e_eval, e_flat, n);
    printf("  bundled LightGBM model, bundled subset: test RMSPE %.4f over %zu buckets\n", e_eval, n);
    free(pred), free(y), free(pf);
    free(win), free(st), free(bx);
    ti_ctx_destroy(cw), ti_ctx_destroy(cr);
    ti_dataset_close(ds);
    ti_model_free(w), ti_model_free(raw);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_trees_%d", (int)getpid());
    mkdir(g_dir, 0700);
    TI_RUN(fast_path_equals_reference_on_random_forests);
    TI_RUN(lightgbm_rules_on_a_hand_written_model);
    TI_RUN(broken_lightgbm_files_get_clear_errors);
    TI_RUN(xgboost_json_rules_and_broken_files);
    TI_RUN(tree_files_open_through_the_model_interface);
    TI_RUN(predict_cli_takes_rows_with_missing_values);
    TI_RUN(parity_with_lightgbm_xgboost_onnxruntime);
    TI_RUN(windowed_model_equals_the_flat_rows_it_was_trained_on);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return ti_test_summary();
}
