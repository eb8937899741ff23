/* Open Inference Protocol v2: infer request parsing (JSON tensors and the binary tensor
 * extension), infer responses and model metadata.  One input tensor "x" [B,T,F] (FP32 or
 * FP64), one output "y" ([B] TinyRV, [B,T] causal), FP32. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"

#define V2_MAX_DIMS 4

typedef struct v2_input {
    char name[64], datatype[16];
    int64_t shape[V2_MAX_DIMS];
    int ndim;            /* -1 until "shape" is read */
    int have_data;       /* JSON "data" was read into r->x */
    size_t n_data;
    int64_t binary_size; /* -1 if absent */
} v2_input;

static ti_err parse_shape(sv_jr *jr, v2_input *in)
{
    ti_err e = sv_jr_arr_begin(jr);
    int more;
    in->ndim = 0;
    while (!e && !(e = sv_jr_arr_next(jr, &more)) && more) {
        if (in->ndim >= V2_MAX_DIMS) return ti_errorf(TI_ERR_FORMAT, "infer: input shape has more than %d dims", V2_MAX_DIMS);
        int64_t d;
        if ((e = sv_jr_int(jr, &d))) return e;
        if (d < 1 || d > ((int64_t)1 << 31)) return ti_errorf(TI_ERR_FORMAT, "infer: shape dim %lld out of range", (long long)d);
        in->shape[in->ndim++] = d;
    }
    return e;
}

static ti_err parse_input_params(sv_jr *jr, v2_input *in)
{
    char key[64];
    int more;
    ti_err e = sv_jr_obj_begin(jr);
    while (!e && !(e = sv_jr_obj_next(jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "binary_data_size") == 0) {
            e = sv_jr_int(jr, &in->binary_size);
            if (!e && in->binary_size < 0) e = ti_errorf(TI_ERR_FORMAT, "infer: negative binary_data_size");
        } else {
            e = sv_jr_skip(jr);
        }
    }
    return e;
}

static ti_err parse_input(sv_request *r, sv_jr *jr, v2_input *in, size_t x_cap)
{
    char key[64];
    int more;
    ti_err e = sv_jr_obj_begin(jr);
    while (!e && !(e = sv_jr_obj_next(jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "name") == 0) e = sv_jr_string(jr, in->name, sizeof in->name, NULL);
        else if (strcmp(key, "datatype") == 0) e = sv_jr_string(jr, in->datatype, sizeof in->datatype, NULL);
        else if (strcmp(key, "shape") == 0) e = parse_shape(jr, in);
        else if (strcmp(key, "parameters") == 0) e = parse_input_params(jr, in);
        else if (strcmp(key, "data") == 0) {
            int64_t sh[V2_MAX_DIMS];
            int nd;
            e = sv_jr_tensor(jr, r->x, x_cap, V2_MAX_DIMS, sh, &nd, &in->n_data);
            in->have_data = 1;
        } else e = sv_jr_skip(jr);
    }
    return e;
}

static ti_err parse_outputs(sv_request *r, sv_jr *jr)
{
    char key[64];
    int more, more2;
    ti_err e = sv_jr_arr_begin(jr);
    while (!e && !(e = sv_jr_arr_next(jr, &more)) && more) {
        if ((e = sv_jr_obj_begin(jr))) return e;
        while (!(e = sv_jr_obj_next(jr, key, sizeof key, &more2)) && more2) {
            if (strcmp(key, "name") == 0) {
                char name[64];
                if ((e = sv_jr_string(jr, name, sizeof name, NULL))) return e;
                if (strcmp(name, "y") != 0) return ti_errorf(TI_ERR_FORMAT, "infer: unknown output '%s' (the output is 'y')", name);
            } else if (strcmp(key, "parameters") == 0) {
                if ((e = sv_jr_obj_begin(jr))) return e;
                while (!(e = sv_jr_obj_next(jr, key, sizeof key, &more2)) && more2) {
                    if (strcmp(key, "binary_data") == 0) e = sv_jr_bool(jr, &r->want_binary_out);
                    else e = sv_jr_skip(jr);
                    if (e) return e;
                }
                if (e) return e;
            } else if ((e = sv_jr_skip(jr))) {
                return e;
            }
        }
    }
    return e;
}

static ti_err parse_request_params(sv_request *r, sv_jr *jr, int *normalised)
{
    char key[64];
    int more;
    ti_err e = sv_jr_obj_begin(jr);
    while (!e && !(e = sv_jr_obj_next(jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "binary_data_output") == 0) e = sv_jr_bool(jr, &r->want_binary_out);
        else if (strcmp(key, "normalized") == 0) e = sv_jr_bool(jr, normalised);
        else e = sv_jr_skip(jr);
    }
    return e;
}

ti_err sv_v2_parse_infer(sv_request *r, const char *body, size_t len, size_t header_len)
{
    const ti_model_info *cfg = r->model->info;
    size_t json_len = header_len ? header_len : len;
    size_t max_vals = (size_t)r->srv->cfg.max_request_rows * (size_t)cfg->context * (size_t)cfg->n_features;
    /* A JSON number takes at least 2 bytes with its separator; binary data at least 4. */
    size_t x_cap = len / 2 + 1 < max_vals ? len / 2 + 1 : max_vals;
    ti_err e = sv_request_reserve(r, x_cap, 0);
    if (e) return e;
    sv_jr jr;
    sv_jr_init(&jr, body, json_len);
    v2_input in = {.ndim = -1, .binary_size = -1};
    int n_inputs = 0, normalised = 0, more;
    char key[64];
    if ((e = sv_jr_obj_begin(&jr))) return ti_error_wrap(e, "infer");
    while (!(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "id") == 0) {
            e = sv_jr_string(&jr, r->req_id, sizeof r->req_id, NULL);
        } else if (strcmp(key, "inputs") == 0) {
            if ((e = sv_jr_arr_begin(&jr))) break;
            int m;
            while (!(e = sv_jr_arr_next(&jr, &m)) && m) {
                if (++n_inputs > 1) return ti_errorf(TI_ERR_FORMAT, "infer: model '%s' takes one input 'x'", r->model->name);
                if ((e = parse_input(r, &jr, &in, x_cap))) break;
            }
        } else if (strcmp(key, "outputs") == 0) {
            e = parse_outputs(r, &jr);
        } else if (strcmp(key, "parameters") == 0) {
            e = parse_request_params(r, &jr, &normalised);
        } else {
            e = sv_jr_skip(&jr);
        }
        if (e) break;
    }
    if (!e) e = sv_jr_finish(&jr);
    if (e) return ti_error_wrap(e, "infer");
    if (n_inputs != 1) return ti_errorf(TI_ERR_FORMAT, "infer: request needs one input 'x' [B,T,%d]", cfg->n_features);
    if (in.ndim < 0) return ti_errorf(TI_ERR_FORMAT, "infer: input '%s' has no 'shape'", in.name);
    int fp64 = strcmp(in.datatype, "FP64") == 0;
    if (!fp64 && strcmp(in.datatype, "FP32") != 0)
        return ti_errorf(TI_ERR_FORMAT, "infer: input datatype '%s' unsupported; use FP32 or FP64", in.datatype);
    size_t count = 1;
    for (int i = 0; i < in.ndim; i++) {
        if ((size_t)in.shape[i] > max_vals / count)
            return ti_errorf(TI_ERR_FORMAT, "infer: shape has more than %zu elements", max_vals);
        count *= (size_t)in.shape[i];
    }
    if ((e = sv_check_shape(r, in.ndim, in.shape))) return e;
    size_t bin_len = header_len ? len - header_len : 0;
    if (in.binary_size >= 0) {
        if (in.have_data) return ti_errorf(TI_ERR_FORMAT, "infer: input has both 'data' and binary_data_size");
        size_t item = fp64 ? 8 : 4;
        if ((size_t)in.binary_size != bin_len)
            return ti_errorf(TI_ERR_FORMAT, "infer: binary_data_size %lld but %zu bytes follow the JSON header",
                             (long long)in.binary_size, bin_len);
        if (bin_len != count * item)
            return ti_errorf(TI_ERR_FORMAT, "infer: shape needs %zu bytes of %s, got %zu", count * item, in.datatype, bin_len);
        if ((e = sv_request_reserve(r, count, 0))) return e;
        const unsigned char *b = (const unsigned char *)body + header_len;
        for (size_t i = 0; i < count; i++) {
            double v;
            if (fp64) memcpy(&v, b + 8 * i, 8);
            else {
                float f;
                memcpy(&f, b + 4 * i, 4);
                v = f;
            }
            if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
                return ti_errorf(TI_ERR_RANGE, "infer: value at flat index %zu is %g, not a finite float32", i, v);
            r->x[i] = (float)v;
        }
    } else {
        if (!in.have_data) return ti_errorf(TI_ERR_FORMAT, "infer: input '%s' has neither 'data' nor binary_data_size", in.name);
        if (bin_len) return ti_errorf(TI_ERR_FORMAT, "infer: %zu binary bytes follow the header but no input claims them", bin_len);
        if (in.n_data != count)
            return ti_errorf(TI_ERR_FORMAT, "infer: 'data' has %zu values, shape needs %zu", in.n_data, count);
    }
    if (r->want_binary_out) r->fmt = SV_OUT_V2_BINARY;
    sv_normalise(r, normalised);
    return TI_OK;
}

static ti_err write_out_shape(sv_request *r)
{
    if (r->model->per_step) return sv_sbuf_printf(&r->out, "[%d,%d]", r->B, r->T);
    return sv_sbuf_printf(&r->out, "[%d]", r->B);
}

ti_err sv_v2_write_infer(sv_request *r)
{
    size_t n = (size_t)r->B * (r->model->per_step ? (size_t)r->T : 1);
    sv_sbuf *o = &r->out;
    ti_err e = sv_sbuf_puts(o, "{\"model_name\":");
    if (!e) e = sv_sbuf_json_str(o, r->model->name);
    if (!e) e = sv_sbuf_printf(o, ",\"model_version\":\"%d\"", r->model->version);
    if (!e && r->req_id[0]) e = sv_sbuf_puts(o, ",\"id\":");
    if (!e && r->req_id[0]) e = sv_sbuf_json_str(o, r->req_id);
    if (!e) e = sv_sbuf_puts(o, ",\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":");
    if (!e) e = write_out_shape(r);
    if (r->fmt == SV_OUT_V2_BINARY) {
        if (!e) e = sv_sbuf_printf(o, ",\"parameters\":{\"binary_data_size\":%zu}}]}", n * sizeof(float));
        r->json_header_len = o->len;
        if (!e) e = sv_sbuf_append(o, r->y, n * sizeof(float));
        return e;
    }
    if (!e) e = sv_sbuf_puts(o, ",\"data\":[");
    if (!e) e = sv_sbuf_floats(o, r->y, n);
    if (!e) e = sv_sbuf_puts(o, "]}]}");
    return e;
}

/* [d0,d1,...] of a tensor description, from dimension `first` on. */
ti_err sv_write_dims(sv_sbuf *o, const ti_tensor_desc *d, int first)
{
    ti_err e = sv_sbuf_puts(o, "[");
    for (int k = first; !e && k < d->ndim; k++) e = sv_sbuf_printf(o, "%s%lld", k > first ? "," : "", (long long)d->shape[k]);
    return e ? e : sv_sbuf_puts(o, "]");
}

/* "inputs":[...] / "outputs":[...] of the v2 metadata, from the model's descriptions. */
static ti_err write_tensors(sv_sbuf *o, const char *key, const ti_tensor_desc *d, int n)
{
    ti_err e = sv_sbuf_printf(o, "\"%s\":[", key);
    for (int i = 0; !e && i < n; i++) {
        e = sv_sbuf_printf(o, "%s{\"name\":", i ? "," : "");
        if (!e) e = sv_sbuf_json_str(o, d[i].name);
        if (!e) e = sv_sbuf_printf(o, ",\"datatype\":\"%s\",\"shape\":", ti_dtype_name(d[i].dtype));
        if (!e) e = sv_write_dims(o, &d[i], 0);
        if (!e) e = sv_sbuf_puts(o, "}");
    }
    return e ? e : sv_sbuf_puts(o, "]");
}

ti_err sv_v2_write_model_meta(sv_request *r, const sv_model_entry *m)
{
    sv_sbuf *o = &r->out;
    const ti_model_info *c = m->info;
    ti_err e = sv_sbuf_puts(o, "{\"name\":");
    if (!e) e = sv_sbuf_json_str(o, m->name);
    if (!e) e = sv_sbuf_printf(o, ",\"versions\":[\"%d\"],\"platform\":\"tickinfer_%s\",", m->version, c->arch);
    if (!e) e = write_tensors(o, "inputs", c->inputs, c->n_inputs);
    if (!e) e = sv_sbuf_puts(o, ",");
    if (!e) e = write_tensors(o, "outputs", c->outputs, c->n_outputs);
    if (!e)
        e = sv_sbuf_printf(o, ",\"parameters\":{\"context\":%d,\"normalised_by_server\":%s,\"features\":[",
                           c->context, m->normalise ? "true" : "false");
    for (int i = 0; !e && m->norm->feature_names && i < m->norm->n_features; i++) {
        if (i) e = sv_sbuf_puts(o, ",");
        if (!e) e = sv_sbuf_json_str(o, m->norm->feature_names[i]);
    }
    if (!e) e = sv_sbuf_printf(o, "],\"kind\":\"%s\"}}", c->kind);
    return e;
}
