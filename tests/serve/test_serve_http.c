/* The HTTP server end to end: an in-process server on an ephemeral port with the bundled
 * causal model, driven by a raw-socket client.  Answers are checked against an in-process
 * forward of the same checkpoint; bad input must give the right 4xx and message. */
#include <pthread.h>

#include "harness.h"
#include "http_client.h"
#include "serve_fixture.h"
#include "tickinfer/npy.h"
#include "tickinfer/serve.h"

static ti_server *g_srv;
static int g_port;
static ref_model g_ref;

static ti_err start_server(void)
{
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.http_threads = 2;
    c.workers_per_model = 2;
    c.intra_op_threads = 2; /* each worker's forward on a pool: answers must not change */
    c.max_batch = 8;
    c.max_queue_delay_us = 5000; /* long enough that concurrent requests share batches */
    c.max_body_bytes = 1 << 20;
    c.max_header_bytes = 8192;
    c.idle_timeout_s = 1;
    c.max_inflight = 32;
    c.max_request_rows = 64;
    ti_err e = ti_server_create(&g_srv, &c);
    if (!e) e = ti_server_add_model(g_srv, "rv", RV_PATH);
    if (!e) e = ti_server_start(g_srv);
    if (!e) g_port = ti_server_port(g_srv);
    return e;
}

static json_t *body_json(const tc_resp *r)
{
    return r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
}

static int body_has(const tc_resp *r, const char *s) { return r->body && strstr(r->body, s) != NULL; }

static void post_json(const char *path, const char *json, tc_resp *r)
{
    TI_CHECK(tc_request(g_port, "POST", path, "Content-Type: application/json\r\n", json, strlen(json), r) == 0);
}

TI_TEST(port_is_bound) { TI_CHECK(g_port > 0 && g_port < 65536); }

TI_TEST(health_and_metadata)
{
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/v2", NULL, NULL, 0, &r) == 0);
    TI_CHECK(r.status == 200 && body_has(&r, "\"name\":\"tickinfer\"") && body_has(&r, "binary_tensor_data"));
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/live", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/ready", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/rv", NULL, NULL, 0, &r) == 0 && r.status == 200);
    json_t *j = body_json(&r);
    TI_CHECK(j && strcmp(json_string_value(json_object_get(j, "name")), "rv") == 0);
    json_t *in = json_array_get(json_object_get(j, "inputs"), 0);
    TI_CHECK(in && json_integer_value(json_array_get(json_object_get(in, "shape"), 2)) == 12);
    TI_CHECK(strcmp(json_string_value(json_object_get(in, "datatype")), "FP32") == 0);
    json_t *feats = json_object_get(json_object_get(j, "parameters"), "features");
    TI_CHECK(json_array_size(feats) == 12 && strcmp(json_string_value(json_array_get(feats, 0)), "log_return") == 0);
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/rv/versions/1/ready", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/rv/versions/2", NULL, NULL, 0, &r) == 0);
    TI_CHECK(r.status == 404 && body_has(&r, "version 2 is not loaded"));
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/nope/ready", NULL, NULL, 0, &r) == 0);
    TI_CHECK(r.status == 404 && body_has(&r, "{\"error\":\"model 'nope' is not loaded\"}"));
    tc_resp_free(&r);
}

/* /predict, v2 JSON, v2 binary and /predict_np all give the in-process answer. */
TI_TEST(predict_matches_inprocess)
{
    enum { B = 3, T = 7, F = 12 };
    float x[B * T * F], ref[B * T], got[B * T];
    make_input(&g_ref, x, B, T, 1);
    TI_CHECK_OK(ref_forward(&g_ref, ref, x, B, T));

    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 20);
    TI_CHECK_OK(sv_sbuf_puts(&s, "{\"x\":"));
    TI_CHECK_OK(json_tensor3(&s, x, B, T, F));
    TI_CHECK_OK(sv_sbuf_puts(&s, "}"));
    tc_resp r;
    post_json("/predict", s.data, &r);
    TI_CHECK(r.status == 200);
    json_t *j = body_json(&r);
    TI_CHECK(j && json_flatten(json_object_get(j, "y"), got, B * T, 0) == B);
    float last[B];
    for (int b = 0; b < B; b++) last[b] = ref[b * T + T - 1];
    TI_CHECK(max_rel_ok(got, last, B, 1e-4));
    json_decref(j);
    tc_resp_free(&r);

    /* already-normalised input: the same answer from x' = (x - mean) / std */
    {
        enum { N = B * T * F };
        float xn[N];
        for (int i = 0; i < N; i++) xn[i] = (x[i] - g_ref.meta.mean[i % F]) / g_ref.meta.std[i % F];
        sv_sbuf sn;
        sv_sbuf_init(&sn, 1 << 20);
        TI_CHECK_OK(sv_sbuf_puts(&sn, "{\"x\":"));
        TI_CHECK_OK(json_tensor3(&sn, xn, B, T, F));
        TI_CHECK_OK(sv_sbuf_puts(&sn, "}"));
        post_json("/predict?normalized=1", sn.data, &r);
        j = body_json(&r);
        TI_CHECK(r.status == 200 && j && json_flatten(json_object_get(j, "y"), got, B, 0) == B && max_rel_ok(got, last, B, 1e-4));
        json_decref(j);
        tc_resp_free(&r);
        sv_sbuf_free(&sn);
    }
    post_json("/predict?all_steps=1", s.data, &r);
    j = body_json(&r);
    TI_CHECK(r.status == 200 && j && json_flatten(json_object_get(j, "y"), got, B * T, 0) == B * T);
    TI_CHECK(max_rel_ok(got, ref, B * T, 1e-4));
    json_decref(j);
    tc_resp_free(&r);

    /* v2 JSON with flat data */
    sv_sbuf_clear(&s);
    TI_CHECK_OK(sv_sbuf_printf(&s, "{\"id\":\"req-7\",\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"data\":[", B, T, F));
    TI_CHECK_OK(sv_sbuf_floats(&s, x, B * T * F));
    TI_CHECK_OK(sv_sbuf_puts(&s, "]}]}"));
    post_json("/v2/models/rv/infer", s.data, &r);
    j = body_json(&r);
    TI_CHECK(r.status == 200 && j);
    TI_CHECK(j && strcmp(json_string_value(json_object_get(j, "id")), "req-7") == 0);
    json_t *out = json_array_get(json_object_get(j, "outputs"), 0);
    TI_CHECK(out && json_integer_value(json_array_get(json_object_get(out, "shape"), 1)) == T);
    TI_CHECK(json_flatten(json_object_get(out, "data"), got, B * T, 0) == B * T);
    TI_CHECK(max_rel_ok(got, ref, B * T, 1e-4));
    json_decref(j);
    tc_resp_free(&r);

    /* v2 binary in and out */
    char hdr[512], hl[96];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":%zu}}],\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}",
                     B, T, F, sizeof x);
    sv_sbuf_clear(&s);
    TI_CHECK_OK(sv_sbuf_append(&s, hdr, (size_t)n));
    TI_CHECK_OK(sv_sbuf_append(&s, x, sizeof x));
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %d\r\n", n);
    TI_CHECK(tc_request(g_port, "POST", "/v2/models/rv/infer", hl, s.data, s.len, &r) == 0);
    TI_CHECK(r.status == 200);
    char v[32] = "";
    TI_CHECK(tc_header(&r, "Inference-Header-Content-Length", v, sizeof v) == 0);
    size_t jl = (size_t)atol(v);
    TI_CHECK(jl > 0 && jl + sizeof got == r.body_len);
    if (jl + sizeof got == r.body_len) {
        memcpy(got, r.body + jl, sizeof got);
        TI_CHECK(max_rel_ok(got, ref, B * T, 1e-4));
        TI_CHECK(tc_find(r.body, jl, "\"binary_data_size\":84") != NULL);
    }
    tc_resp_free(&r);

    /* NPY in, NPY and JSON out */
    int64_t shape[3] = {B, T, F};
    size_t nh;
    sv_sbuf_clear(&s);
    TI_CHECK_OK(ti_npy_header_f32(hdr, sizeof hdr, &nh, 3, shape));
    TI_CHECK_OK(sv_sbuf_append(&s, hdr, nh));
    TI_CHECK_OK(sv_sbuf_append(&s, x, sizeof x));
    TI_CHECK(tc_request(g_port, "POST", "/predict_np", "Accept: application/x-npy\r\n", s.data, s.len, &r) == 0);
    TI_CHECK(r.status == 200);
    ti_npy_view nv;
    TI_CHECK_OK(ti_npy_parse(&nv, r.body, r.body_len));
    TI_CHECK(nv.ndim == 1 && nv.shape[0] == B && nv.dtype == TI_NPY_F32);
    if (nv.ndim == 1 && nv.shape[0] == B) {
        TI_CHECK_OK(ti_npy_to_f32(got, &nv));
        TI_CHECK(max_rel_ok(got, last, B, 1e-4));
    }
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "POST", "/predict_np", NULL, s.data, s.len, &r) == 0);
    j = body_json(&r);
    TI_CHECK(r.status == 200 && j && json_flatten(json_object_get(j, "y"), got, B, 0) == B && max_rel_ok(got, last, B, 1e-4));
    json_decref(j);
    tc_resp_free(&r);
    sv_sbuf_free(&s);
}

/* One bad request: status and a substring of the error message. */
static void expect_error(const char *path, const char *headers, const void *body, size_t len, int status, const char *msg)
{
    tc_resp r;
    TI_CHECK(tc_request(g_port, "POST", path, headers, body, len, &r) == 0);
    TI_CHECK_MSG(r.status == status && body_has(&r, "{\"error\":") && body_has(&r, msg),
                 "%s: got %d '%s', want %d '%s'", path, r.status, r.body ? r.body : "", status, msg);
    tc_resp_free(&r);
}

#define EXPECT_JSON_ERROR(path, json, status, msg) expect_error(path, NULL, json, strlen(json), status, msg)

TI_TEST(bad_requests_get_4xx_with_message)
{
    EXPECT_JSON_ERROR("/predict", "{\"x\":[[1,2,3]]}", 400, "expects 12");
    EXPECT_JSON_ERROR("/predict", "{\"x\":[[1,2", 400, "json: byte 10: unexpected end of input");
    EXPECT_JSON_ERROR("/predict", "{\"x\":[[1,2],[3]]}", 400, "ragged array");
    EXPECT_JSON_ERROR("/predict", "{\"x\":[[1e999]]}", 400, "not a finite float32");
    EXPECT_JSON_ERROR("/predict", "{\"y\":1}", 400, "unknown key 'y'");
    EXPECT_JSON_ERROR("/predict", "{}", 400, "body needs \\\"x\\\"");
    EXPECT_JSON_ERROR("/predict", "", 400, "empty request body");
    EXPECT_JSON_ERROR("/predict?model=zzz", "{}", 404, "model 'zzz' is not loaded");
    EXPECT_JSON_ERROR("/v2/models/rv/infer", "{\"inputs\":[]}", 400, "needs one input");
    EXPECT_JSON_ERROR("/v2/models/rv/infer",
                      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,12],\"datatype\":\"FP16\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12]}]}",
                      400, "datatype 'FP16' unsupported");
    EXPECT_JSON_ERROR("/v2/models/rv/infer",
                      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2,12],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12]}]}",
                      400, "'data' has 12 values, shape needs 24");
    EXPECT_JSON_ERROR("/v2/models/rv/infer",
                      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,301,12],\"datatype\":\"FP32\",\"data\":[1]}]}", 400,
                      "needs 1..300");
    EXPECT_JSON_ERROR("/v2/models/rv/infer",
                      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,12],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6,7,8,9,10,11,12]}],"
                      "\"outputs\":[{\"name\":\"z\"}]}",
                      400, "unknown output 'z'");
    EXPECT_JSON_ERROR("/v2/models/rv/infer", "[1,2]", 400, "expected '{'");
    /* binary extension: size mismatch and a bad header length */
    const char *h = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,12],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":48}}]}";
    char body[512], hl[96];
    size_t n = strlen(h);
    memcpy(body, h, n);
    memset(body + n, 0, 40);
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %zu\r\n", n);
    expect_error("/v2/models/rv/infer", hl, body, n + 40, 400, "binary_data_size 48 but 40 bytes follow");
    expect_error("/v2/models/rv/infer", "Inference-Header-Content-Length: 99999\r\n", body, n + 40, 400,
                 "Inference-Header-Content-Length '99999'");
    /* NPY: garbage, NaN, int dtype */
    expect_error("/predict_np", NULL, "not an npy", 10, 400, "npy: missing the \\\\x93NUMPY magic");
    float nanx[12] = {0};
    nanx[3] = NAN;
    int64_t shape[2] = {1, 12};
    char hdr[256];
    size_t nh;
    TI_CHECK_OK(ti_npy_header_f32(hdr, sizeof hdr, &nh, 2, shape));
    memcpy(body, hdr, nh);
    memcpy(body + nh, nanx, sizeof nanx);
    shape[0] = 1;
    expect_error("/predict_np", NULL, body, nh + sizeof nanx, 400, "flat index 3");
    char *p = memmem(body, nh, "<f4", 3);
    if (p) p[1] = 'i';
    expect_error("/predict_np", NULL, body, nh + sizeof nanx, 400, "dtype '<i4' unsupported");
    /* routing */
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/predict", NULL, NULL, 0, &r) == 0);
    char allow[32] = "";
    TI_CHECK(r.status == 405 && tc_header(&r, "Allow", allow, sizeof allow) == 0 && strcmp(allow, "POST") == 0);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "DELETE", "/v2/models/rv", NULL, NULL, 0, &r) == 0 && r.status == 405);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v3/whatever", NULL, NULL, 0, &r) == 0);
    TI_CHECK(r.status == 404 && body_has(&r, "no route for GET /v3/whatever"));
    tc_resp_free(&r);
}

/* Several requests on one connection, written at once; answers come back in order. */
TI_TEST(keepalive_and_pipelining)
{
    tc_conn c;
    TI_CHECK(tc_open(&c, g_port) == 0);
    enum { N = 6, T = 4, F = 12 };
    float x[N * T * F], ref[N * T];
    sv_sbuf s[N];
    for (int i = 0; i < N; i++) {
        int B = i % 3 + 1;
        make_input(&g_ref, x, B, T, 100 + (uint64_t)i);
        sv_sbuf_init(&s[i], 1 << 20);
        TI_CHECK_OK(sv_sbuf_puts(&s[i], "{\"x\":"));
        TI_CHECK_OK(json_tensor3(&s[i], x, B, T, F));
        TI_CHECK_OK(sv_sbuf_puts(&s[i], "}"));
        if (i == 2) TI_CHECK(tc_send_req(&c, "GET", "/v2/health/live", NULL, NULL, 0) == 0);
        TI_CHECK(tc_send_req(&c, "POST", "/predict", NULL, s[i].data, s[i].len) == 0);
    }
    for (int i = 0; i < N; i++) {
        tc_resp r;
        if (i == 2) {
            TI_CHECK(tc_read_resp(&c, &r, 20000) == 0 && r.status == 200 && body_has(&r, "live"));
            tc_resp_free(&r);
        }
        int B = i % 3 + 1;
        make_input(&g_ref, x, B, T, 100 + (uint64_t)i);
        TI_CHECK_OK(ref_forward(&g_ref, ref, x, B, T));
        TI_CHECK(tc_read_resp(&c, &r, 20000) == 0 && r.status == 200);
        json_t *j = body_json(&r);
        float got[3], last[3];
        for (int b = 0; b < B; b++) last[b] = ref[b * T + T - 1];
        TI_CHECK_MSG(j && json_flatten(json_object_get(j, "y"), got, 3, 0) == B && max_rel_ok(got, last, (size_t)B, 1e-4),
                     "pipelined answer %d wrong: %s", i, r.body ? r.body : "");
        char conn_hdr[32] = "";
        TI_CHECK(tc_header(&r, "Connection", conn_hdr, sizeof conn_hdr) != 0 || strcasecmp(conn_hdr, "close") != 0);
        json_decref(j);
        tc_resp_free(&r);
        sv_sbuf_free(&s[i]);
    }
    tc_close(&c);
}

TI_TEST(malformed_http_is_rejected)
{
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /v2 HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /v2 HTTP/1.1\r\nHost: x\r\nNoColonHeader\r\n\r\n",
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_conn c;
        TI_CHECK(tc_open(&c, g_port) == 0);
        TI_CHECK(tc_send(&c, bad[i], strlen(bad[i])) == 0);
        tc_resp r;
        int rc = tc_read_resp(&c, &r, 5000);
        /* Either a 4xx/5xx answer or a closed connection; never a 200, never a hang. */
        TI_CHECK_MSG(rc != 0 || (r.status >= 400 && r.status < 600), "bad request %zu answered %d", i, r.status);
        tc_resp_free(&r);
        tc_close(&c);
    }
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/live", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
}

TI_TEST(oversize_body_and_headers)
{
    /* Declared too large: refused before the body is sent. */
    tc_conn c;
    TI_CHECK(tc_open(&c, g_port) == 0);
    const char *req = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n";
    TI_CHECK(tc_send(&c, req, strlen(req)) == 0);
    tc_resp r;
    TI_CHECK(tc_read_resp(&c, &r, 5000) == 0);
    TI_CHECK(r.status == 413 && body_has(&r, "exceeds the limit of 1048576 bytes"));
    tc_resp_free(&r);
    tc_close(&c);
    /* Chunked, no length: cut off once past the limit. */
    TI_CHECK(tc_open(&c, g_port) == 0);
    const char *h = "POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    TI_CHECK(tc_send(&c, h, strlen(h)) == 0);
    static char chunk[65536 + 16];
    int hn = snprintf(chunk, sizeof chunk, "10000\r\n");
    memset(chunk + hn, '1', 65536);
    memcpy(chunk + hn + 65536, "\r\n", 2);
    int sent_ok = 1;
    for (int i = 0; i < 20 && sent_ok; i++) sent_ok = tc_send(&c, chunk, (size_t)hn + 65538) == 0;
    int rc = tc_read_resp(&c, &r, 5000);
    TI_CHECK_MSG(rc != 0 || r.status == 413, "chunked oversize answered %d", r.status);
    tc_resp_free(&r);
    tc_close(&c);
    /* Header block over max_header_bytes (8 KiB). */
    static char big[16384];
    memset(big, 'a', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 3, "\r\n", 3);
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/live", big, NULL, 0, &r) == 0 || r.status == 0);
    TI_CHECK_MSG(r.status == 0 || r.status == 431 || r.status == 413 || r.status == 414 || r.status == 400,
                 "oversize header answered %d", r.status);
    tc_resp_free(&r);
    /* Over-long URL. */
    static char url[12000];
    memset(url, 'b', sizeof url);
    url[0] = '/';
    url[sizeof url - 1] = '\0';
    TI_CHECK(tc_request(g_port, "GET", url, NULL, NULL, 0, &r) == 0 || r.status == 0);
    TI_CHECK_MSG(r.status == 0 || r.status == 414 || r.status == 431 || r.status == 404, "long URL answered %d", r.status);
    tc_resp_free(&r);
}

/* A client that stalls mid-request is disconnected after idle_timeout_s (1 s here). */
TI_TEST(slow_client_times_out)
{
    tc_conn c;
    TI_CHECK(tc_open(&c, g_port) == 0);
    const char *part = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"x\":";
    TI_CHECK(tc_send(&c, part, strlen(part)) == 0);
    TI_CHECK(tc_closed_by_peer(&c, 4000));
    tc_close(&c);
}

/* Holding every slot gives 503 + Retry-After to the next request. */
TI_TEST(overload_gives_503)
{
    enum { HOLD = 32 };
    tc_conn c[HOLD];
    const char *part = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    int opened = 0;
    for (int i = 0; i < HOLD; i++) {
        if (tc_open(&c[i], g_port) != 0) break;
        opened++;
        TI_CHECK(tc_send(&c[i], part, strlen(part)) == 0);
    }
    usleep(100000); /* let the server read every header */
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/live", NULL, NULL, 0, &r) == 0);
    char ra[16] = "";
    TI_CHECK_MSG(r.status == 503 && tc_header(&r, "Retry-After", ra, sizeof ra) == 0 && body_has(&r, "overloaded"),
                 "got %d %s", r.status, r.body ? r.body : "");
    tc_resp_free(&r);
    for (int i = 0; i < opened; i++) tc_close(&c[i]);
    usleep(200000);
    TI_CHECK(tc_request(g_port, "GET", "/v2/health/live", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
}

typedef struct client_arg {
    int id, n_req, failures;
} client_arg;

/* Each request has its own B and T; its answer must be its own. */
static void *client_main(void *p)
{
    client_arg *a = p;
    enum { F = 12, BMAX = 5, TMAX = 24 };
    float x[BMAX * TMAX * F], ref[BMAX * TMAX], got[BMAX * TMAX];
    tc_conn c;
    if (tc_open(&c, g_port)) {
        a->failures = a->n_req;
        return NULL;
    }
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 20);
    ref_model rm;
    if (ref_open(&rm, RV_PATH, BMAX)) {
        a->failures = a->n_req;
        tc_close(&c);
        sv_sbuf_free(&s);
        return NULL;
    }
    for (int i = 0; i < a->n_req; i++) {
        int B = 1 + (a->id + i) % BMAX, T = (i % 2) ? 16 : 8 + a->id; /* some T shared across clients */
        uint64_t seed = 1000u * (uint64_t)a->id + (uint64_t)i;
        make_input(&rm, x, B, T, seed);
        sv_sbuf_clear(&s);
        int ok = !sv_sbuf_printf(&s, "{\"id\":\"c%d-%d\",\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"data\":",
                                 a->id, i, B, T, F) &&
                 !json_tensor3(&s, x, B, T, F) && !sv_sbuf_puts(&s, "}]}");
        tc_resp r;
        ok = ok && tc_send_req(&c, "POST", "/v2/models/rv/infer", NULL, s.data, s.len) == 0 &&
             tc_read_resp(&c, &r, 20000) == 0 && r.status == 200;
        if (ok) {
            json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
            char want_id[32];
            snprintf(want_id, sizeof want_id, "c%d-%d", a->id, i);
            json_t *out = json_array_get(json_object_get(j, "outputs"), 0);
            ok = j && strcmp(json_string_value(json_object_get(j, "id")), want_id) == 0 &&
                 json_flatten(json_object_get(out, "data"), got, BMAX * TMAX, 0) == B * T &&
                 ref_forward(&rm, ref, x, B, T) == TI_OK && max_rel_ok(got, ref, (size_t)(B * T), 1e-4);
            json_decref(j);
        }
        if (r.status) tc_resp_free(&r);
        if (!ok) a->failures++;
    }
    ref_close(&rm);
    sv_sbuf_free(&s);
    tc_close(&c);
    return NULL;
}

TI_TEST(concurrent_mixed_sizes_get_their_own_answers)
{
    enum { N = 6 };
    pthread_t th[N];
    client_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (client_arg){i, 8, 0};
        pthread_create(&th[i], NULL, client_main, &args[i]);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    TI_CHECK_MSG(failures == 0, "%d of %d concurrent requests got a wrong or no answer", failures, N * 8);
}

/* Ticks fed one request at a time give the full forward's last step over the same rows. */
TI_TEST(stream_ticks_match_full_forward)
{
    enum { T = 6, F = 12 };
    float x[T * F], ref[T];
    make_input(&g_ref, x, 1, T, 77);
    TI_CHECK_OK(ref_forward(&g_ref, ref, x, 1, T));
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 16);
    tc_resp r;
    for (int t = 0; t < T; t++) {
        sv_sbuf_clear(&s);
        /* first request: two rows at once; then one per request */
        int rows = t == 0 ? 2 : 1;
        TI_CHECK_OK(sv_sbuf_puts(&s, "{\"features\":["));
        for (int k = 0; k < rows; k++) {
            TI_CHECK_OK(sv_sbuf_puts(&s, k ? ",[" : "["));
            TI_CHECK_OK(sv_sbuf_floats(&s, x + (size_t)(t + k) * F, F));
            TI_CHECK_OK(sv_sbuf_puts(&s, "]"));
        }
        TI_CHECK_OK(sv_sbuf_puts(&s, "]}"));
        post_json("/v1/streams/SYM.A/ticks", s.data, &r);
        json_t *j = body_json(&r);
        int last = t + rows - 1;
        TI_CHECK_MSG(r.status == 200 && j && json_integer_value(json_object_get(j, "positions")) == last + 1 &&
                         json_integer_value(json_object_get(j, "decoded")) == rows &&
                         fabs(json_number_value(json_object_get(j, "y_log")) - ref[last]) < 1e-4 * (1 + fabs(ref[last])),
                     "tick %d: %s (want y_log %.7g)", t, r.body ? r.body : "", (double)ref[last]);
        TI_CHECK(j && json_number_value(json_object_get(j, "rv")) > 0);
        json_decref(j);
        tc_resp_free(&r);
        t += rows - 1;
    }
    /* raw trades: seconds close when time moves on */
    post_json("/v1/streams/SYM.B/ticks", "{\"trades\":[{\"t\":0,\"price\":100,\"size\":10,\"orders\":1},"
                                         "{\"t\":2,\"price\":100.1,\"size\":5}]}", &r);
    TI_CHECK(r.status == 200 && body_has(&r, "\"decoded\":2,\"positions\":2"));
    tc_resp_free(&r);
    EXPECT_JSON_ERROR("/v1/streams/SYM.B/ticks", "{\"trades\":[{\"t\":1,\"price\":100}]}", 400, "needs \\\"t\\\", \\\"price\\\" and \\\"size\\\"");
    EXPECT_JSON_ERROR("/v1/streams/SYM.B/ticks", "{\"features\":[[1,2]]}", 400, "must have 12 values");
    EXPECT_JSON_ERROR("/v1/streams/SYM.B/ticks", "{}", 400, "exactly one of");
    TI_CHECK(tc_request(g_port, "GET", "/metrics", NULL, NULL, 0, &r) == 0);
    TI_CHECK(body_has(&r, "tickinfer_streams_open{model=\"rv\"} 2\n") && body_has(&r, "tickinfer_kv_bytes{model=\"rv\"} "));
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "DELETE", "/v1/streams/SYM.A", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "DELETE", "/v1/streams/SYM.A", NULL, NULL, 0, &r) == 0);
    TI_CHECK(r.status == 404 && body_has(&r, "no open stream for symbol 'SYM.A'"));
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "DELETE", "/v1/streams/SYM.B", NULL, NULL, 0, &r) == 0 && r.status == 200);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v1/streams/SYM.B/ticks", NULL, NULL, 0, &r) == 0 && r.status == 405);
    tc_resp_free(&r);
    sv_sbuf_free(&s);
}

/* POST /v1/ticks: one row for each of several symbols per request gives, per symbol, what
 * the full forward over that symbol's rows gives; a repeated symbol is pushed in order. */
TI_TEST(multi_symbol_ticks_match_full_forward)
{
    enum { T = 4, F = 12, S = 3 };
    static const char *const sym[S] = {"MS.A", "MS.B", "MS.C"};
    float x[S][T * F], ref[S][T];
    for (int k = 0; k < S; k++) {
        make_input(&g_ref, x[k], 1, T, 900 + (uint64_t)k);
        TI_CHECK_OK(ref_forward(&g_ref, ref[k], x[k], 1, T));
    }
    sv_sbuf s;
    sv_sbuf_init(&s, 1 << 16);
    tc_resp r;
    for (int t = 0; t < T; t += 2) {
        /* symbols A, B, C, C: C gets rows t and t+1 in one request */
        const int ks[4] = {0, 1, 2, 2}, ts[4] = {t, t, t, t + 1};
        sv_sbuf_clear(&s);
        TI_CHECK_OK(sv_sbuf_puts(&s, "{\"symbols\":[\"MS.A\",\"MS.B\",\"MS.C\",\"MS.C\"],\"features\":["));
        for (int i = 0; i < 4; i++) {
            TI_CHECK_OK(sv_sbuf_puts(&s, i ? ",[" : "["));
            TI_CHECK_OK(sv_sbuf_floats(&s, x[ks[i]] + (size_t)ts[i] * F, F));
            TI_CHECK_OK(sv_sbuf_puts(&s, "]"));
        }
        TI_CHECK_OK(sv_sbuf_puts(&s, "]}"));
        post_json("/v1/ticks", s.data, &r);
        json_t *j = body_json(&r), *fc = json_object_get(j, "forecasts");
        TI_CHECK_MSG(r.status == 200 && json_array_size(fc) == 4 && json_integer_value(json_object_get(j, "errors")) == 0,
                     "%s", r.body ? r.body : "");
        for (int i = 0; i < 4 && json_array_size(fc) == 4; i++) {
            json_t *f = json_array_get(fc, (size_t)i);
            double y = json_number_value(json_object_get(f, "y_log")), want = ref[ks[i]][ts[i]];
            TI_CHECK_MSG(!strcmp(json_string_value(json_object_get(f, "symbol")), sym[ks[i]]) &&
                             json_integer_value(json_object_get(f, "positions")) == ts[i] + 1 &&
                             fabs(y - want) < 1e-4 * (1 + fabs(want)),
                         "t %d item %d: %s (want %.7g)", t, i, r.body ? r.body : "", want);
        }
        json_decref(j);
        tc_resp_free(&r);
        /* B and A only tick every other second here: give them their t+1 rows one by one */
        for (int k = 0; k < 2; k++) {
            char path[64];
            snprintf(path, sizeof path, "/v1/streams/%s/ticks", sym[k]);
            sv_sbuf_clear(&s);
            TI_CHECK_OK(sv_sbuf_puts(&s, "{\"features\":[["));
            TI_CHECK_OK(sv_sbuf_floats(&s, x[k] + (size_t)(t + 1) * F, F));
            TI_CHECK_OK(sv_sbuf_puts(&s, "]]}"));
            post_json(path, s.data, &r);
            json_t *jj = body_json(&r);
            TI_CHECK(r.status == 200 && fabs(json_number_value(json_object_get(jj, "y_log")) - ref[k][t + 1]) <
                                            1e-4 * (1 + fabs(ref[k][t + 1])));
            json_decref(jj);
            tc_resp_free(&r);
        }
    }
    EXPECT_JSON_ERROR("/v1/ticks", "{\"symbols\":[\"A\",\"B\"],\"features\":[[1,2,3,4,5,6,7,8,9,10,11,12]]}", 400,
                      "2 symbols but 1 feature rows");
    EXPECT_JSON_ERROR("/v1/ticks", "{\"symbols\":[\"A B\"],\"features\":[[1,2,3,4,5,6,7,8,9,10,11,12]]}", 400,
                      "symbol 0 must be 1-63 printable characters");
    EXPECT_JSON_ERROR("/v1/ticks", "{\"symbols\":[\"A\"],\"features\":[[1,2]]}", 400, "rows of 12 values");
    EXPECT_JSON_ERROR("/v1/ticks", "{\"symbols\":[],\"features\":[[1,2,3,4,5,6,7,8,9,10,11,12]]}", 400, "needs \\\"symbols\\\" (non-empty)");
    EXPECT_JSON_ERROR("/v1/ticks", "{\"symbol\":[\"A\"]}", 400, "unknown key 'symbol'");
    /* nothing moved for the rejected bodies: symbol A was never opened */
    TI_CHECK(tc_request(g_port, "DELETE", "/v1/streams/A", NULL, NULL, 0, &r) == 0 && r.status == 404);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v1/ticks", NULL, NULL, 0, &r) == 0 && r.status == 405);
    tc_resp_free(&r);
    for (int k = 0; k < S; k++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/streams/%s", sym[k]);
        TI_CHECK(tc_request(g_port, "DELETE", path, NULL, NULL, 0, &r) == 0 && r.status == 200);
        tc_resp_free(&r);
    }
    sv_sbuf_free(&s);
}

TI_TEST(metrics_report_requests_and_batches)
{
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/metrics", NULL, NULL, 0, &r) == 0 && r.status == 200);
    char ct[64] = "";
    TI_CHECK(tc_header(&r, "Content-Type", ct, sizeof ct) == 0 && strstr(ct, "text/plain") != NULL);
    const char *p = r.body ? strstr(r.body, "tickinfer_requests_total{endpoint=\"infer\",code=\"200\"} ") : NULL;
    TI_CHECK(p && atol(p + strlen("tickinfer_requests_total{endpoint=\"infer\",code=\"200\"} ")) >= 48);
    TI_CHECK(body_has(&r, "tickinfer_requests_total{endpoint=\"predict\",code=\"400\"}"));
    TI_CHECK(body_has(&r, "tickinfer_inference_duration_seconds_bucket{model=\"rv\",stage=\"compute\",le=\"+Inf\"}"));
    /* the stream test pushed ticks: stage="stream" counts them */
    const char *ps = r.body ? strstr(r.body, "tickinfer_inference_duration_seconds_count{model=\"rv\",stage=\"stream\"} ") : NULL;
    TI_CHECK_MSG(ps && atol(ps + strlen("tickinfer_inference_duration_seconds_count{model=\"rv\",stage=\"stream\"} ")) > 0,
                 "no stream pushes counted");
    TI_CHECK(body_has(&r, "tickinfer_batch_size_count{model=\"rv\"}"));
    /* every queue / compute time is finite: the 5 s bucket holds all of them */
    static const char *const stages[2] = {"queue", "compute"};
    for (int i = 0; i < 2; i++) {
        char k5[128], kinf[128];
        snprintf(k5, sizeof k5, "stage=\"%s\",le=\"5\"} ", stages[i]);
        snprintf(kinf, sizeof kinf, "stage=\"%s\",le=\"+Inf\"} ", stages[i]);
        const char *p5 = r.body ? strstr(r.body, k5) : NULL, *pinf = r.body ? strstr(r.body, kinf) : NULL;
        TI_CHECK_MSG(p5 && pinf && atol(p5 + strlen(k5)) > 0 && atol(p5 + strlen(k5)) == atol(pinf + strlen(kinf)),
                     "%s times not all under 5 s", stages[i]);
    }
    TI_CHECK(body_has(&r, "tickinfer_models_loaded 1"));
    TI_CHECK(body_has(&r, "tickinfer_requests_total{endpoint=\"other\",code=\"503\"} 1\n")); /* the overload test */
    /* Concurrent clients sharing T were batched together at least once: a forward of more
     * rows than any single request (5) was recorded (bucket le=8 exceeds bucket le=4). */
    const char *b4 = r.body ? strstr(r.body, "tickinfer_batch_size_bucket{model=\"rv\",le=\"4\"} ") : NULL;
    const char *b8 = r.body ? strstr(r.body, "tickinfer_batch_size_bucket{model=\"rv\",le=\"8\"} ") : NULL;
    TI_CHECK(b4 && b8);
    if (b4 && b8) {
        long n4 = atol(b4 + strlen("tickinfer_batch_size_bucket{model=\"rv\",le=\"4\"} "));
        long n8 = atol(b8 + strlen("tickinfer_batch_size_bucket{model=\"rv\",le=\"8\"} "));
        TI_CHECK_MSG(n8 > n4, "no batch above 4 rows (le4=%ld le8=%ld)", n4, n8);
    }
    tc_resp_free(&r);
}

static long long stat_count(json_t *stats, const char *key, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(stats, key), field));
}

/* Triton's model configuration and statistics extensions (what perf_analyzer reads). */
TI_TEST(config_and_stats_extensions)
{
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/v2", NULL, NULL, 0, &r) == 0 && r.status == 200);
    TI_CHECK(body_has(&r, "\"model_configuration\"") && body_has(&r, "\"statistics\""));
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/rv/config", NULL, NULL, 0, &r) == 0 && r.status == 200);
    json_t *j = body_json(&r);
    TI_CHECK(j && strcmp(json_string_value(json_object_get(j, "name")), "rv") == 0);
    TI_CHECK(json_integer_value(json_object_get(j, "max_batch_size")) == 64); /* max_request_rows */
    json_t *in = json_array_get(json_object_get(j, "input"), 0), *dims = json_object_get(in, "dims");
    TI_CHECK(strcmp(json_string_value(json_object_get(in, "data_type")), "TYPE_FP32") == 0);
    TI_CHECK(json_array_size(dims) == 2 && json_integer_value(json_array_get(dims, 0)) == -1 &&
             json_integer_value(json_array_get(dims, 1)) == 12);
    json_t *db = json_object_get(j, "dynamic_batching");
    TI_CHECK(json_integer_value(json_object_get(db, "max_queue_delay_microseconds")) == 5000);
    TI_CHECK(json_integer_value(json_array_get(json_object_get(db, "preferred_batch_size"), 0)) == 8);
    TI_CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "instance_group"), 0), "count")) == 2);
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/nope/config", NULL, NULL, 0, &r) == 0 && r.status == 404);
    tc_resp_free(&r);
    /* stats: every earlier infer counted; concurrent requests shared forwards, so fewer
     * executions than successful requests, and more rows than requests */
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/rv/versions/1/stats", NULL, NULL, 0, &r) == 0 && r.status == 200);
    j = body_json(&r);
    json_t *m = json_array_get(json_object_get(j, "model_stats"), 0), *st = json_object_get(m, "inference_stats");
    long long ok = stat_count(st, "success", "count"), execs = json_integer_value(json_object_get(m, "execution_count"));
    long long rows = json_integer_value(json_object_get(m, "inference_count"));
    TI_CHECK_MSG(ok >= 48 && execs >= 1 && execs < ok && rows > ok, "ok=%lld execs=%lld rows=%lld", ok, execs, rows);
    TI_CHECK(stat_count(st, "queue", "count") == ok && stat_count(st, "queue", "ns") > 0);
    TI_CHECK(stat_count(st, "compute_infer", "ns") > 0 &&
             stat_count(st, "success", "ns") >= stat_count(st, "compute_infer", "ns"));
    TI_CHECK(json_integer_value(json_object_get(m, "last_inference")) > 1600000000000LL); /* ms since the epoch */
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/stats", NULL, NULL, 0, &r) == 0 && r.status == 200);
    j = body_json(&r);
    TI_CHECK(json_array_size(json_object_get(j, "model_stats")) == 1);
    json_decref(j);
    tc_resp_free(&r);
    TI_CHECK(tc_request(g_port, "GET", "/v2/models/nope/stats", NULL, NULL, 0, &r) == 0 && r.status == 404);
    tc_resp_free(&r);
}

TI_TEST(openapi_document_lists_every_route)
{
    tc_resp r;
    TI_CHECK(tc_request(g_port, "GET", "/openapi.json", NULL, NULL, 0, &r) == 0 && r.status == 200);
    json_t *j = body_json(&r);
    TI_CHECK(j && strncmp(json_string_value(json_object_get(j, "openapi")), "3.", 2) == 0);
    json_t *paths = json_object_get(j, "paths");
    static const char *const want[] = {"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model}",
                                       "/v2/models/{model}/ready", "/v2/models/{model}/infer",
                                       "/v2/models/{model}/versions/{version}/infer", "/v2/repository/index",
                                       "/v2/repository/models/{model}/load", "/v2/repository/models/{model}/unload",
                                       "/predict", "/predict_np", "/metrics", "/openapi.json",
                                       "/v1/streams/{symbol}/ticks", "/v1/streams/{symbol}",
                                       "/v2/models/{model}/config", "/v2/models/stats", "/v2/models/{model}/stats",
                                       "/v1/ticks"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        TI_CHECK_MSG(json_object_get(paths, want[i]) != NULL, "openapi lacks %s", want[i]);
    /* docs/openapi.json is the same document. */
    json_t *doc = json_load_file("docs/openapi.json", 0, NULL);
    TI_CHECK_MSG(doc && json_equal(doc, j), "docs/openapi.json differs from the served document");
    json_decref(doc);
    json_decref(j);
    tc_resp_free(&r);
}

TI_TEST(drain_finishes_cleanly)
{
    TI_CHECK_OK(ti_server_drain(g_srv, 5000));
    tc_conn c;
    TI_CHECK(tc_open(&c, g_port) != 0); /* no longer listening */
    tc_close(&c);
}

int main(void)
{
    ti_err e = ref_open(&g_ref, RV_PATH, 8);
    if (!e) e = start_server();
    if (e) {
        fprintf(stderr, "setup failed: %s\n", ti_errmsg());
        printf("TI_RESULT pass=0 fail=1 skip=0\n");
        return 1;
    }
    TI_RUN(port_is_bound);
    TI_RUN(health_and_metadata);
    TI_RUN(predict_matches_inprocess);
    TI_RUN(bad_requests_get_4xx_with_message);
    TI_RUN(keepalive_and_pipelining);
    TI_RUN(malformed_http_is_rejected);
    TI_RUN(oversize_body_and_headers);
    TI_RUN(slow_client_times_out);
    TI_RUN(overload_gives_503);
    TI_RUN(concurrent_mixed_sizes_get_their_own_answers);
    TI_RUN(stream_ticks_match_full_forward);
    TI_RUN(multi_symbol_ticks_match_full_forward);
    TI_RUN(metrics_report_requests_and_batches);
    TI_RUN(config_and_stats_extensions);
    TI_RUN(openapi_document_lists_every_route);
    TI_RUN(drain_finishes_cleanly);
    ti_server_destroy(g_srv);
    ref_close(&g_ref);
    return ti_test_summary();
}
