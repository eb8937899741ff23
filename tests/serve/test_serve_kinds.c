/* Serving kinds other than the transformer through the same server: a linear model, a
 * LightGBM model (models/rv_lgbm.json) and ensembles (causal transformer + linear,
 * causal transformer + LightGBM) answer over v2 and /predict with what the in-process
 * models compute; metadata, Triton config and statistics describe the
 * ensemble's own tensors and steps. */
#include <limits.h>
#include <sys/stat.h>

#include "harness.h"
#include "http_client.h"
#include "model/linear/linear.h"
#include "serve_fixture.h"
#include "tickinfer/model.h"
#include "tickinfer/serve.h"
#include "tickinfer/stream.h"

static ti_server *g_srv;
static int g_port;
static char g_dir[128], g_lin[256], g_ens[256], g_ens_trees[256], g_trees[PATH_MAX];

static ti_err write_models(void)
{
    ti_linear lm;
    memset(&lm, 0, sizeof lm);
    lm.n_features = 12, lm.context = 300, lm.n_terms = 3;
    lm.terms[0] = (ti_wterm){7, 1, TI_WAGG_LAST, TI_WTR_LOG, 1e-5};
    lm.terms[1] = (ti_wterm){5, 1, TI_WAGG_LAST, TI_WTR_LOG, 1e-5};
    lm.terms[2] = (ti_wterm){1, 300, TI_WAGG_SUM_EXPM1, TI_WTR_LOG1P, 1e-5};
    lm.coef[0] = -1.5, lm.coef[1] = 0.7, lm.coef[2] = 0.2, lm.coef[3] = 0.01;
    snprintf(g_lin, sizeof g_lin, "%s/har.safetensors", g_dir);
    ti_err e = ti_linear_save(&lm, g_lin, NULL, 0.9f);
    char rv[PATH_MAX];
    if (!e && !realpath(RV_PATH, rv)) e = ti_errorf(TI_ERR_IO, "no %s", RV_PATH);
    snprintf(g_ens, sizeof g_ens, "%s/ens.json", g_dir);
    FILE *f = e ? NULL : fopen(g_ens, "w");
    if (!e && !f) e = ti_errorf(TI_ERR_IO, "cannot write %s", g_ens);
    if (f) {
        fprintf(f,
                "{\"kind\": \"ensemble\", \"members\": [{\"name\": \"causal\", \"path\": \"%s\"},"
                " {\"name\": \"har\", \"path\": \"har.safetensors\"}],"
                " \"combiner\": {\"type\": \"linear\", \"weights\": [0.8, 0.25], \"bias\": 0.1}}\n",
                rv);
        fclose(f);
    }
    if (!e && !realpath("models/rv_lgbm.json", g_trees)) e = ti_errorf(TI_ERR_IO, "no models/rv_lgbm.json");
    snprintf(g_ens_trees, sizeof g_ens_trees, "%s/ens_trees.json", g_dir);
    f = e ? NULL : fopen(g_ens_trees, "w");
    if (!e && !f) e = ti_errorf(TI_ERR_IO, "cannot write %s", g_ens_trees);
    if (f) {
        fprintf(f,
                "{\"kind\": \"ensemble\", \"members\": [{\"name\": \"causal\", \"path\": \"%s\"},"
                " {\"name\": \"lgbm\", \"path\": \"%s\"}],"
                " \"combiner\": {\"type\": \"weighted_average\", \"weights\": [0.5, 0.5]}}\n",
                rv, g_trees);
        fclose(f);
    }
    return e;
}

static ti_err start_server(void)
{
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.http_threads = 2;
    c.workers_per_model = 1;
    c.max_batch = 8;
    c.max_queue_delay_us = 0;
    ti_err e = write_models();
    if (!e) e = ti_server_create(&g_srv, &c);
    if (!e) e = ti_server_add_model(g_srv, "har", g_lin);
    if (!e) e = ti_server_add_model(g_srv, "ens", g_ens);
    if (!e) e = ti_server_add_model(g_srv, "lgbm", g_trees);
    if (!e) e = ti_server_add_model(g_srv, "ens_trees", g_ens_trees);
    if (!e) e = ti_server_start(g_srv);
    if (!e) g_port = ti_server_port(g_srv);
    return e;
}

static void fill(float *x, size_t n)
{
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0) * 0.01f;
    }
}

/* y of the in-process model on raw x (the model's own normalisation applied). */
static void local_forward(const char *path, float *y, const float *x, int B, int T)
{
    ti_model *m = NULL;
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_model_open(&m, path, NULL));
    if (m) TI_CHECK_OK(ti_ctx_create(&c, m, B));
    float *xn = malloc(sizeof(float) * (size_t)B * (size_t)T * 12);
    memcpy(xn, x, sizeof(float) * (size_t)B * (size_t)T * 12);
    if (c) {
        ti_model_normalise(m, xn, (size_t)B * (size_t)T);
        TI_CHECK_OK(ti_ctx_forward(c, y, xn, B, T, NULL));
    }
    free(xn);
    ti_ctx_destroy(c);
    ti_model_free(m);
}

static int get(const char *path, tc_resp *r) { return tc_request(g_port, "GET", path, NULL, NULL, 0, r); }

TI_TEST(ensemble_and_linear_answer_like_in_process)
{
    enum { B = 3, T = 20, F = 12 };
    static float x[B * T * F], want_e[B], want_l[B], want_t[B], want_et[B], got[B];
    fill(x, sizeof x / sizeof x[0]);
    local_forward(g_ens, want_e, x, B, T);
    local_forward(g_lin, want_l, x, B, T);
    local_forward(g_trees, want_t, x, B, T);
    local_forward(g_ens_trees, want_et, x, B, T);
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 20);
    TI_CHECK_OK(sv_sbuf_printf(&s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"data\":[", B, T, F));
    TI_CHECK_OK(sv_sbuf_floats(&s, x, B * T * F));
    TI_CHECK_OK(sv_sbuf_puts(&s, "]}]}"));
    const char *paths[4] = {"/v2/models/ens/infer", "/v2/models/har/infer", "/v2/models/lgbm/infer",
                            "/v2/models/ens_trees/infer"};
    const float *want[4] = {want_e, want_l, want_t, want_et};
    for (int k = 0; k < 4; k++) {
        tc_resp r;
        TI_CHECK(tc_request(g_port, "POST", paths[k], "Content-Type: application/json\r\n", s.data, s.len, &r) == 0);
        json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
        json_t *out = json_array_get(json_object_get(j, "outputs"), 0);
        TI_CHECK_MSG(r.status == 200 && out && json_flatten(json_object_get(out, "data"), got, B, 0) == B, "%s: %d %.200s",
                     paths[k], r.status, r.body ? r.body : "");
        TI_CHECK_MSG(max_rel_ok(got, want[k], B, 1e-5), "%s: %g vs %g", paths[k], got[0], want[k][0]);
        json_decref(j);
        tc_resp_free(&r);
    }
    /* the tree ensemble is the mean of its members' log forecasts, not one of them */
    TI_CHECK(want_et[0] != want_t[0]);
    tc_resp md;
    TI_CHECK(get("/v2/models/lgbm", &md) == 0 && md.status == 200);
    TI_CHECK_MSG(md.body && strstr(md.body, "\"kind\":\"trees\"") && strstr(md.body, "\"shape\":[-1,-1,12]"), "lgbm metadata: %.300s",
                 md.body ? md.body : "");
    tc_resp_free(&md);
    sv_sbuf_clear(&s);
    TI_CHECK_OK(sv_sbuf_puts(&s, "{\"x\":"));
    TI_CHECK_OK(json_tensor3(&s, x, B, T, F));
    TI_CHECK_OK(sv_sbuf_puts(&s, "}"));
    tc_resp r;
    TI_CHECK(tc_request(g_port, "POST", "/predict?model=ens", "Content-Type: application/json\r\n", s.data, s.len, &r) == 0);
    json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    TI_CHECK(r.status == 200 && j && json_flatten(json_object_get(j, "y"), got, B, 0) == B && max_rel_ok(got, want_e, B, 1e-5));
    json_decref(j);
    tc_resp_free(&r);
    sv_sbuf_free(&s);
}

/* A tree model streams too: trades into /v1/streams give what the model's own window
 * state gives on the same per-second features (the engine's feature state). */
TI_TEST(tree_model_streams_ticks)
{
    enum { N = 40 };
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 16);
    TI_CHECK_OK(sv_sbuf_puts(&s, "{\"trades\":["));
    for (int i = 0; i < N; i++)
        TI_CHECK_OK(sv_sbuf_printf(&s, "%s{\"t\":%d,\"price\":%.4f,\"size\":%d,\"orders\":1}", i ? "," : "", i * 3,
                                   100.0 + 0.05 * ((i * 7) % 11), 10 + i % 5));
    TI_CHECK_OK(sv_sbuf_puts(&s, "]}"));
    tc_resp r;
    TI_CHECK(tc_request(g_port, "POST", "/v1/streams/SYM.T/ticks?model=lgbm", "Content-Type: application/json\r\n", s.data,
                        s.len, &r) == 0);
    json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    TI_CHECK_MSG(r.status == 200 && j, "%d %.300s", r.status, r.body ? r.body : "");
    const double y_srv = json_number_value(json_object_get(j, "y_log"));
    const json_int_t pos = json_integer_value(json_object_get(j, "positions"));
    json_decref(j);
    tc_resp_free(&r);
    /* the same trades through the in-process engine over the same model file */
    ti_model *m = NULL;
    ti_stream_engine *e = NULL;
    ti_stream *st = NULL;
    TI_CHECK_OK(ti_model_open(&m, g_trees, NULL));
    if (m) TI_CHECK_OK(ti_stream_engine_create_for(&e, m, NULL));
    if (e) TI_CHECK_OK(ti_stream_open(e, &st, "SYM.T"));
    ti_forecast fc = {0};
    for (int i = 0; st && i < N; i++) TI_CHECK_OK(ti_stream_push_trade(st, i * 3, (float)(100.0 + 0.05 * ((i * 7) % 11)), (float)(10 + i % 5), 1, &fc, NULL));
    TI_CHECK_MSG(st && ti_stream_len(st) == pos && fabs(fc.y_log - y_srv) < 1e-5 * (1 + fabs(y_srv)),
                 "server y_log %g at %lld positions, in-process %g at %lld", y_srv, (long long)pos, fc.y_log,
                 st ? (long long)ti_stream_len(st) : -1LL);
    ti_stream_close(st);
    ti_stream_engine_destroy(e);
    ti_model_free(m);
    sv_sbuf_free(&s);
}

TI_TEST(ensemble_metadata_config_and_step_stats)
{
    tc_resp r;
    TI_CHECK(get("/v2/models/ens", &r) == 0 && r.status == 200);
    TI_CHECK(r.body && strstr(r.body, "\"platform\":\"tickinfer_ensemble\"") &&
             strstr(r.body, "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,-1,12]}]") &&
             strstr(r.body, "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[-1]}]") &&
             strstr(r.body, "\"kind\":\"ensemble\""));
    tc_resp_free(&r);
    TI_CHECK(get("/v2/models/ens/config", &r) == 0 && r.status == 200);
    json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    json_t *steps = json_object_get(json_object_get(j, "ensemble_scheduling"), "step");
    TI_CHECK_MSG(j && json_array_size(steps) == 2, "config: %.300s", r.body ? r.body : "");
    TI_CHECK(steps && strcmp(json_string_value(json_object_get(json_array_get(steps, 1), "model_name")), "har") == 0);
    TI_CHECK(steps && strcmp(json_string_value(json_object_get(json_object_get(json_array_get(steps, 0), "output_map"), "y")),
                             "y_causal") == 0);
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(get("/v2/models/ens/stats", &r) == 0 && r.status == 200);
    /* each step ran once for the warm-up and once per request (v2 + /predict) */
    j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
    steps = json_object_get(json_array_get(json_object_get(j, "model_stats"), 0), "steps");
    TI_CHECK_MSG(json_array_size(steps) == 2, "stats: %.400s", r.body ? r.body : "");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *st = json_array_get(steps, i);
        TI_CHECK(json_integer_value(json_object_get(st, "count")) == 3 && json_integer_value(json_object_get(st, "ns")) > 0);
    }
    TI_CHECK(steps && strcmp(json_string_value(json_object_get(json_array_get(steps, 0), "name")), "causal") == 0);
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(get("/metrics", &r) == 0 && r.status == 200);
    TI_CHECK(r.body && strstr(r.body, "tickinfer_ensemble_step_count{model=\"ens\",step=\"har\"} 3"));
    tc_resp_free(&r);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_serve_kinds_%d", (int)getpid());
    mkdir(g_dir, 0700);
    ti_err e = start_server();
    if (e) {
        fprintf(stderr, "  FAIL server start: %s\n", ti_errmsg());
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    TI_RUN(ensemble_and_linear_answer_like_in_process);
    TI_RUN(ensemble_metadata_config_and_step_stats);
    TI_RUN(tree_model_streams_ticks);
    ti_server_destroy(g_srv);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return ti_test_summary();
}
