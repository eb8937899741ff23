/* Model configs: defaults, validation, names, JSON (stored in checkpoint metadata). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"

static const char *const KIND_NAMES[TI_TFM__COUNT] = {"tinyrv", "rv_causal"};
static const char *const ACT_NAMES[TI_ACT__COUNT] = {"none", "relu", "gelu_tanh", "gelu_erf"};

const char *ti_tfm_arch_name(ti_tfm_arch kind)
{
    return (int)kind >= 0 && kind < TI_TFM__COUNT ? KIND_NAMES[kind] : "?";
}

ti_err ti_tfm_arch_parse(ti_tfm_arch *out, const char *name)
{
    for (int i = 0; name && i < TI_TFM__COUNT; i++)
        if (strcmp(name, KIND_NAMES[i]) == 0) {
            *out = (ti_tfm_arch)i;
            return TI_OK;
        }
    return ti_errorf(TI_ERR_INVALID_ARG, "model kind '%s' unknown (tinyrv, rv_causal)",
                     name ? name : "(null)");
}

const char *ti_tfm_act_name(ti_act act)
{
    return (int)act >= 0 && act < TI_ACT__COUNT ? ACT_NAMES[act] : "?";
}

ti_err ti_tfm_act_parse(ti_act *out, const char *name)
{
    for (int i = 0; name && i < TI_ACT__COUNT; i++)
        if (strcmp(name, ACT_NAMES[i]) == 0) {
            *out = (ti_act)i;
            return TI_OK;
        }
    return ti_errorf(TI_ERR_INVALID_ARG, "activation '%s' unknown (relu, gelu_tanh, gelu_erf)",
                     name ? name : "(null)");
}

void ti_tfm_config_default(ti_tfm_config *cfg, ti_tfm_arch kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->ln_eps = 1e-5f;
    if (kind == TI_TFM_RV_CAUSAL) {
        cfg->n_features = 12;
        cfg->context = 4096;
        cfg->d_model = 64;
        cfg->n_heads = 4;
        cfg->n_layers = 2;
        cfg->d_ff = 128;
        cfg->activation = TI_ACT_GELU_TANH;
    } else {
        cfg->n_features = 14;
        cfg->context = 600;
        cfg->d_model = 128;
        cfg->n_heads = 4;
        cfg->n_layers = 3;
        cfg->d_ff = 256;
        cfg->activation = TI_ACT_RELU;
    }
}

static ti_err check_range(const char *field, int v, int lo, int hi)
{
    if (v < lo) return ti_errorf(TI_ERR_INVALID_ARG, "model config: %s %d must be >= %d", field, v, lo);
    if (v > hi) return ti_errorf(TI_ERR_LIMIT, "model config: %s %d above the limit %d", field, v, hi);
    return TI_OK;
}

ti_err ti_tfm_config_validate(const ti_tfm_config *c)
{
    if (!c) return ti_errorf(TI_ERR_INVALID_ARG, "model config: NULL");
    if ((int)c->kind < 0 || c->kind >= TI_TFM__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "model config: kind %d unknown", (int)c->kind);
    ti_err e;
    if ((e = check_range("n_features", c->n_features, 1, TI_MODEL_MAX_FEATURES)) ||
        (e = check_range("context", c->context, 1, TI_MODEL_MAX_CONTEXT)) ||
        (e = check_range("d_model", c->d_model, 1, TI_MODEL_MAX_D)) ||
        (e = check_range("n_heads", c->n_heads, 1, TI_MODEL_MAX_HEADS)) ||
        (e = check_range("n_layers", c->n_layers, 1, TI_MODEL_MAX_LAYERS)) ||
        (e = check_range("d_ff", c->d_ff, 1, TI_MODEL_MAX_FF)))
        return e;
    if (c->d_model % c->n_heads != 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "model config: d_model %d is not a multiple of n_heads %d",
                         c->d_model, c->n_heads);
    if (c->d_model / c->n_heads > TI_ATTN_MAX_HD)
        return ti_errorf(TI_ERR_LIMIT, "model config: head dim d_model/n_heads = %d above the limit %d",
                         c->d_model / c->n_heads, TI_ATTN_MAX_HD);
    if (c->activation != TI_ACT_RELU && c->activation != TI_ACT_GELU_TANH &&
        c->activation != TI_ACT_GELU_ERF)
        return ti_errorf(TI_ERR_INVALID_ARG, "model config: activation %d must be relu, gelu_tanh or gelu_erf",
                         (int)c->activation);
    if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
        return ti_errorf(TI_ERR_INVALID_ARG, "model config: ln_eps %g must be in (0, 1)", (double)c->ln_eps);
    return TI_OK;
}

size_t ti_tfm_config_n_params(const ti_tfm_config *c)
{
    if (!c || ti_tfm_config_validate(c) != TI_OK) return 0;
    /* all limits are below 2^17, so these products fit easily in size_t */
    const size_t C = (size_t)c->d_model, D = (size_t)c->d_ff, F = (size_t)c->n_features;
    size_t per_layer = 4 * C              /* two layer norms */
                       + 3 * C * C + 3 * C /* in_proj */
                       + C * C + C         /* out_proj */
                       + D * C + D + C * D + C;
    size_t n = C * F + C + 2 * C + C + 1 + per_layer * (size_t)c->n_layers;
    if (c->kind == TI_TFM_TINYRV) n += C + ((size_t)c->context + 1) * C;
    return n;
}

ti_err ti_tfm_config_to_json(char *buf, size_t cap, const ti_tfm_config *c)
{
    if (!buf || !c) return ti_errorf(TI_ERR_INVALID_ARG, "model config to JSON: NULL argument");
    int n = snprintf(buf, cap,
                     "{\"kind\":\"%s\",\"n_features\":%d,\"context\":%d,\"d_model\":%d,\"n_heads\":%d,"
                     "\"n_layers\":%d,\"d_ff\":%d,\"activation\":\"%s\",\"ln_eps\":%.9g}",
                     ti_tfm_arch_name(c->kind), c->n_features, c->context, c->d_model, c->n_heads,
                     c->n_layers, c->d_ff, ti_tfm_act_name(c->activation), (double)c->ln_eps);
    if (n < 0 || (size_t)n >= cap)
        return ti_errorf(TI_ERR_LIMIT, "model config to JSON: buffer of %zu bytes too small", cap);
    return TI_OK;
}

static ti_err json_int(int *out, json_t *root, const char *key, const char *label)
{
    json_t *v = json_object_get(root, key);
    if (!v) return ti_errorf(TI_ERR_FORMAT, "model config %s: key '%s' missing", label, key);
    if (!json_is_integer(v) || json_integer_value(v) < -1000000000 || json_integer_value(v) > 1000000000)
        return ti_errorf(TI_ERR_FORMAT, "model config %s: '%s' must be an integer", label, key);
    *out = (int)json_integer_value(v);
    return TI_OK;
}

static ti_err json_str(const char **out, json_t *root, const char *key, const char *label)
{
    json_t *v = json_object_get(root, key);
    if (!v) return ti_errorf(TI_ERR_FORMAT, "model config %s: key '%s' missing", label, key);
    if (!json_is_string(v)) return ti_errorf(TI_ERR_FORMAT, "model config %s: '%s' must be a string", label, key);
    *out = json_string_value(v);
    return TI_OK;
}

static const char *const CONFIG_KEYS[] = {"kind", "n_features", "context", "d_model", "n_heads",
                                          "n_layers", "d_ff", "activation", "ln_eps", NULL};

static ti_err parse_object(ti_tfm_config *c, json_t *root, const char *label)
{
    if (!json_is_object(root)) return ti_errorf(TI_ERR_FORMAT, "model config %s: not a JSON object", label);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int known = 0;
        for (int i = 0; CONFIG_KEYS[i]; i++) known |= strcmp(key, CONFIG_KEYS[i]) == 0;
        if (!known) return ti_errorf(TI_ERR_FORMAT, "model config %s: unknown key '%s'", label, key);
    }
    const char *kind, *act;
    ti_err e;
    if ((e = json_str(&kind, root, "kind", label)) || (e = json_str(&act, root, "activation", label)) ||
        (e = json_int(&c->n_features, root, "n_features", label)) ||
        (e = json_int(&c->context, root, "context", label)) ||
        (e = json_int(&c->d_model, root, "d_model", label)) ||
        (e = json_int(&c->n_heads, root, "n_heads", label)) ||
        (e = json_int(&c->n_layers, root, "n_layers", label)) ||
        (e = json_int(&c->d_ff, root, "d_ff", label)))
        return e;
    if ((e = ti_tfm_arch_parse(&c->kind, kind)) || (e = ti_tfm_act_parse(&c->activation, act)))
        return ti_error_wrap(e, "model config %s", label);
    json_t *eps = json_object_get(root, "ln_eps");
    if (!eps) return ti_errorf(TI_ERR_FORMAT, "model config %s: key 'ln_eps' missing", label);
    if (!json_is_number(eps)) return ti_errorf(TI_ERR_FORMAT, "model config %s: 'ln_eps' must be a number", label);
    c->ln_eps = (float)json_number_value(eps);
    if ((e = ti_tfm_config_validate(c))) return ti_error_wrap(e, "%s", label);
    return TI_OK;
}

ti_err ti_tfm_config_from_json(ti_tfm_config *cfg, const char *json, const char *label)
{
    if (!cfg || !json) return ti_errorf(TI_ERR_INVALID_ARG, "model config from JSON: NULL argument");
    if (!label) label = "(json)";
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return ti_errorf(TI_ERR_FORMAT, "model config %s: bad JSON at line %d: %s", label, jerr.line, jerr.text);
    ti_tfm_config c;
    memset(&c, 0, sizeof c);
    ti_err e = parse_object(&c, root, label);
    json_decref(root);
    if (e == TI_OK) *cfg = c;
    return e;
}
