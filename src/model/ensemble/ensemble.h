/* The ensemble kind (see ensemble.c for the file format). */
#ifndef TICKINFER_MODEL_ENSEMBLE_H
#define TICKINFER_MODEL_ENSEMBLE_H

#include <stdint.h>

#include "tickinfer/model.h"

#define TI_ENS_MAX_MEMBERS 8

enum { TI_ENS_WEIGHTED = 0, TI_ENS_LINEAR, TI_ENS_CONCAT, TI_ENS__COUNT };

typedef struct ti_ensemble ti_ensemble;

int ti_ensemble_n_members(const ti_ensemble *e);
const ti_model *ti_ensemble_member(const ti_ensemble *e, int i);
const char *ti_ensemble_member_name(const ti_ensemble *e, int i);
/* Forwards run by step i and the nanoseconds they took. */
void ti_ensemble_step_stats(const ti_ensemble *e, int i, uint64_t *count, uint64_t *ns);
/* The combiner (TI_ENS_*), its weights [n] and bias. */
int ti_ensemble_combiner(const ti_ensemble *e, double *weights, double *bias);
/* The ensemble tensor member i's output maps to (NULL if m is no ensemble). */
const char *ti_ensemble_output_name(const ti_model *m, int i);
/* y from the members' log forecasts z [B, n] (in combiner-input order). */
void ti_ensemble_combine(const ti_ensemble *e, float *y, const float *z, int B);

#endif
