/* Trainer: learns, is deterministic given the seed, and resumes exactly after a stop. */
#include <unistd.h>

#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/ingest.h"
#include "tickinfer/train.h"

static char g_tmp[256], g_ds[300];

static void cfg_of(ti_train_config *c, const char *out, int64_t steps)
{
    ti_train_config_default(c);
    c->dataset = g_ds;
    c->out_dir = out;
    c->model.d_model = 16, c->model.n_heads = 2, c->model.n_layers = 1, c->model.d_ff = 32;
    c->batch_size = 8, c->max_steps = steps, c->warmup_steps = 5, c->lr = 3e-3f;
    c->eval_every = 10, c->eval_max = 64, c->threads = 2, c->progress = 0;
}

static ti_err load_params(float **out, size_t *n, const char *path)
{
    ti_tfm *m = NULL;
    ti_tfm_load_opts lo = {.no_pack = 1};
    ti_err e = ti_tfm_load(&m, NULL, path, &lo);
    if (e) return e;
    *n = ti_tfm_n_params(m);
    *out = malloc(*n * sizeof(float));
    memcpy(*out, ti_tfm_params(m), *n * sizeof(float));
    ti_tfm_destroy(m);
    return TI_OK;
}

TI_TEST(learns_and_is_deterministic)
{
    char a[512], b[512], pa[600], pb[600];
    snprintf(a, sizeof a, "%s/a", g_tmp);
    snprintf(b, sizeof b, "%s/b", g_tmp);
    ti_train_config c;
    ti_train_report ra, rb;
    cfg_of(&c, a, 40);
    TI_CHECK_OK(ti_train(&c, &ra));
    cfg_of(&c, b, 40);
    TI_CHECK_OK(ti_train(&c, &rb));
    TI_CHECK(ra.steps == 40 && isfinite(ra.best_val_rmspe) && ra.best_val_rmspe < 1.0);
    TI_CHECK(ra.final_train_loss == rb.final_train_loss);
    snprintf(pa, sizeof pa, "%s/last.safetensors", a);
    snprintf(pb, sizeof pb, "%s/last.safetensors", b);
    float *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    TI_CHECK_OK(load_params(&x, &nx, pa));
    TI_CHECK_OK(load_params(&y, &ny, pb));
    TI_CHECK(x && y && nx == ny && memcmp(x, y, nx * sizeof(float)) == 0);
    free(x);
    free(y);
    /* Training lowers the loss: 40 more steps from the same seed end lower. */
    ti_train_report rc;
    char d[512];
    snprintf(d, sizeof d, "%s/long", g_tmp);
    cfg_of(&c, d, 120);
    TI_CHECK_OK(ti_train(&c, &rc));
    TI_CHECK_MSG(rc.final_train_loss < ra.final_train_loss, "loss after 120 steps %g, after 40 %g", rc.final_train_loss,
                 ra.final_train_loss);
}

TI_TEST(resume_matches_an_uninterrupted_run)
{
    char full[512], part[512], pf[600], pp[600];
    snprintf(full, sizeof full, "%s/full", g_tmp);
    snprintf(part, sizeof part, "%s/part", g_tmp);
    ti_train_config c;
    ti_train_report r;
    cfg_of(&c, full, 40);
    TI_CHECK_OK(ti_train(&c, &r));
    /* "Killed" after 20 steps (the state is saved at step 20), then resumed to 40. */
    cfg_of(&c, part, 40);
    c.stop_after = 20;
    TI_CHECK_OK(ti_train(&c, &r));
    TI_CHECK(r.steps == 20);
    cfg_of(&c, part, 40);
    c.resume = 1;
    TI_CHECK_OK(ti_train(&c, &r));
    TI_CHECK(r.steps == 40);
    snprintf(pf, sizeof pf, "%s/last.safetensors", full);
    snprintf(pp, sizeof pp, "%s/last.safetensors", part);
    float *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    TI_CHECK_OK(load_params(&x, &nx, pf));
    TI_CHECK_OK(load_params(&y, &ny, pp));
    TI_CHECK(x && y && nx == ny && memcmp(x, y, nx * sizeof(float)) == 0);
    free(x);
    free(y);
}

TI_TEST(bad_config_is_refused)
{
    ti_train_config c;
    ti_train_report r;
    char o[512];
    snprintf(o, sizeof o, "%s/bad", g_tmp);
    cfg_of(&c, o, 10);
    c.lr = 0;
    TI_CHECK_ERR(ti_train(&c, &r), TI_ERR_INVALID_ARG, "lr");
    cfg_of(&c, o, 10);
    c.model.n_heads = 5;
    TI_CHECK_ERR(ti_train(&c, &r), TI_ERR_INVALID_ARG, "n_heads");
    char cfgp[600];
    snprintf(cfgp, sizeof cfgp, "%s/c.json", g_tmp);
    const char *txt = "{\"dataset\": \"x\", \"train\": {\"lrr\": 0.1}}";
    TI_CHECK_OK(ti_write_file_atomic(cfgp, txt, strlen(txt)));
    char strings[1024];
    TI_CHECK_ERR(ti_train_config_load(&c, cfgp, strings, sizeof strings), TI_ERR_FORMAT, "lrr");
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ti_test_trainer_%d", (int)getpid());
    snprintf(g_ds, sizeof g_ds, "%s/ds", g_tmp);
    ti_mkdirs(g_tmp);
    ti_ingest_options o = {.source = "sim:2:60:3", .out_dir = g_ds};
    ti_ingest_report rep;
    if (ti_ingest(&o, &rep) != TI_OK) {
        printf("setup failed: %s\n", ti_errmsg());
        return 1;
    }
    TI_RUN(learns_and_is_deterministic);
    TI_RUN(resume_matches_an_uninterrupted_run);
    TI_RUN(bad_config_is_refused);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return ti_test_summary();
}
