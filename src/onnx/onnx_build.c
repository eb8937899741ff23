/* ONNX graph builder over the protoc-c structs (see onnx_build.h). */
#include "onnx/onnx_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/onnx.h"

/* Arena allocation that records the first failure. */
static void *ob_alloc(ob_graph *b, size_t n)
{
    if (b->err) return NULL;
    void *p = ti_arena_calloc(b->a, 1, n ? n : 1, 16);
    if (!p) b->err = ti_errorf(TI_ERR_NOMEM, "onnx export: out of memory building the graph (%zu bytes)", n);
    return p;
}

static char *ob_strdup(ob_graph *b, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ob_alloc(b, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Append ptr to an arena array of pointers, doubling it when full.  0 on failure. */
static int ob_push(ob_graph *b, void ***arr, size_t *n, size_t *cap, void *ptr)
{
    if (b->err || !ptr) return 0;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void **na = ob_alloc(b, nc * sizeof *na);
        if (!na) return 0;
        if (*n) memcpy(na, *arr, *n * sizeof *na);
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = ptr;
    return 1;
}

ti_err ob_init(ob_graph *b, const char *graph_name)
{
    memset(b, 0, sizeof *b);
    ti_err e = ti_arena_create(&b->a, 0, 0);
    if (e) return e;
    onnx__graph_proto__init(&b->g);
    b->g.name = ob_strdup(b, graph_name);
    return b->err;
}

void ob_free(ob_graph *b)
{
    ti_arena_destroy(b->a);
    memset(b, 0, sizeof *b);
}

const char *ob_fresh(ob_graph *b, const char *prefix)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s_%u", prefix, b->counter++);
    char *s = ob_strdup(b, buf);
    return s ? s : "";
}

const char *ob_op(ob_graph *b, const char *op, const char *hint, const char *out, int n_in, ...)
{
    Onnx__NodeProto *n = ob_alloc(b, sizeof *n);
    char **ins = ob_alloc(b, (size_t)(n_in > 0 ? n_in : 1) * sizeof *ins);
    char **outs = ob_alloc(b, sizeof *outs);
    const char *oname = out ? out : ob_fresh(b, hint ? hint : op);
    if (!n || !ins || !outs) return "";
    onnx__node_proto__init(n);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) {
        const char *s = va_arg(ap, const char *);
        ins[i] = ob_strdup(b, s ? s : "");
    }
    va_end(ap);
    outs[0] = ob_strdup(b, oname);
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->op_type = ob_strdup(b, op);
    n->name = ob_strdup(b, ob_fresh(b, hint ? hint : op));
    ob_push(b, (void ***)&b->g.node, &b->g.n_node, &b->cap_node, n);
    return b->err ? "" : outs[0];
}

static Onnx__AttributeProto *ob_attr(ob_graph *b, const char *name, Onnx__AttributeProto__AttributeType type)
{
    if (b->err || b->g.n_node == 0) return NULL;
    Onnx__NodeProto *n = b->g.node[b->g.n_node - 1];
    Onnx__AttributeProto *at = ob_alloc(b, sizeof *at);
    Onnx__AttributeProto **arr = ob_alloc(b, (n->n_attribute + 1) * sizeof *arr);
    if (!at || !arr) return NULL;
    onnx__attribute_proto__init(at);
    at->name = ob_strdup(b, name);
    at->has_type = 1;
    at->type = type;
    if (n->n_attribute) memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = at;
    n->attribute = arr;
    return at;
}

void ob_attr_i(ob_graph *b, const char *name, int64_t v)
{
    Onnx__AttributeProto *at = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (at) at->has_i = 1, at->i = v;
}

void ob_attr_f(ob_graph *b, const char *name, float v)
{
    Onnx__AttributeProto *at = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (at) at->has_f = 1, at->f = v;
}

void ob_attr_ints(ob_graph *b, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *at = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = ob_alloc(b, (size_t)n * sizeof *c);
    if (!at || !c) return;
    memcpy(c, v, (size_t)n * sizeof *c);
    at->n_ints = (size_t)n;
    at->ints = c;
}

static Onnx__TensorProto *ob_tensor(ob_graph *b, const char *name, int dtype, int ndim, const int64_t *dims,
                                    const void *data, size_t nbytes, int copy)
{
    Onnx__TensorProto *t = ob_alloc(b, sizeof *t);
    int64_t *d = ob_alloc(b, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d);
    void *buf = copy ? ob_alloc(b, nbytes) : (void *)(uintptr_t)data;
    if (!t || !d || !buf) return NULL;
    onnx__tensor_proto__init(t);
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof *d);
    if (copy && nbytes) memcpy(buf, data, nbytes);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->name = ob_strdup(b, name);
    /* raw_data is little-endian IEEE / two's complement: the host layout on x86-64 */
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = buf;
    ob_push(b, (void ***)&b->g.initializer, &b->g.n_initializer, &b->cap_init, t);
    return t;
}

const char *ob_init_f32(ob_graph *b, const char *name, int ndim, const int64_t *dims, const float *data,
                        int copy)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    Onnx__TensorProto *t = ob_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims, data,
                                     n * sizeof(float), copy);
    return t ? t->name : "";
}

const char *ob_const_i64(ob_graph *b, const char *hint, int n, const int64_t *v)
{
    const int64_t dims[1] = {n};
    Onnx__TensorProto *t = ob_tensor(b, ob_fresh(b, hint), ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, dims, v,
                                     (size_t)n * sizeof *v, 1);
    return t ? t->name : "";
}

const char *ob_scalar_i64(ob_graph *b, const char *hint, int64_t v)
{
    Onnx__TensorProto *t = ob_tensor(b, ob_fresh(b, hint), ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL, &v,
                                     sizeof v, 1);
    return t ? t->name : "";
}

const char *ob_scalar_f32(ob_graph *b, const char *hint, float v)
{
    Onnx__TensorProto *t = ob_tensor(b, ob_fresh(b, hint), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &v,
                                     sizeof v, 1);
    return t ? t->name : "";
}

static Onnx__ValueInfoProto *ob_value_info(ob_graph *b, const char *name, int ndim, const int64_t *dims,
                                           const char *const *params)
{
    Onnx__ValueInfoProto *vi = ob_alloc(b, sizeof *vi);
    Onnx__TypeProto *tp = ob_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ob_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = ob_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dv = ob_alloc(b, (size_t)ndim * sizeof *dv);
    if (!vi || !tp || !tt || !sh || !dv) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = ob_alloc(b, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = ob_strdup(b, params[i]);
        }
        dv[i] = d;
    }
    sh->n_dim = (size_t)ndim;
    sh->dim = dv;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = ob_strdup(b, name);
    vi->type = tp;
    return vi;
}

void ob_input(ob_graph *b, const char *name, int ndim, const int64_t *dims, const char *const *params)
{
    ob_push(b, (void ***)&b->g.input, &b->g.n_input, &b->cap_in, ob_value_info(b, name, ndim, dims, params));
}

void ob_output(ob_graph *b, const char *name, int ndim, const int64_t *dims, const char *const *params)
{
    ob_push(b, (void ***)&b->g.output, &b->g.n_output, &b->cap_out, ob_value_info(b, name, ndim, dims, params));
}

void ob_meta(ob_graph *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = ob_alloc(b, sizeof *e);
    if (!e) return;
    onnx__string_string_entry_proto__init(e);
    e->key = ob_strdup(b, key);
    e->value = ob_strdup(b, value);
    ob_push(b, (void ***)&b->meta, &b->n_meta, &b->cap_meta, e);
}

ti_err ob_pack(ob_graph *b, int64_t opset, const char *producer_version, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (b->err) return b->err;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *osp = &os;
    os.domain = (char *)"";
    os.has_version = 1;
    os.version = opset;
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    mp.has_ir_version = 1;
    mp.ir_version = 8; /* the IR of opset 17 (ONNX 1.12) */
    mp.n_opset_import = 1;
    mp.opset_import = &osp;
    mp.producer_name = (char *)"tickinfer";
    mp.producer_version = (char *)(uintptr_t)producer_version;
    mp.graph = &b->g;
    mp.n_metadata_props = b->n_meta;
    mp.metadata_props = b->meta;
    size_t n = onnx__model_proto__get_packed_size(&mp);
    if (n >= TI_ONNX_MAX_FILE)
        return ti_errorf(TI_ERR_LIMIT, "onnx export: model is %zu bytes, over protobuf's 2 GiB limit", n);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return ti_errorf(TI_ERR_NOMEM, "onnx export: %zu-byte output buffer", n);
    size_t got = onnx__model_proto__pack(&mp, buf);
    if (got != n) {
        free(buf);
        return ti_errorf(TI_ERR_FORMAT, "onnx export: protobuf packed %zu bytes, expected %zu", got, n);
    }
    *out = buf;
    *out_len = n;
    return TI_OK;
}
