/* The generic model layer: kind table, open by sniffing, run contexts, the streaming
 * window adapter.  See include/tickinfer/model.h.  No kind's math lives here. */
#include "tickinfer/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_internal.h"
#include "tickinfer/alloc.h"

struct ti_model {
    const ti_model_kind_ops *ops;
    void *impl;
    ti_model_info info;
    ti_model_norm norm;
    int has_norm;
    char path[1024];
};

struct ti_ctx {
    const ti_model *m;
    void *kctx;
    int max_batch;
};

/* The window adapter for kinds without a native step: a ring of the last `context`
 * normalised rows, copied out oldest-first into a [1,T,F] window for one forward. */
struct ti_state {
    const ti_model *m;
    void *kst;        /* native state, or NULL */
    ti_ctx *ctx;      /* adapter */
    float *ring;      /* [context, F] */
    float *win;       /* [context, F] */
    float *yout;      /* [context] */
    int64_t n;        /* rows seen */
};

static const ti_model_kind_ops *const kinds[] = {&ti_kind_ensemble, &ti_kind_trees, &ti_kind_linear, &ti_kind_transformer, NULL};

const ti_model_kind_ops *const *ti_model_kinds(void) { return kinds; }

const ti_model_kind_ops *ti_model_kind_find(const char *name)
{
    for (int i = 0; kinds[i]; i++)
        if (name && strcmp(kinds[i]->name, name) == 0) return kinds[i];
    return NULL;
}

const char *ti_dtype_name(ti_dtype t)
{
    static const char *const names[TI_DTYPE__COUNT] = {"FP32", "INT64", "INT32"};
    return (unsigned)t < TI_DTYPE__COUNT ? names[t] : "?";
}

void ti_model_default_opts(ti_model_opts *o) { memset(o, 0, sizeof *o); }

static void norm_free(ti_model_norm *n)
{
    if (n->feature_names)
        for (int i = 0; i < n->n_features; i++) free(n->feature_names[i]);
    free(n->feature_names);
    free(n->mean);
    free(n->std);
    memset(n, 0, sizeof *n);
}

static int norm_usable(const ti_model_norm *n, int F)
{
    if (!n->mean || !n->std || n->n_features != F) return 0;
    for (int i = 0; i < F; i++)
        if (!(n->std[i] > 0)) return 0; /* a zero std cannot be applied */
    return 1;
}

ti_err ti_model_norm_copy(ti_model_norm *dst, const ti_model_norm *src)
{
    memset(dst, 0, sizeof *dst);
    dst->rv_scale = src->rv_scale;
    memcpy(dst->version, src->version, sizeof dst->version);
    dst->n_features = src->n_features;
    const size_t F = (size_t)(src->n_features > 0 ? src->n_features : 0);
    if (src->mean && src->std) {
        dst->mean = malloc(F * sizeof(float) + 1);
        dst->std = malloc(F * sizeof(float) + 1);
        if (!dst->mean || !dst->std) goto nomem;
        memcpy(dst->mean, src->mean, F * sizeof(float));
        memcpy(dst->std, src->std, F * sizeof(float));
    }
    if (src->feature_names) {
        dst->feature_names = calloc(F + 1, sizeof(char *));
        if (!dst->feature_names) goto nomem;
        for (size_t i = 0; i < F; i++)
            if (src->feature_names[i] && !(dst->feature_names[i] = strdup(src->feature_names[i]))) goto nomem;
    }
    return TI_OK;
nomem:
    norm_free(dst);
    return ti_errorf(TI_ERR_NOMEM, "model: out of memory copying the feature normalisation");
}

ti_err ti_model_wrap(ti_model **out, const ti_model_kind_ops *ops, void *impl, const ti_model_info *info,
                     const ti_model_norm *norm, const char *path)
{
    *out = NULL;
    ti_model *m = calloc(1, sizeof *m);
    if (!m) {
        ops->destroy(impl);
        return ti_errorf(TI_ERR_NOMEM, "model: out of memory");
    }
    m->ops = ops, m->impl = impl, m->info = *info;
    m->info.kind = ops->name;
    snprintf(m->path, sizeof m->path, "%s", path ? path : "");
    ti_err e = norm ? ti_model_norm_copy(&m->norm, norm) : TI_OK;
    if (e) {
        ti_model_free(m);
        return e;
    }
    if (!(m->norm.rv_scale > 0)) m->norm.rv_scale = 1.0f;
    m->has_norm = norm_usable(&m->norm, m->info.n_features);
    *out = m;
    return TI_OK;
}

ti_err ti_model_open(ti_model **out, const char *path, const ti_model_opts *opts)
{
    *out = NULL;
    ti_model_opts def;
    if (!opts) ti_model_default_opts(&def), opts = &def;
    if (!path || !*path) return ti_errorf(TI_ERR_INVALID_ARG, "model: no file given");
    const ti_model_kind_ops *ops = NULL;
    if (opts->kind) {
        if (!(ops = ti_model_kind_find(opts->kind)))
            return ti_errorf(TI_ERR_INVALID_ARG, "model %s: unknown kind '%s' (kinds: ensemble, trees, linear, transformer)",
                             path, opts->kind);
    } else {
        uint8_t head[512];
        size_t n = 0;
        /* An unreadable file is still handed to the kind its name suggests, whose loader
         * then says what is wrong in its own words. */
        FILE *f = fopen(path, "rb");
        const int open_errno = f ? 0 : errno;
        if (f) {
            n = fread(head, 1, sizeof head, f);
            fclose(f);
        }
        int best = 0;
        for (int i = 0; kinds[i]; i++) {
            int s = kinds[i]->probe(path, head, n);
            if (s > best) best = s, ops = kinds[i];
        }
        if (!ops && open_errno)
            return ti_errorf(open_errno == ENOENT ? TI_ERR_NOT_FOUND : TI_ERR_IO, "model %s: cannot open it: %s", path,
                             strerror(open_errno));
        if (!ops)
            return ti_errorf(TI_ERR_FORMAT,
                             "model %s: not a model file tickinfer reads (safetensors, PyTorch .pt, ONNX, "
                             "ensemble JSON, LightGBM model.txt, XGBoost JSON/UBJSON)",
                             path);
    }
    void *impl = NULL;
    ti_model_info info;
    ti_model_norm norm;
    memset(&info, 0, sizeof info);
    memset(&norm, 0, sizeof norm);
    ti_err e = ops->load(&impl, &info, &norm, path, opts);
    if (e) {
        norm_free(&norm);
        return e;
    }
    e = ti_model_wrap(out, ops, impl, &info, &norm, path);
    norm_free(&norm);
    return e;
}

void ti_model_free(ti_model *m)
{
    if (!m) return;
    if (m->impl) m->ops->destroy(m->impl);
    norm_free(&m->norm);
    free(m);
}

const ti_model_info *ti_model_get_info(const ti_model *m) { return &m->info; }
const ti_model_norm *ti_model_get_norm(const ti_model *m) { return &m->norm; }
const ti_model_kind_ops *ti_model_get_kind(const ti_model *m) { return m->ops; }
const char *ti_model_path(const ti_model *m) { return m->path; }
const void *ti_model_impl(const ti_model *m) { return m->impl; }
int ti_model_has_norm(const ti_model *m) { return m->has_norm; }
int ti_model_n_members(const ti_model *m) { return m->ops->n_members ? m->ops->n_members(m->impl) : 0; }
const ti_model *ti_model_member_stats(const ti_model *m, int i, const char **name, uint64_t *count, uint64_t *ns)
{
    return i >= 0 && i < ti_model_n_members(m) ? m->ops->member(m->impl, i, name, count, ns) : NULL;
}
const ti_model *ti_model_member(const ti_model *m, int i, const char **name)
{
    return ti_model_member_stats(m, i, name, NULL, NULL);
}

/* (x - mean) * (1 / std) in float: the same arithmetic as the datasets' and the stream
 * engine's ti_feat_normalize, so a batch, a stream and an eval of one model agree bit for
 * bit. */
void ti_model_normalise(const ti_model *m, float *x, size_t rows)
{
    if (!m->has_norm) return;
    const int F = m->info.n_features;
    for (size_t r = 0; r < rows; r++, x += F)
        for (int i = 0; i < F; i++) x[i] = (x[i] - m->norm.mean[i]) * (1.0f / m->norm.std[i]);
}

int ti_path_has_ext(const char *path, const char *ext)
{
    const size_t n = strlen(path), k = strlen(ext);
    return n >= k && strcasecmp(path + n - k, ext) == 0;
}

void ti_model_info_main_io(ti_model_info *mi)
{
    mi->n_inputs = mi->n_outputs = 1;
    ti_tensor_desc *x = &mi->inputs[0], *y = &mi->outputs[0];
    memset(x, 0, sizeof *x);
    memset(y, 0, sizeof *y);
    snprintf(x->name, sizeof x->name, "x");
    x->dtype = TI_DTYPE_F32, x->ndim = 3;
    x->shape[0] = -1, x->shape[1] = mi->fixed_context ? mi->context : -1, x->shape[2] = mi->n_features;
    snprintf(y->name, sizeof y->name, "y");
    y->dtype = TI_DTYPE_F32, y->ndim = mi->per_step ? 2 : 1;
    y->shape[0] = -1, y->shape[1] = mi->per_step ? -1 : 0;
}

/* ---- contexts ------------------------------------------------------------------------- */

ti_err ti_ctx_create(ti_ctx **out, const ti_model *m, int max_batch)
{
    *out = NULL;
    if (max_batch < 1) return ti_errorf(TI_ERR_INVALID_ARG, "model context: max_batch %d must be >= 1", max_batch);
    ti_ctx *c = calloc(1, sizeof *c);
    if (!c) return ti_errorf(TI_ERR_NOMEM, "model context: out of memory");
    c->m = m, c->max_batch = max_batch;
    ti_err e = m->ops->ctx_create(&c->kctx, m->impl, max_batch);
    if (e) {
        free(c);
        return e;
    }
    *out = c;
    return TI_OK;
}

void ti_ctx_destroy(ti_ctx *c)
{
    if (!c) return;
    if (c->kctx) c->m->ops->ctx_destroy(c->kctx);
    free(c);
}

int ti_ctx_max_batch(const ti_ctx *c) { return c->max_batch; }

ti_err ti_model_check_bt(const ti_model_info *mi, int B, int T, int max_batch)
{
    if (B < 1 || B > max_batch)
        return ti_errorf(TI_ERR_INVALID_ARG, "model: batch %d outside 1..%d", B, max_batch);
    if (mi->fixed_context ? T != mi->context : (T < 1 || T > mi->context))
        return ti_errorf(TI_ERR_INVALID_ARG, "model: %d steps; this %s model takes %s%d", T, mi->arch,
                         mi->fixed_context ? "exactly " : "1..", mi->context);
    return TI_OK;
}

ti_err ti_ctx_forward(ti_ctx *c, float *y, const float *x, int B, int T, ti_pool *pool)
{
    const ti_model_info *mi = &c->m->info;
    ti_err e = ti_model_check_bt(mi, B, T, c->max_batch);
    if (e) return e;
    ti_tensor in = {.dtype = TI_DTYPE_F32, .ndim = 3, .shape = {B, T, mi->n_features}, .data = (void *)(uintptr_t)x};
    ti_tensor o = {.dtype = TI_DTYPE_F32, .ndim = mi->per_step ? 2 : 1, .shape = {B, mi->per_step ? T : 0}, .data = y};
    return c->m->ops->forward(c->m->impl, c->kctx, &o, 1, &in, 1, pool);
}

ti_err ti_ctx_run(ti_ctx *c, ti_tensor *out, int n_out, const ti_tensor *in, int n_in, ti_pool *pool)
{
    const ti_model_info *mi = &c->m->info;
    if (n_in != mi->n_inputs || n_out != mi->n_outputs)
        return ti_errorf(TI_ERR_INVALID_ARG, "model: %d inputs / %d outputs given; it takes %d / %d", n_in, n_out,
                         mi->n_inputs, mi->n_outputs);
    for (int i = 0; i < n_in; i++) {
        if (in[i].dtype != mi->inputs[i].dtype || in[i].ndim != mi->inputs[i].ndim)
            return ti_errorf(TI_ERR_INVALID_ARG, "model: input '%s' must be %s with %d dims", mi->inputs[i].name,
                             ti_dtype_name(mi->inputs[i].dtype), mi->inputs[i].ndim);
        for (int d = 0; d < in[i].ndim; d++)
            if (mi->inputs[i].shape[d] >= 0 && in[i].shape[d] != mi->inputs[i].shape[d])
                return ti_errorf(TI_ERR_INVALID_ARG, "model: input '%s' dim %d is %lld; the model needs %lld",
                                 mi->inputs[i].name, d, (long long)in[i].shape[d], (long long)mi->inputs[i].shape[d]);
    }
    if (in[0].shape[0] < 1 || in[0].shape[0] > c->max_batch)
        return ti_errorf(TI_ERR_INVALID_ARG, "model: batch %lld outside 1..%d", (long long)in[0].shape[0], c->max_batch);
    return c->m->ops->forward(c->m->impl, c->kctx, out, n_out, in, n_in, pool);
}

/* ---- streaming --------------------------------------------------------------------------- */

ti_err ti_state_create(ti_state **out, const ti_model *m)
{
    *out = NULL;
    ti_state *s = calloc(1, sizeof *s);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "model state: out of memory");
    s->m = m;
    ti_err e = TI_OK;
    if (m->info.native_step && m->ops->state_create) {
        e = m->ops->state_create(&s->kst, m->impl);
    } else {
        const size_t n = (size_t)m->info.context * (size_t)m->info.n_features;
        s->ring = ti_calloc_aligned(n, sizeof(float), 64);
        s->win = ti_calloc_aligned(n, sizeof(float), 64);
        s->yout = ti_calloc_aligned((size_t)m->info.context, sizeof(float), 64);
        if (!s->ring || !s->win || !s->yout) e = ti_errorf(TI_ERR_NOMEM, "model state: out of memory");
        if (!e) e = ti_ctx_create(&s->ctx, m, 1);
    }
    if (e) {
        ti_state_destroy(s);
        return e;
    }
    *out = s;
    return TI_OK;
}

void ti_state_destroy(ti_state *s)
{
    if (!s) return;
    if (s->kst) s->m->ops->state_destroy(s->kst);
    ti_ctx_destroy(s->ctx);
    ti_free_aligned(s->ring);
    ti_free_aligned(s->win);
    ti_free_aligned(s->yout);
    free(s);
}

void ti_state_reset(ti_state *s)
{
    if (s->kst) s->m->ops->state_reset(s->kst);
    s->n = 0;
}

ti_err ti_state_step(ti_state *s, float *y, const float *x)
{
    const ti_model_info *mi = &s->m->info;
    const int F = mi->n_features, W = mi->context;
    for (int i = 0; i < F; i++)
        if (!isfinite(x[i]))
            return ti_errorf(TI_ERR_INVALID_ARG, "model state: feature %d is %g; inputs must be finite", i, x[i]);
    if (s->kst) {
        ti_err e = s->m->ops->state_step(s->m->impl, s->kst, y, x);
        if (!e) s->n++;
        return e;
    }
    memcpy(s->ring + (size_t)(s->n % W) * (size_t)F, x, (size_t)F * sizeof(float));
    s->n++;
    const int T = s->n < W ? (int)s->n : W;
    if (mi->fixed_context && T < W) {
        *y = NAN;
        return TI_OK;
    }
    for (int t = 0; t < T; t++) { /* oldest first */
        const int64_t pos = s->n - T + t;
        memcpy(s->win + (size_t)t * (size_t)F, s->ring + (size_t)(pos % W) * (size_t)F, (size_t)F * sizeof(float));
    }
    ti_err e = ti_ctx_forward(s->ctx, s->yout, s->win, 1, T, NULL);
    if (!e) *y = mi->per_step ? s->yout[T - 1] : s->yout[0];
    return e;
}

int64_t ti_state_len(const ti_state *s) { return s->n; }

size_t ti_state_bytes(const ti_state *s)
{
    if (s->kst) return s->m->ops->state_bytes ? s->m->ops->state_bytes(s->kst) : 0;
    return (2 * (size_t)s->m->info.context * (size_t)s->m->info.n_features + (size_t)s->m->info.context) * sizeof(float);
}
