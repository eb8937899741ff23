/* Internal to src/onnx/: tensor names shared by the exporter and the importer. */
#ifndef TICKINFER_ONNX_INTERNAL_H
#define TICKINFER_ONNX_INTERNAL_H

#include "tickinfer/transformer.h"

/* One layer's tensors, in the order the importer meets them in a pre-norm block. */
enum {
    OX_LN1_W = 0, OX_LN1_B, OX_QKV_W, OX_QKV_B, OX_OUT_W, OX_OUT_B,
    OX_LN2_W, OX_LN2_B, OX_FC1_W, OX_FC1_B, OX_FC2_W, OX_FC2_B, OX__COUNT
};

/* printf format (one %d: the layer) of a layer tensor's state-dict name. */
static inline const char *onnx_layer_fmt(ti_tfm_arch kind, int slot)
{
    static const char *const tiny[OX__COUNT] = {
        "enc.layers.%d.norm1.weight", "enc.layers.%d.norm1.bias",
        "enc.layers.%d.self_attn.in_proj_weight", "enc.layers.%d.self_attn.in_proj_bias",
        "enc.layers.%d.self_attn.out_proj.weight", "enc.layers.%d.self_attn.out_proj.bias",
        "enc.layers.%d.norm2.weight", "enc.layers.%d.norm2.bias",
        "enc.layers.%d.linear1.weight", "enc.layers.%d.linear1.bias",
        "enc.layers.%d.linear2.weight", "enc.layers.%d.linear2.bias"};
    static const char *const causal[OX__COUNT] = {
        "layers.%d.norm1.weight", "layers.%d.norm1.bias", "layers.%d.in_proj.weight", "layers.%d.in_proj.bias",
        "layers.%d.out_proj.weight", "layers.%d.out_proj.bias", "layers.%d.norm2.weight", "layers.%d.norm2.bias",
        "layers.%d.linear1.weight", "layers.%d.linear1.bias", "layers.%d.linear2.weight", "layers.%d.linear2.bias"};
    return kind == TI_TFM_TINYRV ? tiny[slot] : causal[slot];
}

/* Metadata keys written by the exporter. */
#define OX_META_GRAPH "tickinfer.onnx_graph"
#define OX_SLOPES "alibi_slopes"

/* ---- import internals (onnx_read.c) -------------------------------------------------------- */
#ifdef TICKINFER_ONNX_WANT_PROTO
#include "onnx.pb-c.h"
#include "tickinfer/onnx.h"

/* string -> int map (open addressing); keys are borrowed */
typedef struct ox_map {
    const char **keys;
    int *vals;
    size_t cap;
} ox_map;
ti_err ox_map_init(ox_map *m, size_t n_max);
void ox_map_free(ox_map *m);
void ox_map_put(ox_map *m, const char *key, int val); /* capacity sized by init: never full */
int ox_map_get(const ox_map *m, const char *key);     /* -1 if absent */

/* Unpack a ModelProto after checking size and message nesting (protobuf-c recurses once
 * per level, so a crafted file could otherwise exhaust the stack). */
ti_err ox_unpack(Onnx__ModelProto **out, const uint8_t *data, size_t len, const char *label);

/* Element count of a tensor's dims (checked: dims >= 0, count <= 2^31); -1 if invalid. */
int64_t ox_numel(const Onnx__TensorProto *t);
/* A FLOAT (or DOUBLE) tensor's values as floats into out [n] (n must be its numel);
 * TI_ERR_FORMAT naming the tensor when the storage does not hold n values. */
ti_err ox_tensor_f32(float *out, int64_t n, const Onnx__TensorProto *t, const char *label);
/* The value of a one-element float tensor; 0 if it is not one. */
int ox_scalar_f32(float *out, const Onnx__TensorProto *t);
/* Integer attribute / ints attribute / float attribute of a node (default if absent). */
int64_t ox_attr_i(const Onnx__NodeProto *n, const char *name, int64_t dflt);
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name);
float ox_attr_f(const Onnx__NodeProto *n, const char *name, float dflt);
/* metadata_props value of key, NULL if absent */
const char *ox_meta_get(const Onnx__ModelProto *mp, const char *key);
/* Version, producer, tickinfer.features / norm_mean / norm_std (checked to hold F entries)
 * and the non-tickinfer.* metadata into info (config fields are the caller's). */
ti_err ox_read_info(ti_onnx_info *info, const Onnx__ModelProto *mp, int F, const char *label);
#endif

#endif
