/* JSON training configs -> ti_train_config (keys in docs/training.md). */
#include <stdio.h>
#include <string.h>

#include "tickinfer/config.h"
#include "tickinfer/train.h"

static const char *const k_root[] = {"dataset", "out", "model", "train", NULL};
static const char *const k_model[] = {"kind", "d_model", "n_heads", "n_layers", "d_ff", "activation", NULL};
static const char *const k_train[] = {"batch_size", "epochs", "max_steps", "lr", "min_lr_frac", "weight_decay", "beta1", "beta2",
                                      "grad_clip", "warmup_steps", "loss", "warm", "seed", "threads", "eval_every", "eval_max", NULL};

/* Copy s into the caller's string area; NULL when it does not fit. */
static const char *keep(char **area, size_t *cap, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > *cap) return NULL;
    memcpy(*area, s, n);
    const char *r = *area;
    *area += n, *cap -= n;
    return r;
}

#define GET_I(path, field)                                                     \
    do {                                                                       \
        int64_t v_;                                                            \
        if (!e) e = ti_config_get_int(cfg, path, (int64_t)(field), &v_);       \
        if (!e) field = v_;                                                    \
    } while (0)
#define GET_F(path, field)                                                     \
    do {                                                                       \
        double v_;                                                             \
        if (!e) e = ti_config_get_double(cfg, path, (double)(field), &v_);     \
        if (!e) field = (float)v_;                                             \
    } while (0)

ti_err ti_train_config_load(ti_train_config *c, const char *path, char *strings, size_t strings_cap)
{
    ti_config *cfg = NULL;
    ti_err e = ti_config_load(&cfg, path);
    if (e) return e;
    e = ti_config_check_keys(cfg, "", k_root);
    if (!e) e = ti_config_check_keys(cfg, "model", k_model);
    if (!e) e = ti_config_check_keys(cfg, "train", k_train);
    const char *s = NULL;
    if (!e) e = ti_config_get_string(cfg, "dataset", NULL, &s);
    if (!e && s && !(c->dataset = keep(&strings, &strings_cap, s))) e = ti_errorf(TI_ERR_LIMIT, "config %s: 'dataset' path too long", path);
    if (!e) e = ti_config_get_string(cfg, "out", NULL, &s);
    if (!e && s && !(c->out_dir = keep(&strings, &strings_cap, s))) e = ti_errorf(TI_ERR_LIMIT, "config %s: 'out' path too long", path);
    if (!e) e = ti_config_get_string(cfg, "model.kind", ti_tfm_arch_name(c->model.kind), &s);
    if (!e) {
        ti_tfm_arch kind;
        e = ti_tfm_arch_parse(&kind, s);
        if (!e && kind != c->model.kind) ti_tfm_config_default(&c->model, kind);
    }
    GET_I("model.d_model", c->model.d_model);
    GET_I("model.n_heads", c->model.n_heads);
    GET_I("model.n_layers", c->model.n_layers);
    GET_I("model.d_ff", c->model.d_ff);
    if (!e) e = ti_config_get_string(cfg, "model.activation", ti_tfm_act_name(c->model.activation), &s);
    if (!e) e = ti_tfm_act_parse(&c->model.activation, s);
    GET_I("train.batch_size", c->batch_size);
    GET_I("train.epochs", c->epochs);
    GET_I("train.max_steps", c->max_steps);
    GET_F("train.lr", c->lr);
    GET_F("train.min_lr_frac", c->min_lr_frac);
    GET_F("train.weight_decay", c->weight_decay);
    GET_F("train.beta1", c->beta1);
    GET_F("train.beta2", c->beta2);
    GET_F("train.grad_clip", c->grad_clip);
    GET_I("train.warmup_steps", c->warmup_steps);
    GET_I("train.warm", c->warm);
    GET_I("train.seed", c->seed);
    GET_I("train.threads", c->threads);
    GET_I("train.eval_every", c->eval_every);
    GET_I("train.eval_max", c->eval_max);
    if (!e) e = ti_config_get_string(cfg, "train.loss", c->loss == TI_LOSS_RMSPE ? "rmspe" : "mse_log", &s);
    if (!e) {
        if (strcmp(s, "mse_log") == 0) c->loss = TI_LOSS_MSE_LOG;
        else if (strcmp(s, "rmspe") == 0) c->loss = TI_LOSS_RMSPE;
        else e = ti_errorf(TI_ERR_FORMAT, "config %s: train.loss '%s' must be 'mse_log' or 'rmspe'", path, s);
    }
    ti_config_destroy(cfg);
    return e;
}
