/* Gradient-boosted trees: tickinfer against LightGBM, XGBoost, TL2cgen, lleaves and ONNX
 * Runtime, every engine through its C interface, same models (bench/gbdt_models.py writes
 * them), same float32 rows, same threads, in one process.
 *
 * Per model (small: 100 trees x 31 leaves, large: 2,000 x 255) x engine x threads (1, 2):
 *   - check: every engine's predictions of all rows (the first call of the all-rows batch
 *     point) and of the first 1,000 (large: 200) rows one by one (single-row path) against LightGBM's
 *     own (ref.npy); an engine off by more than --tol (relative, see rel_err) is reported
 *     WRONG and not timed further;
 *   - single-row latency: one call per row, cycling through the rows (p50/p99/mean, HDR
 *     histogram, each call timed);
 *   - batch throughput at 32, 1,024 and all rows (100,000; the large model: 10,000, see
 *     --large-rows): rows / median call time.
 * Rows/s at batch 1 is 1e6 / single-row p50.
 *
 * Each peer is loaded with dlopen from the pip wheels (paths on the command line) and
 * called through the few C functions declared below from their public C API docs; no
 * header of theirs is vendored.  Interfaces, each the library's fastest for the case:
 *   lightgbm     LGBM_BoosterPredictForMatSingleRowFast (one row; FastInit once),
 *                LGBM_BoosterPredictForMat (batches); num_threads=T (OpenMP)
 *   xgboost      XGBoosterPredictFromDense (in-place prediction, array-interface JSON);
 *                nthread=T (OpenMP)
 *   onnxruntime  OrtApi::Run on a TreeEnsembleRegressor, tensors over the caller's buffers;
 *                intra_op_num_threads=T
 *   tl2cgen      the compiled predict(union Entry *row, int pred_margin, double *out), one
 *                call per row (what TL2cgen's own runtime does); T > 1: rows split over a
 *                tickinfer thread pool (TL2cgen's runtime splits rows over its pool alike)
 *   lleaves      the compiled forest_root(double *rows, double *out, int begin, int end);
 *                float32 rows converted to float64 in 256-row blocks (lleaves' own predict
 *                converts too); T > 1: rows split over a tickinfer pool (lleaves' Python
 *                predict splits rows over a thread pool alike)
 *   tickinfer    ti_model_load(model.txt) + ti_runner_infer(x [B,1,F] -> y [B]); n_threads=T;
 *                batches above the runner's 65,536-row limit in several calls
 *
 *   build/release/bench/gbdt --dir build/bench_gbdt --lightgbm LIB --xgboost LIB
 *       --onnxruntime LIB [--models small,large] [--engines a,b] [--rows N] [--quick] [--out PATH] */
#include "bench_json.h"
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickinfer.h"
#include "tickinfer/clock.h"
#include "tickinfer/cpu.h"
#include "tickinfer/err.h"
#include "tickinfer/fileio.h"
#include "tickinfer/hist.h"
#include "tickinfer/npy.h"
#include "tickinfer/threadpool.h"

#define MAX_ENGINES 8
#define MAX_RESULTS 64
#define N_BATCHES 3
static const int BATCHES[N_BATCHES] = {32, 1024, 0}; /* 0 = all rows */

/* ---- data ------------------------------------------------------------------------------ */

typedef struct rows {
    int n, f;
    float *x;     /* [n, f] */
    double *ref;  /* [n] LightGBM's predictions */
    double scale; /* rms(ref): the relative error's floor */
} rows;

static int load_npy(const char *path, ti_npy_dtype want, int ndim, int64_t *shape, void **out)
{
    char *buf = NULL;
    size_t len = 0;
    ti_npy_view v;
    if (ti_read_file(path, (size_t)4 << 30, &buf, &len) != TI_OK || ti_npy_parse(&v, buf, len) != TI_OK) {
        fprintf(stderr, "gbdt: %s: %s (run bench/gbdt_models.py first)\n", path, ti_errmsg());
        free(buf);
        return -1;
    }
    if (v.dtype != want || v.big_endian || v.ndim != ndim) {
        fprintf(stderr, "gbdt: %s: expected a little-endian %s array of %d dims\n", path,
                want == TI_NPY_F32 ? "float32" : "float64", ndim);
        free(buf);
        return -1;
    }
    const size_t bytes = v.count * (want == TI_NPY_F32 ? 4 : 8);
    void *p = malloc(bytes);
    if (!p) {
        free(buf);
        return -1;
    }
    memcpy(p, v.data, bytes); /* aligned copy: the npy header leaves the data unaligned for doubles */
    for (int i = 0; i < ndim; i++) shape[i] = v.shape[i];
    free(buf);
    *out = p;
    return 0;
}

/* |y - ref| / max(|ref|, rms(ref)): relative, with the floor keeping predictions near zero
 * from turning float32 rounding into large ratios. */
static double rel_err(double y, double ref, double scale)
{
    const double d = fabs(ref) > scale ? fabs(ref) : scale;
    return isnan(y) ? INFINITY : fabs(y - ref) / d;
}

/* ---- engines ----------------------------------------------------------------------------- */

typedef struct engine engine;
struct engine {
    const char *name;
    /* 0 or -1 with a message in err */
    int (*open)(engine *e, const char *model_dir, int n_features, int max_rows, int threads);
    /* x [n, F] -> y [n] */
    int (*predict)(engine *e, const float *x, int n, double *y);
    /* one row through the engine's fastest single-row path */
    int (*predict_row)(engine *e, const float *x, double *y);
    void (*close)(engine *e);
    const char *lib; /* shared library (lightgbm, xgboost, onnxruntime) */
    void *dl;
    void *st; /* engine state */
    char err[1536];
};

static void *sym(engine *e, const char *name)
{
    void *p = dlsym(e->dl, name);
    if (!p) snprintf(e->err, sizeof e->err, "%s: symbol %s missing", e->lib ? e->lib : e->name, name);
    return p;
}

static int open_lib(engine *e, const char *path)
{
    if (!path) {
        snprintf(e->err, sizeof e->err, "no library given (--%s PATH)", e->name);
        return -1;
    }
    if (!e->dl) e->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!e->dl) {
        snprintf(e->err, sizeof e->err, "dlopen %s: %s", path, dlerror());
        return -1;
    }
    return 0;
}

/* ---- LightGBM (c_api.h of LightGBM 4.x) ---- */
#define LGBM_DTYPE_FLOAT32 0
#define LGBM_PREDICT_NORMAL 0
typedef struct lgbm_api {
    int (*create_from_file)(const char *filename, int *out_num_iterations, void **out);
    int (*free_booster)(void *handle);
    int (*predict_mat)(void *handle, const void *data, int data_type, int32_t nrow, int32_t ncol, int is_row_major,
                       int predict_type, int start_iteration, int num_iteration, const char *parameter,
                       int64_t *out_len, double *out_result);
    int (*fast_init)(void *handle, int predict_type, int start_iteration, int num_iteration, int data_type,
                     int32_t ncol, const char *parameter, void **out_fast_config);
    int (*fast_row)(void *fast_config, const void *data, int64_t *out_len, double *out_result);
    int (*fast_free)(void *fast_config);
    const char *(*last_error)(void);
} lgbm_api;
typedef struct lgbm_state {
    lgbm_api api;
    void *booster, *fast;
    int f;
    char param[32];
} lgbm_state;

static int lgbm_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    lgbm_state *s = calloc(1, sizeof *s);
    if (!s || open_lib(e, e->lib)) return free(s), -1;
    e->st = s;
    lgbm_api *a = &s->api;
    if (!(*(void **)&a->create_from_file = sym(e, "LGBM_BoosterCreateFromModelfile")) ||
        !(*(void **)&a->free_booster = sym(e, "LGBM_BoosterFree")) ||
        !(*(void **)&a->predict_mat = sym(e, "LGBM_BoosterPredictForMat")) ||
        !(*(void **)&a->fast_init = sym(e, "LGBM_BoosterPredictForMatSingleRowFastInit")) ||
        !(*(void **)&a->fast_row = sym(e, "LGBM_BoosterPredictForMatSingleRowFast")) ||
        !(*(void **)&a->fast_free = sym(e, "LGBM_FastConfigFree")) ||
        !(*(void **)&a->last_error = sym(e, "LGBM_GetLastError")))
        return -1;
    char path[1024];
    int iters = 0;
    snprintf(path, sizeof path, "%s/model.txt", dir);
    snprintf(s->param, sizeof s->param, "num_threads=%d", threads);
    s->f = f;
    if (a->create_from_file(path, &iters, &s->booster) != 0 ||
        a->fast_init(s->booster, LGBM_PREDICT_NORMAL, 0, -1, LGBM_DTYPE_FLOAT32, f, s->param, &s->fast) != 0) {
        snprintf(e->err, sizeof e->err, "%s", a->last_error());
        return -1;
    }
    return 0;
}
static int lgbm_predict(engine *e, const float *x, int n, double *y)
{
    lgbm_state *s = e->st;
    int64_t len = 0;
    if (s->api.predict_mat(s->booster, x, LGBM_DTYPE_FLOAT32, n, s->f, 1, LGBM_PREDICT_NORMAL, 0, -1, s->param, &len,
                           y) != 0 || len != n) {
        snprintf(e->err, sizeof e->err, "%s", s->api.last_error());
        return -1;
    }
    return 0;
}
static int lgbm_predict_row(engine *e, const float *x, double *y)
{
    lgbm_state *s = e->st;
    int64_t len = 0;
    return s->api.fast_row(s->fast, x, &len, y) == 0 && len == 1 ? 0 : -1;
}
static void lgbm_close(engine *e)
{
    lgbm_state *s = e->st;
    if (!s) return;
    if (s->fast) s->api.fast_free(s->fast);
    if (s->booster) s->api.free_booster(s->booster);
    free(s);
    e->st = NULL;
}

/* ---- XGBoost (c_api.h of XGBoost 3.x) ---- */
typedef uint64_t bst_ulong;
typedef struct xgb_api {
    int (*create)(void *const *dmats, bst_ulong len, void **out);
    int (*load)(void *handle, const char *fname);
    int (*set_param)(void *handle, const char *name, const char *value);
    int (*free_booster)(void *handle);
    int (*predict_dense)(void *handle, const char *values, const char *config, void *m, bst_ulong const **out_shape,
                         bst_ulong *out_dim, const float **out_result);
    const char *(*last_error)(void);
} xgb_api;
typedef struct xgb_state {
    xgb_api api;
    void *booster;
    int f;
} xgb_state;
/* In-place prediction: value, no margin, all trees, NaN as missing (what xgboost's Python
 * inplace_predict sends). */
static const char XGB_CONFIG[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                                 "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

static int xgb_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    xgb_state *s = calloc(1, sizeof *s);
    if (!s || open_lib(e, e->lib)) return free(s), -1;
    e->st = s;
    xgb_api *a = &s->api;
    if (!(*(void **)&a->create = sym(e, "XGBoosterCreate")) || !(*(void **)&a->load = sym(e, "XGBoosterLoadModel")) ||
        !(*(void **)&a->set_param = sym(e, "XGBoosterSetParam")) ||
        !(*(void **)&a->free_booster = sym(e, "XGBoosterFree")) ||
        !(*(void **)&a->predict_dense = sym(e, "XGBoosterPredictFromDense")) ||
        !(*(void **)&a->last_error = sym(e, "XGBGetLastError")))
        return -1;
    char path[1024], nt[16];
    snprintf(path, sizeof path, "%s/xgb.json", dir);
    snprintf(nt, sizeof nt, "%d", threads);
    s->f = f;
    if (a->create(NULL, 0, &s->booster) != 0 || a->load(s->booster, path) != 0 ||
        a->set_param(s->booster, "nthread", nt) != 0) {
        snprintf(e->err, sizeof e->err, "%s", a->last_error());
        return -1;
    }
    return 0;
}
static int xgb_predict(engine *e, const float *x, int n, double *y)
{
    xgb_state *s = e->st;
    char values[256];
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *out = NULL;
    snprintf(values, sizeof values,
             "{\"data\": [%llu, true], \"shape\": [%d, %d], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, s->f);
    if (s->api.predict_dense(s->booster, values, XGB_CONFIG, NULL, &shape, &dim, &out) != 0) {
        snprintf(e->err, sizeof e->err, "%s", s->api.last_error());
        return -1;
    }
    for (int i = 0; i < n; i++) y[i] = out[i];
    return 0;
}
static int xgb_predict_row(engine *e, const float *x, double *y) { return xgb_predict(e, x, 1, y); }
static void xgb_close(engine *e)
{
    xgb_state *s = e->st;
    if (!s) return;
    if (s->booster) s->api.free_booster(s->booster);
    free(s);
    e->st = NULL;
}

/* ---- ONNX Runtime (onnxruntime_c_api.h, API version 20 = ORT 1.20) ----
 * The C API is one struct of function pointers, OrtApi, which ONNX Runtime only ever
 * appends to (ABI-stable since 1.0), so a function's slot is fixed for every version.  The
 * slots used here, counted in the public header: */
enum ort_slot {
    ORT_CreateStatus = 0,
    ORT_GetErrorCode = 1,
    ORT_GetErrorMessage = 2,
    ORT_CreateEnv = 3,
    ORT_CreateSession = 7,
    ORT_Run = 9,
    ORT_CreateSessionOptions = 10,
    ORT_SetSessionGraphOptimizationLevel = 23,
    ORT_SetIntraOpNumThreads = 24,
    ORT_SetInterOpNumThreads = 25,
    ORT_SessionGetInputCount = 30,
    ORT_SessionGetOutputCount = 31,
    ORT_CreateTensorWithDataAsOrtValue = 49,
    ORT_GetTensorMutableData = 51,
    ORT_CreateCpuMemoryInfo = 69,
    ORT_ReleaseEnv = 92,
    ORT_ReleaseStatus = 93,
    ORT_ReleaseMemoryInfo = 94,
    ORT_ReleaseSession = 95,
    ORT_ReleaseValue = 96,
    ORT_ReleaseSessionOptions = 100,
};
#define ORT_API_VERSION_USED 20
#define ORT_LOGGING_LEVEL_WARNING 2
#define ORT_ENABLE_ALL 99
#define ORT_ARENA_ALLOCATOR 1
#define ORT_MEM_TYPE_DEFAULT 0
#define ONNX_FLOAT 1
typedef void *ort_status; /* OrtStatus *, NULL = success */
typedef struct ort_api_base {
    void *const *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} ort_api_base;
typedef struct ort_state {
    void *const *api; /* OrtApi as its slots */
    void *env, *opts, *session, *mem;
    int f;
    float *out; /* [max_rows] */
} ort_state;
#define ORT_FN(s, slot, type) ((type)(s)->api[slot])
typedef void (*ort_release_fn)(void *);

static int ort_ok(engine *e, ort_state *s, ort_status st, const char *what)
{
    if (!st) return 0;
    snprintf(e->err, sizeof e->err, "%s: %s", what,
             ORT_FN(s, ORT_GetErrorMessage, const char *(*)(const void *))(st));
    ORT_FN(s, ORT_ReleaseStatus, ort_release_fn)(st);
    return -1;
}

static int ort_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    ort_state *s = calloc(1, sizeof *s);
    if (!s || open_lib(e, e->lib)) return free(s), -1;
    e->st = s;
    const ort_api_base *(*get_base)(void) = NULL;
    if (!(*(void **)&get_base = sym(e, "OrtGetApiBase"))) return -1;
    const ort_api_base *base = get_base();
    if (!(s->api = base->get_api(ORT_API_VERSION_USED))) {
        snprintf(e->err, sizeof e->err, "onnxruntime %s does not offer C API version %d", base->get_version_string(),
                 ORT_API_VERSION_USED);
        return -1;
    }
    /* The slot numbers, checked: a status made through slot 0 reads back through 1 and 2. */
    ort_status probe = ORT_FN(s, ORT_CreateStatus, ort_status(*)(int, const char *))(6, "slot probe");
    const int code = ORT_FN(s, ORT_GetErrorCode, int (*)(const void *))(probe);
    const char *msg = ORT_FN(s, ORT_GetErrorMessage, const char *(*)(const void *))(probe);
    const int slots_ok = code == 6 && strcmp(msg, "slot probe") == 0;
    ORT_FN(s, ORT_ReleaseStatus, ort_release_fn)(probe);
    if (!slots_ok) {
        snprintf(e->err, sizeof e->err, "OrtApi slot layout differs from the one declared in bench/gbdt.c");
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    s->f = f;
    size_t n_in = 0, n_out = 0;
    if (ort_ok(e, s, ORT_FN(s, ORT_CreateEnv, ort_status(*)(int, const char *, void **))(ORT_LOGGING_LEVEL_WARNING,
                                                                                           "gbdt", &s->env),
               "CreateEnv") ||
        ort_ok(e, s, ORT_FN(s, ORT_CreateSessionOptions, ort_status(*)(void **))(&s->opts), "CreateSessionOptions") ||
        ort_ok(e, s, ORT_FN(s, ORT_SetIntraOpNumThreads, ort_status(*)(void *, int))(s->opts, threads),
               "SetIntraOpNumThreads") ||
        ort_ok(e, s, ORT_FN(s, ORT_SetInterOpNumThreads, ort_status(*)(void *, int))(s->opts, 1),
               "SetInterOpNumThreads") ||
        ort_ok(e, s, ORT_FN(s, ORT_SetSessionGraphOptimizationLevel, ort_status(*)(void *, int))(s->opts,
                                                                                               ORT_ENABLE_ALL),
               "SetSessionGraphOptimizationLevel") ||
        ort_ok(e, s,
               ORT_FN(s, ORT_CreateSession, ort_status(*)(void *, const char *, void *, void **))(s->env, path, s->opts,
                                                                                                 &s->session),
               "CreateSession") ||
        ort_ok(e, s, ORT_FN(s, ORT_SessionGetInputCount, ort_status(*)(void *, size_t *))(s->session, &n_in),
               "SessionGetInputCount") ||
        ort_ok(e, s, ORT_FN(s, ORT_SessionGetOutputCount, ort_status(*)(void *, size_t *))(s->session, &n_out),
               "SessionGetOutputCount") ||
        ort_ok(e, s,
               ORT_FN(s, ORT_CreateCpuMemoryInfo, ort_status(*)(int, int, void **))(ORT_ARENA_ALLOCATOR,
                                                                                     ORT_MEM_TYPE_DEFAULT, &s->mem),
               "CreateCpuMemoryInfo"))
        return -1;
    if (n_in != 1 || n_out != 1) {
        snprintf(e->err, sizeof e->err, "%s: %zu inputs, %zu outputs (expected 1, 1)", path, n_in, n_out);
        return -1;
    }
    if (!(s->out = malloc((size_t)max_rows * sizeof *s->out))) return -1;
    return 0;
}

typedef ort_status (*ort_tensor_fn)(void *, void *, size_t, const int64_t *, size_t, int, void **);
typedef ort_status (*ort_run_fn)(void *, const void *, const char *const *, const void *const *, size_t,
                                 const char *const *, size_t, void **);

/* Input and output tensors over the caller's buffers (no copy, no allocation by ORT for
 * the output), one Run. */
static int ort_predict(engine *e, const float *x, int n, double *y)
{
    ort_state *s = e->st;
    const int64_t in_shape[2] = {n, s->f}, out_shape[2] = {n, 1};
    void *in = NULL, *out = NULL;
    static const char *const in_names[1] = {"X"}, *const out_names[1] = {"Y"};
    int rc = -1;
    if (ort_ok(e, s,
               ORT_FN(s, ORT_CreateTensorWithDataAsOrtValue, ort_tensor_fn)(
                   s->mem, (void *)(uintptr_t)x, (size_t)n * s->f * sizeof(float), in_shape, 2, ONNX_FLOAT, &in),
               "CreateTensor") ||
        ort_ok(e, s,
               ORT_FN(s, ORT_CreateTensorWithDataAsOrtValue, ort_tensor_fn)(s->mem, s->out, (size_t)n * sizeof(float),
                                                                           out_shape, 2, ONNX_FLOAT, &out),
               "CreateTensor") ||
        ort_ok(e, s,
               ORT_FN(s, ORT_Run, ort_run_fn)(s->session, NULL, in_names, (const void *const *)&in, 1, out_names, 1,
                                              &out),
               "Run"))
        goto done;
    float *o = NULL;
    if (ort_ok(e, s, ORT_FN(s, ORT_GetTensorMutableData, ort_status(*)(void *, void **))(out, (void **)&o),
               "GetTensorMutableData"))
        goto done;
    for (int i = 0; i < n; i++) y[i] = o[i];
    rc = 0;
done:
    if (in) ORT_FN(s, ORT_ReleaseValue, ort_release_fn)(in);
    if (out) ORT_FN(s, ORT_ReleaseValue, ort_release_fn)(out);
    return rc;
}
static int ort_predict_row(engine *e, const float *x, double *y) { return ort_predict(e, x, 1, y); }
static void ort_close(engine *e)
{
    ort_state *s = e->st;
    if (!s) return;
    if (s->api) {
        if (s->mem) ORT_FN(s, ORT_ReleaseMemoryInfo, ort_release_fn)(s->mem);
        if (s->session) ORT_FN(s, ORT_ReleaseSession, ort_release_fn)(s->session);
        if (s->opts) ORT_FN(s, ORT_ReleaseSessionOptions, ort_release_fn)(s->opts);
        if (s->env) ORT_FN(s, ORT_ReleaseEnv, ort_release_fn)(s->env);
    }
    free(s->out);
    free(s);
    e->st = NULL;
}

/* ---- compiled forests (TL2cgen, lleaves): one library per model, rows split over a pool ---- */
#define CHUNK_ROWS 256
union tl2cgen_entry { /* TL2cgen's generated header: one per feature, missing = -1 */
    int missing;
    double fvalue;
    int qvalue;
};
typedef struct compiled_state {
    void *dl;
    void (*tl_predict)(union tl2cgen_entry *row, int pred_margin, double *out);
    void (*ll_forest)(double *rows, double *out, int begin, int end);
    ti_pool *pool;
    int f, n_workers;
    void *scratch[16]; /* per worker: F entries (TL2cgen) or CHUNK_ROWS * F doubles (lleaves) */
    /* the current parallel call */
    const float *x;
    double *y;
} compiled_state;

static int compiled_open(engine *e, const char *dir, int f, int threads, const char *file, size_t scratch_bytes)
{
    compiled_state *s = calloc(1, sizeof *s);
    if (!s) return -1;
    e->st = s;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    /* RTLD_LOCAL: both libraries export the same names for every model */
    if (!(s->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(e->err, sizeof e->err, "dlopen %s: %s", path, dlerror());
        return -1;
    }
    s->f = f;
    s->n_workers = threads < 16 ? threads : 16;
    if (threads > 1 && ti_pool_create(&s->pool, threads) != TI_OK) {
        snprintf(e->err, sizeof e->err, "thread pool: %s", ti_errmsg());
        return -1;
    }
    for (int w = 0; w < s->n_workers; w++)
        if (!(s->scratch[w] = calloc(1, scratch_bytes))) return -1;
    return 0;
}
static void compiled_close(engine *e)
{
    compiled_state *s = e->st;
    if (!s) return;
    ti_pool_destroy(s->pool);
    for (int w = 0; w < 16; w++) free(s->scratch[w]);
    if (s->dl) dlclose(s->dl);
    free(s);
    e->st = NULL;
}

static void tl2cgen_rows(compiled_state *s, union tl2cgen_entry *row, const float *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++, x += s->f) {
        for (int j = 0; j < s->f; j++) {
            if (isnan(x[j])) row[j].missing = -1;
            else row[j].fvalue = x[j];
        }
        y[i] = 0.0;
        s->tl_predict(row, 0, &y[i]);
    }
}
static void tl2cgen_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    compiled_state *s = ctx;
    tl2cgen_rows(s, s->scratch[worker], s->x + begin * s->f, s->y + begin, end - begin);
}
static int tl2cgen_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    if (compiled_open(e, dir, f, threads, "tl2cgen.so", (size_t)f * sizeof(union tl2cgen_entry))) return -1;
    compiled_state *s = e->st;
    int32_t (*num_feature)(void) = NULL;
    if (!(*(void **)&s->tl_predict = dlsym(s->dl, "predict")) ||
        !(*(void **)&num_feature = dlsym(s->dl, "get_num_feature"))) {
        snprintf(e->err, sizeof e->err, "%s/tl2cgen.so: predict or get_num_feature missing", dir);
        return -1;
    }
    if (num_feature() != f) {
        snprintf(e->err, sizeof e->err, "tl2cgen.so has %d features, rows have %d", num_feature(), f);
        return -1;
    }
    return 0;
}
static int compiled_run(engine *e, const float *x, int n, double *y, ti_pool_fn fn)
{
    compiled_state *s = e->st;
    s->x = x, s->y = y;
    /* chunks of CHUNK_ROWS, or one per worker for small batches */
    const int per_worker = n / s->n_workers > 0 ? n / s->n_workers : 1;
    if (s->pool && n > 1) ti_pool_parallel_for(s->pool, (size_t)n, per_worker < CHUNK_ROWS ? per_worker : CHUNK_ROWS, fn, s);
    else fn(s, 0, (size_t)n, 0);
    return 0;
}
static int tl2cgen_predict(engine *e, const float *x, int n, double *y) { return compiled_run(e, x, n, y, tl2cgen_chunk); }
static int tl2cgen_predict_row(engine *e, const float *x, double *y)
{
    compiled_state *s = e->st;
    tl2cgen_rows(s, s->scratch[0], x, y, 1);
    return 0;
}

static void lleaves_rows(compiled_state *s, double *buf, const float *x, double *y, size_t n)
{
    for (size_t b = 0; b < n; b += CHUNK_ROWS) {
        const size_t m = n - b < CHUNK_ROWS ? n - b : CHUNK_ROWS;
        const float *xb = x + b * s->f;
        for (size_t k = 0; k < m * (size_t)s->f; k++) buf[k] = xb[k];
        s->ll_forest(buf, y + b, 0, (int)m);
    }
}
static void lleaves_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    compiled_state *s = ctx;
    lleaves_rows(s, s->scratch[worker], s->x + begin * s->f, s->y + begin, end - begin);
}
static int lleaves_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    if (compiled_open(e, dir, f, threads, "lleaves.so", (size_t)CHUNK_ROWS * f * sizeof(double))) return -1;
    compiled_state *s = e->st;
    if (!(*(void **)&s->ll_forest = dlsym(s->dl, "forest_root"))) {
        snprintf(e->err, sizeof e->err, "%s/lleaves.so: forest_root missing", dir);
        return -1;
    }
    return 0;
}
static int lleaves_predict(engine *e, const float *x, int n, double *y) { return compiled_run(e, x, n, y, lleaves_chunk); }
static int lleaves_predict_row(engine *e, const float *x, double *y)
{
    compiled_state *s = e->st;
    lleaves_rows(s, s->scratch[0], x, y, 1);
    return 0;
}

/* ---- tickinfer (the embedding API) ---- */
#define TI_MAX_BATCH 65536 /* ti_runner_create's limit: larger batches go in several calls */
typedef struct ti_state {
    ti_model *m;
    ti_runner *r;
    int max_batch;
    int f;
    float *y; /* [max_rows] */
} ti_state;
static int tick_open(engine *e, const char *dir, int f, int max_rows, int threads)
{
    ti_state *s = calloc(1, sizeof *s);
    if (!s) return -1;
    e->st = s;
    char path[1024];
    snprintf(path, sizeof path, "%s/model.txt", dir);
    ti_err err = ti_model_load(&s->m, path, NULL);
    if (err) {
        snprintf(e->err, sizeof e->err, "model kind not available: %s (%s)", ti_last_error(), ti_error_name(err));
        return -1;
    }
    ti_model_desc d;
    if ((err = ti_model_describe(s->m, &d)) || d.n_features != f) {
        snprintf(e->err, sizeof e->err, "%s: %s model with %d features, rows have %d", path, err ? "?" : d.kind,
                 err ? 0 : d.n_features, f);
        return -1;
    }
    ti_runner_opts ro = ti_runner_default_opts();
    s->max_batch = ro.max_batch = max_rows < TI_MAX_BATCH ? max_rows : TI_MAX_BATCH;
    s->f = f;
    ro.n_threads = threads;
    ro.raw_inputs = 0; /* trees split raw feature values: nothing to normalise */
    if ((err = ti_runner_create(&s->r, s->m, &ro)) || !(s->y = malloc((size_t)max_rows * sizeof *s->y))) {
        snprintf(e->err, sizeof e->err, "runner: %s", ti_last_error());
        return -1;
    }
    return 0;
}
static int tick_predict(engine *e, const float *x, int n, double *y)
{
    ti_state *s = e->st;
    for (int b = 0; b < n; b += s->max_batch) {
        const int m = n - b < s->max_batch ? n - b : s->max_batch;
        ti_err err = ti_runner_infer(s->r, s->y + b, x + (size_t)b * s->f, m, 1);
        if (err) {
            snprintf(e->err, sizeof e->err, "ti_runner_infer: %s", ti_last_error());
            return -1;
        }
    }
    for (int i = 0; i < n; i++) y[i] = s->y[i];
    return 0;
}
static int tick_predict_row(engine *e, const float *x, double *y) { return tick_predict(e, x, 1, y); }
static void tick_close(engine *e)
{
    ti_state *s = e->st;
    if (!s) return;
    ti_runner_free(s->r);
    ti_model_close(s->m);
    free(s->y);
    free(s);
    e->st = NULL;
}

/* ---- measurement --------------------------------------------------------------------------- */

typedef struct result {
    const char *model, *engine;
    int threads;
    int valid;          /* 1: checked and timed; 0: not available or wrong (see error) */
    char error[2048];
    int n_check;
    double err_batch, err_row; /* max relative error vs LightGBM */
    int row_calls;
    double p50_us, p99_us, mean_us; /* single row */
    double rows_per_s[N_BATCHES + 1]; /* batch 1 (= 1e6 / p50), 32, 1024, all */
    int batch[N_BATCHES + 1], reps[N_BATCHES + 1];
} result;

typedef struct settings {
    double min_seconds, max_seconds; /* per batch point */
    int min_reps;
    int row_calls_small, row_calls_large;
    double tol;
} settings;

/* Max relative error of y [n] against the reference. */
static double max_err(const double *y, const rows *d, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        const double er = rel_err(y[i], d->ref[i], d->scale);
        if (er > m) m = er;
    }
    return m;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Calls predict on n rows for at least min_seconds and min_reps calls (but no more than
 * max_seconds once min_seconds have passed: on the large model one pass over all rows
 * takes seconds), windows sliding over the rows; rows/s = n / median call time.  first_ns:
 * a call already timed (0: none). */
static int time_batches(engine *e, const rows *d, int n, const settings *st, double *y, uint64_t first_ns,
                        double *rows_per_s, int *reps_out)
{
    enum { MAX_REPS = 4096 };
    static uint64_t times[MAX_REPS];
    int reps = 0;
    if (first_ns) times[reps++] = first_ns;
    const double start = ti_now_s() - (double)first_ns * 1e-9;
    size_t off = 0;
    for (;;) {
        const double el = ti_now_s() - start;
        if (reps >= MAX_REPS || (el >= st->min_seconds && (reps >= st->min_reps || el >= st->max_seconds))) break;
        if (off + (size_t)n > (size_t)d->n) off = 0;
        const uint64_t t0 = ti_now_ns();
        if (e->predict(e, d->x + off * d->f, n, y + off)) return -1;
        times[reps++] = ti_now_ns() - t0;
        off += (size_t)n;
    }
    qsort(times, (size_t)reps, sizeof times[0], cmp_u64);
    const double med_s = (double)times[reps / 2] * 1e-9;
    *rows_per_s = med_s > 0 ? n / med_s : 0;
    *reps_out = reps;
    return 0;
}

static int bench_engine(engine *e, const char *dir, const rows *d, const char *model, int large, int threads,
                        const settings *st, result *r, double *y)
{
    memset(r, 0, sizeof *r);
    r->model = model, r->engine = e->name, r->threads = threads;
    e->err[0] = 0;
    if (e->open(e, dir, d->f, d->n, threads) != 0) {
        snprintf(r->error, sizeof r->error, "%s", e->err[0] ? e->err : "open failed");
        e->close(e);
        return 0;
    }
    /* check: the single-row path on the first rows, then one timed call over all rows (the
     * largest batch point's first repetition) checked row by row */
    const int n_row_max = large ? 200 : 1000, n_row = d->n < n_row_max ? d->n : n_row_max;
    for (int i = 0; i < n_row; i++) {
        double yi = NAN;
        if (e->predict_row(e, d->x + (size_t)i * d->f, &yi)) {
            snprintf(r->error, sizeof r->error, "single-row predict failed: %s", e->err);
            goto done;
        }
        const double er = rel_err(yi, d->ref[i], d->scale);
        if (er > r->err_row) r->err_row = er;
    }
    const uint64_t t0 = ti_now_ns();
    if (e->predict(e, d->x, d->n, y)) {
        snprintf(r->error, sizeof r->error, "predict failed: %s", e->err);
        goto done;
    }
    const uint64_t first_ns = ti_now_ns() - t0;
    r->n_check = d->n;
    r->err_batch = max_err(y, d, d->n);
    if (r->err_batch > st->tol || r->err_row > st->tol) {
        snprintf(r->error, sizeof r->error, "WRONG: max relative error %.3g (batch), %.3g (single row) > %.1g",
                 r->err_batch, r->err_row, st->tol);
        goto done;
    }
    if (time_batches(e, d, d->n, st, y, first_ns, &r->rows_per_s[N_BATCHES], &r->reps[N_BATCHES])) goto fail;
    r->batch[N_BATCHES] = d->n;

    /* single row: one call per row, cycling through the rows (trees see fresh paths) */
    ti_hist h;
    if (ti_hist_init(&h, 10ull * 1000000000ull, 7) != TI_OK) return -1;
    /* up to row_calls calls, at least MIN_ROW_CALLS, no longer than max_seconds beyond those */
    enum { MIN_ROW_CALLS = 200 };
    const int max_calls = large ? st->row_calls_large : st->row_calls_small;
    const double row_start = ti_now_s();
    double y1;
    int calls = 0;
    while (calls < max_calls && (calls < MIN_ROW_CALLS || ti_now_s() - row_start < st->max_seconds)) {
        const float *x = d->x + (size_t)(calls % d->n) * d->f;
        const uint64_t c0 = ti_now_ns();
        e->predict_row(e, x, &y1);
        ti_hist_record(&h, ti_now_ns() - c0);
        calls++;
    }
    r->row_calls = calls;
    r->p50_us = (double)ti_hist_quantile(&h, 0.5) * 1e-3;
    r->p99_us = (double)ti_hist_quantile(&h, 0.99) * 1e-3;
    r->mean_us = ti_hist_mean(&h) * 1e-3;
    ti_hist_free(&h);
    r->batch[0] = 1, r->reps[0] = calls;
    r->rows_per_s[0] = r->p50_us > 0 ? 1e6 / r->p50_us : 0;

    for (int b = 0; b + 1 < N_BATCHES; b++) {
        const int n = BATCHES[b] < d->n ? BATCHES[b] : d->n;
        r->batch[b + 1] = n;
        if (e->predict(e, d->x, n, y) || time_batches(e, d, n, st, y, 0, &r->rows_per_s[b + 1], &r->reps[b + 1]))
            goto fail;
    }
    r->valid = 1;
    goto done;
fail:
    snprintf(r->error, sizeof r->error, "predict failed: %s", e->err);
done:
    e->close(e);
    return 0;
}

static int write_json(const char *path, const result *res, int n, const settings *st)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const ti_cpu_info *ci = ti_cpu_get();
    fprintf(f, "{\n  \"benchmark\": \"gbdt\",\n  \"cpu\": ");
    bench_json_str(f, ci->model);
    fprintf(f, ",\n  \"cores_online\": %d,\n  \"tolerance\": %g,\n  \"results\": [\n", ci->n_cores_online, st->tol);
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f, "    {\"model\": \"%s\", \"engine\": \"%s\", \"threads\": %d, \"valid\": %s, \"error\": ", r->model,
                r->engine, r->threads, r->valid ? "true" : "false");
        bench_json_str(f, r->error);
        fprintf(f, ", \"checked_rows\": %d, \"max_rel_err_batch\": %.3e, \"max_rel_err_row\": %.3e", r->n_check,
                r->err_batch, r->err_row);
        if (r->valid) {
            fprintf(f, ", \"row_calls\": %d, \"single_p50_us\": %.4f, \"single_p99_us\": %.4f, \"single_mean_us\": %.4f",
                    r->row_calls, r->p50_us, r->p99_us, r->mean_us);
            fprintf(f, ", \"throughput\": [");
            for (int b = 0; b <= N_BATCHES; b++)
                fprintf(f, "%s{\"batch\": %d, \"reps\": %d, \"rows_per_s\": %.1f}", b ? ", " : "", r->batch[b],
                        r->reps[b], r->rows_per_s[b]);
            fprintf(f, "]");
        }
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static int load_rows(rows *d, const char *dir, const char *model)
{
    char path[1024];
    int64_t xs[2], rs[1];
    void *x = NULL, *ref = NULL;
    snprintf(path, sizeof path, "%s/rows.npy", dir);
    if (load_npy(path, TI_NPY_F32, 2, xs, &x)) return -1;
    snprintf(path, sizeof path, "%s/%s/ref.npy", dir, model);
    if (load_npy(path, TI_NPY_F64, 1, rs, &ref)) return free(x), -1;
    if (rs[0] != xs[0]) {
        fprintf(stderr, "gbdt: %s has %lld predictions for %lld rows\n", path, (long long)rs[0], (long long)xs[0]);
        return free(x), free(ref), -1;
    }
    d->n = (int)xs[0], d->f = (int)xs[1], d->x = x, d->ref = ref;
    double ss = 0;
    for (int i = 0; i < d->n; i++) ss += d->ref[i] * d->ref[i];
    d->scale = sqrt(ss / d->n);
    return 0;
}

static int listed(const char *list, const char *name)
{
    const size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "build/bench_gbdt", *out = "build/bench_gbdt/gbdt.json", *models = "small,large";
    const char *engines = "tickinfer,lightgbm,xgboost,tl2cgen,lleaves,onnxruntime", *threads_list = "1,2";
    engine eng[] = {
        {"tickinfer", tick_open, tick_predict, tick_predict_row, tick_close, NULL, NULL, NULL, ""},
        {"lightgbm", lgbm_open, lgbm_predict, lgbm_predict_row, lgbm_close, NULL, NULL, NULL, ""},
        {"xgboost", xgb_open, xgb_predict, xgb_predict_row, xgb_close, NULL, NULL, NULL, ""},
        {"tl2cgen", tl2cgen_open, tl2cgen_predict, tl2cgen_predict_row, compiled_close, NULL, NULL, NULL, ""},
        {"lleaves", lleaves_open, lleaves_predict, lleaves_predict_row, compiled_close, NULL, NULL, NULL, ""},
        {"onnxruntime", ort_open, ort_predict, ort_predict_row, ort_close, NULL, NULL, NULL, ""},
    };
    const int n_eng = (int)(sizeof eng / sizeof eng[0]);
    int max_rows = 0;        /* 0: all rows of rows.npy */
    int large_rows = 10000; /* the large model's rows (0: as the small one): a pass over 100,000
                               rows takes LightGBM over a minute there, and the rows/s of
                               batches >= 1,024 do not change with the batch */
    settings st = {.min_seconds = 0.3, .max_seconds = 2.0, .min_reps = 3, .row_calls_small = 20000, .row_calls_large = 2000,
                   .tol = 1e-5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) st.min_seconds = 0.05, st.max_seconds = 0.3, st.min_reps = 1, st.row_calls_small = 2000,
                                   st.row_calls_large = 200;
        else if (v && !strcmp(a, "--dir")) dir = v, i++;
        else if (v && !strcmp(a, "--out")) out = v, i++;
        else if (v && !strcmp(a, "--models")) models = v, i++;
        else if (v && !strcmp(a, "--engines")) engines = v, i++;
        else if (v && !strcmp(a, "--threads")) threads_list = v, i++;
        else if (v && !strcmp(a, "--seconds")) st.min_seconds = atof(v), i++;
        else if (v && !strcmp(a, "--tol")) st.tol = atof(v), i++;
        else if (v && !strcmp(a, "--rows")) max_rows = atoi(v), i++;
        else if (v && !strcmp(a, "--large-rows")) large_rows = atoi(v), i++;
        else if (v && !strcmp(a, "--lightgbm")) eng[1].lib = v, i++;
        else if (v && !strcmp(a, "--xgboost")) eng[2].lib = v, i++;
        else if (v && !strcmp(a, "--onnxruntime")) eng[5].lib = v, i++;
        else {
            fprintf(stderr,
                    "usage: %s [--dir DIR] [--out PATH] [--models small,large] [--engines LIST] [--threads 1,2]\n"
                    "          [--seconds S] [--tol T] [--rows N] [--large-rows N (10000)] [--quick]\n"
                    "          --lightgbm lib_lightgbm.so --xgboost libxgboost.so --onnxruntime libonnxruntime.so\n",
                    argv[0]);
            return 2;
        }
    }
    static result res[MAX_RESULTS];
    int n_res = 0;
    printf("%-6s %-12s %3s %10s %10s %12s %12s %12s %12s  %s\n", "model", "engine", "thr", "p50 us", "p99 us",
           "rows/s@1", "@32", "@1024", "@all", "max rel err / note");
    for (int mi = 0; mi < 2; mi++) {
        const char *model = mi == 0 ? "small" : "large";
        if (!listed(models, model)) continue;
        rows d;
        char mdir[1024];
        snprintf(mdir, sizeof mdir, "%s/%s", dir, model);
        if (load_rows(&d, dir, model)) return 1;
        if (max_rows > 0 && max_rows < d.n) d.n = max_rows;
        if (mi == 1 && large_rows > 0 && large_rows < d.n) d.n = large_rows;
        double *y = malloc((size_t)d.n * sizeof *y);
        if (!y) return 1;
        for (int ei = 0; ei < n_eng; ei++) {
            if (!listed(engines, eng[ei].name)) continue;
            for (int t = 1; t <= 2; t++) {
                char tn[4];
                snprintf(tn, sizeof tn, "%d", t);
                if (!listed(threads_list, tn) || n_res >= MAX_RESULTS) continue;
                result *r = &res[n_res++];
                if (bench_engine(&eng[ei], mdir, &d, model, mi == 1, t, &st, r, y)) return 1;
                if (r->valid)
                    printf("%-6s %-12s %3d %10.3f %10.3f %12.0f %12.0f %12.0f %12.0f  %.2e\n", model, r->engine, t,
                           r->p50_us, r->p99_us, r->rows_per_s[0], r->rows_per_s[1], r->rows_per_s[2],
                           r->rows_per_s[3], r->err_batch > r->err_row ? r->err_batch : r->err_row);
                else
                    printf("%-6s %-12s %3d  %s\n", model, r->engine, t, r->error);
                fflush(stdout);
                /* let OpenMP workers of the last engine stop spinning before the next one */
                const struct timespec pause = {0, 200 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
        }
        free(y), free(d.x), free(d.ref);
    }
    if (write_json(out, res, n_res, &st) != 0) {
        fprintf(stderr, "gbdt: cannot write %s\n", out);
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
