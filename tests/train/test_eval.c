/* Eval scores a model with its OWN normalisation on any dataset of the same features: the
 * bundled causal model (trained on the full 60-stock set) on the bundled 5-stock subset,
 * whose train statistics differ.  Checked against windows normalised by hand with the
 * model's statistics and run through the model directly. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/batch.h"
#include "tickinfer/dataset.h"
#include "tickinfer/features.h"
#include "tickinfer/fileio.h"
#include "tickinfer/ingest.h"
#include "tickinfer/model.h"
#include "tickinfer/train.h"

#define RV_PATH "models/rv_causal_optiver.safetensors"
#define N_CHECK 24

/* Eval's first n predictions on `split` equal the model run directly on windows normalised
 * by hand with the model's own statistics. */
static void check_by_hand(const ti_model *m, const ti_dataset *ds, ti_split split, int n_check)
{
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    const ti_model_norm *n = ti_model_get_norm(m);
    float pred[N_CHECK], y[N_CHECK];
    TI_CHECK_OK(ti_eval_predict(pred, y, m, ds, split, n_check, 1.0, NULL));
    const uint32_t *idx;
    size_t n_test = ti_dataset_split(ds, split, &idx);
    TI_CHECK(n_test >= (size_t)n_check);
    const int T = in->history_len, F = in->n_features;
    float *x = malloc(sizeof(float) * (size_t)T * (size_t)F), *yt = malloc(sizeof(float) * (size_t)T);
    ti_feat_state *fs = malloc(sizeof *fs);
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, m, 1));
    int same = 1;
    for (int i = 0; c && i < n_check && (size_t)i < n_test; i++) {
        ti_batch_bucket_features(x, fs, ds, idx[i], 0); /* raw */
        for (int t = 0; t < T; t++)
            for (int f = 0; f < F; f++) {
                float *v = &x[(size_t)t * (size_t)F + (size_t)f];
                *v = (*v - n->mean[f]) * (1.0f / n->std[f]);
            }
        TI_CHECK_OK(ti_ctx_forward(c, yt, x, 1, T, NULL));
        const float want = (float)exp((double)yt[T - 1]);
        if (pred[i] != want) {
            same = 0;
            TI_FAILF("bucket %d: eval %g, by hand %g", i, pred[i], want);
            break;
        }
    }
    TI_CHECK(same);
    ti_ctx_destroy(c);
    free(x), free(yt), free(fs);
}

static double max_norm_diff(const ti_dataset *ds, const ti_model *m)
{
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    const ti_model_norm *n = ti_model_get_norm(m);
    double d = 0;
    for (int f = 0; f < in->n_features; f++) d = fmax(d, fabs(in->norm.mean[f] - n->mean[f]) / n->std[f]);
    return d;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

TI_TEST(eval_uses_the_models_own_normalisation)
{
    struct stat sb;
    if (stat("data/optiver/trade_train.parquet", &sb) != 0) {
        TI_FAILF("bundled data/optiver/trade_train.parquet missing");
        return;
    }
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/ti_test_eval_%d", (int)getpid());
    ti_ingest_options io = {.source = "data/optiver/trade_train.parquet", .out_dir = dir, .n_threads = 1};
    ti_ingest_report rep;
    TI_CHECK_OK(ti_ingest(&io, &rep));
    ti_dataset *ds = NULL;
    ti_model *m = NULL;
    TI_CHECK_OK(ti_dataset_open(&ds, dir, 0));
    TI_CHECK_OK(ti_model_open(&m, RV_PATH, NULL));
    if (!ds || !m) return;
    /* the premise: the subset's statistics are not the model's */
    const double maxdiff = max_norm_diff(ds, m);
    TI_CHECK_MSG(maxdiff > 1e-3, "dataset and model statistics agree (%g): the test proves nothing", maxdiff);
    check_by_hand(m, ds, TI_SPLIT_TEST, N_CHECK);
    ti_model_free(m);
    ti_dataset_close(ds);
    rm_rf(dir);
}

/* Issue 18's out-of-sample check: a model trained on the train stocks of a stock-split
 * dataset scores a dataset built from the held-out stocks alone (its own, different
 * statistics) exactly as the same model run by hand with its training statistics. */
TI_TEST(model_trained_on_some_stocks_scores_a_dataset_of_others)
{
    char root[128], dsa[200], out[200], hv[200], dsb[200], model[260];
    snprintf(root, sizeof root, "/tmp/ti_test_eval_stocks_%d", (int)getpid());
    snprintf(dsa, sizeof dsa, "%s/all", root);
    snprintf(out, sizeof out, "%s/run", root);
    snprintf(hv, sizeof hv, "%s/heldout/trade_train.parquet", root);
    snprintf(dsb, sizeof dsb, "%s/heldout_ds", root);
    snprintf(model, sizeof model, "%s/last.safetensors", out);
    TI_CHECK_OK(ti_mkdirs(hv));
    ti_ingest_options io = {.source = "data/optiver/trade_train.parquet", .out_dir = dsa, .n_threads = 2, .split_by = TI_SPLIT_BY_STOCK};
    ti_ingest_report rep;
    TI_CHECK_OK(ti_ingest(&io, &rep));
    ti_dataset *da = NULL;
    TI_CHECK_OK(ti_dataset_open(&da, dsa, 0));
    if (!da) return;
    /* the held-out universe: every stock the split kept out of train */
    const ti_dataset_info *ia = ti_dataset_get_info(da);
    int n_held = 0;
    for (int s = 0; s < ia->n_shards; s++) {
        int in_train = 0;
        for (size_t i = 0; i < ti_dataset_num_buckets(da); i++) {
            const ti_shard_bucket *r = ti_dataset_record(da, i);
            if (r->stock_id == ia->shards[s].symbol_id && r->split == TI_SPLIT_TRAIN) in_train = 1;
        }
        if (in_train) continue;
        char link[300], target[300], cwd[200];
        TI_CHECK(getcwd(cwd, sizeof cwd) != NULL);
        snprintf(target, sizeof target, "%s/data/optiver/trade_train.parquet/stock_id=%d", cwd, ia->shards[s].symbol_id);
        snprintf(link, sizeof link, "%s/stock_id=%d", hv, ia->shards[s].symbol_id);
        TI_CHECK(symlink(target, link) == 0);
        n_held++;
    }
    ti_dataset_close(da);
    TI_CHECK(n_held == 2);
    ti_train_config c;
    ti_train_config_default(&c);
    c.dataset = dsa, c.out_dir = out;
    c.model.d_model = 16, c.model.n_heads = 2, c.model.n_layers = 1, c.model.d_ff = 32;
    c.batch_size = 8, c.max_steps = 20, c.warmup_steps = 5, c.lr = 3e-3f, c.eval_every = 10, c.eval_max = 32, c.threads = 2, c.progress = 0;
    ti_train_report tr;
    TI_CHECK_OK(ti_train(&c, &tr));
    io.source = hv, io.out_dir = dsb, io.split_by = TI_SPLIT_BY_BUCKET;
    TI_CHECK_OK(ti_ingest(&io, &rep));
    ti_dataset *db = NULL;
    ti_model *m = NULL;
    TI_CHECK_OK(ti_dataset_open(&db, dsb, 0));
    TI_CHECK_OK(ti_model_open(&m, model, NULL));
    if (db && m) {
        const double d = max_norm_diff(db, m);
        TI_CHECK_MSG(d > 1e-3, "held-out and training statistics agree (%g): the test proves nothing", d);
        for (int s = 0; s < TI_SPLIT__COUNT; s++) check_by_hand(m, db, (ti_split)s, N_CHECK);
    }
    ti_model_free(m);
    ti_dataset_close(db);
    rm_rf(root);
}

int main(void)
{
    TI_RUN(eval_uses_the_models_own_normalisation);
    TI_RUN(model_trained_on_some_stocks_scores_a_dataset_of_others);
    return ti_test_summary();
}
