/* Window terms (include/tickinfer/window_terms.h). */
#include "tickinfer/window_terms.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const agg_names[TI_WAGG__COUNT] = {"last", "sum", "mean", "sum_expm1", "std", "min", "max"};
static const char *const tr_names[TI_WTR__COUNT] = {"none", "log", "log1p"};

const char *ti_wterm_agg_name(int agg) { return agg >= 0 && agg < TI_WAGG__COUNT ? agg_names[agg] : "?"; }
const char *ti_wterm_transform_name(int tr) { return tr >= 0 && tr < TI_WTR__COUNT ? tr_names[tr] : "?"; }

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

double ti_wterm_eval(const ti_wterm *d, const float *x, int T, int F)
{
    const int w = d->window < T ? d->window : T;
    double a = 0, sq = 0;
    for (int t = T - w; t < T; t++) {
        const double v = x[(size_t)t * (size_t)F + (size_t)d->feature];
        switch (d->agg) {
        case TI_WAGG_LAST: a = v; break;
        case TI_WAGG_SUM:
        case TI_WAGG_MEAN: a += v; break;
        case TI_WAGG_SUM_EXPM1: a += expm1(v); break;
        case TI_WAGG_STD: a += v, sq += v * v; break;
        case TI_WAGG_MIN: a = (t == T - w || v < a) ? v : a; break;
        case TI_WAGG_MAX: a = (t == T - w || v > a) ? v : a; break;
        default: break;
        }
    }
    if (d->agg == TI_WAGG_MEAN && w > 0) a /= w;
    if (d->agg == TI_WAGG_STD) {
        if (w > 0) {
            const double m = a / w, var = sq / w - m * m;
            a = var > 0 ? sqrt(var) : 0;
        }
    }
    switch (d->transform) {
    case TI_WTR_LOG: return log(a > d->floor ? a : d->floor);
    case TI_WTR_LOG1P: return log1p(a > 0 ? a : 0);
    default: return a;
    }
}

void ti_wterm_label(char *buf, size_t cap, const ti_wterm *d, const char *feature_name)
{
    char inner[96];
    if (d->window == 1 && d->agg == TI_WAGG_LAST) snprintf(inner, sizeof inner, "%s", feature_name);
    else snprintf(inner, sizeof inner, "%s(%s,%d)", ti_wterm_agg_name(d->agg), feature_name, d->window);
    if (d->transform == TI_WTR_NONE) snprintf(buf, cap, "%s", inner);
    else snprintf(buf, cap, "%s(%s)", ti_wterm_transform_name(d->transform), inner);
}

ti_err ti_wterm_from_json(ti_wterm *d, const void *json_obj, int n_features, int context, const char *label, int k)
{
    const json_t *t = json_obj;
    if (!json_is_object(t)) return ti_errorf(TI_ERR_FORMAT, "%s: term %d is not a JSON object", label, k);
    d->feature = (int)json_integer_value(json_object_get(t, "feature"));
    d->window = (int)json_integer_value(json_object_get(t, "window"));
    d->agg = name_index(agg_names, TI_WAGG__COUNT, json_string_value(json_object_get(t, "agg")));
    d->transform = name_index(tr_names, TI_WTR__COUNT, json_string_value(json_object_get(t, "transform")));
    json_t *fl = json_object_get(t, "floor");
    d->floor = fl ? json_number_value(fl) : 1e-5;
    if (d->feature < 0 || d->feature >= n_features || d->window < 1 || d->window > context || d->agg < 0 ||
        d->transform < 0 || !(d->floor > 0))
        return ti_errorf(TI_ERR_FORMAT,
                         "%s: term %d: feature must be 0..%d, window 1..%d, agg one of "
                         "last|sum|mean|sum_expm1|std|min|max, transform none|log|log1p, floor > 0",
                         label, k, n_features - 1, context);
    return TI_OK;
}

void *ti_wterm_to_json(const ti_wterm *d)
{
    json_t *t = json_object();
    json_object_set_new(t, "feature", json_integer(d->feature));
    json_object_set_new(t, "agg", json_string(ti_wterm_agg_name(d->agg)));
    json_object_set_new(t, "window", json_integer(d->window));
    json_object_set_new(t, "transform", json_string(ti_wterm_transform_name(d->transform)));
    json_object_set_new(t, "floor", json_real(d->floor));
    return t;
}
