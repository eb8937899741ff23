/* Internal: a small builder over the protoc-c generated ONNX structs, used by the exporter.
 *
 * Every string, array and message lives in one arena owned by the builder, so a graph is
 * freed in one call.  Errors are sticky: the first failure (out of memory) is kept in
 * b->err and later calls become no-ops returning placeholders, so graph code reads as a
 * straight list of ops and checks once at the end (ob_pack). */
#ifndef TICKINFER_ONNX_BUILD_H
#define TICKINFER_ONNX_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"
#include "tickinfer/alloc.h"
#include "tickinfer/err.h"

typedef struct ob_graph {
    ti_arena *a;
    Onnx__GraphProto g;
    size_t cap_node, cap_init, cap_in, cap_out;
    size_t n_meta, cap_meta;
    Onnx__StringStringEntryProto **meta;
    unsigned counter; /* for generated value names */
    ti_err err;       /* sticky first error */
} ob_graph;

ti_err ob_init(ob_graph *b, const char *graph_name);
void ob_free(ob_graph *b);

/* A fresh value name "prefix_N" (N unique in the graph). */
const char *ob_fresh(ob_graph *b, const char *prefix);
/* Append a node: op with n_in inputs (varargs const char *; NULL = omitted optional input),
 * one output named `out` (NULL = fresh name from `hint`).  Returns the output name. */
const char *ob_op(ob_graph *b, const char *op, const char *hint, const char *out, int n_in, ...);
/* Attributes of the last node added. */
void ob_attr_i(ob_graph *b, const char *name, int64_t v);
void ob_attr_f(ob_graph *b, const char *name, float v);
void ob_attr_ints(ob_graph *b, const char *name, int n, const int64_t *v);

/* Initializers.  f32 data is referenced, not copied (it must outlive ob_pack) unless
 * copy is set.  Returns the name. */
const char *ob_init_f32(ob_graph *b, const char *name, int ndim, const int64_t *dims, const float *data,
                        int copy);
const char *ob_const_i64(ob_graph *b, const char *hint, int n, const int64_t *v); /* 1-D [n] */
const char *ob_scalar_i64(ob_graph *b, const char *hint, int64_t v);              /* 0-D */
const char *ob_scalar_f32(ob_graph *b, const char *hint, float v);                /* 0-D */

/* Graph inputs/outputs of float tensors: dims[i] >= 0 is fixed, < 0 takes params[i]. */
void ob_input(ob_graph *b, const char *name, int ndim, const int64_t *dims, const char *const *params);
void ob_output(ob_graph *b, const char *name, int ndim, const int64_t *dims, const char *const *params);
void ob_meta(ob_graph *b, const char *key, const char *value);

/* Serialize a ModelProto around the graph (IR version 8, default-domain opset `opset`)
 * into a malloc'd buffer. */
ti_err ob_pack(ob_graph *b, int64_t opset, const char *producer_version, uint8_t **out, size_t *out_len);

#endif
