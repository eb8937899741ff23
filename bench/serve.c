/* Server benchmarks (issue 6), one run, ratios within it:
 *   1. overhead: the causal model, batch 1, T 1 and T 300: in-process ti_tfm_forward vs
 *      an HTTP round trip on a keep-alive loopback connection (v2 binary and /predict
 *      JSON), same input, interleaved; overhead = p50(HTTP) - p50(in-process).  T 1 makes
 *      the forward short, so the overhead is not lost in the noise of a shared machine.
 *   2. wire formats: TinyRV [32,600,14] via v2 JSON, /predict_np (NPY) and v2 binary.
 *   3. throughput: 8 keep-alive clients sending batch-1 T-60 causal requests for 3 s, to a
 *      server with 2 workers, without and with dynamic batching (max_batch 8, 1 ms).
 *   4. stream ticks: 8 keep-alive clients, each its own symbol, one feature row per
 *      POST /v1/streams/{symbol}/ticks for 3 s (2 HTTP threads).
 * The server runs in-process (1 HTTP thread, 1 worker, no batching delay).  Prints a table
 * and writes bench/results/serve.json. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "serve/http_client.h"
#include "serve/serve_fixture.h"
#include "tickinfer/clock.h"
#include "tickinfer/npy.h"
#include "tickinfer/serve.h"

#define TINY_PATH "tests/model/data/seed_rv_tiny/best.pt"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct stat_ns {
    double p50_us, p99_us;
} stat_ns;

static stat_ns stats(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    stat_ns s = {(double)v[n / 2] / 1e3, (double)v[(n * 99) / 100] / 1e3};
    return s;
}

/* n round trips of one prepared request on a keep-alive connection. */
static int http_loop(int port, const char *path, const char *hdrs, const sv_sbuf *body, int n, uint64_t *lat)
{
    tc_conn c;
    if (tc_open(&c, port)) return -1;
    for (int i = 0; i < n; i++) {
        tc_resp r;
        uint64_t t0 = ti_now_ns();
        if (tc_send_req(&c, "POST", path, hdrs, body->data, body->len) || tc_read_resp(&c, &r, 60000) || r.status != 200) {
            fprintf(stderr, "bench: %s failed (%d %s)\n", path, r.status, r.body ? r.body : "");
            tc_resp_free(&r);
            tc_close(&c);
            return -1;
        }
        lat[i] = ti_now_ns() - t0;
        tc_resp_free(&r);
    }
    tc_close(&c);
    return 0;
}

static void v2_binary_body(sv_sbuf *s, char *hl, size_t hl_cap, const float *x, int B, int T, int F)
{
    char hdr[400];
    size_t bytes = (size_t)B * T * F * sizeof(float);
    int n = snprintf(hdr, sizeof hdr,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"parameters\":"
                     "{\"binary_data_size\":%zu}}],\"parameters\":{\"binary_data_output\":true}}",
                     B, T, F, bytes);
    sv_sbuf_clear(s);
    sv_sbuf_append(s, hdr, (size_t)n);
    sv_sbuf_append(s, x, bytes);
    snprintf(hl, hl_cap, "Inference-Header-Content-Length: %d\r\n", n);
}

/* Batch 1, T steps: in-process forward vs HTTP v2 binary vs /predict JSON, interleaved
 * (one of each per round) so that drifting machine load hits all three alike. */
static int overhead(int port, ref_model *rv, int T, stat_ns out[3])
{
    enum { N1 = 400, F1 = 12, TMAX = 300 };
    static float x1[TMAX * F1], y1[TMAX];
    static uint64_t lat_in[N1], lat_bin[N1], lat_json[N1];
    char hl[96];
    make_input(rv, x1, 1, T, 3);
    sv_sbuf body, jbody;
    sv_sbuf_init(&body, (size_t)1 << 24);
    sv_sbuf_init(&jbody, (size_t)1 << 24);
    sv_sbuf_puts(&jbody, "{\"x\":");
    json_tensor3(&jbody, x1, 1, T, F1);
    sv_sbuf_puts(&jbody, "}");
    v2_binary_body(&body, hl, sizeof hl, x1, 1, T, F1);
    tc_conn cb, cj;
    int rc = tc_open(&cb, port) || tc_open(&cj, port);
    for (int i = 0; i < N1 && !rc; i++) {
        uint64_t t0 = ti_now_ns();
        ref_forward(rv, y1, x1, 1, T); /* includes the normalisation, as the server does */
        lat_in[i] = ti_now_ns() - t0;
        tc_resp r;
        t0 = ti_now_ns();
        rc = tc_send_req(&cb, "POST", "/v2/models/rv/infer", hl, body.data, body.len) || tc_read_resp(&cb, &r, 60000) ||
             r.status != 200;
        lat_bin[i] = ti_now_ns() - t0;
        tc_resp_free(&r);
        if (rc) break;
        t0 = ti_now_ns();
        rc = tc_send_req(&cj, "POST", "/predict?model=rv", NULL, jbody.data, jbody.len) || tc_read_resp(&cj, &r, 60000) ||
             r.status != 200;
        lat_json[i] = ti_now_ns() - t0;
        tc_resp_free(&r);
    }
    tc_close(&cb);
    tc_close(&cj);
    sv_sbuf_free(&body);
    sv_sbuf_free(&jbody);
    if (rc) return fprintf(stderr, "bench: overhead run at T %d failed\n", T), 1;
    out[0] = stats(lat_in, N1), out[1] = stats(lat_bin, N1), out[2] = stats(lat_json, N1);
    return 0;
}

typedef struct tp_client {
    const char *path;
    int port, n, fail;
    uint64_t until;
    const sv_sbuf *body;
    const char *hl;
    uint64_t *lat; /* [cap] */
    int cap;
} tp_client;

static void *tp_main(void *p)
{
    tp_client *c = p;
    tc_conn cn;
    if (tc_open(&cn, c->port)) {
        c->fail++;
        return NULL;
    }
    while (ti_now_ns() < c->until && c->n < c->cap) {
        tc_resp r;
        uint64_t t0 = ti_now_ns();
        if (tc_send_req(&cn, "POST", c->path, c->hl, c->body->data, c->body->len) ||
            tc_read_resp(&cn, &r, 60000) || r.status != 200) {
            c->fail++;
            tc_resp_free(&r);
            break;
        }
        c->lat[c->n++] = ti_now_ns() - t0;
        tc_resp_free(&r);
    }
    tc_close(&cn);
    return NULL;
}

typedef struct tp_result {
    double rps;
    stat_ns lat;
    int fail;
} tp_result;

/* 8 clients for `secs` against a fresh server with the given batching; stream_body
 * non-NULL: client i posts it to /v1/streams/S<i>/ticks instead. */
static tp_result throughput(int max_batch, int delay_us, const sv_sbuf *body, const char *hl, double secs,
                            int http_threads, const sv_sbuf *stream_body)
{
    enum { NC = 8, CAP = 200000 };
    tp_result res = {0};
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.http_threads = http_threads;
    c.workers_per_model = 2;
    c.max_batch = max_batch;
    c.max_queue_delay_us = delay_us;
    ti_server *s;
    if (ti_server_create(&s, &c) || ti_server_add_model(s, "rv", RV_PATH) || ti_server_start(s)) {
        res.fail = 1;
        return res;
    }
    static uint64_t lat[NC][CAP / NC];
    tp_client cl[NC];
    pthread_t th[NC];
    static char paths[NC][64];
    uint64_t t0 = ti_now_ns(), until = t0 + (uint64_t)(secs * 1e9);
    for (int i = 0; i < NC; i++) {
        snprintf(paths[i], sizeof paths[i], "/v1/streams/S%d/ticks", i);
        cl[i] = (tp_client){stream_body ? paths[i] : "/v2/models/rv/infer", ti_server_port(s), 0, 0, until,
                            stream_body ? stream_body : body, stream_body ? NULL : hl, lat[i], CAP / NC};
        pthread_create(&th[i], NULL, tp_main, &cl[i]);
    }
    static uint64_t all[CAP];
    int n = 0;
    for (int i = 0; i < NC; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + n, lat[i], (size_t)cl[i].n * sizeof(uint64_t));
        n += cl[i].n;
        res.fail += cl[i].fail;
    }
    double dt = (double)(ti_now_ns() - t0) / 1e9;
    res.rps = n / dt;
    if (n) res.lat = stats(all, n);
    ti_server_drain(s, 5000);
    ti_server_destroy(s);
    return res;
}

int main(void)
{
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.http_threads = 1;
    c.workers_per_model = 1;
    c.max_queue_delay_us = 0;
    ti_server *s;
    ref_model rv, tiny;
    if (ref_open(&rv, RV_PATH, 1) || ref_open(&tiny, TINY_PATH, 32) || ti_server_create(&s, &c) ||
        ti_server_add_model(s, "rv", RV_PATH) || ti_server_add_model(s, "tiny", TINY_PATH) || ti_server_start(s)) {
        fprintf(stderr, "bench serve: setup failed: %s\n", ti_errmsg());
        return 1;
    }
    int port = ti_server_port(s);
    enum { N1 = 400, N32 = 15 };
    static uint64_t lat[N1];
    sv_sbuf body;
    sv_sbuf_init(&body, (size_t)64 << 20);
    char hl[96];

    /* 1. overhead at batch 1 */
    enum { T1 = 300, F1 = 12 };
    static float x1[T1 * F1];
    make_input(&rv, x1, 1, T1, 3);
    stat_ns ov[2][3]; /* [T 1, T 300][in-process, binary, JSON] */
    if (overhead(port, &rv, 1, ov[0]) || overhead(port, &rv, T1, ov[1])) return 1;

    /* 2. wire formats at [32,600,14] */
    enum { B2 = 32, T2 = 600, F2 = 14 };
    float *x2 = malloc(sizeof(float) * B2 * T2 * F2);
    if (!x2) return 1;
    make_input(&tiny, x2, B2, T2, 4);
    stat_ns fmt[3];
    size_t fmt_bytes[3];
    sv_sbuf_clear(&body);
    sv_sbuf_printf(&body, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,%d,%d],\"datatype\":\"FP32\",\"data\":", B2, T2, F2);
    json_tensor3(&body, x2, B2, T2, F2);
    sv_sbuf_puts(&body, "}]}");
    fmt_bytes[0] = body.len;
    if (http_loop(port, "/v2/models/tiny/infer", NULL, &body, N32, lat)) return 1;
    fmt[0] = stats(lat, N32);
    int64_t shape[3] = {B2, T2, F2};
    char hdr[256];
    size_t nh;
    ti_npy_header_f32(hdr, sizeof hdr, &nh, 3, shape);
    sv_sbuf_clear(&body);
    sv_sbuf_append(&body, hdr, nh);
    sv_sbuf_append(&body, x2, sizeof(float) * B2 * T2 * F2);
    fmt_bytes[1] = body.len;
    if (http_loop(port, "/predict_np?model=tiny", "Accept: application/x-npy\r\n", &body, N32, lat)) return 1;
    fmt[1] = stats(lat, N32);
    v2_binary_body(&body, hl, sizeof hl, x2, B2, T2, F2);
    fmt_bytes[2] = body.len;
    if (http_loop(port, "/v2/models/tiny/infer", hl, &body, N32, lat)) return 1;
    fmt[2] = stats(lat, N32);

    /* 3. throughput with and without dynamic batching */
    enum { T3 = 60 };
    v2_binary_body(&body, hl, sizeof hl, x1, 1, T3, F1);
    tp_result tp[4] = {throughput(1, 0, &body, hl, 3.0, 1, NULL), throughput(8, 0, &body, hl, 3.0, 1, NULL),
                       throughput(8, 200, &body, hl, 3.0, 1, NULL), throughput(8, 1000, &body, hl, 3.0, 1, NULL)};
    /* 4. stream ticks: one raw feature row per request */
    sv_sbuf tick;
    sv_sbuf_init(&tick, 4096);
    sv_sbuf_puts(&tick, "{\"features\":[[");
    sv_sbuf_floats(&tick, x1, F1);
    sv_sbuf_puts(&tick, "]]}");
    tp_result ticks = throughput(1, 0, &body, hl, 3.0, 2, &tick);
    sv_sbuf_free(&tick);
    if (tp[0].fail || tp[1].fail || tp[2].fail || tp[3].fail) fprintf(stderr, "bench: throughput runs had failures\n");

    printf("serve bench (loopback, 1 HTTP thread, 1 worker)\n");
    static const char *const ov_names[3] = {"in-process forward", "HTTP v2 binary", "HTTP /predict JSON"};
    for (int t = 0; t < 2; t++) {
        printf("1. causal model, batch 1, T %-3d        p50 us    p99 us\n", t ? T1 : 1);
        for (int k = 0; k < 3; k++) {
            printf("   %-30s %9.1f %9.1f", ov_names[k], ov[t][k].p50_us, ov[t][k].p99_us);
            if (k) printf("   overhead p50 %.1f us", ov[t][k].p50_us - ov[t][0].p50_us);
            printf("\n");
        }
    }
    static const char *const names[3] = {"v2 JSON", "NPY (/predict_np)", "v2 binary"};
    printf("2. TinyRV [32,600,14]          body MB   p50 ms    p99 ms   vs binary\n");
    for (int i = 0; i < 3; i++)
        printf("   %-22s %9.2f %9.2f %9.2f   %.2fx\n", names[i], (double)fmt_bytes[i] / 1e6, fmt[i].p50_us / 1e3,
               fmt[i].p99_us / 1e3, fmt[i].p50_us / fmt[2].p50_us);
    printf("3. 8 clients, batch-1 T-60 causal, 2 workers   req/s    p50 us    p99 us\n");
    printf("   %-36s %9.0f %9.1f %9.1f\n", "no batching (max_batch 1)", tp[0].rps, tp[0].lat.p50_us, tp[0].lat.p99_us);
    static const char *const tp_names[4] = {"no batching (max_batch 1)", "batching what is queued (max 8, 0)",
                                            "dynamic batching (max 8, 200 us)", "dynamic batching (max 8, 1 ms)"};
    for (int i = 1; i < 4; i++)
        printf("   %-36s %9.0f %9.1f %9.1f\n", tp_names[i], tp[i].rps, tp[i].lat.p50_us, tp[i].lat.p99_us);
    printf("4. stream ticks, 8 clients x 1 symbol, 1 row/request   req/s    p50 us    p99 us\n");
    printf("   POST /v1/streams/{symbol}/ticks        %9.0f %9.1f %9.1f%s\n", ticks.rps, ticks.lat.p50_us,
           ticks.lat.p99_us, ticks.fail ? "  (failures!)" : "");
    FILE *f = fopen("bench/results/serve.json", "w");
    if (f) {
        fprintf(f, "{\"overhead_b1\":{");
        for (int t = 0; t < 2; t++)
            fprintf(f,
                    "%s\"T%d\":{\"inprocess_p50_us\":%.1f,\"http_binary_p50_us\":%.1f,\"http_json_p50_us\":%.1f,"
                    "\"overhead_binary_p50_us\":%.1f,\"overhead_json_p50_us\":%.1f}",
                    t ? "," : "", t ? T1 : 1, ov[t][0].p50_us, ov[t][1].p50_us, ov[t][2].p50_us,
                    ov[t][1].p50_us - ov[t][0].p50_us, ov[t][2].p50_us - ov[t][0].p50_us);
        fprintf(f, "},\n \"formats_32x600x14\":{");
        static const char *const keys[3] = {"v2_json", "npy", "v2_binary"};
        for (int i = 0; i < 3; i++)
            fprintf(f, "%s\"%s\":{\"bytes\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f}", i ? "," : "", keys[i], fmt_bytes[i],
                    fmt[i].p50_us / 1e3, fmt[i].p99_us / 1e3);
        fprintf(f, "},\n \"throughput_8clients_b1_t60\":{");
        static const char *const tk[4] = {"unbatched", "batched_0us", "batched_200us", "batched_1ms"};
        for (int i = 0; i < 4; i++)
            fprintf(f, "%s\"%s\":{\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}", i ? "," : "", tk[i], tp[i].rps,
                    tp[i].lat.p50_us, tp[i].lat.p99_us);
        fprintf(f, "},\n \"stream_ticks_8clients\":{\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}}\n", ticks.rps,
                ticks.lat.p50_us, ticks.lat.p99_us);
        fclose(f);
    }
    free(x2);
    sv_sbuf_free(&body);
    ti_server_drain(s, 5000);
    ti_server_destroy(s);
    ref_close(&rv);
    ref_close(&tiny);
    return 0;
}
