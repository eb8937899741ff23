/* tickinfer train: AdamW + warmup/cosine + clipping over dataset batches, best-on-val
 * checkpoints and resumable state.  See include/tickinfer/train.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tickinfer/baseline.h"
#include "tickinfer/batch.h"
#include "tickinfer/clock.h"
#include "tickinfer/fileio.h"
#include "tickinfer/kernels.h"
#include "tickinfer/progress.h"
#include "tickinfer/train.h"

#define STATE_MAGIC "TITRAIN1"
#define LOG_FLOOR 1e-5f
#define SCALE_FIT_N 8192

void ti_train_config_default(ti_train_config *c)
{
    memset(c, 0, sizeof *c);
    ti_tfm_config_default(&c->model, TI_TFM_RV_CAUSAL);
    c->batch_size = 32;
    c->epochs = 1;
    c->lr = 1e-3f;
    c->min_lr_frac = 0.1f;
    c->weight_decay = 0.01f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->grad_clip = 1.0f;
    c->warmup_steps = 100;
    c->loss = TI_LOSS_MSE_LOG;
    c->warm = 30;
    c->seed = 1;
    c->eval_max = 0;
    c->progress = 1;
}

/* Resumable optimiser state: header + m + v, CRC-32C at the end. */
typedef struct state_header {
    char magic[8];
    uint64_t n_params;
    int64_t step, epoch, pos, best_step;
    double best_val;
} state_header;

static ti_err save_state(const char *path, const state_header *h, const float *m, const float *v)
{
    ti_atomic_file *f = NULL;
    ti_err e = ti_atomic_open(&f, path);
    if (e) return e;
    size_t bytes = h->n_params * sizeof(float);
    uint32_t crc = ti_crc32c(ti_crc32c(ti_crc32c(0, h, sizeof *h), m, bytes), v, bytes);
    e = ti_atomic_write(f, h, sizeof *h);
    if (!e) e = ti_atomic_write(f, m, bytes);
    if (!e) e = ti_atomic_write(f, v, bytes);
    if (!e) e = ti_atomic_write(f, &crc, sizeof crc);
    if (e) {
        ti_atomic_abort(f);
        return e;
    }
    return ti_atomic_commit(f);
}

static ti_err load_state(const char *path, state_header *h, float *m, float *v, size_t n_params)
{
    char *d = NULL;
    size_t len = 0;
    ti_err e = ti_read_file(path, 0, &d, &len);
    if (e) return e;
    size_t bytes = n_params * sizeof(float), want = sizeof *h + 2 * bytes + 4;
    if (len != want) e = ti_errorf(TI_ERR_CORRUPT, "train: %s is %zu bytes, expected %zu (different model?)", path, len, want);
    if (!e) {
        memcpy(h, d, sizeof *h);
        uint32_t crc;
        memcpy(&crc, d + len - 4, 4);
        if (memcmp(h->magic, STATE_MAGIC, 8) != 0 || h->n_params != n_params)
            e = ti_errorf(TI_ERR_FORMAT, "train: %s is not a training state of this model", path);
        else if (ti_crc32c(0, d, len - 4) != crc)
            e = ti_errorf(TI_ERR_CORRUPT, "train: %s checksum mismatch", path);
    }
    if (!e) {
        memcpy(m, d + sizeof *h, bytes);
        memcpy(v, d + sizeof *h + bytes, bytes);
    }
    free(d);
    return e;
}

static float lr_at(const ti_train_config *c, int64_t step, int64_t total)
{
    if (step < c->warmup_steps) return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    double p = total > c->warmup_steps ? (double)(step - c->warmup_steps) / (double)(total - c->warmup_steps) : 1.0;
    if (p > 1) p = 1;
    double lo = c->lr * c->min_lr_frac;
    return (float)(lo + 0.5 * (c->lr - lo) * (1 + cos(M_PI * p)));
}

/* Loss and dL/dy of one batch.  y: model output; returns the mean loss. */
static double loss_and_grad(float *dy, const float *y, const ti_batch *bt, const ti_train_config *c, int causal)
{
    const int B = bt->n, T = bt->T;
    double loss = 0;
    if (!causal) {
        for (int r = 0; r < B; r++) {
            double t = log(fmax(bt->y[r], LOG_FLOOR));
            if (c->loss == TI_LOSS_MSE_LOG) {
                double d = y[r] - t;
                loss += d * d;
                dy[r] = (float)(2 * d / B);
            } else {
                double yh = exp(y[r]), e = (bt->y[r] - yh) / bt->y[r];
                loss += e * e;
                dy[r] = (float)(-2 * e / bt->y[r] * yh / B);
            }
        }
        return loss / B;
    }
    memset(dy, 0, sizeof(float) * (size_t)B * T);
    const int warm = c->warm < T ? c->warm : T - 1;
    const double npos = (double)B * (T - warm);
    for (int r = 0; r < B; r++)
        for (int t = warm; t < T; t++) {
            size_t i = (size_t)r * T + t;
            double d = y[i] - log(fmax(bt->y_seq[i], LOG_FLOOR));
            loss += d * d;
            dy[i] = (float)(2 * d / npos);
        }
    return loss / npos;
}

static double clip_grads(float *g, size_t n, float max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double norm = sqrt(s);
    if (max_norm > 0 && norm > max_norm) {
        float k = (float)(max_norm / (norm + 1e-12));
        for (size_t i = 0; i < n; i++) g[i] *= k;
    }
    return norm;
}

static double val_rmspe(const ti_tfm *m, const ti_dataset *ds, const ti_train_config *c, ti_pool *pool, double *scale_out)
{
    const uint32_t *idx;
    size_t n = ti_dataset_split(ds, TI_SPLIT_VAL, &idx);
    if (c->eval_max > 0 && (size_t)c->eval_max < n) n = (size_t)c->eval_max;
    double scale = 1;
    float *p = malloc(sizeof(float) * (n + 1)), *y = malloc(sizeof(float) * (n + 1));
    double r = NAN;
    /* a view of the model being trained, normalised as it is trained: the dataset's train statistics */
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    const ti_ckpt_meta norm = {.n_features = in->n_features, .mean = (float *)(uintptr_t)in->norm.mean,
                               .std = (float *)(uintptr_t)in->norm.std};
    ti_model *gm = NULL;
    if (p && y && !ti_model_borrow_tfm(&gm, m, &norm) && !ti_eval_fit_scale(&scale, gm, ds, SCALE_FIT_N, pool) &&
        !ti_eval_predict(p, y, gm, ds, TI_SPLIT_VAL, (int64_t)n, scale, pool))
        r = ti_rmspe(y, p, n);
    ti_model_free(gm);
    free(p);
    free(y);
    *scale_out = scale;
    return r;
}

static ti_err save_model(const ti_tfm *m, const char *path, const ti_dataset_info *in, int64_t step, double val, double scale)
{
    const char *names[TI_FEAT_DATASET_MAX];
    for (int f = 0; f < in->n_features; f++) names[f] = in->feature_names[f];
    char s_step[32], s_val[32], s_scale[32];
    snprintf(s_step, sizeof s_step, "%lld", (long long)step);
    snprintf(s_val, sizeof s_val, "%.6f", val);
    snprintf(s_scale, sizeof s_scale, "%.9g", scale);
    const char *keys[] = {"step", "val_rmspe", "rv_scale", "dataset"};
    const char *vals[] = {s_step, s_val, s_scale, in->source};
    ti_ckpt_data d = {in->n_features, names, in->norm.mean, in->norm.std, 4, keys, vals};
    return ti_tfm_save(m, path, &d);
}

ti_err ti_train(const ti_train_config *c, ti_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->best_val_rmspe = INFINITY;
    if (!c->dataset || !c->out_dir) return ti_errorf(TI_ERR_INVALID_ARG, "train: dataset and out_dir are required");
    if (c->batch_size < 1 || c->lr <= 0 || c->warmup_steps < 1 || (c->max_steps <= 0 && c->epochs < 1))
        return ti_errorf(TI_ERR_INVALID_ARG, "train: need batch_size >= 1, lr > 0, warmup_steps >= 1 and epochs or max_steps >= 1");
    ti_dataset *ds = NULL;
    ti_err e = ti_dataset_open(&ds, c->dataset, 0);
    if (e) return e;
    const ti_dataset_info *in = ti_dataset_get_info(ds);
    ti_tfm_config mc = c->model;
    mc.n_features = in->n_features;
    mc.context = in->history_len;
    const int causal = mc.kind == TI_TFM_RV_CAUSAL, T = in->history_len;
    ti_tfm *m = NULL;
    ti_pool *pool = NULL;
    ti_runstate *rs = NULL;
    ti_batcher *b = NULL;
    float *grads = NULL, *am = NULL, *av = NULL, *y = NULL, *dy = NULL;
    ti_progress *pr = NULL;
    char path[4096], state_path[4096], best_path[4096];
    e = ti_tfm_create(&m, &mc);
    if (!e) e = ti_mkdirs(c->out_dir);
    if (!e) e = ti_pool_create(&pool, c->threads);
    if (e) goto done;
    ti_tfm_init(m, c->seed);
    const size_t np = ti_tfm_n_params(m);
    {
        /* Start the output at the mean train log-RV (about -7) instead of 0, so the first
         * hundred steps are not spent learning a constant. */
        const ti_tfm_tensor *hb = ti_tfm_find_tensor(m, "head.1.bias");
        const uint32_t *tr;
        size_t ntr = ti_dataset_split(ds, TI_SPLIT_TRAIN, &tr);
        double s = 0;
        for (size_t i = 0; i < ntr; i++) s += log(fmax(ti_dataset_record(ds, tr[i])->target_rv, LOG_FLOOR));
        if (hb && ntr) ti_tfm_params_mut(m)[hb->offset] = (float)(s / (double)ntr);
    }
    ti_batch_config bc = {.split = TI_SPLIT_TRAIN, .batch_size = c->batch_size, .seed = c->seed, .shuffle = 1, .drop_last = 1,
                          .seq_targets = causal, .normalize = 1};
    e = ti_batcher_create(&b, ds, &bc, pool);
    if (!e) e = ti_runstate_create(&rs, m, c->batch_size, T, TI_RS_TRAINING);
    if (e) goto done;
    grads = calloc(np, sizeof(float));
    am = calloc(np, sizeof(float));
    av = calloc(np, sizeof(float));
    y = malloc(sizeof(float) * (size_t)c->batch_size * T);
    dy = malloc(sizeof(float) * (size_t)c->batch_size * T);
    if (!grads || !am || !av || !y || !dy) {
        e = ti_errorf(TI_ERR_NOMEM, "train: out of memory for %zu parameters", np);
        goto done;
    }
    snprintf(path, sizeof path, "%s/last.safetensors", c->out_dir);
    snprintf(state_path, sizeof state_path, "%s/last.state", c->out_dir);
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", c->out_dir);
    const int64_t per_epoch = ti_batcher_epoch_batches(b);
    const int64_t total = c->max_steps > 0 ? c->max_steps : per_epoch * c->epochs;
    const int eval_every = c->eval_every > 0 ? c->eval_every : (int)per_epoch;
    int64_t step = 0, best_step = -1;
    double best = INFINITY;
    struct stat st;
    if (c->resume && stat(state_path, &st) == 0) {
        /* Weights from last.safetensors, moments + cursor from last.state. */
        ti_tfm *lm = NULL;
        ti_tfm_load_opts lo = {.config = &mc, .no_pack = 1};
        e = ti_tfm_load(&lm, NULL, path, &lo);
        if (!e) {
            memcpy(ti_tfm_params_mut(m), ti_tfm_params(lm), np * sizeof(float));
            ti_tfm_destroy(lm);
            state_header h;
            e = load_state(state_path, &h, am, av, np);
            if (!e) e = ti_batcher_set_cursor(b, (ti_batch_cursor){h.epoch, h.pos});
            step = h.step, best = h.best_val, best_step = h.best_step;
        }
        if (e) goto done;
        fprintf(stderr, "train: resumed at step %lld (best val RMSPE %.4f)\n", (long long)step, best);
    }
    const ti_kernels *k = ti_tfm_kernels(m);
    float *params = ti_tfm_params_mut(m);
    if (c->progress) pr = ti_progress_start("train", "steps", (uint64_t)total);
    ti_progress_add(pr, (uint64_t)step);
    const double t0 = ti_now_s();
    const int64_t step0 = step;
    double ema = NAN;
    const int64_t stop = c->stop_after > 0 && c->stop_after < total ? c->stop_after : total;
    while (step < stop) {
        ti_batch *bt;
        int epoch_done;
        ti_batcher_next(b, &bt, &epoch_done);
        e = ti_tfm_forward(m, rs, y, bt->x, bt->n, T, pool);
        if (e) break;
        double loss = loss_and_grad(dy, y, bt, c, causal);
        if (!isfinite(loss)) {
            e = ti_errorf(TI_ERR_RANGE, "train: loss became %g at step %lld (lower lr?)", loss, (long long)step);
            break;
        }
        ema = isnan(ema) ? loss : 0.98 * ema + 0.02 * loss;
        memset(grads, 0, np * sizeof(float));
        e = ti_tfm_backward(m, rs, grads, NULL, dy, pool);
        if (e) break;
        clip_grads(grads, np, c->grad_clip);
        ti_adamw_cfg ac = {lr_at(c, step, total), c->beta1, c->beta2, c->eps, c->weight_decay};
        for (size_t i = 0; i < ti_tfm_tensor_count(m); i++) {
            const ti_tfm_tensor *t = ti_tfm_tensor_at(m, i);
            ti_adamw_cfg tc = ac;
            if (!t->decay) tc.weight_decay = 0;
            k->adamw_step(params + t->offset, am + t->offset, av + t->offset, grads + t->offset, t->numel, &tc, (int)(step + 1));
        }
        step++;
        ti_progress_add(pr, 1);
        char note[96];
        snprintf(note, sizeof note, "loss %.4f lr %.2e best val %.4f", ema, ac.lr, best);
        ti_progress_set_note(pr, note);
        if (step % eval_every == 0 || step == stop) {
            double scale = 1, v = val_rmspe(m, ds, c, pool, &scale);
            if (v < best) {
                best = v, best_step = step;
                e = save_model(m, best_path, in, step, v, scale);
            }
            ti_batch_cursor cur = ti_batcher_get_cursor(b);
            state_header h = {.n_params = np, .step = step, .epoch = cur.epoch, .pos = cur.pos, .best_step = best_step, .best_val = best};
            memcpy(h.magic, STATE_MAGIC, 8);
            if (!e) e = save_model(m, path, in, step, v, scale);
            if (!e) e = save_state(state_path, &h, am, av);
            if (e) break;
        }
    }
    ti_progress_finish(pr);
    rep->steps = step;
    rep->seconds = ti_now_s() - t0;
    rep->samples_per_s = rep->seconds > 0 ? (double)(step - step0) * c->batch_size / rep->seconds : 0;
    rep->best_val_rmspe = best;
    rep->best_step = best_step;
    rep->final_train_loss = ema;
done:
    free(grads);
    free(am);
    free(av);
    free(y);
    free(dy);
    ti_batcher_destroy(b);
    ti_runstate_destroy(rs);
    ti_tfm_destroy(m);
    ti_pool_destroy(pool);
    ti_dataset_close(ds);
    return e;
}
