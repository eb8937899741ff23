/* tickinfer: window terms, the one definition of a scalar computed from a window of
 * per-second feature rows x [T, F]: one feature, aggregated over the trailing
 * min(window, T) rows, then transformed.  The linear kind's regressors, the tree kind's
 * inputs and the flat feature export (`tickinfer dataset export --flat`) are lists of
 * these, so a model trained on exported rows sees the same numbers when it is served.
 *
 * JSON form: {"feature": 7, "agg": "last", "window": 1, "transform": "log", "floor": 1e-5}
 *   agg: last | sum | mean | sum_expm1 (sum of expm1(x), undoing a log1p feature) |
 *        std (population) | min | max
 *   transform: none | log | log1p (log floored at `floor`; log1p of max(a, 0)) */
#ifndef TICKINFER_WINDOW_TERMS_H
#define TICKINFER_WINDOW_TERMS_H

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TI_WAGG_LAST = 0, TI_WAGG_SUM, TI_WAGG_MEAN, TI_WAGG_SUM_EXPM1, TI_WAGG_STD, TI_WAGG_MIN, TI_WAGG_MAX,
    TI_WAGG__COUNT
};
enum { TI_WTR_NONE = 0, TI_WTR_LOG, TI_WTR_LOG1P, TI_WTR__COUNT };

typedef struct ti_wterm {
    int feature, window, agg, transform;
    double floor;
} ti_wterm;

/* The term's value on x [T, F] (double arithmetic, rows oldest first). */
double ti_wterm_eval(const ti_wterm *d, const float *x, int T, int F);
const char *ti_wterm_agg_name(int agg);
const char *ti_wterm_transform_name(int tr);
/* "agg_transform(name,window)" style label, e.g. "log(last(rv_300))" or
 * "log1p(sum_expm1(log_size,300))", into buf. */
void ti_wterm_label(char *buf, size_t cap, const ti_wterm *d, const char *feature_name);
/* Parse one term from its JSON text's object (a jansson json_t *, passed as void * so
 * this header does not need jansson); checks feature < n_features, window <= context.
 * label and k name the term in errors. */
ti_err ti_wterm_from_json(ti_wterm *d, const void *json_obj, int n_features, int context, const char *label, int k);
/* The term as a new JSON object (json_t *). */
void *ti_wterm_to_json(const ti_wterm *d);

#ifdef __cplusplus
}
#endif
#endif
