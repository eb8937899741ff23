/* Internals of the generic model layer shared by the kinds (src/model/<kind>/). */
#ifndef TICKINFER_MODEL_INTERNAL_H
#define TICKINFER_MODEL_INTERNAL_H

#include "tickinfer/model.h"

/* The kinds built in (each defined in its own folder). */
extern const ti_model_kind_ops ti_kind_transformer;
extern const ti_model_kind_ops ti_kind_linear;
extern const ti_model_kind_ops ti_kind_ensemble;
extern const ti_model_kind_ops ti_kind_trees;

/* Deep copy (the destination owns its arrays). */
ti_err ti_model_norm_copy(ti_model_norm *dst, const ti_model_norm *src);
/* B in 1..max_batch and T as the model takes it; the message names the limit. */
ti_err ti_model_check_bt(const ti_model_info *mi, int B, int T, int max_batch);
/* 1 if path ends with ext (case-insensitive). */
int ti_path_has_ext(const char *path, const char *ext);
/* Fill the main tensor descriptions: x [-1, T or -1, F] FP32 -> y [-1] or [-1,-1]. */
void ti_model_info_main_io(ti_model_info *mi);

#endif
