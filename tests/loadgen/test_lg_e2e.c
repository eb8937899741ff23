/* End to end: the real server in-process on an ephemeral port, short load-generator points
 * on every target, the server's queue/compute split from /metrics, errors by kind, and the
 * report files. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lg_fixture.h"
#include "tickinfer/loadgen.h"
#include "tickinfer/transformer.h"
#include "tickinfer/serve.h"

static ti_server *g_srv;
static int g_port;

static void base(ti_lg_config *c)
{
    ti_lg_config_default(c);
    c->port = g_port;
    snprintf(c->model, sizeof c->model, "rv");
    c->batch = 2, c->T = 20, c->F = 12;
    c->requests = 30, c->warmup = 5, c->min_s = 0, c->max_s = 30;
    c->mode = TI_LG_CLOSED;
    c->concurrency = 2;
}

TI_TEST(closed_loop_every_http_target)
{
    for (int t = 0; t < TI_LG_INPROC; t++) {
        ti_lg_config c;
        base(&c);
        c.target = (ti_lg_target)t;
        ti_lg_point p;
        TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
        TI_CHECK_MSG(p.n_ok == 30 && p.n_err == 0, "%s: ok %llu err %llu", ti_lg_target_name(c.target),
                     (unsigned long long)p.n_ok, (unsigned long long)p.n_err);
        TI_CHECK(p.hist.total == 30);
        TI_CHECK(p.p50_ms > 0 && p.p50_ms <= p.p99_ms && p.p99_ms <= p.max_ms * 1.01);
        TI_CHECK(p.req_s > 0 && fabs(p.samples_s - 2 * p.req_s) < 1e-6 * p.samples_s);
        /* 2 clients overlap: latency-sum "QPS" understates wall-clock throughput. */
        TI_CHECK(p.latsum_qps < p.req_s * 1.05);
        TI_CHECK_MSG(p.queue_ms >= 0 && p.compute_ms > 0, "%s: server split %g / %g", ti_lg_target_name(c.target),
                     p.queue_ms, p.compute_ms);
        TI_CHECK(p.compute_ms < p.max_ms + 1);
        ti_lg_point_free(&p);
    }
}

TI_TEST(open_loop_holds_rate)
{
    ti_lg_config c;
    base(&c);
    c.target = TI_LG_V2_BINARY;
    c.mode = TI_LG_OPEN;
    c.rate = 100;
    c.requests = 40;
    ti_lg_point p;
    TI_CHECK_OK(ti_lg_run_point(&p, &c, NULL));
    TI_CHECK(p.n_ok == 40);
    /* The sends follow the schedule: 40 sends at 100/s span 0.39 s, so the window is at
     * least that and the rate cannot exceed ~100/s; a loaded machine may add latency at
     * the end (lower bound kept loose). */
    TI_CHECK_MSG(p.req_s > 50 && p.req_s < 105, "open loop at 100/s achieved %g/s", p.req_s);
    TI_CHECK(p.wall_s >= 0.39);
    ti_lg_point_free(&p);
}

TI_TEST(inproc_target)
{
    ti_model *m; /* any kind: the in-process target runs the generic interface */
    TI_CHECK_OK(ti_model_open(&m, RV_PATH, NULL));
    ti_lg_config c;
    base(&c);
    c.target = TI_LG_INPROC;
    ti_lg_point p;
    TI_CHECK_OK(ti_lg_run_point(&p, &c, m));
    TI_CHECK(p.n_ok == 30 && p.n_err == 0 && p.queue_ms < 0);
    ti_lg_point_free(&p);
    c.F = 11; /* wrong feature count: every forward fails */
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, m), TI_ERR_INVALID_ARG, "model expects 12");
    c.F = 12, c.T = 301; /* past the context: every forward fails, counted */
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, m), TI_ERR_INVALID_ARG, "no successful request");
    ti_model_free(m);
}

TI_TEST(errors_by_kind)
{
    ti_lg_config c;
    base(&c);
    c.target = TI_LG_PREDICT;
    snprintf(c.model, sizeof c.model, "no_such_model");
    ti_lg_point p;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_IO, "HTTP 404");
    base(&c);
    c.port = 1; /* nothing listens on port 1 */
    c.requests = 3, c.warmup = 0;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_IO, "connect");
    base(&c);
    c.concurrency = 0;
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_INVALID_ARG, "concurrency");
    base(&c);
    c.target = TI_LG_V2_JSON;
    c.model[0] = '\0';
    TI_CHECK_ERR(ti_lg_run_point(&p, &c, NULL), TI_ERR_INVALID_ARG, "model name");
}

TI_TEST(rate_sweep_and_report)
{
    ti_lg_config c;
    base(&c);
    c.target = TI_LG_PREDICT_NP;
    c.rate = 50;
    c.requests = 20;
    ti_lg_point pts[8];
    int n = 0;
    double best = 0;
    /* A 1e-6 ms target cannot hold: the sweep stops after its first point, best 0. */
    TI_CHECK_OK(ti_lg_rate_sweep(pts, 8, &n, &best, &c, NULL, 1e-6, 2));
    TI_CHECK(n == 1 && best == 0);
    TI_CHECK(pts[0].sweep_p99_ms == 1e-6 && !pts[0].sweep_holds && !pts[0].sweep_best);
    for (int i = 0; i < n; i++) ti_lg_point_free(&pts[i]);
    /* A 10 s target holds at 50 and 100/s; cap 2 points ends the sweep there. */
    TI_CHECK_OK(ti_lg_rate_sweep(pts, 2, &n, &best, &c, NULL, 10000, 2));
    TI_CHECK(n == 2 && best == 100);
    char dir[] = "/tmp/ti_lg_report_XXXXXX";
    TI_CHECK(mkdtemp(dir) != NULL);
    TI_CHECK_OK(ti_lg_report_write(dir, "r", "test report", pts, n));
    char path[256];
    snprintf(path, sizeof path, "%s/r.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    TI_CHECK_MSG(j != NULL, "r.json: %s", je.text);
    json_t *arr = json_object_get(j, "points");
    TI_CHECK(json_array_size(arr) == 2);
    TI_CHECK(json_number_value(json_object_get(json_array_get(arr, 1), "rate_target")) == 100.0);
    TI_CHECK(!strcmp(json_string_value(json_object_get(json_array_get(arr, 0), "mode")), "open"));
    TI_CHECK(json_is_true(json_object_get(json_array_get(arr, 1), "sweep_best")));
    TI_CHECK(json_is_false(json_object_get(json_array_get(arr, 0), "sweep_best")));
    TI_CHECK(json_is_true(json_object_get(json_array_get(arr, 0), "sweep_holds")));
    json_decref(j);
    snprintf(path, sizeof path, "%s/r.md", dir);
    char md[8192];
    FILE *mf = fopen(path, "r");
    size_t mlen = mf ? fread(md, 1, sizeof md - 1, mf) : 0;
    if (mf) fclose(mf);
    md[mlen] = '\0';
    TI_CHECK_MSG(strstr(md, "highest rate holding p99 <= 10000 ms: **100.0 req/s** (2 points)") != NULL, "%s", md);
    const char *files[] = {"r.json", "r.md", "r_latency.svg", "r_percentiles.svg"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        TI_CHECK_MSG(access(path, R_OK) == 0, "missing %s", path);
        unlink(path);
    }
    rmdir(dir);
    for (int i = 0; i < n; i++) ti_lg_point_free(&pts[i]);
}

int main(void)
{
    static const char *const names[] = {"rv"}, *const paths[] = {RV_PATH};
    if (lg_start_server(&g_srv, &g_port, names, paths, 1)) return 1;
    TI_RUN(closed_loop_every_http_target);
    TI_RUN(open_loop_holds_rate);
    TI_RUN(inproc_target);
    TI_RUN(errors_by_kind);
    TI_RUN(rate_sweep_and_report);
    ti_server_drain(g_srv, 5000);
    ti_server_destroy(g_srv);
    return ti_test_summary();
}
