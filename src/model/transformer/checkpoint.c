/* Model checkpoints: save as safetensors (weights + metadata), load safetensors or a
 * PyTorch .pt, validating every tensor against the config (given, from the metadata, or
 * inferred from the shapes). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/transformer/tfm_internal.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/torch_pt.h"
#include "tickinfer/version.h"

#define META_FORMAT "tickinfer.format"
#define META_FORMAT_VERSION "tickinfer.format_version"
#define META_VERSION "tickinfer.version"
#define META_CONFIG "tickinfer.config"
#define META_FEATURES "tickinfer.features"
#define META_MEAN "tickinfer.norm_mean"
#define META_STD "tickinfer.norm_std"
#define META_PREFIX "tickinfer."

/* ---- save ------------------------------------------------------------------------------------ */

/* JSON array of n floats (%.9g round-trips a float) or strings, malloc'd. */
static char *json_floats(const float *v, int n)
{
    size_t cap = 16 + (size_t)n * 18, used = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[used++] = '[';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, cap - used, "%s%.9g", i ? "," : "", (double)v[i]);
    snprintf(s + used, cap - used, "]");
    return s;
}

static char *json_strings(const char *const *names, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(names[i] ? names[i] : "")) != 0) {
            json_decref(arr);
            return NULL;
        }
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

static ti_err set_meta_owned(ti_st_builder *b, const char *key, char *value)
{
    if (!value) return ti_errorf(TI_ERR_NOMEM, "checkpoint: metadata '%s'", key);
    ti_err e = ti_st_builder_set_meta(b, key, value);
    free(value);
    return e;
}

static ti_err add_data_meta(ti_st_builder *b, const ti_tfm *m, const ti_ckpt_data *d)
{
    if (d->n_features != m->cfg.n_features)
        return ti_errorf(TI_ERR_INVALID_ARG, "checkpoint save: data has %d features, the model %d",
                         d->n_features, m->cfg.n_features);
    if (!d->mean != !d->std)
        return ti_errorf(TI_ERR_INVALID_ARG, "checkpoint save: give both norm mean and std, or neither");
    for (int i = 0; i < d->n_features; i++)
        if ((d->mean && !isfinite(d->mean[i])) || (d->std && !isfinite(d->std[i])))
            return ti_errorf(TI_ERR_RANGE, "checkpoint save: norm mean/std of feature %d is not finite", i);
    ti_err e = TI_OK;
    if (d->feature_names) e = set_meta_owned(b, META_FEATURES, json_strings(d->feature_names, d->n_features));
    if (!e && d->mean) e = set_meta_owned(b, META_MEAN, json_floats(d->mean, d->n_features));
    if (!e && d->std) e = set_meta_owned(b, META_STD, json_floats(d->std, d->n_features));
    for (size_t i = 0; !e && i < d->n_extra; i++) {
        const char *k = d->extra_keys[i], *v = d->extra_values[i];
        if (!k || !v || strncmp(k, META_PREFIX, strlen(META_PREFIX)) == 0)
            return ti_errorf(TI_ERR_INVALID_ARG, "checkpoint save: extra metadata key '%s' is NULL or reserved",
                             k ? k : "(null)");
        e = ti_st_builder_set_meta(b, k, v);
    }
    return e;
}

ti_err ti_tfm_save(const ti_tfm *m, const char *path, const ti_ckpt_data *data)
{
    if (!m || !path) return ti_errorf(TI_ERR_INVALID_ARG, "checkpoint save: NULL argument");
    ti_st_builder *b;
    ti_err e = ti_st_builder_create(&b);
    if (e) return e;
    char cfg[256];
    for (size_t i = 0; !e && i < m->n_tensors; i++) {
        const ti_tfm_tensor *t = &m->tensors[i];
        e = ti_st_builder_add(b, t->name, TI_ST_F32, t->ndim, t->shape, m->params + t->offset);
    }
    if (!e) e = ti_st_builder_set_meta(b, META_FORMAT, "model");
    if (!e) e = ti_st_builder_set_meta(b, META_FORMAT_VERSION, "1");
    if (!e) e = ti_st_builder_set_meta(b, META_VERSION, TI_VERSION_STRING);
    if (!e) e = ti_tfm_config_to_json(cfg, sizeof cfg, &m->cfg);
    if (!e) e = ti_st_builder_set_meta(b, META_CONFIG, cfg);
    if (!e && data) e = add_data_meta(b, m, data);
    if (!e) e = ti_st_builder_write(b, path);
    ti_st_builder_destroy(b);
    if (e) return ti_error_wrap(e, "checkpoint save %s", path);
    return TI_OK;
}

/* ---- tensor sources: safetensors or .pt --------------------------------------------------- */

typedef struct src_tensor {
    const char *name;
    ti_st_dtype dtype;
    int ndim;
    const int64_t *shape;
    uint64_t numel;
    const void *data;
} src_tensor;

typedef struct ckpt_src {
    const char *path;
    ti_safetensors *st;
    ti_pt *pt;
} ckpt_src;

static size_t src_count(const ckpt_src *s)
{
    return s->st ? ti_safetensors_count(s->st) : ti_pt_count(s->pt);
}

static void src_at(const ckpt_src *s, size_t i, src_tensor *t)
{
    if (s->st) {
        const ti_st_tensor *x = ti_safetensors_at(s->st, i);
        *t = (src_tensor){x->name, x->dtype, x->ndim, x->shape, x->numel, x->data};
    } else {
        const ti_pt_tensor *x = ti_pt_at(s->pt, i);
        *t = (src_tensor){x->name, x->dtype, x->ndim, x->shape, x->numel, x->data};
    }
}

static int src_find(const ckpt_src *s, const char *name, src_tensor *t)
{
    if (s->st) {
        const ti_st_tensor *x = ti_safetensors_find(s->st, name);
        if (x) *t = (src_tensor){x->name, x->dtype, x->ndim, x->shape, x->numel, x->data};
        return x != NULL;
    }
    const ti_pt_tensor *x = ti_pt_find(s->pt, name);
    if (x) *t = (src_tensor){x->name, x->dtype, x->ndim, x->shape, x->numel, x->data};
    return x != NULL;
}

static const char *src_meta(const ckpt_src *s, const char *key)
{
    return s->st ? ti_safetensors_meta(s->st, key) : NULL;
}

/* A zip archive (torch.save) starts with a local file header. */
static int looks_like_zip(const char *path)
{
    unsigned char sig[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(sig, 1, 4, f);
    fclose(f);
    return n == 4 && sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4;
}

/* Strip wrapper prefixes every name shares: "_orig_mod." (torch.compile), "module."
 * (DataParallel), in any nesting. */
static ti_err strip_wrappers(ti_pt *pt)
{
    static const char *const WRAPPERS[] = {"_orig_mod.", "module."};
    char shared[256];
    size_t n = ti_pt_shared_prefix(pt, shared, sizeof shared), used = 0;
    for (int again = 1; again && used < n;) {
        again = 0;
        for (size_t w = 0; w < 2; w++) {
            size_t k = strlen(WRAPPERS[w]);
            if (n - used >= k && memcmp(shared + used, WRAPPERS[w], k) == 0) {
                used += k;
                again = 1;
            }
        }
    }
    if (!used) return TI_OK;
    shared[used] = '\0';
    return ti_pt_strip_prefix(pt, shared, NULL);
}

static ti_err src_open(ckpt_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    if (!looks_like_zip(path)) return ti_safetensors_open(&s->st, path);
    ti_err e = ti_pt_open(&s->pt, path, NULL);
    if (!e) e = strip_wrappers(s->pt);
    return e;
}

static void src_close(ckpt_src *s)
{
    if (s->st) ti_safetensors_close(s->st);
    if (s->pt) ti_pt_close(s->pt);
}

/* ---- config: given, from metadata, or inferred ------------------------------------------------ */

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

/* The tensor `name` with exactly `ndim` dims, or an error naming it. */
static ti_err need_dims(const ckpt_src *s, const char *name, int ndim, src_tensor *t)
{
    if (!src_find(s, name, t))
        return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: tensor '%s' missing (needed to infer the config)",
                         s->path, name);
    if (t->ndim != ndim) {
        char sh[128];
        shape_str(sh, sizeof sh, t->ndim, t->shape);
        return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: tensor '%s' has shape %s, expected %d dims", s->path,
                         name, sh, ndim);
    }
    return TI_OK;
}

static ti_err infer_config(ti_tfm_config *c, const ckpt_src *s, const ti_tfm_load_opts *o)
{
    src_tensor t;
    ti_tfm_arch kind;
    const char *layer_fmt;
    if (src_find(s, "cls", &t) || src_find(s, "enc.layers.0.self_attn.in_proj_weight", &t)) {
        kind = TI_TFM_TINYRV;
        layer_fmt = "enc.layers.%d.linear1.weight";
    } else if (src_find(s, "layers.0.in_proj.weight", &t)) {
        kind = TI_TFM_RV_CAUSAL;
        layer_fmt = "layers.%d.linear1.weight";
    } else {
        return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: no tickinfer.config metadata and neither 'cls' (TinyRV) "
                         "nor 'layers.0.in_proj.weight' (causal): not a known model; give a config", s->path);
    }
    ti_tfm_config_default(c, kind);
    ti_err e = need_dims(s, "proj.weight", 2, &t);
    if (e) return e;
    c->d_model = (int)(t.shape[0] < INT32_MAX ? t.shape[0] : INT32_MAX);
    c->n_features = (int)(t.shape[1] < INT32_MAX ? t.shape[1] : INT32_MAX);
    char name[TI_MODEL_MAX_NAME];
    snprintf(name, sizeof name, layer_fmt, 0);
    if ((e = need_dims(s, name, 2, &t))) return e;
    c->d_ff = (int)(t.shape[0] < INT32_MAX ? t.shape[0] : INT32_MAX);
    c->n_layers = 0;
    do {
        snprintf(name, sizeof name, layer_fmt, ++c->n_layers);
    } while (c->n_layers <= TI_MODEL_MAX_LAYERS && src_find(s, name, &t));
    if (kind == TI_TFM_TINYRV) {
        if ((e = need_dims(s, "pos", 3, &t))) return e;
        c->context = (int)(t.shape[1] - 1 < INT32_MAX ? t.shape[1] - 1 : INT32_MAX);
    } else {
        c->context = o && o->context > 0 ? o->context : 4096;
    }
    c->n_heads = o && o->n_heads > 0 ? o->n_heads : 4; /* not visible in any shape */
    if ((e = ti_tfm_config_validate(c)))
        return ti_error_wrap(e, "checkpoint %s: config inferred from the shapes (heads %d%s)", s->path,
                             c->n_heads, o && o->n_heads > 0 ? "" : " by default");
    return TI_OK;
}

/* ---- metadata arrays ------------------------------------------------------------------------ */

static ti_err parse_array(const ckpt_src *s, const char *key, int n, json_t **out)
{
    *out = NULL;
    const char *v = src_meta(s, key);
    if (!v) return TI_OK;
    json_error_t jerr;
    json_t *a = json_loads(v, 0, &jerr);
    if (!a || !json_is_array(a) || json_array_size(a) != (size_t)n) {
        json_decref(a);
        return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: metadata '%s' must be a JSON array of %d entries "
                         "(one per feature)", s->path, key, n);
    }
    *out = a;
    return TI_OK;
}

static ti_err read_floats(float **out, const ckpt_src *s, const char *key, int n)
{
    json_t *a;
    ti_err e = parse_array(s, key, n, &a);
    if (e || !a) return e;
    float *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; v && i < n; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x)) {
            free(v);
            json_decref(a);
            return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: metadata '%s'[%d] is not a number", s->path, key, i);
        }
        v[i] = (float)json_number_value(x);
    }
    json_decref(a);
    if (!v) return ti_errorf(TI_ERR_NOMEM, "checkpoint %s: metadata '%s'", s->path, key);
    *out = v;
    return TI_OK;
}

static ti_err read_names(char ***out, const ckpt_src *s, int n)
{
    json_t *a;
    ti_err e = parse_array(s, META_FEATURES, n, &a);
    if (e || !a) return e;
    char **names = calloc((size_t)n, sizeof *names);
    for (int i = 0; names && i < n && !e; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_string(x))
            e = ti_errorf(TI_ERR_FORMAT, "checkpoint %s: metadata '%s'[%d] is not a string", s->path,
                          META_FEATURES, i);
        else if (!(names[i] = strdup(json_string_value(x))))
            e = ti_errorf(TI_ERR_NOMEM, "checkpoint %s: feature names", s->path);
    }
    json_decref(a);
    if (!names) e = ti_errorf(TI_ERR_NOMEM, "checkpoint %s: feature names", s->path);
    if (e) {
        for (int i = 0; names && i < n; i++) free(names[i]);
        free(names);
        return e;
    }
    *out = names;
    return TI_OK;
}

void ti_ckpt_meta_free(ti_ckpt_meta *meta)
{
    if (!meta) return;
    for (int i = 0; meta->feature_names && i < meta->n_features; i++) free(meta->feature_names[i]);
    free(meta->feature_names);
    free(meta->mean);
    free(meta->std);
    memset(meta, 0, sizeof *meta);
}

static ti_err read_meta(ti_ckpt_meta *meta, const ckpt_src *s, int n)
{
    const char *v = src_meta(s, META_VERSION);
    snprintf(meta->version, sizeof meta->version, "%s", v ? v : "");
    ti_err e = read_names(&meta->feature_names, s, n);
    if (!e) e = read_floats(&meta->mean, s, META_MEAN, n);
    if (!e) e = read_floats(&meta->std, s, META_STD, n);
    if (!e && (meta->feature_names || meta->mean || meta->std)) meta->n_features = n;
    return e;
}

/* ---- load ---------------------------------------------------------------------------------- */

/* Copy every tensor the model needs, checking name, shape, dtype and values. */
static ti_err fill_params(ti_tfm *m, const ckpt_src *s)
{
    char kind_desc[96];
    snprintf(kind_desc, sizeof kind_desc, "%s model with %d layers", ti_tfm_arch_name(m->cfg.kind),
             m->cfg.n_layers);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const ti_tfm_tensor *mt = &m->tensors[i];
        src_tensor t;
        if (!src_find(s, mt->name, &t))
            return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: tensor '%s' missing (a %s needs it)", s->path,
                             mt->name, kind_desc);
        int same = t.ndim == mt->ndim;
        for (int d = 0; same && d < t.ndim; d++) same = t.shape[d] == mt->shape[d];
        if (!same) {
            char have[128], want[128];
            shape_str(have, sizeof have, t.ndim, t.shape);
            shape_str(want, sizeof want, mt->ndim, mt->shape);
            return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: tensor '%s' has shape %s, config needs %s", s->path,
                             mt->name, have, want);
        }
        if (t.numel != mt->numel || (mt->numel && !t.data))
            return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: tensor '%s' holds %llu values, needs %zu", s->path,
                             mt->name, (unsigned long long)t.numel, mt->numel);
        float *dst = m->params + mt->offset;
        if (ti_st_to_f32(dst, t.data, t.dtype, mt->numel) != TI_OK)
            return ti_errorf(TI_ERR_UNSUPPORTED, "checkpoint %s: tensor '%s' has dtype %s, need a float type",
                             s->path, mt->name, ti_st_dtype_name(t.dtype));
        for (size_t j = 0; j < mt->numel; j++)
            if (!isfinite(dst[j]))
                return ti_errorf(TI_ERR_RANGE, "checkpoint %s: tensor '%s' holds a non-finite value at index %zu",
                                 s->path, mt->name, j);
    }
    const size_t n = src_count(s);
    if (n != m->n_tensors) /* every model tensor was found, so some file tensor is extra */
        for (size_t i = 0; i < n; i++) {
            src_tensor t;
            src_at(s, i, &t);
            if (!ti_tfm_find_tensor(m, t.name))
                return ti_errorf(TI_ERR_FORMAT, "checkpoint %s: unexpected tensor '%s' (not part of a %s)",
                                 s->path, t.name, kind_desc);
        }
    return TI_OK;
}

static ti_err load_from(ti_tfm **out, ti_ckpt_meta *meta, const ckpt_src *s, const ti_tfm_load_opts *o)
{
    ti_tfm_config cfg;
    ti_config_source source;
    ti_err e;
    const char *cj = src_meta(s, META_CONFIG);
    if (o && o->config) {
        cfg = *o->config;
        source = TI_CONFIG_FROM_CALLER;
        if ((e = ti_tfm_config_validate(&cfg))) return ti_error_wrap(e, "checkpoint %s", s->path);
    } else if (cj) {
        char label[300];
        snprintf(label, sizeof label, "%s (metadata %s)", s->path, META_CONFIG);
        if ((e = ti_tfm_config_from_json(&cfg, cj, label))) return e;
        source = TI_CONFIG_FROM_METADATA;
    } else {
        if ((e = infer_config(&cfg, s, o))) return e;
        source = TI_CONFIG_INFERRED;
    }
    ti_tfm *m;
    if ((e = ti_tfm_create(&m, &cfg))) return e;
    if (o && o->kernels) ti_tfm_set_kernels(m, o->kernels);
    e = fill_params(m, s);
    if (!e && !(o && o->no_pack)) e = ti_tfm_pack(m);
    if (!e && meta) {
        memset(meta, 0, sizeof *meta);
        meta->config = cfg;
        meta->config_source = source;
        e = read_meta(meta, s, cfg.n_features);
        if (e) ti_ckpt_meta_free(meta);
    }
    if (e) {
        ti_tfm_destroy(m);
        return e;
    }
    *out = m;
    return TI_OK;
}

ti_err ti_tfm_load(ti_tfm **out, ti_ckpt_meta *meta, const char *path, const ti_tfm_load_opts *opts)
{
    if (!out || !path) return ti_errorf(TI_ERR_INVALID_ARG, "checkpoint load: NULL argument");
    *out = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    ckpt_src s;
    ti_err e = src_open(&s, path);
    if (!e) e = load_from(out, meta, &s, opts);
    src_close(&s);
    return e;
}
