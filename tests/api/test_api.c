/* The embedding API (include/tickinfer.h): errors, models, runners, the per-symbol engine
 * (lookup by symbol, limits, deletion, threads), linear models through ti_state, tapes. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer.h"
#include "model/linear/linear.h"
#include "tickinfer/version.h"

#define MODEL "models/rv_causal_optiver.safetensors"
#define OPTIVER "data/optiver/trade_train.parquet"

static uint64_t rng_state = 88172645463325252ull;
static float frand(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0));
}

/* A plausible raw feature row: around the model's mean, +- 1 std. */
static void raw_row(const ti_model_meta *mt, float *x)
{
    for (int i = 0; i < mt->n_features; i++)
        x[i] = (mt->mean ? mt->mean[i] : 0.0f) + (frand() * 2 - 1) * (mt->std ? mt->std[i] : 1.0f);
}

TI_TEST(version_and_error_names)
{
    TI_CHECK(strcmp(ti_version(), TI_VERSION_STRING) == 0);
    TI_CHECK(strcmp(ti_error_name(TI_OK), "TI_OK") == 0);
    TI_CHECK(strcmp(ti_error_name(TI_ERR_FORMAT), "TI_ERR_FORMAT") == 0);
    TI_CHECK(strcmp(ti_error_name(TI_ERR_LIMIT), "TI_ERR_LIMIT") == 0);
    TI_CHECK(strcmp(ti_error_name((ti_err)999), "TI_ERR_UNKNOWN") == 0);
}

TI_TEST(load_errors_say_what_to_do)
{
    ti_model *m = (ti_model *)1;
    /* a missing file: NOT_FOUND (the server answers 404), the message names it and why */
    TI_CHECK_ERR(ti_model_load(&m, "no/such/model.safetensors", NULL), TI_ERR_NOT_FOUND, "no/such/model.safetensors");
    TI_CHECK(m == NULL);
    TI_CHECK(strstr(ti_last_error(), "No such file or directory") != NULL);
    TI_CHECK_ERR(ti_model_load(&m, "", NULL), TI_ERR_INVALID_ARG, "no model file");
    TI_CHECK_ERR(ti_model_load(&m, "data/README.md", NULL), TI_ERR_FORMAT, "not a model file");
    ti_model_load_opts o = ti_model_load_default_opts();
    o.kind = "lstm";
    TI_CHECK_ERR(ti_model_load(&m, MODEL, &o), TI_ERR_INVALID_ARG, "unknown kind 'lstm'");
    o = ti_model_load_default_opts();
    o.n_heads = -1;
    TI_CHECK_ERR(ti_model_load(&m, MODEL, &o), TI_ERR_INVALID_ARG, "n_heads");
    TI_CHECK_ERR(ti_model_describe(NULL, NULL), TI_ERR_INVALID_ARG, "NULL");
    ti_model_close(NULL);
}

TI_TEST(describe_and_meta_of_the_bundled_model)
{
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, MODEL, NULL));
    if (!m) return;
    ti_model_desc d;
    ti_model_meta mt;
    TI_CHECK_OK(ti_model_describe(m, &d));
    TI_CHECK_OK(ti_model_get_meta(m, &mt));
    TI_CHECK(strcmp(d.kind, "transformer") == 0);
    TI_CHECK(strcmp(d.arch, "rv_causal") == 0);
    TI_CHECK(d.n_features == 12 && d.context == 300 && d.per_step == 1 && d.native_step == 1);
    TI_CHECK(d.streams_trades == 1 && d.fixed_context == 0);
    TI_CHECK(d.n_params == 67969);
    TI_CHECK(strcmp(mt.path, MODEL) == 0);
    TI_CHECK(mt.n_features == 12 && mt.mean && mt.std && mt.feature_names && mt.feature_names[0]);
    TI_CHECK_NEAR(mt.rv_scale, 0.894328, 1e-5);
    TI_CHECK(mt.version != NULL);
    ti_model_close(m);
}

/* Batch forward over a window = the same rows streamed one by one through the engine. */
TI_TEST(runner_matches_engine_rows)
{
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, MODEL, NULL));
    if (!m) return;
    ti_model_meta mt;
    ti_model_get_meta(m, &mt);
    enum { T = 40, F = 12 };
    static float x[2 * T * F], y[2 * T];
    for (int t = 0; t < 2 * T; t++) raw_row(&mt, x + (size_t)t * F);
    ti_runner *r;
    ti_runner_opts ro = ti_runner_default_opts();
    TI_CHECK(ro.max_batch == 32 && ro.n_threads == 1 && ro.raw_inputs == 1);
    ro.max_batch = 2;
    TI_CHECK_OK(ti_runner_create(&r, m, &ro));
    TI_CHECK_OK(ti_runner_infer(r, y, x, 2, T));
    TI_CHECK_ERR(ti_runner_infer(r, y, x, 3, T), TI_ERR_INVALID_ARG, "1..2 (max_batch)");
    TI_CHECK_ERR(ti_runner_infer(r, y, x, 1, 301), TI_ERR_INVALID_ARG, "1..300");
    ti_engine *e;
    TI_CHECK_OK(ti_engine_create(&e, m, NULL));
    for (int b = 0; b < 2; b++) {
        const char *sym = b ? "MSFT" : "AAPL";
        for (int t = 0; t < T; t++) {
            ti_prediction p;
            TI_CHECK_OK(ti_engine_push_row(e, sym, x + ((size_t)b * T + t) * F, &p));
            TI_CHECK(p.n_new == 1 && p.t == t);
            TI_CHECK_NEAR(p.y_log, y[b * T + t], 2e-4);
            TI_CHECK_NEAR(p.rv, expf(p.y_log) * mt.rv_scale, 1e-6);
        }
    }
    TI_CHECK(ti_engine_count(e) == 2);
    /* raw_inputs = 0: the caller normalises */
    ti_runner *r0;
    ro.raw_inputs = 0;
    TI_CHECK_OK(ti_runner_create(&r0, m, &ro));
    static float xn[T * F], y0[T];
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) xn[t * F + i] = (x[t * F + i] - mt.mean[i]) / mt.std[i];
    TI_CHECK_OK(ti_runner_infer(r0, y0, xn, 1, T));
    for (int t = 0; t < T; t++) TI_CHECK_NEAR(y0[t], y[t], 1e-4);
    ti_runner_free(r0);
    ti_engine_free(e);
    ti_runner_free(r);
    ti_model_close(m);
}

TI_TEST(engine_lookup_by_symbol)
{
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, MODEL, NULL));
    if (!m) return;
    ti_engine_opts eo = ti_engine_default_opts();
    TI_CHECK(eo.max_streams == 1024);
    eo.max_streams = 200;
    ti_engine *e;
    TI_CHECK_OK(ti_engine_create(&e, m, &eo));
    int created = -1;
    TI_CHECK_OK(ti_engine_open(e, "AAPL", &created));
    TI_CHECK(created == 1);
    TI_CHECK_OK(ti_engine_open(e, "AAPL", &created));
    TI_CHECK(created == 0 && ti_engine_count(e) == 1);
    /* fill to the limit, then close in a scrambled order: every survivor stays findable */
    char name[32];
    for (int i = 1; i < 200; i++) {
        snprintf(name, sizeof name, "S%d", i * 7919);
        TI_CHECK_OK(ti_engine_open(e, name, &created));
    }
    TI_CHECK(ti_engine_count(e) == 200);
    TI_CHECK_ERR(ti_engine_open(e, "ONE_TOO_MANY", NULL), TI_ERR_LIMIT, "200 streams already open");
    TI_CHECK_ERR(ti_engine_push_trade(e, "ONE_TOO_MANY", 0, 10, 1, 1, NULL), TI_ERR_LIMIT, "max_streams");
    int closed[200] = {0};
    for (int k = 0; k < 150; k++) {
        const int i = 1 + (k * 37) % 199;
        if (closed[i]) continue;
        snprintf(name, sizeof name, "S%d", i * 7919);
        TI_CHECK_OK(ti_engine_close(e, name));
        closed[i] = 1;
        TI_CHECK_ERR(ti_engine_close(e, name), TI_ERR_NOT_FOUND, name);
    }
    int open_n = 1;
    for (int i = 1; i < 200; i++) {
        snprintf(name, sizeof name, "S%d", i * 7919);
        TI_CHECK_OK(ti_engine_open(e, name, &created));
        TI_CHECK_MSG(created == closed[i], "%s: created %d, closed %d", name, created, closed[i]);
        open_n++;
    }
    TI_CHECK(ti_engine_count(e) == open_n);
    /* bad symbols and arguments */
    char longsym[80];
    memset(longsym, 'X', sizeof longsym - 1);
    longsym[sizeof longsym - 1] = 0;
    TI_CHECK_ERR(ti_engine_push_trade(e, longsym, 0, 10, 1, 1, NULL), TI_ERR_INVALID_ARG, "1..63 bytes");
    TI_CHECK_ERR(ti_engine_push_trade(e, "", 0, 10, 1, 1, NULL), TI_ERR_INVALID_ARG, "1..63 bytes");
    TI_CHECK_ERR(ti_engine_push_trade(e, NULL, 0, 10, 1, 1, NULL), TI_ERR_INVALID_ARG, "symbol is NULL");
    TI_CHECK_ERR(ti_engine_push_trade(NULL, "AAPL", 0, 10, 1, 1, NULL), TI_ERR_INVALID_ARG, "ti_engine_create");
    TI_CHECK_ERR(ti_engine_push_trade(e, "AAPL", 0, -1, 1, 1, NULL), TI_ERR_INVALID_ARG, "price");
    TI_CHECK_ERR(ti_engine_push_row(e, "AAPL", NULL, NULL), TI_ERR_INVALID_ARG, "x is NULL");
    ti_engine_free(e);
    /* options */
    eo = ti_engine_default_opts();
    eo.kv_layout = "tree";
    TI_CHECK_ERR(ti_engine_create(&e, m, &eo), TI_ERR_INVALID_ARG, "kv_layout");
    TI_CHECK(e == NULL);
    eo = ti_engine_default_opts();
    eo.window = 301;
    TI_CHECK_ERR(ti_engine_create(&e, m, &eo), TI_ERR_INVALID_ARG, "window 301");
    eo = ti_engine_default_opts();
    eo.max_streams = 0;
    TI_CHECK_ERR(ti_engine_create(&e, m, &eo), TI_ERR_INVALID_ARG, "max_streams 0");
    ti_model_close(m);
}

/* Trades in, forecasts out; reset starts a session over (the same forecasts again). */
TI_TEST(engine_trades_reset_advance)
{
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, MODEL, NULL));
    if (!m) return;
    ti_engine_opts eo = ti_engine_default_opts();
    eo.kv_layout = "paged";
    ti_engine *e;
    TI_CHECK_OK(ti_engine_create(&e, m, &eo));
    float first[3] = {0};
    for (int pass = 0; pass < 2; pass++) {
        ti_prediction p;
        TI_CHECK_OK(ti_engine_reset(e, "AAPL")); /* opens it on the first pass */
        TI_CHECK_OK(ti_engine_push_trade(e, "AAPL", 0, 100.0f, 10, 2, &p));
        TI_CHECK(p.n_new == 0 && p.t == -1 && isnan(p.y_log));
        TI_CHECK_OK(ti_engine_push_trade(e, "AAPL", 0, 100.5f, 5, 1, &p)); /* same second */
        TI_CHECK(p.n_new == 0);
        TI_CHECK_OK(ti_engine_push_trade(e, "AAPL", 3, 101.0f, 7, 1, &p)); /* closes 0, 1, 2 */
        TI_CHECK(p.n_new == 3 && p.t == 2 && isfinite(p.y_log) && p.rv > 0);
        if (pass == 0) first[0] = p.y_log;
        else TI_CHECK(p.y_log == first[0]);
        TI_CHECK_ERR(ti_engine_push_trade(e, "AAPL", 1, 101.0f, 7, 1, &p), TI_ERR_INVALID_ARG, "before second");
        TI_CHECK_OK(ti_engine_advance(e, "AAPL", 600, &p));
        TI_CHECK(p.n_new == 597 && p.t == 599);
        if (pass == 0) first[1] = p.y_log;
        else TI_CHECK(p.y_log == first[1]);
    }
    ti_engine_free(e);
    ti_model_close(m);
}

/* A linear model streams feature rows through ti_state; trades are unsupported. */
TI_TEST(linear_model_rows_not_trades)
{
    char path[] = "/tmp/ti_api_linear_XXXXXX";
    const int fd = mkstemp(path);
    TI_CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    ti_linear lm;
    memset(&lm, 0, sizeof lm);
    lm.n_features = 3, lm.context = 4, lm.n_terms = 2;
    lm.terms[0] = (ti_wterm){.feature = 1, .window = 1, .agg = TI_WAGG_LAST, .transform = TI_WTR_NONE, .floor = 1e-5};
    lm.terms[1] = (ti_wterm){.feature = 2, .window = 4, .agg = TI_WAGG_MEAN, .transform = TI_WTR_NONE, .floor = 1e-5};
    lm.coef[0] = -5.0, lm.coef[1] = 0.5, lm.coef[2] = 2.0;
    TI_CHECK_OK(ti_linear_save(&lm, path, NULL, 2.0f));
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, path, NULL));
    if (!m) {
        unlink(path);
        return;
    }
    ti_model_desc d;
    TI_CHECK_OK(ti_model_describe(m, &d));
    TI_CHECK(strcmp(d.kind, "linear") == 0 && d.streams_trades == 0 && d.n_features == 3);
    ti_engine *e;
    ti_engine_opts eo = ti_engine_default_opts();
    eo.kv_dtype = "int8";
    TI_CHECK_ERR(ti_engine_create(&e, m, &eo), TI_ERR_UNSUPPORTED, "causal transformer");
    TI_CHECK_OK(ti_engine_create(&e, m, NULL));
    TI_CHECK_ERR(ti_engine_push_trade(e, "AAPL", 0, 10, 1, 1, NULL), TI_ERR_UNSUPPORTED, "ti_engine_push_row");
    TI_CHECK_ERR(ti_engine_advance(e, "AAPL", 10, NULL), TI_ERR_UNSUPPORTED, "ti_engine_push_row");
    TI_CHECK(ti_engine_count(e) == 0); /* a refused trade opens no stream */
    ti_runner *r;
    TI_CHECK_OK(ti_runner_create(&r, m, NULL));
    float rows[8][3];
    for (int t = 0; t < 8; t++)
        for (int i = 0; i < 3; i++) rows[t][i] = frand();
    for (int t = 0; t < 8; t++) {
        ti_prediction p;
        TI_CHECK_OK(ti_engine_push_row(e, "AAPL", rows[t], &p));
        /* the window: the last min(t+1, 4) rows */
        const int T = t + 1 < 4 ? t + 1 : 4;
        float y;
        TI_CHECK_OK(ti_runner_infer(r, &y, &rows[t + 1 - T][0], 1, T));
        TI_CHECK(p.n_new == 1 && p.t == t);
        TI_CHECK_NEAR(p.y_log, y, 1e-5);
        TI_CHECK_NEAR(p.rv, expf(y) * 2.0f, 1e-5 * p.rv);
    }
    const float bad[3] = {1, NAN, 1};
    TI_CHECK_ERR(ti_engine_push_row(e, "AAPL", bad, NULL), TI_ERR_INVALID_ARG, "finite");
    TI_CHECK_OK(ti_engine_reset(e, "AAPL"));
    ti_prediction p;
    TI_CHECK_OK(ti_engine_push_row(e, "AAPL", rows[0], &p));
    TI_CHECK(p.t == 0);
    ti_runner_free(r);
    ti_engine_free(e);
    ti_model_close(m);
    unlink(path);
}

/* Several threads push trades of overlapping symbols; each symbol's forecasts equal a
 * single-threaded run of its trades. */
#define TH_N 4
#define TH_SYMS 6
#define TH_SECS 120
typedef struct th_arg {
    ti_engine *e;
    int id;
    float out[TH_SYMS];
    int err;
} th_arg;

static float th_price(int s, int sec) { return 50.0f + (float)s + 0.01f * (float)((sec * 31 + s * 7) % 50); }

static void *th_main(void *p)
{
    th_arg *a = p;
    /* thread k owns symbols k, k + TH_N, ... but every thread also reads the count */
    for (int sec = 0; sec < TH_SECS && !a->err; sec++)
        for (int s = a->id; s < TH_SYMS; s += TH_N) {
            char sym[16];
            snprintf(sym, sizeof sym, "SYM%d", s);
            ti_prediction pr;
            if (ti_engine_push_trade(a->e, sym, sec, th_price(s, sec), 1.0f + (float)(sec % 3), 1, &pr)) a->err = 1;
            a->out[s] = pr.y_log;
            (void)ti_engine_count(a->e);
        }
    return NULL;
}

TI_TEST(engine_threads)
{
    ti_model *m;
    TI_CHECK_OK(ti_model_load(&m, MODEL, NULL));
    if (!m) return;
    ti_engine *e, *e1;
    TI_CHECK_OK(ti_engine_create(&e, m, NULL));
    TI_CHECK_OK(ti_engine_create(&e1, m, NULL));
    th_arg args[TH_N];
    pthread_t th[TH_N];
    for (int k = 0; k < TH_N; k++) {
        args[k] = (th_arg){.e = e, .id = k};
        pthread_create(&th[k], NULL, th_main, &args[k]);
    }
    for (int k = 0; k < TH_N; k++) pthread_join(th[k], NULL);
    th_arg one = {.e = e1};
    for (int k = 0; k < TH_N; k++) {
        one.id = k;
        th_main(&one);
        TI_CHECK(!args[k].err && !one.err);
    }
    for (int s = 0; s < TH_SYMS; s++) {
        const th_arg *a = &args[s % TH_N];
        TI_CHECK_MSG(a->out[s] == one.out[s], "SYM%d: %g threaded vs %g alone", s, a->out[s], one.out[s]);
    }
    TI_CHECK(ti_engine_count(e) == TH_SYMS);
    ti_engine_free(e);
    ti_engine_free(e1);
    ti_model_close(m);
}

TI_TEST(tape_order_and_errors)
{
    ti_tape *t = (ti_tape *)1;
    TI_CHECK_ERR(ti_tape_open(&t, "no/such/dir", NULL), TI_ERR_NOT_FOUND, "ti_tape_open");
    TI_CHECK(t == NULL);
    ti_tape_opts o = ti_tape_default_opts();
    o.max_sessions = -1;
    TI_CHECK_ERR(ti_tape_open(&t, OPTIVER, &o), TI_ERR_INVALID_ARG, "max_sessions");
    o = ti_tape_default_opts();
    o.max_symbols = 2, o.max_sessions = 3;
    TI_CHECK_OK(ti_tape_open(&t, OPTIVER, &o));
    if (!t) return;
    int starts = 0, ends = 0, trades = 0, open_syms = 0, bad_order = 0;
    int64_t last_sec = -1, sess = -1;
    ti_tape_event ev;
    for (;;) {
        TI_CHECK_OK(ti_tape_next(t, &ev));
        if (ev.type == TI_TAPE_END) break;
        if (ev.type == TI_TAPE_SESSION_START) {
            if (open_syms == 0) last_sec = -1, sess++;
            starts++, open_syms++;
        } else if (ev.type == TI_TAPE_SESSION_END) {
            ends++, open_syms--;
            TI_CHECK(ev.t_sec == 600);
        } else {
            trades++;
            if (ev.t_sec < last_sec) bad_order++;
            last_sec = ev.t_sec;
            TI_CHECK(ev.price > 0 && ev.size >= 0 && ev.t_sec >= 0 && ev.t_sec < 600);
        }
        TI_CHECK(ev.symbol && strncmp(ev.symbol, "stock_", 6) == 0);
    }
    TI_CHECK(starts == 6 && ends == 6 && open_syms == 0 && sess == 2);
    TI_CHECK(trades > 50 && bad_order == 0);
    TI_CHECK_OK(ti_tape_next(t, &ev));
    TI_CHECK(ev.type == TI_TAPE_END);
    ti_tape_close(t);
    ti_tape_close(NULL);
    /* the simulator is a source too */
    TI_CHECK_OK(ti_tape_open(&t, "sim:2:1:7", NULL));
    if (!t) return;
    trades = starts = 0;
    do {
        TI_CHECK_OK(ti_tape_next(t, &ev));
        trades += ev.type == TI_TAPE_TRADE, starts += ev.type == TI_TAPE_SESSION_START;
    } while (ev.type != TI_TAPE_END);
    TI_CHECK(starts == 2 && trades > 0);
    ti_tape_close(t);
}

int main(void)
{
    TI_RUN(version_and_error_names);
    TI_RUN(load_errors_say_what_to_do);
    TI_RUN(describe_and_meta_of_the_bundled_model);
    TI_RUN(runner_matches_engine_rows);
    TI_RUN(engine_lookup_by_symbol);
    TI_RUN(engine_trades_reset_advance);
    TI_RUN(linear_model_rows_not_trades);
    TI_RUN(engine_threads);
    TI_RUN(tape_order_and_errors);
    return ti_test_summary();
}
