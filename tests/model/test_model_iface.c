/* The generic model interface: every kind opens from its file, describes its tensors,
 * forwards through a run context with the same numbers as the kind's own code, streams
 * row by row, and composes into ensembles whose answer is the members' answers combined. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_path.h"
#include "harness.h"
#include "model/ensemble/ensemble.h"
#include "model/linear/linear.h"
#include "tickinfer/fileio.h"
#include "tickinfer/model.h"
#include "tickinfer/npy.h"
#include "tickinfer/stream.h"
#include "tickinfer/transformer.h"

#define RV_PATH "models/rv_causal_optiver.safetensors"
#define TINY_PATH "tests/model/data/seed_rv_tiny/best.pt"

static char g_dir[128];

static const char *tmp_path(const char *name)
{
    static char p[4][256];
    static int k;
    char *s = p[k++ % 4];
    snprintf(s, 256, "%s/%s", g_dir, name);
    return s;
}

static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0) * 0.02f; /* small positive, like RV features */
    }
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* HAR-like linear model over 12 trade features: log rv_300/120/30 at the last row,
 * log1p(trades over the window). */
static void har_like(ti_linear *lm, int context)
{
    memset(lm, 0, sizeof *lm);
    lm->n_features = 12, lm->context = context, lm->n_terms = 4;
    const int feat[4] = {7, 6, 5, 3};
    for (int k = 0; k < 4; k++)
        lm->terms[k] = (ti_wterm){.feature = feat[k], .window = k < 3 ? 1 : context,
                                            .agg = k < 3 ? TI_WAGG_LAST : TI_WAGG_SUM,
                                            .transform = k < 3 ? TI_WTR_LOG : TI_WTR_LOG1P, .floor = 1e-5};
    const double c[5] = {-0.5, 0.6, 0.2, 0.1, 0.05};
    memcpy(lm->coef, c, sizeof c);
}

TI_TEST(transformer_kind_matches_its_own_forward)
{
    ti_model *m = NULL;
    TI_CHECK_OK(ti_model_open(&m, RV_PATH, NULL));
    if (!m) return;
    const ti_model_info *mi = ti_model_get_info(m);
    TI_CHECK(strcmp(mi->kind, "transformer") == 0 && strcmp(mi->arch, "rv_causal") == 0);
    TI_CHECK(mi->per_step && mi->native_step && !mi->fixed_context && mi->n_features == 12);
    TI_CHECK(mi->n_inputs == 1 && strcmp(mi->inputs[0].name, "x") == 0 && mi->inputs[0].shape[1] == -1 &&
             mi->inputs[0].shape[2] == 12 && mi->outputs[0].ndim == 2);
    TI_CHECK(ti_model_has_norm(m) && ti_model_get_norm(m)->rv_scale > 0);
    enum { B = 3, T = 40, F = 12 };
    static float x[B * T * F], y[B * T], yref[B * T];
    fill(x, sizeof x / sizeof x[0], 1);
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, m, 4));
    TI_CHECK_OK(ti_ctx_forward(c, y, x, B, T, NULL));
    const ti_tfm *t = ti_tfm_of_model(m);
    TI_CHECK(t != NULL);
    ti_runstate *rs = NULL;
    TI_CHECK_OK(ti_runstate_create(&rs, t, 4, 0, 0));
    TI_CHECK_OK(ti_tfm_forward(t, rs, yref, x, B, T, NULL));
    TI_CHECK(memcmp(y, yref, sizeof y) == 0); /* the interface adds no arithmetic */
    TI_CHECK_ERR(ti_ctx_forward(c, y, x, 5, T, NULL), TI_ERR_INVALID_ARG, "batch 5 outside 1..4");
    TI_CHECK_ERR(ti_ctx_forward(c, y, x, 1, mi->context + 1, NULL), TI_ERR_INVALID_ARG, "takes 1..");
    /* native streaming: one row at a time equals the full causal forward's positions */
    ti_state *s = NULL;
    TI_CHECK_OK(ti_state_create(&s, m));
    double maxd = 0;
    for (int t0 = 0; t0 < T; t0++) {
        float ys;
        TI_CHECK_OK(ti_state_step(s, &ys, x + (size_t)t0 * F));
        maxd = fmax(maxd, fabs(ys - yref[t0]));
    }
    TI_CHECK_MSG(maxd < 1e-4, "stream steps differ from the forward by %g", maxd);
    TI_CHECK(ti_state_len(s) == T && ti_state_bytes(s) > 0);
    float bad[F];
    memcpy(bad, x, sizeof bad);
    bad[3] = NAN;
    float ys;
    TI_CHECK_ERR(ti_state_step(s, &ys, bad), TI_ERR_INVALID_ARG, "feature 3 is nan");
    ti_state_reset(s);
    TI_CHECK_OK(ti_state_step(s, &ys, x));
    TI_CHECK(fabsf(ys - yref[0]) < 1e-4f && ti_state_len(s) == 1);
    ti_state_destroy(s);
    ti_runstate_destroy(rs);
    ti_ctx_destroy(c);
    ti_model_free(m);
}

TI_TEST(fixed_window_kind_streams_through_the_adapter)
{
    ti_model *m = NULL;
    TI_CHECK_OK(ti_model_open(&m, TINY_PATH, NULL));
    if (!m) return;
    const ti_model_info *mi = ti_model_get_info(m);
    TI_CHECK(strcmp(mi->arch, "tinyrv") == 0 && mi->fixed_context && !mi->per_step && !mi->native_step);
    TI_CHECK(mi->inputs[0].shape[1] == mi->context && mi->outputs[0].ndim == 1);
    const int W = mi->context, F = mi->n_features, N = W + 3;
    float *x = malloc(sizeof(float) * (size_t)N * (size_t)F), y, yref;
    fill(x, (size_t)N * (size_t)F, 2);
    ti_state *s = NULL;
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_state_create(&s, m));
    TI_CHECK_OK(ti_ctx_create(&c, m, 1));
    int nan_until_full = 1;
    double maxd = 0;
    for (int t = 0; t < N; t++) {
        TI_CHECK_OK(ti_state_step(s, &y, x + (size_t)t * (size_t)F));
        if (t < W - 1) nan_until_full &= isnan(y);
        else { /* the window ending at t */
            TI_CHECK_OK(ti_ctx_forward(c, &yref, x + (size_t)(t - W + 1) * (size_t)F, 1, W, NULL));
            maxd = fmax(maxd, fabs(y - yref));
        }
    }
    TI_CHECK(nan_until_full);
    TI_CHECK_MSG(maxd == 0, "window adapter differs from the forward by %g", maxd);
    TI_CHECK_ERR(ti_ctx_forward(c, &yref, x, 1, W - 1, NULL), TI_ERR_INVALID_ARG, "takes exactly");
    ti_ctx_destroy(c);
    ti_state_destroy(s);
    ti_model_free(m);
    free(x);
}

TI_TEST(linear_kind_round_trips_and_predicts)
{
    ti_linear lm;
    har_like(&lm, 300);
    const char *p = tmp_path("har.safetensors");
    TI_CHECK_OK(ti_linear_save(&lm, p, NULL, 0.9f));
    ti_model *m = NULL;
    TI_CHECK_OK(ti_model_open(&m, p, NULL));
    if (!m) return;
    const ti_model_info *mi = ti_model_get_info(m);
    TI_CHECK(strcmp(mi->kind, "linear") == 0 && mi->context == 300 && mi->n_params == 5 && !ti_model_has_norm(m));
    TI_CHECK(fabsf(ti_model_get_norm(m)->rv_scale - 0.9f) < 1e-7f);
    enum { B = 2, T = 50, F = 12 };
    static float x[B * T * F], y[B];
    fill(x, sizeof x / sizeof x[0], 3);
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, m, B));
    TI_CHECK_OK(ti_ctx_forward(c, y, x, B, T, NULL));
    for (int b = 0; b < B; b++) { /* written out independently of linear.c */
        const float *xb = x + (size_t)b * T * F, *last = xb + (size_t)(T - 1) * F;
        double trades = 0;
        for (int t = 0; t < T; t++) trades += xb[(size_t)t * F + 3];
        double z = -0.5 + 0.6 * log(fmax(last[7], 1e-5)) + 0.2 * log(fmax(last[6], 1e-5)) +
                   0.1 * log(fmax(last[5], 1e-5)) + 0.05 * log1p(trades);
        TI_CHECK_MSG(fabs(y[b] - z) < 1e-5 * (1 + fabs(z)), "row %d: %g vs %g", b, y[b], z);
    }
    ti_ctx_destroy(c);
    /* no KV-cache step: the stream engine runs it through its window state, so a stream's
     * forecasts are the model's own ti_state's (and forking, a KV-cache feature, is refused) */
    ti_stream_engine *se = NULL;
    TI_CHECK_OK(ti_stream_engine_create_for(&se, m, NULL));
    ti_stream *ss = NULL, *kid = NULL;
    ti_state *st = NULL;
    if (se) TI_CHECK_OK(ti_stream_open(se, &ss, "A"));
    TI_CHECK_OK(ti_state_create(&st, m));
    for (int t = 0; ss && st && t < 2 * T; t++) {
        ti_forecast fc;
        float ys = 0;
        const float *row = x + (size_t)(t % T) * F;
        TI_CHECK_OK(ti_stream_push_features(ss, row, &fc));
        TI_CHECK_OK(ti_state_step(st, &ys, row));
        TI_CHECK_MSG(fc.y_log == ys && fc.t == t, "second %d: stream %g, state %g", t, fc.y_log, ys);
    }
    TI_CHECK(!ss || ti_stream_len(ss) == 2 * T);
    if (se && ss) TI_CHECK_ERR(ti_stream_fork(se, &kid, "B", ss), TI_ERR_UNSUPPORTED, "forking needs a KV-cache model");
    ti_state_destroy(st);
    ti_stream_close(ss);
    ti_stream_engine_destroy(se);
    ti_model_free(m);
    /* a bad term is named */
    lm.terms[1].feature = 40;
    char *json = NULL;
    TI_CHECK_OK(ti_linear_terms_to_json(&json, &lm));
    ti_linear back;
    TI_CHECK_ERR(ti_linear_terms_from_json(&back, json, "t"), TI_ERR_FORMAT, "term 1: feature must be 0..11");
    free(json);
}

TI_TEST(ensemble_equals_members_combined)
{
    ti_linear lm;
    har_like(&lm, 300);
    TI_CHECK_OK(ti_linear_save(&lm, tmp_path("m_har.safetensors"), NULL, 0.8f));
    char rv_abs[1024];
    TI_CHECK(realpath(RV_PATH, rv_abs) != NULL);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"kind\": \"ensemble\",\n"
             " \"members\": [{\"name\": \"causal\", \"path\": \"%s\"}, {\"name\": \"har\", \"path\": \"m_har.safetensors\"}],\n"
             " \"steps\": [{\"model\": \"har\", \"input_map\": {\"x\": \"x\"}, \"output_map\": {\"y\": \"y_h\"}},\n"
             "           {\"model\": \"causal\", \"input_map\": {\"x\": \"x\"}, \"output_map\": {\"y\": \"y_c\"}}],\n"
             " \"combiner\": {\"type\": \"weighted_average\", \"inputs\": [\"y_c\", \"y_h\"], \"weights\": [3, 1]}}\n",
             rv_abs);
    const char *ep = tmp_path("ens.json");
    TI_CHECK(write_text(ep, json) == 0);
    ti_model *e = NULL, *mc = NULL, *mh = NULL;
    TI_CHECK_OK(ti_model_open(&e, ep, NULL));
    TI_CHECK_OK(ti_model_open(&mc, RV_PATH, NULL));
    TI_CHECK_OK(ti_model_open(&mh, tmp_path("m_har.safetensors"), NULL));
    if (!e || !mc || !mh) return;
    const ti_model_info *ei = ti_model_get_info(e);
    TI_CHECK(strcmp(ei->kind, "ensemble") == 0 && !ei->per_step && ei->outputs[0].ndim == 1);
    TI_CHECK(ei->n_params == ti_model_get_info(mc)->n_params + 5 && ti_model_n_members(e) == 2);
    const char *nm = NULL;
    TI_CHECK(ti_model_member(e, 1, &nm) != NULL && strcmp(nm, "har") == 0);
    enum { B = 2, T = 30, F = 12 };
    static float x[B * T * F], xn[B * T * F], y[B], yc[B * T], yh[B];
    fill(x, sizeof x / sizeof x[0], 4);
    memcpy(xn, x, sizeof x);
    ti_model_normalise(mc, xn, (size_t)B * T); /* the causal member's own statistics */
    ti_ctx *c = NULL, *cc = NULL, *ch = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, e, B));
    TI_CHECK_OK(ti_ctx_create(&cc, mc, B));
    TI_CHECK_OK(ti_ctx_create(&ch, mh, B));
    TI_CHECK_OK(ti_ctx_forward(c, y, x, B, T, NULL));
    TI_CHECK_OK(ti_ctx_forward(cc, yc, xn, B, T, NULL));
    TI_CHECK_OK(ti_ctx_forward(ch, yh, x, B, T, NULL));
    /* steps at once on a pool: the same answer, bit for bit */
    ti_pool *pool = NULL;
    float y2[B];
    TI_CHECK_OK(ti_pool_create(&pool, 2));
    TI_CHECK_OK(ti_ctx_forward(c, y2, x, B, T, pool));
    TI_CHECK(memcmp(y, y2, sizeof y) == 0);
    uint64_t cnt = 0, ns = 0;
    TI_CHECK(ti_model_member_stats(e, 0, NULL, &cnt, &ns) != NULL && cnt == 2 && ns > 0);
    ti_pool_destroy(pool);
    const double lc = log(ti_model_get_norm(mc)->rv_scale), lh = log(0.8);
    for (int b = 0; b < B; b++) {
        double want = (3 * (yc[b * T + T - 1] + lc) + 1 * (yh[b] + lh)) / 4;
        TI_CHECK_MSG(fabs(y[b] - want) < 1e-5, "row %d: ensemble %g, members combined %g", b, y[b], want);
    }
    ti_ctx_destroy(c);
    ti_ctx_destroy(cc);
    ti_ctx_destroy(ch);
    ti_model_free(e);
    /* the bundled ensemble (models/rv_ensemble.json) opens with its fitted stacking combiner */
    TI_CHECK_OK(ti_model_open(&e, "models/rv_ensemble.json", NULL));
    if (e) {
        double w[TI_ENS_MAX_MEMBERS], bias = 0;
        TI_CHECK(ti_model_n_members(e) == 2 && ti_ensemble_combiner(ti_model_impl(e), w, &bias) == TI_ENS_LINEAR);
        TI_CHECK(w[0] > 0.5 && w[0] < 1.5 && isfinite(bias));
        TI_CHECK(strcmp(ti_model_get_info(ti_model_member(e, 1, NULL))->kind, "linear") == 0);
        ti_model_free(e);
    }
    ti_model_free(mc);
    ti_model_free(mh);
}

TI_TEST(bad_files_are_named)
{
    ti_model *m = NULL;
    const char *p = tmp_path("junk.bin");
    TI_CHECK(write_text(p, "this is not a model") == 0);
    TI_CHECK_ERR(ti_model_open(&m, p, NULL), TI_ERR_FORMAT, "not a model file tickinfer reads");
    TI_CHECK_ERR(ti_model_open(&m, tmp_path("absent.json"), NULL), TI_ERR_NOT_FOUND, "cannot open it");
    TI_CHECK_ERR(ti_model_open(&m, p, &(ti_model_opts){.kind = "tree"}), TI_ERR_INVALID_ARG, "unknown kind 'tree'");
    const char *cases[][2] = {
        {"{\"kind\": \"ensemble\", \"members\": []}", "must be an array of 1..8 models"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"nowhere.safetensors\"}], "
         "\"combiner\": {\"type\": \"linear\"}}",
         "member 'a'"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}], "
         "\"combiner\": {\"type\": \"median\"}}",
         "combiner.type must be"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}], "
         "\"combiner\": {\"type\": \"weighted_average\", \"weights\": [1, 2]}}",
         "combiner.weights must be 1"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}], \"steps\": "
         "[{\"model\": \"a\", \"input_map\": {\"x\": \"z\"}, \"output_map\": {\"y\": \"y_a\"}}], "
         "\"combiner\": {\"type\": \"linear\"}}",
         "members read the ensemble input 'x'"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}], "
         "\"combiner\": {\"type\": \"linear\", \"inputs\": [\"y_b\"]}}",
         "combiner input 'y_b' is no step's output"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}, "
         "{\"name\": \"t\", \"path\": \"" TINY_PATH "\"}], \"combiner\": {\"type\": \"linear\"}}",
         "member 't'"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"a\", \"path\": \"m_har.safetensors\"}, "
         "{\"name\": \"a\", \"path\": \"m_har.safetensors\"}], \"combiner\": {\"type\": \"linear\"}}",
         "member name 'a' used twice"},
        {"{\"kind\": \"ensemble\", \"members\": [", "line 1"},
        {"{\"kind\": \"ensemble\", \"members\": [{\"name\": \"me\", \"path\": \"bad_ens.json\"}], "
         "\"combiner\": {\"type\": \"linear\"}}",
         "nested deeper than 4"},
    };
    ti_linear lm;
    har_like(&lm, 300);
    TI_CHECK_OK(ti_linear_save(&lm, tmp_path("m_har.safetensors"), NULL, 1.0f));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ep = tmp_path("bad_ens.json");
        TI_CHECK(write_text(ep, cases[i][0]) == 0);
        ti_err err = ti_model_open(&m, ep, NULL);
        TI_CHECK_MSG(err != TI_OK && strstr(ti_errmsg(), cases[i][1]) != NULL, "case %zu: '%s' lacks '%s'", i,
                     err ? ti_errmsg() : "(ok)", cases[i][1]);
        if (!err) ti_model_free(m);
    }
}


static int write_npy(const char *path, const float *x, int ndim, const int64_t *shape, size_t n)
{
    char hdr[256];
    size_t hl = 0;
    if (ti_npy_header_f32(hdr, sizeof hdr, &hl, ndim, shape) != TI_OK) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(hdr, 1, hl, f) == hl && fwrite(x, sizeof(float), n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* `tickinfer predict` on raw NPY windows equals the in-process model with its own
 * normalisation (the ensemble and the transformer), and a bad input is named. */
TI_TEST(predict_cli_matches_in_process)
{
    char cli[1100];
    if (ti_test_find_cli(cli, sizeof cli) != 0) {
        TI_FAILF("no tickinfer CLI next to this test (build it: make all)");
        return;
    }
    enum { B = 4, T = 25, F = 12 };
    static float x[B * T * F], xn[B * T * F], y[B * T];
    fill(x, sizeof x / sizeof x[0], 9);
    const int64_t shape[3] = {B, T, F};
    const char *in = tmp_path("x.npy"), *out = tmp_path("y.npy");
    TI_CHECK(write_npy(in, x, 3, shape, sizeof x / sizeof x[0]) == 0);
    const char *models[2] = {RV_PATH, "models/rv_ensemble.json"};
    for (int k = 0; k < 2; k++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "'%s' predict --model %s --input %s --output %s --last -q 2>&1", cli, models[k], in, out);
        TI_CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
        char *buf = NULL;
        size_t len = 0;
        ti_npy_view v;
        TI_CHECK_OK(ti_read_file(out, 1 << 20, &buf, &len));
        TI_CHECK_OK(ti_npy_parse(&v, buf, len));
        TI_CHECK(v.ndim == 1 && v.shape[0] == B);
        float got[B];
        if (v.ndim == 1 && v.shape[0] == B) TI_CHECK_OK(ti_npy_to_f32(got, &v));
        free(buf);
        ti_model *m = NULL;
        ti_ctx *c = NULL;
        TI_CHECK_OK(ti_model_open(&m, models[k], NULL));
        if (!m) continue;
        TI_CHECK_OK(ti_ctx_create(&c, m, B));
        memcpy(xn, x, sizeof x);
        ti_model_normalise(m, xn, (size_t)B * T);
        TI_CHECK_OK(ti_ctx_forward(c, y, xn, B, T, NULL));
        const int per_step = ti_model_get_info(m)->per_step;
        for (int b = 0; b < B; b++) {
            const float want = per_step ? y[b * T + T - 1] : y[b];
            TI_CHECK_MSG(got[b] == want, "%s row %d: CLI %g, in-process %g", models[k], b, got[b], want);
        }
        ti_ctx_destroy(c);
        ti_model_free(m);
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' predict --model %s --input %s --output %s 2>&1", cli, RV_PATH, RV_PATH, out);
    FILE *p = popen(cmd, "r");
    char msg[512] = "";
    size_t n = p ? fread(msg, 1, sizeof msg - 1, p) : 0;
    msg[n] = '\0';
    TI_CHECK(p && pclose(p) != 0 && strstr(msg, "predict: " RV_PATH ": npy") != NULL);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_model_iface_%d", (int)getpid());
    mkdir(g_dir, 0700);
    TI_RUN(transformer_kind_matches_its_own_forward);
    TI_RUN(fixed_window_kind_streams_through_the_adapter);
    TI_RUN(linear_kind_round_trips_and_predicts);
    TI_RUN(ensemble_equals_members_combined);
    TI_RUN(bad_files_are_named);
    TI_RUN(predict_cli_matches_in_process);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return ti_test_summary();
}
