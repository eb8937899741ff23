/* The linear kind's model and its file (see linear.c). */
#ifndef TICKINFER_MODEL_LINEAR_H
#define TICKINFER_MODEL_LINEAR_H

#include "tickinfer/err.h"
#include "tickinfer/window_terms.h"

#define TI_LINEAR_MAX_TERMS 32

typedef struct ti_linear {
    int n_features, context, n_terms;
    ti_wterm terms[TI_LINEAR_MAX_TERMS];
    double coef[1 + TI_LINEAR_MAX_TERMS]; /* intercept first */
} ti_linear;

void ti_linear_predict(const ti_linear *lm, float *y, const float *x, int B, int T);
ti_err ti_linear_terms_from_json(ti_linear *lm, const char *text, const char *label);
ti_err ti_linear_terms_to_json(char **out, const ti_linear *lm); /* free() it */
ti_err ti_linear_save(const ti_linear *lm, const char *path, const char *const *feature_names, float rv_scale);

#endif
