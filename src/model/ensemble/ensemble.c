/* The ensemble kind: a DAG of member models over one input window, combined into one
 * output (Triton's ensemble_scheduling, reduced to what RV models need).  File: JSON
 *   {"kind": "ensemble",
 *    "members":  [{"name": "causal", "path": "rv_causal.safetensors"}, ...],   paths relative to the file
 *    "steps":    [{"model": "causal", "input_map": {"x": "x"}, "output_map": {"y": "y_causal"}}, ...],
 *    "combiner": {"type": "weighted_average" | "linear" | "concat",
 *                 "inputs": ["y_causal", ...], "weights": [...], "bias": 0},
 *    "rv_scale": 1}
 * "steps" may be left out (each member: x -> x, y -> y_<name>).  input_map / output_map:
 * key = the member's tensor, value = the ensemble's tensor, as in Triton.  Every member
 * reads the trailing min(T, its context) rows of x, standardised with its own statistics;
 * a per-position member contributes its last position.  Members' outputs are log RV; the
 * combiner works on log forecasts z = y + log(rv_scale_member) so members with different
 * scales combine honestly.  weighted_average: sum w z / sum w; linear: bias + sum w z
 * (stacking weights, e.g. fitted by `tickinfer ensemble fit`); concat: y [B, n]. */
#include "model/ensemble/ensemble.h"

#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "tickinfer/alloc.h"
#include "tickinfer/clock.h"
#include "tickinfer/threadpool.h"

typedef struct ens_member {
    char name[TI_IO_MAX_NAME];
    char out_tensor[TI_IO_MAX_NAME]; /* ensemble tensor its y maps to */
    ti_model *m;
    float log_scale;
    int combine_slot;                /* index in the combiner's inputs */
    atomic_ullong count, ns;         /* per-step statistics */
} ens_member;

struct ti_ensemble {
    int n;
    ens_member mem[TI_ENS_MAX_MEMBERS];
    int combiner;                    /* TI_ENS_* */
    double weights[TI_ENS_MAX_MEMBERS], bias;
    int F, context, fixed;
};

typedef struct ens_ctx {
    const ti_ensemble *e;
    int max_batch;
    ti_ctx *ctx[TI_ENS_MAX_MEMBERS];
    float *xm;                       /* [n][max_batch, context, F]: each step's window */
    float *ym;                       /* [n][max_batch, context] */
    float *z;                        /* [max_batch, n] */
    ti_err err[TI_ENS_MAX_MEMBERS];  /* steps run at once report here */
    char msg[TI_ENS_MAX_MEMBERS][256];
} ens_ctx;

static const char *const combiner_names[TI_ENS__COUNT] = {"weighted_average", "linear", "concat"};

int ti_ensemble_n_members(const ti_ensemble *e) { return e->n; }
const ti_model *ti_ensemble_member(const ti_ensemble *e, int i) { return e->mem[i].m; }
const char *ti_ensemble_member_name(const ti_ensemble *e, int i) { return e->mem[i].name; }
void ti_ensemble_step_stats(const ti_ensemble *e, int i, uint64_t *count, uint64_t *ns)
{
    *count = atomic_load(&e->mem[i].count);
    *ns = atomic_load(&e->mem[i].ns);
}
int ti_ensemble_combiner(const ti_ensemble *e, double *weights, double *bias)
{
    if (weights) memcpy(weights, e->weights, sizeof(double) * (size_t)e->n);
    if (bias) *bias = e->bias;
    return e->combiner;
}

void ti_ensemble_combine(const ti_ensemble *e, float *y, const float *z, int B)
{
    const int n = e->n;
    double wsum = 0;
    for (int i = 0; i < n; i++) wsum += e->weights[i];
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * (size_t)n;
        if (e->combiner == TI_ENS_CONCAT) {
            memcpy(y + (size_t)b * (size_t)n, zb, sizeof(float) * (size_t)n);
            continue;
        }
        double acc = 0;
        for (int i = 0; i < n; i++) acc += e->weights[i] * zb[i];
        y[b] = (float)(e->combiner == TI_ENS_WEIGHTED ? acc / wsum : e->bias + acc);
    }
}

static void ens_destroy(void *impl)
{
    ti_ensemble *e = impl;
    if (!e) return;
    for (int i = 0; i < e->n; i++) ti_model_free(e->mem[i].m);
    free(e);
}

static int ens_probe(const char *path, const uint8_t *head, size_t n)
{
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) i++;
    if (i >= n || head[i] != '{') return 0;
    /* a JSON object naming the ensemble kind in its first bytes */
    for (size_t j = i; j + 10 <= n; j++)
        if (memcmp(head + j, "\"ensemble\"", 10) == 0) return 30;
    return 0;
}

static ti_err parse_map(const char *label, json_t *map, const char *key, char *value, size_t cap)
{
    json_t *v = json_is_object(map) ? json_object_get(map, key) : NULL;
    if (json_object_size(map) != 1 || !json_is_string(v))
        return ti_errorf(TI_ERR_FORMAT, "%s: must map exactly the member's tensor '%s' to an ensemble tensor", label, key);
    snprintf(value, cap, "%s", json_string_value(v));
    return TI_OK;
}

static ti_err ens_build(ti_ensemble *e, json_t *root, const char *path, const ti_model_opts *o)
{
    json_t *members = json_object_get(root, "members");
    if (!json_is_array(members) || json_array_size(members) < 1 || json_array_size(members) > TI_ENS_MAX_MEMBERS)
        return ti_errorf(TI_ERR_FORMAT, "ensemble %s: \"members\" must be an array of 1..%d models", path,
                         TI_ENS_MAX_MEMBERS);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = '\0';
    else dir[0] = '\0';
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *mj = json_array_get(members, i);
        const char *name = json_string_value(json_object_get(mj, "name"));
        const char *mp = json_string_value(json_object_get(mj, "path"));
        if (!name || !mp || strlen(name) >= TI_IO_MAX_NAME)
            return ti_errorf(TI_ERR_FORMAT, "ensemble %s: member %zu needs \"name\" (< %d chars) and \"path\"", path, i,
                             TI_IO_MAX_NAME);
        for (int k = 0; k < e->n; k++)
            if (strcmp(e->mem[k].name, name) == 0)
                return ti_errorf(TI_ERR_FORMAT, "ensemble %s: member name '%s' used twice", path, name);
        char full[2048];
        snprintf(full, sizeof full, "%s%s", mp[0] == '/' ? "" : dir, mp);
        ens_member *m = &e->mem[e->n];
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->out_tensor, sizeof m->out_tensor, "y_%s", name);
        ti_model_opts mo = *o;
        mo.kind = NULL;
        ti_err err = ti_model_open(&m->m, full, &mo);
        if (err) return ti_error_wrap(err, "ensemble %s: member '%s'", path, name);
        e->n++;
        const ti_model_info *mi = ti_model_get_info(m->m);
        if (mi->n_outputs != 1 || mi->outputs[0].dtype != TI_DTYPE_F32)
            return ti_errorf(TI_ERR_UNSUPPORTED, "ensemble %s: member '%s' must have one FP32 output", path, name);
        if (e->n == 1) e->F = mi->n_features;
        if (mi->n_features != e->F)
            return ti_errorf(TI_ERR_FORMAT, "ensemble %s: member '%s' takes %d features; '%s' takes %d", path, name,
                             mi->n_features, e->mem[0].name, e->F);
        if (mi->fixed_context) {
            if (e->fixed && e->context != mi->context)
                return ti_errorf(TI_ERR_FORMAT, "ensemble %s: members need windows of exactly %d and %d rows", path,
                                 e->context, mi->context);
            e->fixed = 1, e->context = mi->context;
        } else if (!e->fixed && mi->context > e->context) {
            e->context = mi->context;
        }
        m->log_scale = logf(ti_model_get_norm(m->m)->rv_scale);
    }
    json_t *steps = json_object_get(root, "steps");
    if (steps) {
        if (!json_is_array(steps) || json_array_size(steps) != (size_t)e->n)
            return ti_errorf(TI_ERR_FORMAT, "ensemble %s: \"steps\" must list one step per member (%d)", path, e->n);
        for (int k = 0; k < e->n; k++) {
            json_t *s = json_array_get(steps, (size_t)k);
            const char *model = json_string_value(json_object_get(s, "model"));
            int mi = -1;
            for (int j = 0; model && j < e->n; j++)
                if (strcmp(e->mem[j].name, model) == 0) mi = j;
            if (mi < 0) return ti_errorf(TI_ERR_FORMAT, "ensemble %s: step %d names no member (\"model\")", path, k);
            char xin[TI_IO_MAX_NAME], lbl[1200];
            snprintf(lbl, sizeof lbl, "ensemble %s: step '%s' input_map", path, model);
            ti_err err = parse_map(lbl, json_object_get(s, "input_map"), "x", xin, sizeof xin);
            if (!err && strcmp(xin, "x") != 0)
                err = ti_errorf(TI_ERR_UNSUPPORTED, "%s: members read the ensemble input 'x' (got '%s')", lbl, xin);
            snprintf(lbl, sizeof lbl, "ensemble %s: step '%s' output_map", path, model);
            if (!err) err = parse_map(lbl, json_object_get(s, "output_map"), "y", e->mem[mi].out_tensor,
                                      sizeof e->mem[mi].out_tensor);
            if (err) return err;
        }
    }
    json_t *cb = json_object_get(root, "combiner");
    const char *type = json_string_value(json_object_get(cb, "type"));
    e->combiner = -1;
    for (int k = 0; type && k < TI_ENS__COUNT; k++)
        if (strcmp(type, combiner_names[k]) == 0) e->combiner = k;
    if (e->combiner < 0)
        return ti_errorf(TI_ERR_FORMAT, "ensemble %s: combiner.type must be weighted_average, linear or concat", path);
    json_t *inputs = json_object_get(cb, "inputs");
    for (int k = 0; k < e->n; k++) e->mem[k].combine_slot = k;
    if (inputs) {
        if (!json_is_array(inputs) || json_array_size(inputs) != (size_t)e->n)
            return ti_errorf(TI_ERR_FORMAT, "ensemble %s: combiner.inputs must name each step output once", path);
        for (int k = 0; k < e->n; k++) {
            const char *t = json_string_value(json_array_get(inputs, (size_t)k));
            int found = -1;
            for (int j = 0; t && j < e->n; j++)
                if (strcmp(e->mem[j].out_tensor, t) == 0) found = j;
            if (found < 0)
                return ti_errorf(TI_ERR_FORMAT, "ensemble %s: combiner input '%s' is no step's output", path, t ? t : "?");
            e->mem[found].combine_slot = k;
        }
    }
    json_t *w = json_object_get(cb, "weights");
    double wsum = 0;
    for (int k = 0; k < e->n; k++) {
        json_t *wk = json_array_get(w, (size_t)k);
        e->weights[k] = w ? json_number_value(wk) : 1.0 / e->n;
        if (w && (!json_is_number(wk) || !isfinite(e->weights[k])))
            return ti_errorf(TI_ERR_FORMAT, "ensemble %s: combiner.weights must be %d finite numbers", path, e->n);
        wsum += e->weights[k];
    }
    if (w && json_array_size(w) != (size_t)e->n)
        return ti_errorf(TI_ERR_FORMAT, "ensemble %s: combiner.weights must be %d finite numbers", path, e->n);
    if (e->combiner == TI_ENS_WEIGHTED && !(fabs(wsum) > 0))
        return ti_errorf(TI_ERR_FORMAT, "ensemble %s: weighted_average weights sum to 0", path);
    e->bias = json_number_value(json_object_get(cb, "bias"));
    return TI_OK;
}

/* Ensembles may nest (a member may be an ensemble) but not without end: a file that names
 * itself, directly or through others, stops here instead of exhausting the stack. */
#define ENS_MAX_NESTING 4
static _Thread_local int ens_depth;

static ti_err ens_load(void **impl, ti_model_info *mi, ti_model_norm *norm, const char *path, const ti_model_opts *o)
{
    if (ens_depth >= ENS_MAX_NESTING)
        return ti_errorf(TI_ERR_LIMIT, "ensemble %s: ensembles nested deeper than %d (does a member name the file itself?)",
                         path, ENS_MAX_NESTING);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return ti_errorf(TI_ERR_FORMAT, "ensemble %s: line %d: %s", path, je.line, je.text);
    ti_ensemble *e = calloc(1, sizeof *e);
    ti_err err = e ? TI_OK : ti_errorf(TI_ERR_NOMEM, "ensemble %s: out of memory", path);
    const char *kind = json_string_value(json_object_get(root, "kind"));
    if (!err && (!kind || strcmp(kind, "ensemble") != 0))
        err = ti_errorf(TI_ERR_FORMAT, "ensemble %s: \"kind\" must be \"ensemble\"", path);
    if (!err) {
        ens_depth++;
        err = ens_build(e, root, path, o);
        ens_depth--;
    }
    if (!err) {
        json_t *rs = json_object_get(root, "rv_scale");
        norm->rv_scale = rs ? (float)json_number_value(rs) : 1.0f;
        norm->n_features = e->F;
        snprintf(mi->arch, sizeof mi->arch, "ensemble");
        mi->n_features = e->F;
        mi->context = e->context;
        mi->fixed_context = e->fixed;
        for (int k = 0; k < e->n; k++) mi->n_params += ti_model_get_info(e->mem[k].m)->n_params;
        ti_model_info_main_io(mi);
        if (e->combiner == TI_ENS_CONCAT) mi->outputs[0].ndim = 2, mi->outputs[0].shape[1] = e->n;
    }
    json_decref(root);
    if (err) {
        ens_destroy(e);
        return err;
    }
    *impl = e;
    return TI_OK;
}

static void ens_ctx_destroy(void *ctx)
{
    ens_ctx *c = ctx;
    if (!c) return;
    for (int i = 0; i < c->e->n; i++) ti_ctx_destroy(c->ctx[i]);
    ti_free_aligned(c->xm);
    ti_free_aligned(c->ym);
    ti_free_aligned(c->z);
    free(c);
}

static ti_err ens_ctx_create(void **out, const void *impl, int max_batch)
{
    const ti_ensemble *e = impl;
    ens_ctx *c = calloc(1, sizeof *c);
    if (!c) return ti_errorf(TI_ERR_NOMEM, "ensemble: out of memory");
    c->e = e;
    c->max_batch = max_batch;
    const size_t rows = (size_t)max_batch * (size_t)e->context * (size_t)e->n;
    c->xm = ti_calloc_aligned(rows * (size_t)e->F, sizeof(float), 64);
    c->ym = ti_calloc_aligned(rows, sizeof(float), 64);
    c->z = ti_calloc_aligned((size_t)max_batch * (size_t)e->n, sizeof(float), 64);
    ti_err err = c->xm && c->ym && c->z ? TI_OK : ti_errorf(TI_ERR_NOMEM, "ensemble: out of memory");
    for (int i = 0; !err && i < e->n; i++) err = ti_ctx_create(&c->ctx[i], e->mem[i].m, max_batch);
    if (err) {
        ens_ctx_destroy(c);
        return err;
    }
    *out = c;
    return TI_OK;
}

/* One step: member i on the trailing rows of x, its own normalisation, into column
 * combine_slot of z.  Each step has its own buffers, so steps may run at once. */
static ti_err run_step(const ti_ensemble *e, ens_ctx *c, int i, const float *x, int B, int T, ti_pool *pool)
{
    const ens_member *m = &e->mem[i];
    const ti_model_info *mi = ti_model_get_info(m->m);
    const int F = e->F, n = e->n, Tm = T < mi->context ? T : mi->context;
    const size_t rows = (size_t)c->max_batch * (size_t)e->context;
    float *xm = c->xm + (size_t)i * rows * (size_t)F, *ym = c->ym + (size_t)i * rows;
    const uint64_t t0 = ti_now_ns();
    for (int b = 0; b < B; b++)
        memcpy(xm + (size_t)b * (size_t)Tm * (size_t)F, x + ((size_t)b * (size_t)T + (size_t)(T - Tm)) * (size_t)F,
               sizeof(float) * (size_t)Tm * (size_t)F);
    ti_model_normalise(m->m, xm, (size_t)B * (size_t)Tm);
    ti_err err = ti_ctx_forward(c->ctx[i], ym, xm, B, Tm, pool);
    if (err) return ti_error_wrap(err, "ensemble step '%s'", m->name);
    for (int b = 0; b < B; b++)
        c->z[(size_t)b * (size_t)n + (size_t)m->combine_slot] =
            (mi->per_step ? ym[(size_t)b * (size_t)Tm + (size_t)(Tm - 1)] : ym[b]) + m->log_scale;
    ens_member *mm = (ens_member *)(uintptr_t)m; /* statistics only */
    atomic_fetch_add(&mm->count, 1);
    atomic_fetch_add(&mm->ns, ti_now_ns() - t0);
    return TI_OK;
}

typedef struct step_job {
    const ti_ensemble *e;
    ens_ctx *c;
    const float *x;
    int B, T;
} step_job;

static void step_task(void *ctx, size_t begin, size_t end, int worker)
{
    step_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        j->c->err[i] = run_step(j->e, j->c, (int)i, j->x, j->B, j->T, NULL);
        if (j->c->err[i]) snprintf(j->c->msg[i], sizeof j->c->msg[i], "%s", ti_errmsg()); /* messages are per thread */
    }
}

/* x [B,T,F] raw -> y [B] (or [B,n] concat).  With a pool of two or more threads the
 * steps (independent: each reads x only) run at once, one thread each; alone, a step
 * gets the whole pool.  The answer is the same either way (a forward does not depend on
 * its pool). */
static ti_err ens_forward(const void *impl, void *ctx, ti_tensor *out, int n_out, const ti_tensor *in, int n_in,
                          ti_pool *pool)
{
    const ti_ensemble *e = impl;
    ens_ctx *c = ctx;
    const int B = (int)in[0].shape[0], T = (int)in[0].shape[1];
    const float *x = in[0].data;
    if (pool && ti_pool_size(pool) > 1 && e->n > 1) {
        step_job j = {e, c, x, B, T};
        ti_pool_parallel_for(pool, (size_t)e->n, 1, step_task, &j);
        for (int i = 0; i < e->n; i++)
            if (c->err[i]) return ti_errorf(c->err[i], "%s", c->msg[i]);
    } else {
        for (int i = 0; i < e->n; i++) {
            ti_err err = run_step(e, c, i, x, B, T, pool);
            if (err) return err;
        }
    }
    ti_ensemble_combine(e, out[0].data, c->z, B);
    return TI_OK;
}

static int ens_n_members(const void *impl) { return ((const ti_ensemble *)impl)->n; }
static const ti_model *ens_member_at(const void *impl, int i, const char **name, uint64_t *count, uint64_t *ns)
{
    const ti_ensemble *e = impl;
    if (name) *name = e->mem[i].name;
    if (count) *count = atomic_load(&e->mem[i].count);
    if (ns) *ns = atomic_load(&e->mem[i].ns);
    return e->mem[i].m;
}

const ti_model_kind_ops ti_kind_ensemble = {
    .n_members = ens_n_members,
    .member = ens_member_at,
    .name = "ensemble",
    .probe = ens_probe,
    .load = ens_load,
    .destroy = ens_destroy,
    .ctx_create = ens_ctx_create,
    .ctx_destroy = ens_ctx_destroy,
    .forward = ens_forward,
};

const char *ti_ensemble_output_name(const ti_model *m, int i)
{
    const ti_ensemble *e = ti_model_get_kind(m) == &ti_kind_ensemble ? ti_model_impl(m) : NULL;
    return e && i >= 0 && i < e->n ? e->mem[i].out_tensor : NULL;
}
