/* The C models against PyTorch (tests/py/model_refs.py on tests/py/ti_models.py): weights,
 * inputs, outputs and the gradients of sum(y * w) with respect to every parameter and to x,
 * for small TinyRV and causal models (every SIMD level, inference and training paths, with
 * and without packed weights and a pool) and the seed's real TinyRV shape (best level).
 * The seed's trained best.pt is read by the C .pt reader and run on PyTorch's inputs.
 * Bounds: forward max |y - y_ref| / max |y_ref| <= 1e-4; each gradient tensor
 * max |g - g_ref| / max |g_ref| <= 1e-3.  Also, without Python: finite-difference gradients,
 * causality, and pool independence.  Oracle tests skip when TI_PYTHON is unset. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tickinfer/transformer.h"

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3
#define SEED_PT "tests/model/data/seed_rv_tiny/best.pt"

static char g_dir[64];
static int g_ready, g_oracle_failed;
static json_t *g_index;
static const ti_kernels *g_levels[TI_SIMD__COUNT];
static int g_n_levels;
static ti_pool *g_pool2;

/* ---- helpers ------------------------------------------------------------------------------ */

static float *read_f32(const char *dir, const char *file, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    float *x = malloc(n * sizeof *x + 4);
    FILE *f = fopen(p, "rb");
    size_t got = f && x ? fread(x, sizeof(float), n + 1, f) : 0;
    if (f) fclose(f);
    if (got != n) {
        TI_FAILF("reference %s: %zu floats, expected %zu", p, got, n);
        free(x);
        return NULL;
    }
    return x;
}

/* max |a - b| / max |b| (b the reference) */
static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d) return NAN; /* a NaN output fails every bound */
        if (d > num) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}

#define CHECK_REL(what, a, b, n, tol, ...)                                                   \
    do {                                                                                     \
        double e_ = rel_err((a), (b), (n));                                                  \
        if (!(e_ <= (tol))) TI_FAILF("%s: rel err %.3g > %g (" what ")", case_name, e_, (double)(tol), __VA_ARGS__); \
    } while (0)

static int jint(json_t *o, const char *k) { return (int)json_integer_value(json_object_get(o, k)); }

static json_t *find_case(const char *name)
{
    json_t *cases = json_object_get(g_index, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0) return c;
    return NULL;
}

#define NEED_ORACLE()                                                               \
    do {                                                                            \
        if (g_oracle_failed) {                                                      \
            TI_FAILF("TI_PYTHON is set but tests/py/model_refs.py failed");         \
            return;                                                                 \
        }                                                                           \
        if (!g_ready) TI_SKIP("no PyTorch oracle: TI_PYTHON unset");                 \
    } while (0)

/* ---- one reference case ---------------------------------------------------------------------- */

typedef struct ref_case {
    const char *name;
    char dir[128];
    json_t *js;
    ti_tfm *m;
    int B, T, ny;
    size_t nx;
    float *x, *y, *w, *dx, *grads;
} ref_case;

static void case_free(ref_case *rc)
{
    ti_tfm_destroy(rc->m);
    free(rc->x), free(rc->y), free(rc->w), free(rc->dx), free(rc->grads);
    memset(rc, 0, sizeof *rc);
}

/* Load weights with the C loader (config from metadata, or inferred) and the reference arrays;
 * checks that the tensor table is PyTorch's state dict (names, order, shapes). */
static int case_open(ref_case *rc, const char *name)
{
    memset(rc, 0, sizeof *rc);
    rc->name = name;
    rc->js = find_case(name);
    if (!rc->js) {
        TI_FAILF("case %s missing from the index", name);
        return 0;
    }
    snprintf(rc->dir, sizeof rc->dir, "%s/%s", g_dir, name);
    char path[256];
    snprintf(path, sizeof path, "%s/weights.safetensors", rc->dir);
    ti_ckpt_meta meta;
    ti_err e = ti_tfm_load(&rc->m, &meta, path, NULL);
    if (e) {
        TI_FAILF("%s: load: %s", name, ti_errmsg());
        return 0;
    }
    /* the config the loader found must be the one PyTorch used */
    json_t *jc = json_object_get(rc->js, "config");
    char *want_json = json_dumps(jc, JSON_COMPACT);
    ti_tfm_config want;
    TI_CHECK_OK(ti_tfm_config_from_json(&want, want_json, name));
    free(want_json);
    const ti_tfm_config *got = ti_tfm_get_config(rc->m);
    TI_CHECK_MSG(memcmp(got, &want, sizeof want) == 0, "%s: loaded config differs from the reference", name);
    TI_CHECK(meta.config_source ==
             (json_is_true(json_object_get(rc->js, "metadata_config")) ? TI_CONFIG_FROM_METADATA : TI_CONFIG_INFERRED));
    ti_ckpt_meta_free(&meta);
    json_t *tensors = json_object_get(rc->js, "tensors"), *t;
    size_t i;
    TI_CHECK_MSG(json_array_size(tensors) == ti_tfm_tensor_count(rc->m), "%s: %zu tensors vs %zu", name,
                 json_array_size(tensors), ti_tfm_tensor_count(rc->m));
    json_array_foreach(tensors, i, t) {
        const ti_tfm_tensor *mt = ti_tfm_tensor_at(rc->m, i);
        if (!mt) break;
        TI_CHECK_MSG(strcmp(mt->name, json_string_value(json_object_get(t, "name"))) == 0,
                     "%s: tensor %zu is '%s', PyTorch has '%s'", name, i, mt->name,
                     json_string_value(json_object_get(t, "name")));
        TI_CHECK(mt->offset == (size_t)json_integer_value(json_object_get(t, "offset")));
        json_t *shape = json_object_get(t, "shape");
        TI_CHECK((size_t)mt->ndim == json_array_size(shape));
        for (int d = 0; d < mt->ndim; d++)
            TI_CHECK(mt->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)));
    }
    TI_CHECK(ti_tfm_n_params(rc->m) == (size_t)jint(rc->js, "n_params"));
    rc->B = jint(rc->js, "B");
    rc->T = jint(rc->js, "T");
    rc->nx = (size_t)rc->B * rc->T * got->n_features;
    rc->ny = got->kind == TI_TFM_TINYRV ? rc->B : rc->B * rc->T;
    rc->x = read_f32(rc->dir, "x.f32", rc->nx);
    rc->y = read_f32(rc->dir, "y.f32", (size_t)rc->ny);
    rc->w = read_f32(rc->dir, "w.f32", (size_t)rc->ny);
    rc->dx = read_f32(rc->dir, "dx.f32", rc->nx);
    rc->grads = read_f32(rc->dir, "grads.f32", ti_tfm_n_params(rc->m));
    return rc->x && rc->y && rc->w && rc->dx && rc->grads;
}

/* Inference forward (packed or not, pool or not) against y_ref. */
static void check_inference(ref_case *rc, ti_pool *pool, const char *how)
{
    const char *case_name = rc->name;
    ti_runstate *rs;
    float *y = calloc((size_t)rc->ny, sizeof *y);
    TI_CHECK_OK(ti_runstate_create(&rs, rc->m, rc->B, 0, 0));
    TI_CHECK_OK(ti_tfm_forward(rc->m, rs, y, rc->x, rc->B, rc->T, pool));
    CHECK_REL("inference %s %s", y, rc->y, (size_t)rc->ny, FWD_TOL, ti_tfm_kernels(rc->m)->name, how);
    ti_runstate_destroy(rs);
    free(y);
}

/* Training forward + backward against y_ref, dx_ref and every parameter gradient. */
static void check_training(ref_case *rc, ti_pool *pool)
{
    const char *case_name = rc->name, *lvl = ti_tfm_kernels(rc->m)->name;
    const size_t np = ti_tfm_n_params(rc->m);
    ti_runstate *rs;
    float *y = calloc((size_t)rc->ny, sizeof *y), *g = calloc(np, sizeof *g), *dx = malloc(rc->nx * sizeof *dx);
    TI_CHECK_OK(ti_runstate_create(&rs, rc->m, rc->B, 0, TI_RS_TRAINING));
    TI_CHECK_OK(ti_tfm_forward(rc->m, rs, y, rc->x, rc->B, rc->T, pool));
    CHECK_REL("training forward %s", y, rc->y, (size_t)rc->ny, FWD_TOL, lvl);
    TI_CHECK_OK(ti_tfm_backward(rc->m, rs, g, dx, rc->w, pool));
    CHECK_REL("dx %s", dx, rc->dx, rc->nx, GRAD_TOL, lvl);
    double worst = 0;
    for (size_t i = 0; i < ti_tfm_tensor_count(rc->m); i++) {
        const ti_tfm_tensor *t = ti_tfm_tensor_at(rc->m, i);
        double e = rel_err(g + t->offset, rc->grads + t->offset, t->numel);
        if (!(e <= GRAD_TOL)) TI_FAILF("%s: grad of '%s' rel err %.3g > %g (%s)", case_name, t->name, e, GRAD_TOL, lvl);
        if (e > worst) worst = e;
    }
    if (getenv("TI_TEST_VERBOSE")) fprintf(stderr, "  %s %s: worst grad rel err %.3g\n", case_name, lvl, worst);
    ti_runstate_destroy(rs);
    free(y), free(g), free(dx);
}

/* Every level: inference unpacked, packed, packed with a pool; training with and without. */
static void check_case_all_levels(const char *name)
{
    ref_case rc;
    if (!case_open(&rc, name)) {
        case_free(&rc);
        return;
    }
    for (int l = 0; l < g_n_levels; l++) {
        ti_tfm_set_kernels(rc.m, g_levels[l]); /* drops the packs of another level */
        (void)ti_tfm_params_mut(rc.m);          /* drops them in any case */
        TI_CHECK(!ti_tfm_is_packed(rc.m));
        check_inference(&rc, NULL, "unpacked");
        TI_CHECK_OK(ti_tfm_pack(rc.m));
        check_inference(&rc, NULL, "packed");
        check_inference(&rc, g_pool2, "packed, pool of 2");
        check_training(&rc, l == 0 ? NULL : g_pool2);
    }
    case_free(&rc);
}

TI_TEST(tinyrv_small_matches_torch)
{
    NEED_ORACLE();
    check_case_all_levels("tiny_small");
}

TI_TEST(causal_small_matches_torch)
{
    NEED_ORACLE();
    check_case_all_levels("causal_small");
}

TI_TEST(causal_three_heads_matches_torch)
{
    NEED_ORACLE();
    check_case_all_levels("causal_h3");
}

/* The causal model at T < its context gives the prefix of the full-length outputs. */
TI_TEST(causal_shorter_window_matches_torch_prefix)
{
    NEED_ORACLE();
    ref_case rc;
    const char *case_name = "causal_small";
    if (case_open(&rc, case_name)) {
        const int Ts = 30, F = ti_tfm_get_config(rc.m)->n_features;
        float *xs = malloc((size_t)rc.B * Ts * F * sizeof *xs), *ys = malloc((size_t)rc.B * Ts * sizeof *ys);
        float *yref = malloc((size_t)rc.B * Ts * sizeof *yref);
        for (int b = 0; b < rc.B; b++) {
            memcpy(xs + (size_t)b * Ts * F, rc.x + (size_t)b * rc.T * F, (size_t)Ts * F * sizeof *xs);
            memcpy(yref + (size_t)b * Ts, rc.y + (size_t)b * rc.T, (size_t)Ts * sizeof *yref);
        }
        ti_runstate *rs;
        TI_CHECK_OK(ti_runstate_create(&rs, rc.m, rc.B, 0, 0));
        TI_CHECK_OK(ti_tfm_forward(rc.m, rs, ys, xs, rc.B, Ts, NULL));
        CHECK_REL("T=%d", ys, yref, (size_t)rc.B * Ts, FWD_TOL, Ts);
        ti_runstate_destroy(rs);
        free(xs), free(ys), free(yref);
    }
    case_free(&rc);
}

/* The seed's shape (T=600, d 128, 3 layers): best level, config inferred from the shapes. */
TI_TEST(tinyrv_real_shape_matches_torch)
{
    NEED_ORACLE();
    ref_case rc;
    if (case_open(&rc, "tiny_real")) {
        check_inference(&rc, NULL, "packed");
        check_inference(&rc, g_pool2, "packed, pool of 2");
        check_training(&rc, g_pool2);
    }
    case_free(&rc);
}

/* The trained seed checkpoint, read from the .pt by the C reader, on PyTorch's inputs. */
TI_TEST(seed_checkpoint_matches_torch)
{
    NEED_ORACLE();
    const char *case_name = "seed";
    json_t *js = find_case(case_name);
    if (!js) {
        TI_FAILF("seed case missing from the index");
        return;
    }
    ti_tfm *m;
    ti_ckpt_meta meta;
    TI_CHECK_OK(ti_tfm_load(&m, &meta, SEED_PT, NULL));
    if (!m) return;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    TI_CHECK(meta.config_source == TI_CONFIG_INFERRED);
    TI_CHECK(c->kind == TI_TFM_TINYRV && c->n_features == 14 && c->context == 600 && c->d_model == 128 &&
             c->n_heads == 4 && c->n_layers == 3 && c->d_ff == 256);
    TI_CHECK(ti_tfm_n_params(m) == 476801);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/seed", g_dir);
    const int B = 3;
    float *x = read_f32(dir, "x.f32", (size_t)B * 600 * 14), *yref = read_f32(dir, "y.f32", B), y[3];
    ti_runstate *rs;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, 0, 0));
    if (x && yref) {
        TI_CHECK_OK(ti_tfm_forward(m, rs, y, x, B, 600, g_pool2));
        CHECK_REL("seed best.pt, %s", y, yref, (size_t)B, FWD_TOL, ti_tfm_kernels(m)->name);
        if (getenv("TI_TEST_VERBOSE"))
            fprintf(stderr, "  seed y = %.6f %.6f %.6f (torch %.6f %.6f %.6f)\n", y[0], y[1], y[2], yref[0],
                    yref[1], yref[2]);
    }
    ti_runstate_destroy(rs);
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(m);
    free(x), free(yref);
}

/* ---- checks that need no Python ------------------------------------------------------------ */

static void fill_rand(float *x, size_t n, unsigned *s, float scale)
{
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        x[i] = scale * ((float)(*s >> 8) / 16777216.0f * 2.0f - 1.0f);
    }
}

/* loss(params) = sum(y * w) in double from a training forward */
static double loss_of(ti_tfm *m, ti_runstate *rs, const float *x, const float *w, float *y, int B, int T, int ny)
{
    if (ti_tfm_forward(m, rs, y, x, B, T, NULL) != TI_OK) return NAN;
    double s = 0;
    for (int i = 0; i < ny; i++) s += (double)y[i] * w[i];
    return s;
}

/* Central differences on a sample of parameters of small models (scalar kernels, fp32,
 * step 1e-2): catches a wrong or missing gradient path independently of PyTorch. */
static void fd_check(ti_tfm_arch kind)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, kind);
    c.n_features = 3, c.context = 6, c.d_model = 8, c.n_heads = 2, c.n_layers = 2, c.d_ff = 12;
    /* smooth activations: a ReLU kink inside +-h would spoil a central difference (ReLU
     * itself is covered by the PyTorch parity tests) */
    c.activation = kind == TI_TFM_TINYRV ? TI_ACT_GELU_TANH : TI_ACT_GELU_ERF;
    ti_tfm *m;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    ti_tfm_set_kernels(m, ti_kernels_get(TI_SIMD_SCALAR));
    ti_tfm_init(m, 11);
    const int B = 2, T = 6, ny = kind == TI_TFM_TINYRV ? B : B * T;
    const size_t np = ti_tfm_n_params(m);
    float x[2 * 6 * 3], w[12], y[12];
    unsigned s = 5;
    fill_rand(x, sizeof x / sizeof x[0], &s, 1.0f);
    fill_rand(w, (size_t)ny, &s, 1.0f);
    float *p = ti_tfm_params_mut(m), *g = calloc(np, sizeof *g);
    fill_rand(p, np, &s, 0.3f); /* every parameter random: LayerNorm weights included */
    ti_runstate *rs;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, 0, TI_RS_TRAINING));
    loss_of(m, rs, x, w, y, B, T, ny);
    TI_CHECK_OK(ti_tfm_backward(m, rs, g, NULL, w, NULL));
    int bad = 0, checked = 0;
    for (size_t t = 0; t < ti_tfm_tensor_count(m); t++) {
        const ti_tfm_tensor *mt = ti_tfm_tensor_at(m, t);
        for (size_t j = 0; j < mt->numel; j += 1 + mt->numel / 3) { /* ~3 entries per tensor */
            float *pj = p + mt->offset + j, save = *pj;
            const float h = 1e-2f;
            *pj = save + h;
            double lp = loss_of(m, rs, x, w, y, B, T, ny);
            *pj = save - h;
            double lm = loss_of(m, rs, x, w, y, B, T, ny);
            *pj = save;
            double fd = (lp - lm) / (2.0 * h), an = g[mt->offset + j];
            double err = fabs(fd - an) / fmax(fabs(fd) + fabs(an), 5e-2);
            checked++;
            if (!(err < 2e-2)) {
                bad++;
                TI_FAILF("%s: d loss/d %s[%zu]: backward %.6g, finite difference %.6g", ti_tfm_arch_name(kind),
                         mt->name, j, an, fd);
            }
        }
    }
    TI_CHECK(checked > 50 && bad == 0);
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
    free(g);
}

TI_TEST(tinyrv_gradients_match_finite_differences) { fd_check(TI_TFM_TINYRV); }
TI_TEST(causal_gradients_match_finite_differences) { fd_check(TI_TFM_RV_CAUSAL); }

/* Changing a future input never changes an earlier output; results do not depend on the
 * pool or on the split (rows vs ops) it chooses. */
TI_TEST(causal_is_causal_and_pool_independent)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, TI_TFM_RV_CAUSAL);
    c.context = 40;
    ti_tfm *m;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    ti_tfm_init(m, 3);
    TI_CHECK_OK(ti_tfm_pack(m));
    enum { B = 4, T = 40, F = 12 };
    static float x[B * T * F], y0[B * T], y1[B * T], y2[B * T];
    unsigned s = 9;
    fill_rand(x, sizeof x / sizeof x[0], &s, 1.5f);
    ti_runstate *rs;
    TI_CHECK_OK(ti_runstate_create(&rs, m, B, 0, 0));
    TI_CHECK_OK(ti_tfm_forward(m, rs, y0, x, B, T, NULL));
    TI_CHECK_OK(ti_tfm_forward(m, rs, y1, x, B, T, g_pool2));    /* rows split over 2 workers */
    TI_CHECK_OK(ti_tfm_forward(m, rs, y2, x, 3, T, g_pool2));    /* 3 rows: per-op split */
    int same = 1;
    for (int i = 0; i < B * T; i++) same &= fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y0[i]));
    for (int i = 0; i < 3 * T; i++) same &= fabsf(y0[i] - y2[i]) <= 1e-6f * (1 + fabsf(y0[i]));
    TI_CHECK_MSG(same, "outputs depend on the pool");
    for (int f = 0; f < F; f++) x[(size_t)(1 * T + 25) * F + f] += 3.0f; /* row 1, step 25 */
    TI_CHECK_OK(ti_tfm_forward(m, rs, y1, x, B, T, NULL));
    int prefix_same = 1, later_changed = 0;
    for (int t = 0; t < T; t++) {
        float d = fabsf(y1[T + t] - y0[T + t]);
        if (t < 25) prefix_same &= d == 0.0f;
        else later_changed |= d > 1e-6f;
    }
    TI_CHECK(prefix_same);
    TI_CHECK(later_changed);
    for (int i = 0; i < T; i++) TI_CHECK(y1[i] == y0[i]); /* other rows untouched */
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
}

/* ---- driver ------------------------------------------------------------------------------------ */

static void run_oracle(void)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) return;
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_model_refs_XXXXXX");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        g_dir[0] = '\0';
        g_oracle_failed = 1;
        return;
    }
    char cmd[512], index[128];
    snprintf(cmd, sizeof cmd, "'%s' tests/py/model_refs.py '%s' --seed-pt '%s'", py, g_dir, SEED_PT);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "oracle failed (%d): %s\n", rc, cmd);
        g_oracle_failed = 1;
        return;
    }
    snprintf(index, sizeof index, "%s/index.json", g_dir);
    json_error_t jerr;
    g_index = json_load_file(index, 0, &jerr);
    if (!g_index) {
        fprintf(stderr, "%s: %s\n", index, jerr.text);
        g_oracle_failed = 1;
        return;
    }
    g_ready = 1;
}

int main(void)
{
    for (int l = 0; l < TI_SIMD__COUNT; l++)
        if (ti_kernels_get((ti_simd_level)l)) g_levels[g_n_levels++] = ti_kernels_get((ti_simd_level)l);
    if (ti_pool_create(&g_pool2, 2) != TI_OK) {
        fprintf(stderr, "pool: %s\n", ti_errmsg());
        return 1;
    }
    run_oracle();
    TI_RUN(tinyrv_small_matches_torch);
    TI_RUN(causal_small_matches_torch);
    TI_RUN(causal_three_heads_matches_torch);
    TI_RUN(causal_shorter_window_matches_torch_prefix);
    TI_RUN(tinyrv_real_shape_matches_torch);
    TI_RUN(seed_checkpoint_matches_torch);
    TI_RUN(tinyrv_gradients_match_finite_differences);
    TI_RUN(causal_gradients_match_finite_differences);
    TI_RUN(causal_is_causal_and_pool_independent);
    json_decref(g_index);
    ti_pool_destroy(g_pool2);
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return ti_test_summary();
}
