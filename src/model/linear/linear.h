/* The linear kind's model and its file (see linear.c). */
#ifndef TICKINFER_MODEL_LINEAR_H
#define TICKINFER_MODEL_LINEAR_H

#include "tickinfer/err.h"

#define TI_LINEAR_MAX_TERMS 32

enum { LIN_AGG_LAST = 0, LIN_AGG_SUM, LIN_AGG_MEAN, LIN_AGG_SUM_EXPM1, LIN_AGG__COUNT };
enum { LIN_TR_NONE = 0, LIN_TR_LOG, LIN_TR_LOG1P, LIN_TR__COUNT };

typedef struct ti_linear_term_def {
    int feature, window, agg, transform;
    double floor;
} ti_linear_term_def;

typedef struct ti_linear {
    int n_features, context, n_terms;
    ti_linear_term_def terms[TI_LINEAR_MAX_TERMS];
    double coef[1 + TI_LINEAR_MAX_TERMS]; /* intercept first */
} ti_linear;

/* One regressor of a window x [T,F] (the trailing min(window, T) rows). */
double ti_linear_term(const ti_linear_term_def *d, const float *x, int T, int F);
void ti_linear_predict(const ti_linear *lm, float *y, const float *x, int B, int T);
ti_err ti_linear_terms_from_json(ti_linear *lm, const char *text, const char *label);
ti_err ti_linear_terms_to_json(char **out, const ti_linear *lm); /* free() it */
ti_err ti_linear_save(const ti_linear *lm, const char *path, const char *const *feature_names, float rv_scale);

#endif
