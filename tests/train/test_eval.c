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
#include "tickinfer/ingest.h"
#include "tickinfer/model.h"
#include "tickinfer/train.h"

#define RV_PATH "models/rv_causal_optiver.safetensors"
#define N_CHECK 24

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
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    const ti_model_norm *n = ti_model_get_norm(m);
    /* the premise: the subset's statistics are not the model's */
    double maxdiff = 0;
    for (int f = 0; f < in->n_features; f++) maxdiff = fmax(maxdiff, fabs(in->norm.mean[f] - n->mean[f]) / n->std[f]);
    TI_CHECK_MSG(maxdiff > 1e-3, "dataset and model statistics agree (%g): the test proves nothing", maxdiff);
    float pred[N_CHECK], y[N_CHECK];
    TI_CHECK_OK(ti_eval_predict(pred, y, m, ds, TI_SPLIT_TEST, N_CHECK, 1.0, NULL));
    const uint32_t *idx;
    size_t n_test = ti_dataset_split(ds, TI_SPLIT_TEST, &idx);
    TI_CHECK(n_test >= N_CHECK);
    const int T = in->history_len, F = in->n_features;
    float *x = malloc(sizeof(float) * (size_t)T * (size_t)F), *yt = malloc(sizeof(float) * (size_t)T);
    ti_feat_state *fs = malloc(sizeof *fs);
    ti_ctx *c = NULL;
    TI_CHECK_OK(ti_ctx_create(&c, m, 1));
    int same = 1;
    for (int i = 0; c && i < N_CHECK && (size_t)i < n_test; i++) {
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
    ti_model_free(m);
    ti_dataset_close(ds);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    TI_RUN(eval_uses_the_models_own_normalisation);
    return ti_test_summary();
}
