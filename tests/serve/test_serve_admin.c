/* Model registry over HTTP: bearer-token admin, load / unload / hot reload while clients
 * keep sending (no request may fail), the TinyRV .pt model next to the causal one, and
 * SIGTERM-style drain with requests in flight. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "http_client.h"
#include "serve_fixture.h"
#include "tickinfer/clock.h"
#include "tickinfer/serve.h"

#define TINY_PATH "tests/model/data/seed_rv_tiny/best.pt"
#define AUTH "Authorization: Bearer s3cret-token\r\n"

static ti_server *g_srv;
static int g_port;
static ref_model g_rv;

static ti_err start(ti_server **s, int *port, const char *token, int delay_us)
{
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.workers_per_model = 1;
    c.max_batch = 4;
    c.max_queue_delay_us = delay_us;
    c.max_body_bytes = 4 << 20;
    c.idle_timeout_s = 5;
    if (token) snprintf(c.admin_token, sizeof c.admin_token, "%s", token);
    ti_err e = ti_server_create(s, &c);
    if (!e) e = ti_server_add_model(*s, "rv", RV_PATH);
    if (!e) e = ti_server_start(*s);
    if (!e) *port = ti_server_port(*s);
    return e;
}

static int status_of(const char *method, const char *path, const char *hdrs, const char *body, char *out, size_t cap)
{
    tc_resp r;
    if (tc_request(g_port, method, path, hdrs, body, body ? strlen(body) : 0, &r) != 0) return -1;
    if (out) snprintf(out, cap, "%s", r.body ? r.body : "");
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

TI_TEST(tinyrv_pt_model_serves)
{
    ti_err e = ti_server_add_model(g_srv, "tiny", TINY_PATH);
    TI_CHECK_OK(e);
    if (e) return;
    ref_model tiny;
    TI_CHECK_OK(ref_open(&tiny, TINY_PATH, 2));
    enum { B = 2, T = 600, F = 14 };
    static float x[B * T * F];
    float ref[B], got[B];
    make_input(&tiny, x, B, T, 5);
    TI_CHECK_OK(ref_forward(&tiny, ref, x, B, T));
    char hdr[400], hl[80];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":%zu}}],\"parameters\":{\"binary_data_output\":true}}",
                     B, T, F, sizeof x);
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 20);
    TI_CHECK_OK(sv_sbuf_append(&s, hdr, (size_t)n));
    TI_CHECK_OK(sv_sbuf_append(&s, x, sizeof x));
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %d\r\n", n);
    tc_resp r;
    TI_CHECK(tc_request(g_port, "POST", "/v2/models/tiny/infer", hl, s.data, s.len, &r) == 0 && r.status == 200);
    char v[32] = "";
    TI_CHECK(tc_header(&r, "Inference-Header-Content-Length", v, sizeof v) == 0);
    size_t jl = (size_t)atol(v);
    TI_CHECK(jl + sizeof got == r.body_len && tc_find(r.body, jl, "\"shape\":[2]") != NULL);
    if (jl + sizeof got == r.body_len) {
        memcpy(got, r.body + jl, sizeof got);
        TI_CHECK(max_rel_ok(got, ref, B, 1e-4));
    }
    tc_resp_free(&r);
    /* TinyRV needs exactly its window */
    char out[256];
    const char *short_req = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2,14],\"datatype\":\"FP32\",\"data\":"
                            "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}";
    TI_CHECK(status_of("POST", "/v2/models/tiny/infer", NULL, short_req, out, sizeof out) == 400);
    TI_CHECK(strstr(out, "needs exactly 600") != NULL);
    TI_CHECK(status_of("GET", "/v2/models/tiny", NULL, NULL, out, sizeof out) == 200);
    TI_CHECK(strstr(out, "\"shape\":[-1,600,14]") && strstr(out, "\"normalised_by_server\":false"));
    sv_sbuf_free(&s);
    ref_close(&tiny);
}

TI_TEST(admin_needs_bearer_token)
{
    char out[512];
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/load", NULL, NULL, out, sizeof out) == 401);
    TI_CHECK(strstr(out, "Bearer") != NULL);
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/load", "Authorization: Bearer wrong\r\n", NULL, NULL, 0) == 401);
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/unload", "Authorization: Bearer s3cret-token-and-more\r\n", NULL,
                       NULL, 0) == 401);
    TI_CHECK(status_of("GET", "/v2/models/rv/ready", NULL, NULL, NULL, 0) == 200);
    /* index needs no token */
    TI_CHECK(status_of("POST", "/v2/repository/index", NULL, NULL, out, sizeof out) == 200);
    TI_CHECK(strstr(out, "{\"name\":\"rv\",\"version\":\"1\",\"state\":\"READY\"}") != NULL);
}

TI_TEST(load_unload_cycle)
{
    char out[512];
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/load", AUTH, NULL, out, sizeof out) == 200);
    TI_CHECK(status_of("GET", "/v2/models/rv/versions/2/ready", NULL, NULL, NULL, 0) == 200);
    TI_CHECK(status_of("GET", "/v2/models/rv/versions/1/ready", NULL, NULL, NULL, 0) == 404);
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/unload", AUTH, NULL, NULL, 0) == 200);
    TI_CHECK(status_of("GET", "/v2/models/rv", NULL, NULL, NULL, 0) == 404);
    TI_CHECK(status_of("POST", "/predict?model=rv", NULL, "{\"x\":[[1,2,3,4,5,6,7,8,9,10,11,12]]}", out, sizeof out) == 404);
    TI_CHECK(status_of("POST", "/v2/repository/index", NULL, NULL, out, sizeof out) == 200);
    TI_CHECK(strstr(out, "{\"name\":\"rv\",\"version\":\"2\",\"state\":\"UNAVAILABLE\"}") != NULL);
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/unload", AUTH, NULL, out, sizeof out) == 404);
    /* the path is remembered */
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/load", AUTH, NULL, NULL, 0) == 200);
    TI_CHECK(status_of("GET", "/v2/models/rv/versions/3/ready", NULL, NULL, NULL, 0) == 200);
    /* a new name with an explicit path; an unknown name without one */
    TI_CHECK(status_of("POST", "/v2/repository/models/rv2/load", AUTH,
                       "{\"parameters\":{\"path\":\"" RV_PATH "\"}}", NULL, 0) == 200);
    TI_CHECK(status_of("GET", "/v2/models/rv2/ready", NULL, NULL, NULL, 0) == 200);
    TI_CHECK(status_of("POST", "/v2/repository/models/ghost/load", AUTH, NULL, out, sizeof out) == 404);
    TI_CHECK(strstr(out, "no known path") != NULL);
    TI_CHECK(status_of("POST", "/v2/repository/models/bad/load", AUTH, "{\"parameters\":{\"path\":\"/nonexistent.safetensors\"}}",
                       out, sizeof out) == 404);
    TI_CHECK(strstr(out, "nonexistent") != NULL);
    TI_CHECK(status_of("POST", "/v2/repository/models/rv2/load", AUTH, "{\"parameters\":", out, sizeof out) == 400);
}

typedef struct load_client {
    int id, n, failures;
    atomic_int *stop;
} load_client;

static void *load_main(void *p)
{
    load_client *a = p;
    enum { B = 2, T = 6, F = 12 };
    float x[B * T * F], ref[B * T], got[B];
    ref_model rm;
    tc_conn c;
    if (ref_open(&rm, RV_PATH, B)) {
        a->failures = 1;
        return NULL;
    }
    int open = tc_open(&c, g_port) == 0;
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 20);
    for (a->n = 0; !atomic_load(a->stop) || a->n < 10; a->n++) {
        make_input(&rm, x, B, T, (uint64_t)(a->id * 1000 + a->n));
        sv_sbuf_clear(&s);
        sv_sbuf_puts(&s, "{\"x\":");
        json_tensor3(&s, x, B, T, F);
        sv_sbuf_puts(&s, "}");
        tc_resp r = {0};
        if (!open) open = tc_open(&c, g_port) == 0;
        int ok = open && tc_send_req(&c, "POST", "/predict?model=rv", NULL, s.data, s.len) == 0 &&
                 tc_read_resp(&c, &r, 20000) == 0 && r.status == 200;
        if (ok) {
            json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
            ok = j && json_flatten(json_object_get(j, "y"), got, B, 0) == B && ref_forward(&rm, ref, x, B, T) == TI_OK;
            float last[B] = {ref[T - 1], ref[2 * T - 1]};
            ok = ok && max_rel_ok(got, last, B, 1e-4);
            json_decref(j);
        } else {
            fprintf(stderr, "  client %d request %d: status %d %s\n", a->id, a->n, r.status, r.body ? r.body : "(none)");
        }
        tc_resp_free(&r);
        if (!ok) {
            a->failures++;
            tc_close(&c);
            open = 0;
        }
    }
    if (open) tc_close(&c);
    sv_sbuf_free(&s);
    ref_close(&rm);
    return NULL;
}

TI_TEST(hot_reload_under_load_loses_nothing)
{
    enum { N = 3 };
    atomic_int stop;
    atomic_init(&stop, 0);
    pthread_t th[N];
    load_client cl[N];
    for (int i = 0; i < N; i++) {
        cl[i] = (load_client){i, 0, 0, &stop};
        pthread_create(&th[i], NULL, load_main, &cl[i]);
    }
    int reloads = 0;
    for (int k = 0; k < 3; k++) {
        usleep(50000);
        reloads += status_of("POST", "/v2/repository/models/rv/load", AUTH, NULL, NULL, 0) == 200;
    }
    atomic_store(&stop, 1);
    int failures = 0, total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        failures += cl[i].failures;
        total += cl[i].n;
    }
    TI_CHECK(reloads == 3);
    TI_CHECK_MSG(failures == 0 && total >= 30, "%d of %d requests failed across 3 reloads", failures, total);
    TI_CHECK(status_of("GET", "/v2/models/rv/versions/6/ready", NULL, NULL, NULL, 0) == 200);
}

TI_TEST(admin_disabled_without_token)
{
    ti_server *s;
    int port = 0, saved = g_port;
    TI_CHECK_OK(start(&s, &port, NULL, 500));
    g_port = port;
    char out[256];
    TI_CHECK(status_of("POST", "/v2/repository/models/rv/unload", AUTH, NULL, out, sizeof out) == 403);
    TI_CHECK(strstr(out, "TICKINFER_ADMIN_TOKEN") != NULL);
    g_port = saved;
    ti_server_destroy(s);
}

typedef struct inflight_arg {
    int port, status;
} inflight_arg;

static void *slow_predict(void *p)
{
    inflight_arg *a = p;
    enum { B = 1, T = 300, F = 12 };
    static float x[B * T * F];
    sv_sbuf s;
    sv_sbuf_init(&s, 4 << 20);
    sv_sbuf_puts(&s, "{\"x\":");
    json_tensor3(&s, x, B, T, F);
    sv_sbuf_puts(&s, "}");
    tc_resp r;
    a->status = tc_request(a->port, "POST", "/predict", NULL, s.data, s.len, &r) == 0 ? r.status : -1;
    tc_resp_free(&r);
    sv_sbuf_free(&s);
    return NULL;
}

/* Requests already being served when the drain starts still get their answer. */
TI_TEST(drain_finishes_inflight_requests)
{
    ti_server *s;
    int port = 0;
    /* A 300 ms batching delay keeps the requests in the server while it drains. */
    TI_CHECK_OK(start(&s, &port, NULL, 300000));
    enum { N = 3 };
    pthread_t th[N];
    inflight_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (inflight_arg){port, 0};
        pthread_create(&th[i], NULL, slow_predict, &a[i]);
    }
    /* wait until the server holds them */
    uint64_t until = ti_now_ns() + 5000000000ull;
    tc_resp r;
    int seen = 0;
    while (!seen && ti_now_ns() < until) {
        if (tc_request(port, "GET", "/metrics", NULL, NULL, 0, &r) == 0 && r.body) {
            const char *p = strstr(r.body, "\ntickinfer_inflight_requests ");
            seen = p && atoi(p + strlen("\ntickinfer_inflight_requests ")) >= N + 1; /* + this one */
        }
        tc_resp_free(&r);
        if (!seen) usleep(2000);
    }
    TI_CHECK(seen);
    TI_CHECK_OK(ti_server_drain(s, 10000));
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        TI_CHECK_MSG(a[i].status == 200, "in-flight request %d got %d", i, a[i].status);
    }
    ti_server_destroy(s);
}

int main(void)
{
    unsetenv("TICKINFER_ADMIN_TOKEN");
    ti_err e = ref_open(&g_rv, RV_PATH, 4);
    if (!e) e = start(&g_srv, &g_port, "s3cret-token", 500);
    if (e) {
        fprintf(stderr, "setup failed: %s\n", ti_errmsg());
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    TI_RUN(tinyrv_pt_model_serves);
    TI_RUN(admin_needs_bearer_token);
    TI_RUN(load_unload_cycle);
    TI_RUN(hot_reload_under_load_loses_nothing);
    TI_RUN(admin_disabled_without_token);
    TI_RUN(drain_finishes_inflight_requests);
    ti_server_destroy(g_srv);
    ref_close(&g_rv);
    return ti_test_summary();
}
