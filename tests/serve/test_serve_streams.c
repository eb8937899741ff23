/* The serve stream table (src/serve/streams.c): lookups stay short however many streams
 * were opened and closed (no tombstones), concurrent first ticks for one symbol end up on
 * one stream (the losers' streams are closed, nothing leaks), and the error a bad tick
 * gives reads "a: b: c" (ti_error_wrap adds the separators). */
#include <pthread.h>

#include "harness.h"
#include "http_client.h"
#include "serve/serve_internal.h"
#include "serve_fixture.h"
#include "tickinfer/serve.h"

static ti_model *g_m; /* the bundled causal model through the generic interface */

/* One feature row; *t (if given) gets the forecast's position in the stream. */
static ti_err push1t(sv_serve_streams *ss, const char *sym, float v, int64_t *len, int64_t *t)
{
    float row[64];
    for (int f = 0; f < 64; f++) row[f] = v * (float)((f % 5) - 2) * 0.1f;
    ti_forecast fc = {.t = -1};
    int dec;
    ti_err e = sv_serve_streams_push(ss, sym, SV_TICK_NORMALIZED, row, NULL, 1, &fc, &dec, len);
    if (t) *t = fc.t;
    return e;
}

static ti_err push1(sv_serve_streams *ss, const char *sym, float v, int64_t *len) { return push1t(ss, sym, v, len, NULL); }

TI_TEST(open_close_cycles_keep_probes_bounded)
{
    sv_serve_streams *ss;
    TI_CHECK_OK(sv_serve_streams_create(&ss, g_m, TI_KV_F32));
    if (!ss) return;
    /* 24 rounds of 1000 new symbols opened then closed: 24,000 distinct symbols through a
     * table of 8,192 slots.  With tombstones, a miss would walk most of the table. */
    enum { ROUNDS = 24, N = 1000 };
    int worst_hit = 0, worst_miss = 0;
    char sym[32];
    for (int c = 0; c < ROUNDS; c++) {
        for (int i = 0; i < N; i++) {
            snprintf(sym, sizeof sym, "R%d.S%d", c, i);
            int64_t len = 0;
            TI_CHECK_OK(push1(ss, sym, 1.0f, &len));
        }
        for (int i = 0; i < N; i++) {
            snprintf(sym, sizeof sym, "R%d.S%d", c, i);
            int p = sv_serve_streams_probe_len(ss, sym);
            if (p > worst_hit) worst_hit = p;
        }
        /* close in an order unrelated to the insert order */
        for (int i = 0; i < N; i++) {
            snprintf(sym, sizeof sym, "R%d.S%d", c, (i * 7919) % N);
            TI_CHECK_OK(sv_serve_streams_close(ss, sym));
        }
        for (int i = 0; i < 200; i++) {
            snprintf(sym, sizeof sym, "missing%d.%d", c, i);
            int p = sv_serve_streams_probe_len(ss, sym);
            if (p > worst_miss) worst_miss = p;
        }
    }
    int open;
    size_t kv;
    sv_serve_streams_stats(ss, &open, &kv);
    TI_CHECK(open == 0 && sv_serve_streams_engine_open(ss) == 0);
    /* an empty table: every miss looks at one slot */
    TI_CHECK_MSG(worst_miss == 1, "a miss in the emptied table probed %d slots", worst_miss);
    /* 1,000 live in 8,192 slots: linear probing stays within a few dozen */
    TI_CHECK_MSG(worst_hit <= 32, "a hit probed %d slots", worst_hit);
    /* reopening works and a closed symbol starts a fresh stream */
    int64_t len = 0;
    TI_CHECK_OK(push1(ss, "R0.S1", 1.0f, &len));
    TI_CHECK(len == 1);
    TI_CHECK_ERR(sv_serve_streams_close(ss, "R0.S2"), TI_ERR_NOT_FOUND, "no open stream for symbol 'R0.S2'");
    sv_serve_streams_destroy(ss);
}

/* Entries that share a probe run survive deletions in the middle of the run. */
TI_TEST(deleting_inside_a_probe_run_keeps_the_rest_reachable)
{
    sv_serve_streams *ss;
    TI_CHECK_OK(sv_serve_streams_create(&ss, g_m, TI_KV_F32));
    if (!ss) return;
    enum { N = 3000 }; /* load 0.37: long runs exist */
    char sym[32];
    for (int i = 0; i < N; i++) {
        snprintf(sym, sizeof sym, "K%d", i);
        int64_t len;
        TI_CHECK_OK(push1(ss, sym, 0.5f, &len));
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(sym, sizeof sym, "K%d", i);
        TI_CHECK_OK(sv_serve_streams_close(ss, sym));
    }
    int lost = 0;
    for (int i = 1; i < N; i += 2) {
        snprintf(sym, sizeof sym, "K%d", i);
        int64_t len = 0;
        /* still open: a second tick makes the length 2 (a lost entry would reopen at 1) */
        if (push1(ss, sym, 0.5f, &len) != TI_OK || len != 2) lost++;
    }
    TI_CHECK_MSG(lost == 0, "%d of %d streams unreachable after deletions", lost, N / 2);
    int open;
    size_t kv;
    sv_serve_streams_stats(ss, &open, &kv);
    TI_CHECK(open == N / 2 && sv_serve_streams_engine_open(ss) == N / 2);
    sv_serve_streams_destroy(ss);
}

enum { RACERS = 8 };

typedef struct racer {
    sv_serve_streams *ss;
    pthread_barrier_t *go;
    const char *sym;
    int64_t len, t;
    ti_err e;
} racer;

static void *race(void *p)
{
    racer *a = p;
    pthread_barrier_wait(a->go);
    a->e = push1t(a->ss, a->sym, 1.0f, &a->len, &a->t);
    return NULL;
}

TI_TEST(concurrent_first_ticks_share_one_stream)
{
    sv_serve_streams *ss;
    TI_CHECK_OK(sv_serve_streams_create(&ss, g_m, TI_KV_F32));
    if (!ss) return;
    enum { ROUNDS = 40 };
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char sym[32];
        snprintf(sym, sizeof sym, "RACE%d", round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        racer a[RACERS];
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++) {
            a[i] = (racer){.ss = ss, .go = &go, .sym = sym};
            pthread_create(&th[i], NULL, race, &a[i]);
        }
        unsigned seen = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            TI_CHECK_OK(a[i].e);
            /* the position each tick was decoded at (read under the stream's lock) */
            if (a[i].t >= 0 && a[i].t < RACERS) seen |= 1u << a[i].t;
        }
        pthread_barrier_destroy(&go);
        /* every tick landed on the same stream: positions 0..RACERS-1, each once */
        if (seen != (1u << RACERS) - 1) bad++;
        int64_t len = 0;
        TI_CHECK_OK(push1(ss, sym, 1.0f, &len));
        TI_CHECK_MSG(len == RACERS + 1, "round %d: the stream holds %lld positions", round, (long long)len);
        int open;
        size_t kv;
        sv_serve_streams_stats(ss, &open, &kv);
        TI_CHECK_MSG(open == round + 1, "round %d: %d streams open", round, open);
        TI_CHECK_MSG(sv_serve_streams_engine_open(ss) == round + 1, "round %d: the engine holds %d streams", round,
                     sv_serve_streams_engine_open(ss));
    }
    TI_CHECK_MSG(bad == 0, "%d of %d rounds split one symbol's ticks over several streams", bad, ROUNDS);
    sv_serve_streams_destroy(ss);
}

/* A tick whose K/V overflow to non-finite values cannot be stored in an int8 cache. */
#define NAN_INT8_MSG "stream AAPL: kv cache: storing an int8 row: kvquant: non-finite value in K/V row block 0 (dtype int8)"

TI_TEST(nan_into_int8_stream_message_reads_a_b_c)
{
    sv_serve_streams *ss;
    TI_CHECK_OK(sv_serve_streams_create(&ss, g_m, TI_KV_INT8));
    if (!ss) return;
    float row[64];
    for (int f = 0; f < 64; f++) row[f] = 3e38f;
    ti_forecast fc;
    int dec;
    int64_t len;
    ti_error_clear();
    ti_err e = sv_serve_streams_push(ss, "AAPL", SV_TICK_NORMALIZED, row, NULL, 1, &fc, &dec, &len);
    TI_CHECK(e == TI_ERR_RANGE);
    TI_CHECK_MSG(strcmp(ti_errmsg(), NAN_INT8_MSG) == 0, "message '%s'", ti_errmsg());
    sv_serve_streams_destroy(ss);

    /* the same over HTTP: 400 with the message as the error */
    ti_server_config c;
    ti_server_config_default(&c);
    c.port = 0;
    c.http_threads = 1;
    snprintf(c.stream_kv_dtype, sizeof c.stream_kv_dtype, "int8");
    ti_server *s;
    TI_CHECK_OK(ti_server_create(&s, &c));
    TI_CHECK_OK(ti_server_add_model(s, "rv", RV_PATH));
    TI_CHECK_OK(ti_server_start(s));
    sv_sbuf b;
    sv_sbuf_init(&b, 1 << 20);
    TI_CHECK_OK(sv_sbuf_puts(&b, "{\"normalized\": true, \"features\": [["));
    for (int f = 0; f < 12; f++) TI_CHECK_OK(sv_sbuf_puts(&b, f ? ",3e38" : "3e38"));
    TI_CHECK_OK(sv_sbuf_puts(&b, "]]}"));
    tc_resp r;
    TI_CHECK(tc_request(ti_server_port(s), "POST", "/v1/streams/AAPL/ticks", NULL, b.data, b.len, &r) == 0);
    TI_CHECK_MSG(r.status == 400 && r.body && strcmp(r.body, "{\"error\":\"" NAN_INT8_MSG "\"}") == 0, "%d %s",
                 r.status, r.body ? r.body : "");
    tc_resp_free(&r);
    sv_sbuf_free(&b);
    ti_server_drain(s, 1000);
    ti_server_destroy(s);
}

int main(void)
{
    if (ti_model_open(&g_m, RV_PATH, NULL) != TI_OK) {
        fprintf(stderr, "cannot load %s: %s\n", RV_PATH, ti_errmsg());
        return 1;
    }
    TI_RUN(open_close_cycles_keep_probes_bounded);
    TI_RUN(deleting_inside_a_probe_run_keeps_the_rest_reachable);
    TI_RUN(concurrent_first_ticks_share_one_stream);
    TI_RUN(nan_into_int8_stream_message_reads_a_b_c);
    ti_model_free(g_m);
    return ti_test_summary();
}
