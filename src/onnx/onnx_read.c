/* ONNX import, the reading half: protobuf unpacking with limits, a name map, typed access
 * to tensors and attributes, and metadata_props.  Everything read from the file is
 * bounds-checked. */
#define TICKINFER_ONNX_WANT_PROTO
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "tickinfer/onnx.h"

#define MAX_NESTING 64 /* ONNX models nest ~6 messages deep (model/graph/node/attr/tensor) */
#define MAX_DIMS 8

/* ---- name map ------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

ti_err ox_map_init(ox_map *m, size_t n_max)
{
    size_t cap = 16;
    while (cap < 2 * n_max + 16) cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    if (!m->keys || !m->vals) {
        ox_map_free(m);
        return ti_errorf(TI_ERR_NOMEM, "onnx import: name table of %zu entries", cap);
    }
    return TI_OK;
}

void ox_map_free(ox_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void ox_map_put(ox_map *m, const char *key, int val)
{
    size_t i = fnv1a(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = val;
}

int ox_map_get(const ox_map *m, const char *key)
{
    size_t i = fnv1a(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- protobuf nesting scan ---------------------------------------------------------------- */

static int varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    uint64_t r = 0;
    for (int s = 0; s < 64 && *i < len; s += 7) {
        uint8_t b = p[(*i)++];
        r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* Walk p[0,len) as protobuf fields; every length-delimited payload is tried as a nested
 * message too (the scan does not know the schema).  Each byte is visited once per level,
 * so the cost is at most MAX_NESTING passes.  Sets *too_deep when some chain of payloads
 * that all parse as messages nests deeper than MAX_NESTING. */
static int scan(const uint8_t *p, size_t len, int depth, int *too_deep)
{
    if (depth > MAX_NESTING) {
        *too_deep = 1;
        return 1;
    }
    size_t i = 0;
    while (i < len) {
        uint64_t key, v;
        if (!varint(p, len, &i, &key) || (key >> 3) == 0) return 0;
        switch (key & 7) {
        case 0:
            if (!varint(p, len, &i, &v)) return 0;
            break;
        case 1:
            if (len - i < 8) return 0;
            i += 8;
            break;
        case 5:
            if (len - i < 4) return 0;
            i += 4;
            break;
        case 2:
            if (!varint(p, len, &i, &v) || v > len - i) return 0;
            scan(p + i, (size_t)v, depth + 1, too_deep);
            if (*too_deep) return 1;
            i += (size_t)v;
            break;
        default: return 0;
        }
    }
    return 1;
}

ti_err ox_unpack(Onnx__ModelProto **out, const uint8_t *data, size_t len, const char *label)
{
    *out = NULL;
    if (len == 0) return ti_errorf(TI_ERR_FORMAT, "onnx import %s: empty file", label);
    if (len >= TI_ONNX_MAX_FILE)
        return ti_errorf(TI_ERR_LIMIT, "onnx import %s: %zu bytes, over the 2 GiB protobuf limit", label, len);
    int too_deep = 0;
    scan(data, len, 0, &too_deep);
    if (too_deep)
        return ti_errorf(TI_ERR_LIMIT, "onnx import %s: messages nest deeper than %d levels (corrupt or hostile file)",
                         label, MAX_NESTING);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, data);
    if (!mp)
        return ti_errorf(TI_ERR_FORMAT, "onnx import %s: not an ONNX ModelProto (protobuf parse failed: truncated or corrupt)",
                         label);
    if (!mp->graph) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return ti_errorf(TI_ERR_FORMAT, "onnx import %s: the model has no graph", label);
    }
    *out = mp;
    return TI_OK;
}

/* ---- tensors and attributes -------------------------------------------------------------- */

int64_t ox_numel(const Onnx__TensorProto *t)
{
    if (t->n_dims > MAX_DIMS) return -1;
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > ((int64_t)1 << 31)) return -1;
        n *= t->dims[i];
        if (n > ((int64_t)1 << 31)) return -1;
    }
    return n;
}

ti_err ox_tensor_f32(float *out, int64_t n, const Onnx__TensorProto *t, const char *label)
{
    const char *name = t->name ? t->name : "?";
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: tensor '%s' keeps its data in an external file",
                         label, name);
    const int dt = t->has_data_type ? t->data_type : 0;
    const size_t un = (size_t)n;
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        if (t->has_raw_data && t->raw_data.len == un * sizeof(float)) {
            if (un) memcpy(out, t->raw_data.data, un * sizeof(float));
            return TI_OK;
        }
        if (!t->has_raw_data && t->n_float_data == un) {
            if (un) memcpy(out, t->float_data, un * sizeof(float));
            return TI_OK;
        }
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        if (t->has_raw_data && t->raw_data.len == un * sizeof(double)) {
            for (size_t i = 0; i < un; i++) {
                double d;
                memcpy(&d, t->raw_data.data + i * sizeof d, sizeof d);
                out[i] = (float)d;
            }
            return TI_OK;
        }
        if (!t->has_raw_data && t->n_double_data == un) {
            for (size_t i = 0; i < un; i++) out[i] = (float)t->double_data[i];
            return TI_OK;
        }
    } else {
        return ti_errorf(TI_ERR_UNSUPPORTED, "onnx import %s: tensor '%s' has data type %d (float32 or float64 needed)",
                         label, name, dt);
    }
    return ti_errorf(TI_ERR_FORMAT, "onnx import %s: tensor '%s' holds %zu bytes of data for %lld elements",
                     label, name, t->has_raw_data ? t->raw_data.len : t->n_float_data * sizeof(float), (long long)n);
}

int ox_scalar_f32(float *out, const Onnx__TensorProto *t)
{
    if (ox_numel(t) != 1) return 0;
    ti_err e = ox_tensor_f32(out, 1, t, "");
    if (e) ti_error_clear();
    return e == TI_OK && isfinite(*out);
}

const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

int64_t ox_attr_i(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

float ox_attr_f(const Onnx__NodeProto *n, const char *name, float dflt)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

/* ---- metadata_props ------------------------------------------------------------------------ */

const char *ox_meta_get(const Onnx__ModelProto *mp, const char *key)
{
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = mp->metadata_props[i];
        if (p->key && p->value && strcmp(p->key, key) == 0) return p->value;
    }
    return NULL;
}

static ti_err json_floats(float **out, const char *js, int n, const char *key, const char *label)
{
    json_error_t je;
    json_t *a = json_loads(js, 0, &je);
    if (!json_is_array(a) || (int)json_array_size(a) != n) {
        json_decref(a);
        return ti_errorf(TI_ERR_FORMAT, "onnx import %s: metadata %s is not a JSON array of %d numbers", label, key, n);
    }
    *out = malloc((size_t)n * sizeof **out + 1);
    for (int i = 0; *out && i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v)) {
            json_decref(a);
            return ti_errorf(TI_ERR_FORMAT, "onnx import %s: metadata %s[%d] is not a number", label, key, i);
        }
        (*out)[i] = (float)json_number_value(v);
    }
    json_decref(a);
    return *out ? TI_OK : ti_errorf(TI_ERR_NOMEM, "onnx import: metadata");
}

ti_err ox_read_info(ti_onnx_info *info, const Onnx__ModelProto *mp, int F, const char *label)
{
    ti_ckpt_meta *meta = &info->meta;
    const char *v = ox_meta_get(mp, "tickinfer.version");
    snprintf(meta->version, sizeof meta->version, "%s", v ? v : "");
    snprintf(info->producer, sizeof info->producer, "%s %s", mp->producer_name ? mp->producer_name : "",
             mp->producer_version ? mp->producer_version : "");
    const char *fj = ox_meta_get(mp, "tickinfer.features"), *mj = ox_meta_get(mp, "tickinfer.norm_mean"),
               *sj = ox_meta_get(mp, "tickinfer.norm_std");
    if (fj) {
        json_error_t je;
        json_t *a = json_loads(fj, 0, &je);
        if (!json_is_array(a) || (int)json_array_size(a) != F) {
            json_decref(a);
            return ti_errorf(TI_ERR_FORMAT, "onnx import %s: metadata tickinfer.features is not a JSON array of %d names", label, F);
        }
        meta->feature_names = calloc((size_t)F, sizeof *meta->feature_names);
        meta->n_features = F;
        for (int i = 0; meta->feature_names && i < F; i++) {
            const char *s = json_string_value(json_array_get(a, (size_t)i));
            meta->feature_names[i] = strdup(s ? s : "");
        }
        json_decref(a);
        if (!meta->feature_names) return ti_errorf(TI_ERR_NOMEM, "onnx import: feature names");
    }
    if (mj && sj) {
        ti_err e = json_floats(&meta->mean, mj, F, "tickinfer.norm_mean", label);
        if (!e) e = json_floats(&meta->std, sj, F, "tickinfer.norm_std", label);
        if (e) return e;
        meta->n_features = F;
    }
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = mp->metadata_props[i];
        if (!p->key || !p->value || strncmp(p->key, "tickinfer.", 10) == 0) continue;
        char **k = realloc(info->extra_keys, (info->n_extra + 1) * sizeof *k);
        if (!k) return ti_errorf(TI_ERR_NOMEM, "onnx import: metadata");
        info->extra_keys = k;
        char **vv = realloc(info->extra_values, (info->n_extra + 1) * sizeof *vv);
        if (!vv) return ti_errorf(TI_ERR_NOMEM, "onnx import: metadata");
        info->extra_values = vv;
        info->extra_keys[info->n_extra] = strdup(p->key);
        info->extra_values[info->n_extra] = strdup(p->value);
        info->n_extra++;
    }
    return TI_OK;
}

void ti_onnx_info_free(ti_onnx_info *info)
{
    if (!info) return;
    ti_ckpt_meta_free(&info->meta);
    for (size_t i = 0; i < info->n_extra; i++) free(info->extra_keys[i]), free(info->extra_values[i]);
    free(info->extra_keys);
    free(info->extra_values);
    memset(info, 0, sizeof *info);
}

