/* Model configs, tensor table, init, run-state argument checks, and checkpoints: save/load
 * round trip with metadata, loading the seed's .pt, and every way a checkpoint can
 * disagree with its config (missing / extra / misshapen / non-float / non-finite tensor). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/transformer.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/torch_pt.h"

#define SEED_PT "tests/model/data/seed_rv_tiny/best.pt"

static char g_dir[64];

static void small_config(ti_tfm_config *c, ti_tfm_arch kind)
{
    ti_tfm_config_default(c, kind);
    c->n_features = 5, c->context = 12, c->d_model = 16, c->n_heads = 2, c->n_layers = 2, c->d_ff = 24;
}

static const char *tmp_path(const char *name)
{
    static char buf[4][160];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, 160, "%s/%s", g_dir, name);
    return p;
}

/* ---- config --------------------------------------------------------------------------- */

TI_TEST(config_defaults_are_the_reference_shapes)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, TI_TFM_TINYRV);
    TI_CHECK_OK(ti_tfm_config_validate(&c));
    TI_CHECK(c.n_features == 14 && c.context == 600 && c.d_model == 128 && c.n_heads == 4 && c.n_layers == 3 &&
             c.d_ff == 256 && c.activation == TI_ACT_RELU);
    TI_CHECK(ti_tfm_config_n_params(&c) == 476801); /* the seed's parameter count */
    ti_tfm_config_default(&c, TI_TFM_RV_CAUSAL);
    TI_CHECK_OK(ti_tfm_config_validate(&c));
    TI_CHECK(c.activation == TI_ACT_GELU_TANH && c.context == 4096);
}

TI_TEST(config_validation_names_the_field)
{
    ti_tfm_config c;
    ti_tfm_config_default(&c, TI_TFM_TINYRV);
    c.d_model = 100, c.n_heads = 3;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "d_model 100 is not a multiple of n_heads 3");
    c.d_model = 512, c.n_heads = 2;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_LIMIT, "head dim");
    ti_tfm_config_default(&c, TI_TFM_TINYRV);
    c.n_layers = 0;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "n_layers 0 must be >= 1");
    c.n_layers = 3, c.context = TI_MODEL_MAX_CONTEXT + 1;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_LIMIT, "context");
    c.context = 600, c.activation = TI_ACT_NONE;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "activation");
    c.activation = TI_ACT_RELU, c.ln_eps = 0.0f;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "ln_eps");
    c.ln_eps = NAN;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "ln_eps");
    c.ln_eps = 1e-5f, c.kind = (ti_tfm_arch)7;
    TI_CHECK_ERR(ti_tfm_config_validate(&c), TI_ERR_INVALID_ARG, "kind 7");
    TI_CHECK(ti_tfm_config_n_params(&c) == 0);
}

TI_TEST(config_json_round_trip_and_errors)
{
    ti_tfm_config c, back;
    small_config(&c, TI_TFM_RV_CAUSAL);
    c.activation = TI_ACT_GELU_ERF, c.ln_eps = 1e-6f;
    char js[256];
    TI_CHECK_OK(ti_tfm_config_to_json(js, sizeof js, &c));
    TI_CHECK(strstr(js, "\"kind\":\"rv_causal\"") && strstr(js, "\"activation\":\"gelu_erf\""));
    TI_CHECK_OK(ti_tfm_config_from_json(&back, js, "t"));
    TI_CHECK(memcmp(&c, &back, sizeof c) == 0);
    TI_CHECK_ERR(ti_tfm_config_to_json(js, 20, &c), TI_ERR_LIMIT, "too small");
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, "{\"kind\":\"tinyrv\"", "cfg.json"), TI_ERR_FORMAT, "cfg.json");
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, "[1]", "x"), TI_ERR_FORMAT, "not a JSON object");
    const char *missing = "{\"kind\":\"tinyrv\",\"n_features\":14,\"context\":600,\"d_model\":128,\"n_heads\":4,"
                          "\"n_layers\":3,\"activation\":\"relu\",\"ln_eps\":1e-5}";
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, missing, "x"), TI_ERR_FORMAT, "'d_ff' missing");
    const char *typo = "{\"kind\":\"tinyrv\",\"n_features\":14,\"context\":600,\"d_model\":128,\"n_heads\":4,"
                       "\"n_layers\":3,\"d_ff\":256,\"activation\":\"relu\",\"ln_eps\":1e-5,\"dff\":1}";
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, typo, "x"), TI_ERR_FORMAT, "unknown key 'dff'");
    const char *bad_kind = "{\"kind\":\"gpt\",\"n_features\":14,\"context\":600,\"d_model\":128,\"n_heads\":4,"
                           "\"n_layers\":3,\"d_ff\":256,\"activation\":\"relu\",\"ln_eps\":1e-5}";
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, bad_kind, "x"), TI_ERR_INVALID_ARG, "model kind 'gpt'");
    const char *bad_heads = "{\"kind\":\"tinyrv\",\"n_features\":14,\"context\":600,\"d_model\":128,\"n_heads\":5,"
                            "\"n_layers\":3,\"d_ff\":256,\"activation\":\"relu\",\"ln_eps\":1e-5}";
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, bad_heads, "x"), TI_ERR_INVALID_ARG, "n_heads 5");
    const char *str_int = "{\"kind\":\"tinyrv\",\"n_features\":\"14\",\"context\":600,\"d_model\":128,\"n_heads\":4,"
                          "\"n_layers\":3,\"d_ff\":256,\"activation\":\"relu\",\"ln_eps\":1e-5}";
    TI_CHECK_ERR(ti_tfm_config_from_json(&back, str_int, "x"), TI_ERR_FORMAT, "'n_features' must be an integer");
}

/* ---- model table and init ---------------------------------------------------------------- */

TI_TEST(tensor_table_follows_the_state_dict)
{
    ti_tfm_config c;
    small_config(&c, TI_TFM_TINYRV);
    ti_tfm *m;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    TI_CHECK(ti_tfm_n_params(m) == ti_tfm_config_n_params(&c));
    TI_CHECK(ti_tfm_tensor_count(m) == 4 + 12 * 2 + 4);
    TI_CHECK(strcmp(ti_tfm_tensor_at(m, 0)->name, "cls") == 0);
    TI_CHECK(strcmp(ti_tfm_tensor_at(m, 4)->name, "enc.layers.0.self_attn.in_proj_weight") == 0);
    TI_CHECK(strcmp(ti_tfm_tensor_at(m, ti_tfm_tensor_count(m) - 1)->name, "head.1.bias") == 0);
    const ti_tfm_tensor *pos = ti_tfm_find_tensor(m, "pos");
    TI_CHECK(pos && pos->ndim == 3 && pos->shape[1] == 13 && pos->shape[2] == 16 && !pos->decay);
    const ti_tfm_tensor *w = ti_tfm_find_tensor(m, "enc.layers.1.linear2.weight");
    TI_CHECK(w && w->shape[0] == 16 && w->shape[1] == 24 && w->decay);
    TI_CHECK(!ti_tfm_find_tensor(m, "enc.layers.2.linear2.weight"));
    size_t off = 0; /* contiguous, in order */
    for (size_t i = 0; i < ti_tfm_tensor_count(m); i++) {
        TI_CHECK(ti_tfm_tensor_at(m, i)->offset == off);
        off += ti_tfm_tensor_at(m, i)->numel;
    }
    TI_CHECK(off == ti_tfm_n_params(m));
    TI_CHECK(ti_tfm_alibi(m) == NULL);
    ti_tfm_destroy(m);

    small_config(&c, TI_TFM_RV_CAUSAL);
    c.n_heads = 4;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    TI_CHECK(strcmp(ti_tfm_tensor_at(m, 0)->name, "proj.weight") == 0);
    TI_CHECK(strcmp(ti_tfm_tensor_at(m, 2)->name, "layers.0.norm1.weight") == 0);
    TI_CHECK(ti_tfm_find_tensor(m, "layers.1.in_proj.weight")->shape[0] == 48);
    const float *s = ti_tfm_alibi(m);
    TI_CHECK(s && fabsf(s[0] - 0.25f) < 1e-7f && fabsf(s[3] - 1.0f / 256) < 1e-9f);
    ti_tfm_destroy(m);
}

TI_TEST(init_is_deterministic_and_pytorch_like)
{
    ti_tfm_config c;
    small_config(&c, TI_TFM_TINYRV);
    ti_tfm *a, *b;
    TI_CHECK_OK(ti_tfm_create(&a, &c));
    TI_CHECK_OK(ti_tfm_create(&b, &c));
    if (!a || !b) return;
    ti_tfm_init(a, 42);
    ti_tfm_init(b, 42);
    const size_t n = ti_tfm_n_params(a);
    TI_CHECK(memcmp(ti_tfm_params(a), ti_tfm_params(b), n * sizeof(float)) == 0);
    ti_tfm_init(b, 43);
    TI_CHECK(memcmp(ti_tfm_params(a), ti_tfm_params(b), n * sizeof(float)) != 0);
    const float *p = ti_tfm_params(a);
    const ti_tfm_tensor *ln = ti_tfm_find_tensor(a, "enc.layers.0.norm1.weight");
    const ti_tfm_tensor *lnb = ti_tfm_find_tensor(a, "enc.layers.0.norm1.bias");
    const ti_tfm_tensor *fc = ti_tfm_find_tensor(a, "enc.layers.0.linear1.weight");
    const ti_tfm_tensor *qb = ti_tfm_find_tensor(a, "enc.layers.0.self_attn.in_proj_bias");
    const ti_tfm_tensor *pos = ti_tfm_find_tensor(a, "pos");
    for (size_t i = 0; i < ln->numel; i++) TI_CHECK(p[ln->offset + i] == 1.0f && p[lnb->offset + i] == 0.0f);
    for (size_t i = 0; i < qb->numel; i++) TI_CHECK(p[qb->offset + i] == 0.0f);
    double mx = 0, ss = 0;
    for (size_t i = 0; i < fc->numel; i++) mx = fmax(mx, fabs(p[fc->offset + i]));
    TI_CHECK(mx <= 1.0 / sqrt(16.0) && mx > 0.8 / sqrt(16.0)); /* U(+-1/sqrt(fan_in)) */
    for (size_t i = 0; i < pos->numel; i++) ss += (double)p[pos->offset + i] * p[pos->offset + i];
    TI_CHECK_NEAR(sqrt(ss / pos->numel), 0.02, 0.004);
    ti_tfm_destroy(a);
    ti_tfm_destroy(b);
}

TI_TEST(forward_and_backward_check_their_arguments)
{
    ti_tfm_config c;
    small_config(&c, TI_TFM_TINYRV);
    ti_tfm *m;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    ti_tfm_init(m, 1);
    ti_runstate *rs, *tr;
    TI_CHECK_ERR(ti_runstate_create(&rs, m, 0, 0, 0), TI_ERR_INVALID_ARG, "B_max 0");
    TI_CHECK_ERR(ti_runstate_create(&rs, m, 2, 11, 0), TI_ERR_INVALID_ARG, "TinyRV needs T_max");
    TI_CHECK_ERR(ti_runstate_create(&rs, m, 2, 0, 8), TI_ERR_INVALID_ARG, "flags");
    ti_tfm_config big;
    ti_tfm_config_default(&big, TI_TFM_TINYRV);
    ti_tfm *bm;
    TI_CHECK_OK(ti_tfm_create(&bm, &big));
    TI_CHECK_ERR(ti_runstate_create(&rs, bm, 1 << 24, 0, TI_RS_TRAINING), TI_ERR_LIMIT, "GiB");
    ti_tfm_destroy(bm);
    TI_CHECK_OK(ti_runstate_create(&rs, m, 2, 0, 0));
    TI_CHECK_OK(ti_runstate_create(&tr, m, 2, 0, TI_RS_TRAINING));
    TI_CHECK(ti_runstate_bytes(tr) > ti_runstate_bytes(rs) && !ti_runstate_is_training(rs));
    float x[3 * 12 * 5] = {0}, y[3], g[1] = {0};
    float *grads = calloc(ti_tfm_n_params(m), sizeof(float));
    TI_CHECK_ERR(ti_tfm_forward(m, rs, y, x, 3, 12, NULL), TI_ERR_INVALID_ARG, "batch 3 outside [1, B_max 2]");
    TI_CHECK_ERR(ti_tfm_forward(m, rs, y, x, 2, 11, NULL), TI_ERR_INVALID_ARG, "T = its context 12");
    TI_CHECK_ERR(ti_tfm_backward(m, rs, grads, NULL, g, NULL), TI_ERR_STATE, "TI_RS_TRAINING");
    TI_CHECK_ERR(ti_tfm_backward(m, tr, grads, NULL, g, NULL), TI_ERR_STATE, "no forward");
    ti_tfm *other;
    TI_CHECK_OK(ti_tfm_create(&other, &c));
    TI_CHECK_ERR(ti_tfm_forward(other, rs, y, x, 1, 12, NULL), TI_ERR_INVALID_ARG, "another model");
    ti_tfm_destroy(other);
    TI_CHECK_OK(ti_tfm_forward(m, tr, y, x, 2, 12, NULL));
    TI_CHECK_OK(ti_tfm_backward(m, tr, grads, NULL, y, NULL));
    ti_runstate_destroy(rs);
    ti_runstate_destroy(tr);
    ti_tfm_destroy(m);
    free(grads);
}

/* ---- checkpoints --------------------------------------------------------------------------- */

TI_TEST(save_load_round_trip_keeps_weights_and_metadata)
{
    ti_tfm_config c;
    small_config(&c, TI_TFM_RV_CAUSAL);
    ti_tfm *m, *back;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    ti_tfm_init(m, 7);
    const char *names[5] = {"ret", "rv_30s", "spread", "size", "ofi \"q\""};
    const float mean[5] = {0.1f, -2.5e-7f, 3.0f, 1e6f, 0.0f}, sd[5] = {1.0f, 0.5f, 1e-8f, 2.0f, 3.25f};
    const char *ek[1] = {"val_rmspe"}, *ev[1] = {"0.2675"};
    ti_ckpt_data d = {.n_features = 5, .feature_names = names, .mean = mean, .std = sd, .n_extra = 1,
                      .extra_keys = ek, .extra_values = ev};
    const char *path = tmp_path("m.safetensors");
    TI_CHECK_OK(ti_tfm_save(m, path, &d));
    ti_ckpt_meta meta;
    TI_CHECK_OK(ti_tfm_load(&back, &meta, path, NULL));
    if (!back) return;
    TI_CHECK(meta.config_source == TI_CONFIG_FROM_METADATA);
    TI_CHECK(memcmp(ti_tfm_get_config(back), &c, sizeof c) == 0);
    TI_CHECK(memcmp(ti_tfm_params(back), ti_tfm_params(m), ti_tfm_n_params(m) * sizeof(float)) == 0);
    TI_CHECK(ti_tfm_is_packed(back));
    TI_CHECK(meta.n_features == 5 && meta.feature_names && meta.mean && meta.std);
    for (int i = 0; meta.feature_names && meta.mean && meta.std && i < 5; i++) {
        TI_CHECK(strcmp(meta.feature_names[i], names[i]) == 0);
        TI_CHECK(meta.mean[i] == mean[i] && meta.std[i] == sd[i]); /* %.9g round-trips floats */
    }
    TI_CHECK(strcmp(meta.version, "") != 0);
    ti_ckpt_meta_free(&meta);
    ti_tfm_destroy(back);
    ti_safetensors *st;
    TI_CHECK_OK(ti_safetensors_open(&st, path));
    if (st) {
        TI_CHECK(ti_safetensors_meta(st, "val_rmspe") && strcmp(ti_safetensors_meta(st, "val_rmspe"), "0.2675") == 0);
        TI_CHECK(ti_safetensors_count(st) == ti_tfm_tensor_count(m));
        ti_safetensors_close(st);
    }
    /* without data; and errors in data */
    TI_CHECK_OK(ti_tfm_save(m, path, NULL));
    TI_CHECK_OK(ti_tfm_load(&back, &meta, path, &(ti_tfm_load_opts){.no_pack = 1}));
    TI_CHECK(back && !ti_tfm_is_packed(back) && meta.n_features == 0 && !meta.mean);
    ti_tfm_destroy(back);
    d.n_features = 4;
    TI_CHECK_ERR(ti_tfm_save(m, path, &d), TI_ERR_INVALID_ARG, "4 features, the model 5");
    d.n_features = 5, d.std = NULL;
    TI_CHECK_ERR(ti_tfm_save(m, path, &d), TI_ERR_INVALID_ARG, "both");
    d.std = sd, ek[0] = "tickinfer.config";
    TI_CHECK_ERR(ti_tfm_save(m, path, &d), TI_ERR_INVALID_ARG, "reserved");
    TI_CHECK(ti_tfm_save(m, "/nonexistent-dir/m.safetensors", NULL) != TI_OK);
    ti_tfm_destroy(m);
}

/* Write `m`'s tensors to a safetensors file, letting `edit` drop / replace / add. */
typedef struct edit {
    const char *drop;         /* tensor to leave out */
    const char *reshape;      /* tensor written with shape {1, numel} */
    const char *as_f16;       /* written as F16 */
    const char *as_i32;       /* written as I32 */
    const char *nan_in;       /* first value NaN */
    const char *extra;        /* extra tensor name */
    const char *config_json;  /* tickinfer.config metadata */
} edit;

static void write_edited(const ti_tfm *m, const char *path, const edit *e)
{
    ti_st_builder *b;
    TI_CHECK_OK(ti_st_builder_create(&b));
    const float *p = ti_tfm_params(m);
    for (size_t i = 0; i < ti_tfm_tensor_count(m); i++) {
        const ti_tfm_tensor *t = ti_tfm_tensor_at(m, i);
        const float *src = p + t->offset;
        if (e->drop && strcmp(t->name, e->drop) == 0) continue;
        if (e->reshape && strcmp(t->name, e->reshape) == 0) {
            int64_t sh[2] = {1, (int64_t)t->numel};
            TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_F32, 2, sh, src));
        } else if (e->as_f16 && strcmp(t->name, e->as_f16) == 0) {
            uint16_t *h = calloc(t->numel, sizeof *h);
            for (size_t j = 0; j < t->numel; j++) h[j] = 0x3C00; /* 1.0 */
            TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_F16, t->ndim, t->shape, h));
            free(h);
        } else if (e->as_i32 && strcmp(t->name, e->as_i32) == 0) {
            int32_t *v = calloc(t->numel, sizeof *v);
            TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_I32, t->ndim, t->shape, v));
            free(v);
        } else if (e->nan_in && strcmp(t->name, e->nan_in) == 0) {
            float *v = malloc(t->numel * sizeof *v);
            memcpy(v, src, t->numel * sizeof *v);
            v[t->numel - 1] = NAN;
            TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_F32, t->ndim, t->shape, v));
            free(v);
        } else {
            TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_F32, t->ndim, t->shape, src));
        }
    }
    if (e->extra) {
        int64_t sh[1] = {1};
        float v = 0;
        TI_CHECK_OK(ti_st_builder_add(b, e->extra, TI_ST_F32, 1, sh, &v));
    }
    if (e->config_json) TI_CHECK_OK(ti_st_builder_set_meta(b, "tickinfer.config", e->config_json));
    TI_CHECK_OK(ti_st_builder_write(b, path));
    ti_st_builder_destroy(b);
}

TI_TEST(load_names_what_disagrees_with_the_config)
{
    ti_tfm_config c;
    small_config(&c, TI_TFM_RV_CAUSAL);
    ti_tfm *m, *back = NULL;
    TI_CHECK_OK(ti_tfm_create(&m, &c));
    if (!m) return;
    ti_tfm_init(m, 3);
    const char *path = tmp_path("e.safetensors");

    /* a caller config with a different width: the message names tensor, shapes and file */
    write_edited(m, path, &(edit){0});
    ti_tfm_config wide = c;
    wide.d_model = 32;
    char want[256];
    snprintf(want, sizeof want, "checkpoint %s: tensor 'proj.weight' has shape [16,5], config needs [32,5]", path);
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &wide}), TI_ERR_FORMAT, want);
    TI_CHECK(back == NULL);
    ti_tfm_config deep = c;
    deep.n_layers = 3;
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &deep}), TI_ERR_FORMAT,
                 "tensor 'layers.2.norm1.weight' missing");
    ti_tfm_config shallow = c;
    shallow.n_layers = 1;
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &shallow}), TI_ERR_FORMAT,
                 "unexpected tensor 'layers.1.");
    ti_tfm_config bad = c;
    bad.n_heads = 3;
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &bad}), TI_ERR_INVALID_ARG,
                 "n_heads 3");

    /* no metadata: the config is inferred (heads and causal context from the options) */
    ti_ckpt_meta meta;
    TI_CHECK_OK(ti_tfm_load(&back, &meta, path, &(ti_tfm_load_opts){.n_heads = 2, .context = 12}));
    TI_CHECK(meta.config_source == TI_CONFIG_INFERRED);
    TI_CHECK(back && memcmp(ti_tfm_get_config(back), &c, sizeof c) == 0);
    ti_tfm_destroy(back);
    TI_CHECK_OK(ti_tfm_load(&back, &meta, path, NULL));
    TI_CHECK(meta.config.n_heads == 4 && meta.config.context == 4096);
    ti_tfm_destroy(back);
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.n_heads = 5}), TI_ERR_INVALID_ARG,
                 "config inferred from the shapes (heads 5)");

    write_edited(m, path, &(edit){.drop = "layers.1.linear2.bias"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_FORMAT,
                 "tensor 'layers.1.linear2.bias' missing");
    write_edited(m, path, &(edit){.reshape = "layers.0.in_proj.weight"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_FORMAT,
                 "tensor 'layers.0.in_proj.weight' has shape [1,768], config needs [48,16]");
    write_edited(m, path, &(edit){.extra = "cls_extra"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_FORMAT,
                 "unexpected tensor 'cls_extra'");
    write_edited(m, path, &(edit){.as_i32 = "head.1.bias"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_UNSUPPORTED,
                 "tensor 'head.1.bias' has dtype I32");
    write_edited(m, path, &(edit){.nan_in = "layers.0.norm2.bias"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_RANGE,
                 "tensor 'layers.0.norm2.bias' holds a non-finite value at index 15");
    write_edited(m, path, &(edit){.config_json = "{\"kind\":\"tinyrv\"}"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, NULL), TI_ERR_FORMAT, "metadata tickinfer.config");
    write_edited(m, path, &(edit){.drop = "layers.0.in_proj.weight"});
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, path, NULL), TI_ERR_FORMAT, "not a known model");

    /* F16 converts to F32 */
    write_edited(m, path, &(edit){.as_f16 = "layers.1.norm1.weight"});
    TI_CHECK_OK(ti_tfm_load(&back, NULL, path, &(ti_tfm_load_opts){.config = &c}));
    if (back) {
        const ti_tfm_tensor *t = ti_tfm_find_tensor(back, "layers.1.norm1.weight");
        TI_CHECK(ti_tfm_params(back)[t->offset] == 1.0f);
        ti_tfm_destroy(back);
    }

    /* bad metadata arrays */
    ti_st_builder *b;
    TI_CHECK_OK(ti_st_builder_create(&b));
    for (size_t i = 0; i < ti_tfm_tensor_count(m); i++) {
        const ti_tfm_tensor *t = ti_tfm_tensor_at(m, i);
        TI_CHECK_OK(ti_st_builder_add(b, t->name, TI_ST_F32, t->ndim, t->shape, ti_tfm_params(m) + t->offset));
    }
    TI_CHECK_OK(ti_st_builder_set_meta(b, "tickinfer.norm_mean", "[1,2,3]"));
    TI_CHECK_OK(ti_st_builder_write(b, path));
    TI_CHECK_ERR(ti_tfm_load(&back, &meta, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_FORMAT,
                 "'tickinfer.norm_mean' must be a JSON array of 5 entries");
    TI_CHECK_OK(ti_st_builder_set_meta(b, "tickinfer.norm_mean", "[1,2,3,4,\"x\"]"));
    TI_CHECK_OK(ti_st_builder_write(b, path));
    TI_CHECK_ERR(ti_tfm_load(&back, &meta, path, &(ti_tfm_load_opts){.config = &c}), TI_ERR_FORMAT,
                 "'tickinfer.norm_mean'[4] is not a number");
    ti_st_builder_destroy(b);

    /* not a checkpoint at all */
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("PK\x03\x04garbage", f);
        fclose(f);
    }
    TI_CHECK(ti_tfm_load(&back, NULL, path, NULL) != TI_OK && back == NULL);
    TI_CHECK_ERR(ti_tfm_load(&back, NULL, tmp_path("absent.safetensors"), NULL), TI_ERR_NOT_FOUND, "absent");
    ti_tfm_destroy(m);
}

/* The seed's torch.save file, read without Python: config inferred from the shapes, the
 * "_orig_mod." prefix stripped, weights equal to the .pt's tensors; save + reload keeps
 * them and the config then comes from the metadata. */
TI_TEST(seed_pt_loads_as_tinyrv)
{
    ti_tfm *m;
    ti_ckpt_meta meta;
    TI_CHECK_OK(ti_tfm_load(&m, &meta, SEED_PT, NULL));
    if (!m) return;
    TI_CHECK(meta.config_source == TI_CONFIG_INFERRED);
    TI_CHECK(ti_tfm_n_params(m) == 476801);
    ti_pt *pt;
    TI_CHECK_OK(ti_pt_open(&pt, SEED_PT, NULL));
    if (pt) {
        const ti_pt_tensor *t = ti_pt_find(pt, "_orig_mod.enc.layers.2.linear1.weight");
        const ti_tfm_tensor *mt = ti_tfm_find_tensor(m, "enc.layers.2.linear1.weight");
        TI_CHECK(t && mt && t->numel == mt->numel &&
                 memcmp(t->data, ti_tfm_params(m) + mt->offset, mt->numel * sizeof(float)) == 0);
        ti_pt_close(pt);
    }
    const char *path = tmp_path("seed.safetensors");
    TI_CHECK_OK(ti_tfm_save(m, path, NULL));
    ti_tfm *back;
    TI_CHECK_OK(ti_tfm_load(&back, &meta, path, NULL));
    if (back) {
        TI_CHECK(meta.config_source == TI_CONFIG_FROM_METADATA);
        TI_CHECK(memcmp(ti_tfm_params(back), ti_tfm_params(m), ti_tfm_n_params(m) * sizeof(float)) == 0);
        ti_tfm_destroy(back);
    }
    ti_tfm_destroy(m);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_model_ckpt_XXXXXX");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    TI_RUN(config_defaults_are_the_reference_shapes);
    TI_RUN(config_validation_names_the_field);
    TI_RUN(config_json_round_trip_and_errors);
    TI_RUN(tensor_table_follows_the_state_dict);
    TI_RUN(init_is_deterministic_and_pytorch_like);
    TI_RUN(forward_and_backward_check_their_arguments);
    TI_RUN(save_load_round_trip_keeps_weights_and_metadata);
    TI_RUN(load_names_what_disagrees_with_the_config);
    TI_RUN(seed_pt_loads_as_tinyrv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return ti_test_summary();
}
