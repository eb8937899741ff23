/* The simple endpoints: POST /predict ({"x": [[[...]]]} -> {"y": [...]}) and
 * POST /predict_np (an .npy body -> NPY or JSON by Accept), plus the shape check and
 * input normalisation shared with the v2 endpoint. */
#include <stdio.h>
#include <string.h>

#include "serve/json_read.h"
#include "serve/serve_internal.h"
#include "tickinfer/npy.h"

ti_err sv_check_shape(sv_request *r, int ndim, const int64_t *shape)
{
    const sv_model_entry *m = r->model;
    const ti_model_info *c = m->info;
    int64_t B, T, F;
    if (ndim == 3) B = shape[0], T = shape[1], F = shape[2];
    else if (ndim == 2) B = 1, T = shape[0], F = shape[1];
    else return ti_errorf(TI_ERR_FORMAT, "input must be [B,T,%d] (or [T,%d] for one sequence), got %d dims", c->n_features,
                          c->n_features, ndim);
    if (F != c->n_features)
        return ti_errorf(TI_ERR_FORMAT, "input has %lld features per step, model '%s' expects %d", (long long)F, m->name,
                         c->n_features);
    if (c->fixed_context ? T != c->context : (T < 1 || T > c->context))
        return ti_errorf(TI_ERR_FORMAT, "input has %lld steps, model '%s' needs %s%d", (long long)T, m->name,
                         c->fixed_context ? "exactly " : "1..", c->context);
    if (B < 1 || B > r->srv->cfg.max_request_rows)
        return ti_errorf(TI_ERR_FORMAT, "batch of %lld rows exceeds max_request_rows %d", (long long)B,
                         r->srv->cfg.max_request_rows);
    r->B = (int)B;
    r->T = (int)T;
    return sv_request_reserve(r, 0, (size_t)B * (size_t)T);
}

void sv_normalise(sv_request *r, int normalised)
{
    const sv_model_entry *m = r->model;
    if (m->normalise && !normalised) ti_model_normalise(m->model, r->x, (size_t)r->B * (size_t)r->T);
}

static ti_err check_and_normalise(sv_request *r, int ndim, const int64_t *shape, int normalised)
{
    ti_err e = sv_check_shape(r, ndim, shape);
    if (!e) sv_normalise(r, normalised);
    return e;
}

ti_err sv_predict_parse_json(sv_request *r)
{
    const ti_model_info *c = r->model->info;
    size_t max_vals = (size_t)r->srv->cfg.max_request_rows * (size_t)c->context * (size_t)c->n_features;
    size_t x_cap = r->body.len / 2 + 1 < max_vals ? r->body.len / 2 + 1 : max_vals;
    ti_err e = sv_request_reserve(r, x_cap, 0);
    if (e) return e;
    sv_jr jr;
    sv_jr_init(&jr, r->body.data, r->body.len);
    int64_t shape[3];
    int ndim = -1, more, normalised = 0;
    size_t n;
    char key[64];
    if ((e = sv_jr_obj_begin(&jr))) return ti_error_wrap(e, "predict");
    while (!(e = sv_jr_obj_next(&jr, key, sizeof key, &more)) && more) {
        if (strcmp(key, "x") == 0) e = sv_jr_tensor(&jr, r->x, x_cap, 3, shape, &ndim, &n);
        else if (strcmp(key, "normalized") == 0) e = sv_jr_bool(&jr, &normalised);
        else return ti_errorf(TI_ERR_FORMAT, "predict: unknown key '%s' (expected \"x\", optional \"normalized\")", key);
        if (e) break;
    }
    if (!e) e = sv_jr_finish(&jr);
    if (e) return ti_error_wrap(e, "predict");
    if (ndim < 0) return ti_errorf(TI_ERR_FORMAT, "predict: body needs \"x\": [B,T,%d] numbers", c->n_features);
    e = check_and_normalise(r, ndim, shape, normalised || r->in.q_normalized);
    return e ? ti_error_wrap(e, "predict") : TI_OK;
}

ti_err sv_predict_parse_npy(sv_request *r)
{
    ti_npy_view v;
    ti_err e = ti_npy_parse(&v, r->body.data, r->body.len);
    if (e) return ti_error_wrap(e, "predict_np");
    if (v.ndim != 2 && v.ndim != 3)
        return ti_errorf(TI_ERR_FORMAT, "predict_np: array must be [B,T,F] or [T,F], got %d dims", v.ndim);
    int64_t shape[3];
    for (int i = 0; i < v.ndim; i++) shape[i] = v.shape[i];
    /* Check the shape before converting: it bounds the size of x. */
    size_t max_vals = (size_t)r->srv->cfg.max_request_rows * (size_t)r->model->info->context * (size_t)r->model->info->n_features;
    if (v.count > max_vals) return ti_errorf(TI_ERR_FORMAT, "predict_np: array of %zu values exceeds the limit %zu", v.count, max_vals);
    if ((e = sv_request_reserve(r, v.count, 0))) return e;
    if ((e = ti_npy_to_f32(r->x, &v))) return ti_error_wrap(e, "predict_np");
    const char *acc = r->in.accept;
    if (acc && (strstr(acc, "application/x-npy") || strstr(acc, "application/octet-stream"))) r->fmt = SV_OUT_NPY;
    e = check_and_normalise(r, v.ndim, shape, r->in.q_normalized);
    return e ? ti_error_wrap(e, "predict_np") : TI_OK;
}

ti_err sv_predict_write(sv_request *r)
{
    int steps = r->model->per_step && !r->last_only;
    int Ty = r->model->per_step ? r->T : 1; /* y row stride */
    sv_sbuf *o = &r->out;
    ti_err e = TI_OK;
    if (r->fmt == SV_OUT_NPY) {
        int64_t shape[2] = {r->B, r->T};
        char hdr[256];
        size_t hl;
        if ((e = ti_npy_header_f32(hdr, sizeof hdr, &hl, steps ? 2 : 1, shape))) return e;
        if ((e = sv_sbuf_append(o, hdr, hl))) return e;
        for (int b = 0; b < r->B && !e; b++) {
            const float *y = r->y + (size_t)b * (size_t)Ty;
            e = steps ? sv_sbuf_append(o, y, (size_t)r->T * sizeof(float)) : sv_sbuf_append(o, y + Ty - 1, sizeof(float));
        }
        return e;
    }
    e = sv_sbuf_puts(o, "{\"model\":");
    if (!e) e = sv_sbuf_json_str(o, r->model->name);
    if (!e) e = sv_sbuf_puts(o, ",\"y\":[");
    for (int b = 0; b < r->B && !e; b++) {
        const float *y = r->y + (size_t)b * (size_t)Ty;
        if (b) e = sv_sbuf_puts(o, ",");
        if (e) break;
        if (steps) {
            e = sv_sbuf_puts(o, "[");
            if (!e) e = sv_sbuf_floats(o, y, (size_t)r->T);
            if (!e) e = sv_sbuf_puts(o, "]");
        } else {
            e = sv_sbuf_floats(o, y + Ty - 1, 1);
        }
    }
    if (!e) e = sv_sbuf_puts(o, "]}");
    return e;
}
