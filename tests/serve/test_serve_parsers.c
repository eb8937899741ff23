/* The server's parsers and building blocks without HTTP: the JSON reader (numbers exact
 * against strtod, strings, tensors, error offsets, limits), NPY read/write, the capped
 * buffer, and the dynamic batcher (mixed T, answers back to the right job, deadlines). */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/transformer.h"
#include "serve/dynbatch.h"
#include "serve/json_read.h"
#include "serve/sbuf.h"
#include "tickinfer/clock.h"
#include "tickinfer/npy.h"

TI_TEST(json_numbers_match_strtod)
{
    static const char *const nums[] = {"0", "-0", "1", "-1", "3.14159", "1e-7", "-2.5E+3", "0.000487304409",
                                       "123456789012345678", "1234567890123456789012", "9007199254740993",
                                       "1.7976931348623157e308", "4.9e-324", "0.1", "7.37695122", "-1.18674386e-07",
                                       "1e22", "1e23", "123.456e-5"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        double v = -99;
        TI_CHECK_OK(sv_json_parse_number(nums[i], strlen(nums[i]), &v));
        TI_CHECK_MSG(v == strtod(nums[i], NULL), "%s -> %.17g, strtod %.17g", nums[i], v, strtod(nums[i], NULL));
    }
    static const char *const bad[] = {"", "-", "01", "1.", ".5", "1e", "+1", "1e+", "0x10", "NaN", "Infinity", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        TI_CHECK_MSG(sv_json_parse_number(bad[i], strlen(bad[i]), &v) == TI_ERR_FORMAT, "'%s' accepted", bad[i]);
    }
}

TI_TEST(json_strings_and_objects)
{
    const char *js = " {\"a\\u00e9\\ud83d\\ude00\\n\" : [true, false, null, {\"k\": -1.5}], \"b\": \"x\\\"y\"} ";
    sv_jr r;
    sv_jr_init(&r, js, strlen(js));
    char key[32], val[32];
    int more;
    TI_CHECK_OK(sv_jr_obj_begin(&r));
    TI_CHECK_OK(sv_jr_obj_next(&r, key, sizeof key, &more));
    TI_CHECK(more && strcmp(key, "a\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    TI_CHECK_OK(sv_jr_skip(&r));
    TI_CHECK_OK(sv_jr_obj_next(&r, key, sizeof key, &more));
    TI_CHECK(more && strcmp(key, "b") == 0);
    TI_CHECK_OK(sv_jr_string(&r, val, sizeof val, NULL));
    TI_CHECK(strcmp(val, "x\"y") == 0);
    TI_CHECK_OK(sv_jr_obj_next(&r, key, sizeof key, &more));
    TI_CHECK(!more);
    TI_CHECK_OK(sv_jr_finish(&r));
    /* errors name the byte offset */
    sv_jr_init(&r, "{\"a\" 1}", 7);
    TI_CHECK_OK(sv_jr_obj_begin(&r));
    TI_CHECK_ERR(sv_jr_obj_next(&r, key, sizeof key, &more), TI_ERR_FORMAT, "json: byte 5: expected ':'");
    sv_jr_init(&r, "[1,]", 4);
    TI_CHECK_ERR(sv_jr_skip(&r), TI_ERR_FORMAT, "trailing comma");
    sv_jr_init(&r, "\"ab\\ud800\"", 10);
    TI_CHECK_ERR(sv_jr_string(&r, val, sizeof val, NULL), TI_ERR_FORMAT, "unpaired surrogate");
    sv_jr_init(&r, "\"abcdef\"", 8);
    TI_CHECK_ERR(sv_jr_string(&r, val, 4, NULL), TI_ERR_LIMIT, "longer than 3");
    char deep[200];
    memset(deep, '[', sizeof deep);
    sv_jr_init(&r, deep, sizeof deep);
    TI_CHECK_ERR(sv_jr_skip(&r), TI_ERR_LIMIT, "nesting deeper than 64");
    sv_jr_init(&r, "{} x", 4);
    TI_CHECK_OK(sv_jr_skip(&r));
    TI_CHECK_ERR(sv_jr_finish(&r), TI_ERR_FORMAT, "trailing characters");
}

TI_TEST(json_tensor_shapes)
{
    float buf[16];
    int64_t shape[3];
    int ndim;
    size_t n;
    sv_jr r;
    const char *t = "[[[1,2],[3,4],[5,6]],[[7,8],[9,10],[11,12]]]";
    sv_jr_init(&r, t, strlen(t));
    TI_CHECK_OK(sv_jr_tensor(&r, buf, 16, 3, shape, &ndim, &n));
    TI_CHECK(ndim == 3 && shape[0] == 2 && shape[1] == 3 && shape[2] == 2 && n == 12 && buf[11] == 12.0f);
    sv_jr_init(&r, "[1,2,3]", 7);
    TI_CHECK_OK(sv_jr_tensor(&r, buf, 16, 3, shape, &ndim, &n));
    TI_CHECK(ndim == 1 && shape[0] == 3 && n == 3);
    sv_jr_init(&r, "[[1,2],[3]]", 11);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 16, 3, shape, &ndim, &n), TI_ERR_FORMAT, "ragged array: length 1 at depth 1");
    sv_jr_init(&r, "[[1,2],3]", 9);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 16, 3, shape, &ndim, &n), TI_ERR_FORMAT, "ragged array");
    sv_jr_init(&r, "[[[[1]]]]", 9);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 16, 3, shape, &ndim, &n), TI_ERR_FORMAT, "nested deeper than 3");
    sv_jr_init(&r, "[1,2,3,4,5]", 11);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 4, 3, shape, &ndim, &n), TI_ERR_LIMIT, "more than 4 values");
    sv_jr_init(&r, "[1, 4e38]", 9);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 4, 3, shape, &ndim, &n), TI_ERR_RANGE, "not a finite float32");
    sv_jr_init(&r, "[]", 2);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 4, 3, shape, &ndim, &n), TI_ERR_FORMAT, "empty array");
    sv_jr_init(&r, "[\"1\"]", 5);
    TI_CHECK_ERR(sv_jr_tensor(&r, buf, 4, 3, shape, &ndim, &n), TI_ERR_FORMAT, "expected a number");
}

TI_TEST(npy_roundtrip_and_errors)
{
    int64_t shape[3] = {2, 3, 4};
    char buf[512];
    size_t hl;
    TI_CHECK_OK(ti_npy_header_f32(buf, sizeof buf, &hl, 3, shape));
    TI_CHECK(hl % 64 == 0 && buf[hl - 1] == '\n');
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.5f;
    memcpy(buf + hl, v, sizeof v);
    ti_npy_view nv;
    TI_CHECK_OK(ti_npy_parse(&nv, buf, hl + sizeof v));
    TI_CHECK(nv.ndim == 3 && nv.shape[0] == 2 && nv.shape[1] == 3 && nv.shape[2] == 4 && nv.count == 24);
    float out[24];
    TI_CHECK_OK(ti_npy_to_f32(out, &nv));
    TI_CHECK(memcmp(out, v, sizeof v) == 0);
    TI_CHECK_ERR(ti_npy_parse(&nv, buf, hl + sizeof v - 1), TI_ERR_FORMAT, "shape needs 96 bytes of data, body has 95");
    TI_CHECK_ERR(ti_npy_parse(&nv, buf, 9), TI_ERR_FORMAT, "magic");
    /* 1-d header uses the Python tuple form "(n,)" */
    int64_t one = 5;
    TI_CHECK_OK(ti_npy_header_f32(buf, sizeof buf, &hl, 1, &one));
    TI_CHECK(strstr(buf + 10, "'shape': (5, )") != NULL);
    /* hand-written headers */
    static const struct { const char *dict; ti_err want; const char *msg; } cases[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", TI_OK, ""},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", TI_OK, ""},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", TI_ERR_UNSUPPORTED, "fortran_order"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", TI_ERR_UNSUPPORTED, "dtype '<i8'"},
        {"{'descr': '<f4', 'shape': (1,), }", TI_ERR_FORMAT, "lacks 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", TI_ERR_FORMAT, "unknown key 'x'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }", TI_ERR_LIMIT, "more than 8"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", TI_ERR_FORMAT, "expected a dimension"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t dl = strlen(cases[i].dict);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (char)dl, buf[9] = 0;
        memcpy(buf + 10, cases[i].dict, dl);
        size_t item = strstr(cases[i].dict, "f8") ? 8 : 4;
        memset(buf + 10 + dl, 0, item);
        if (cases[i].want == TI_OK) TI_CHECK_OK(ti_npy_parse(&nv, buf, 10 + dl + item));
        else TI_CHECK_ERR(ti_npy_parse(&nv, buf, 10 + dl + item), cases[i].want, cases[i].msg);
    }
    /* big-endian values convert */
    const char *be = "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}";
    size_t dl = strlen(be);
    memcpy(buf + 10, be, dl);
    buf[8] = (char)dl;
    unsigned char two[4] = {0x40, 0, 0, 0}; /* 2.0f big-endian */
    memcpy(buf + 10 + dl, two, 4);
    TI_CHECK_OK(ti_npy_parse(&nv, buf, 10 + dl + 4));
    TI_CHECK_OK(ti_npy_to_f32(out, &nv));
    TI_CHECK(out[0] == 2.0f);
}

TI_TEST(sbuf_caps_growth)
{
    sv_sbuf b;
    sv_sbuf_init(&b, 10);
    TI_CHECK_OK(sv_sbuf_puts(&b, "0123456789"));
    TI_CHECK(b.len == 10 && b.data[10] == '\0');
    TI_CHECK_ERR(sv_sbuf_puts(&b, "x"), TI_ERR_LIMIT, "limit of 10 bytes");
    sv_sbuf_free(&b);
    sv_sbuf_init(&b, 64);
    TI_CHECK_OK(sv_sbuf_json_str(&b, "a\"\n"));
    TI_CHECK(strcmp(b.data, "\"a\\\"\\u000a\"") == 0);
    sv_sbuf_free(&b);
}

/* ---- dynamic batcher --------------------------------------------------------------- */

typedef struct done_count {
    atomic_int n;
} done_count;

static void on_done(sv_job *j, void *ctx)
{
    (void)j;
    atomic_fetch_add(&((done_count *)ctx)->n, 1);
}

static ti_tfm *small_causal(void)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, TI_TFM_RV_CAUSAL);
    c.context = 32;
    c.d_model = 16;
    c.n_layers = 1;
    c.d_ff = 32;
    ti_tfm *m = NULL;
    if (ti_tfm_create(&m, &c) != TI_OK) return NULL;
    ti_tfm_init(m, 7);
    if (ti_tfm_pack(m) != TI_OK) {
        ti_tfm_destroy(m);
        return NULL;
    }
    return m;
}

TI_TEST(dynbatch_answers_each_job)
{
    ti_tfm *m = small_causal();
    TI_CHECK(m != NULL);
    if (!m) return;
    enum { J = 24, F = 12, TMAX = 32 };
    ti_model *gm; /* the batcher runs any kind through the generic interface; gm owns m */
    TI_CHECK_OK(ti_model_from_tfm(&gm, m, NULL, 1.0f));
    sv_dynbatch *b;
    sv_dynbatch_opts o = {2, 8, 5000, 0, 2}; /* 2 workers, each with 2 intra-op threads */
    TI_CHECK_OK(sv_dynbatch_create(&b, gm, &o));
    static float x[J][5 * TMAX * F], y[J][5 * TMAX], ref[5 * TMAX];
    static sv_job jobs[J];
    done_count dc;
    atomic_init(&dc.n, 0);
    for (int i = 0; i < J; i++) {
        int B = 1 + i % 5, T = (i % 3 == 0) ? 32 : (i % 3 == 1 ? 10 : 10 + i % 2);
        if (i == J - 1) B = 11, T = 12; /* larger than max_batch: runs alone in chunks */
        for (int k = 0; k < B * T * F; k++) x[i][k] = (float)((k * 7 + i * 13) % 17) / 17.0f - 0.5f;
        jobs[i] = (sv_job){.x = x[i], .y = y[i], .B = B, .T = T, .done = on_done, .done_ctx = &dc};
        if (B * T * F > 5 * TMAX * F) jobs[i].B = 5;
        TI_CHECK_OK(sv_dynbatch_submit(b, &jobs[i]));
    }
    uint64_t until = ti_now_ns() + 10000000000ull;
    while (atomic_load(&dc.n) < J && ti_now_ns() < until) usleep(1000);
    TI_CHECK(atomic_load(&dc.n) == J);
    ti_runstate *rs;
    TI_CHECK_OK(ti_runstate_create(&rs, m, 16, 0, 0));
    int batched = 0;
    for (int i = 0; i < J; i++) {
        TI_CHECK(jobs[i].status == TI_OK);
        TI_CHECK_OK(ti_tfm_forward(m, rs, ref, x[i], jobs[i].B, jobs[i].T, NULL));
        double maxd = 0;
        for (int k = 0; k < jobs[i].B * jobs[i].T; k++) maxd = fmax(maxd, fabs(ref[k] - y[i][k]));
        TI_CHECK_MSG(maxd < 1e-4, "job %d (B %d T %d) differs by %g", i, jobs[i].B, jobs[i].T, maxd);
        batched |= jobs[i].batch_rows > jobs[i].B;
    }
    TI_CHECK_MSG(batched, "no job shared a forward with another");
    /* forwards counted once per batch: fewer than jobs, the 11-row job took 2 chunks */
    uint64_t ex = sv_dynbatch_executions(b);
    TI_CHECK_MSG(ex >= 2 && ex < J, "%llu executions for %d jobs", (unsigned long long)ex, J);
    /* a job whose deadline passed fails without running */
    sv_job late = {.x = x[0], .y = y[0], .B = 1, .T = 32, .done = on_done, .done_ctx = &dc, .deadline_ns = 1};
    TI_CHECK_OK(sv_dynbatch_submit(b, &late));
    until = ti_now_ns() + 5000000000ull;
    while (atomic_load(&dc.n) < J + 1 && ti_now_ns() < until) usleep(1000);
    TI_CHECK(late.status == TI_ERR_LIMIT && strstr(late.err, "timed out") != NULL);
    sv_dynbatch_destroy(b);
    /* preferred_batch: two 1-row jobs dispatch at once instead of waiting out a 2 s delay */
    sv_dynbatch_opts po = {1, 8, 2000000, 2, 1};
    TI_CHECK_OK(sv_dynbatch_create(&b, gm, &po));
    sv_job p1 = {.x = x[0], .y = y[0], .B = 1, .T = 32, .done = on_done, .done_ctx = &dc};
    sv_job p2 = {.x = x[3], .y = y[3], .B = 1, .T = 32, .done = on_done, .done_ctx = &dc};
    uint64_t t0 = ti_now_ns();
    TI_CHECK_OK(sv_dynbatch_submit(b, &p1));
    TI_CHECK_OK(sv_dynbatch_submit(b, &p2));
    until = t0 + 5000000000ull;
    while (atomic_load(&dc.n) < J + 3 && ti_now_ns() < until) usleep(1000);
    TI_CHECK(atomic_load(&dc.n) == J + 3);
    TI_CHECK_MSG(ti_now_ns() - t0 < 1000000000ull, "preferred batch waited %.0f ms", (double)(ti_now_ns() - t0) / 1e6);
    TI_CHECK(p1.batch_rows == 2 && p2.batch_rows == 2);
    TI_CHECK(sv_dynbatch_executions(b) == 1);
    sv_job bad = {.x = x[0], .y = y[0], .B = 1, .T = 33, .done = on_done, .done_ctx = &dc};
    TI_CHECK_ERR(sv_dynbatch_submit(b, &bad), TI_ERR_INVALID_ARG, "T=33");
    ti_runstate_destroy(rs);
    sv_dynbatch_destroy(b);
    ti_model_free(gm);
}

/* Every finite float formats to a JSON number that parses back to the same float. */
TI_TEST(float_format_roundtrips)
{
    static const float fixed[] = {0.0f, -0.0f, 1.0f, -1.5f, 0.1f, 123456789.0f, 1e-5f, 1.2345e-6f, 3.4028235e38f,
                                  1.17549435e-38f, 1.4e-45f, 100.0f, 1e9f, 999999999.0f, 0.000123f, -6.07355499f};
    char buf[32];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        size_t n = sv_format_float(buf, fixed[i]);
        buf[n] = '\0';
        double v;
        TI_CHECK_MSG(sv_json_parse_number(buf, n, &v) == TI_OK && (float)v == fixed[i], "%.9g -> '%s'", (double)fixed[i], buf);
    }
    TI_CHECK(sv_format_float(buf, 100.0f) == 3 && memcmp(buf, "100", 3) == 0);
    TI_CHECK(sv_format_float(buf, -1.5f) == 4 && memcmp(buf, "-1.5", 4) == 0);
    TI_CHECK(sv_format_float(buf, 0x1p-20f) == 13 && memcmp(buf, "9.53674316e-7", 13) == 0);
    TI_CHECK(sv_format_float(buf, 0x1p-10f) == 12 && memcmp(buf, "0.0009765625", 12) == 0);
    uint32_t s = 12345;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        s = s * 1664525u + 1013904223u;
        float f;
        memcpy(&f, &s, 4);
        if (!isfinite(f)) continue;
        size_t n = sv_format_float(buf, f);
        buf[n] = '\0';
        double v;
        if (sv_json_parse_number(buf, n, &v) != TI_OK || (float)v != f) {
            if (bad++ < 5) TI_FAILF("%.9g -> '%s'", (double)f, buf);
        }
    }
    TI_CHECK(bad == 0);
}

int main(void)
{
    TI_RUN(json_numbers_match_strtod);
    TI_RUN(json_strings_and_objects);
    TI_RUN(json_tensor_shapes);
    TI_RUN(npy_roundtrip_and_errors);
    TI_RUN(sbuf_caps_growth);
    TI_RUN(float_format_roundtrips);
    TI_RUN(dynbatch_answers_each_job);
    return ti_test_summary();
}
