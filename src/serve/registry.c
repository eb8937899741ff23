/* Model registry; see registry.h. */
#include "serve/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/alloc.h"
#include "tickinfer/features.h"
#include "tickinfer/transformer.h"

ti_err sv_entry_load(sv_model_entry **out, const char *name, const char *path, int version,
                     const sv_dynbatch_opts *bo, ti_kv_dtype stream_kv)
{
    *out = NULL;
    if (!name || !*name || strlen(name) >= TI_MODEL_MAX_NAME)
        return ti_errorf(TI_ERR_INVALID_ARG, "serve: model name must be 1..%d chars", TI_MODEL_MAX_NAME - 1);
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return ti_errorf(TI_ERR_INVALID_ARG, "serve: model name '%s': use letters, digits, '_', '-', '.'", name);
    if (strlen(path) >= SV_REG_MAX_PATH) return ti_errorf(TI_ERR_LIMIT, "serve: model path too long");
    sv_model_entry *e = calloc(1, sizeof *e);
    if (!e) return ti_errorf(TI_ERR_NOMEM, "serve: out of memory");
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->version = version;
    atomic_init(&e->refs, 1);
    ti_err err = ti_model_open(&e->model, path, NULL);
    if (err) {
        free(e);
        return ti_error_wrap(err, "serve: model '%s': ", name);
    }
    e->info = ti_model_get_info(e->model);
    e->norm = ti_model_get_norm(e->model);
    e->per_step = e->info->per_step;
    e->normalise = ti_model_has_norm(e->model);
    e->rv_scale = e->norm->rv_scale > 0 && e->norm->rv_scale < 1e6f ? e->norm->rv_scale : 1.0f;
    err = sv_dynbatch_create(&e->batcher, e->model, bo);
    /* Models that forecast from the per-second trade features get /v1/streams: a KV-cache
     * kind steps its cache, any other (linear, trees, ensembles) its window state. */
    const int per_second = e->info->n_features == ti_features_count(0) && !e->per_step && e->info->outputs[0].ndim == 1;
    if (!err && ((e->info->native_step && ti_tfm_of_model(e->model)) || per_second))
        err = sv_serve_streams_create(&e->streams, e->model, stream_kv);
    if (!err) {
        /* Warm-up: page in the weights and run states before the first request. */
        int T = e->info->context, F = e->info->n_features;
        float *x = ti_calloc_aligned((size_t)T * (size_t)F, sizeof(float), 64);
        float *y = ti_calloc_aligned((size_t)T * 64, sizeof(float), 64);
        ti_ctx *ctx = NULL;
        if (!x || !y) err = ti_errorf(TI_ERR_NOMEM, "serve: out of memory for warm-up");
        if (!err) err = ti_ctx_create(&ctx, e->model, 1);
        if (!err) err = ti_ctx_forward(ctx, y, x, 1, T, NULL);
        ti_ctx_destroy(ctx);
        ti_free_aligned(x);
        ti_free_aligned(y);
    }
    if (err) {
        atomic_store(&e->refs, 1);
        sv_entry_unref(e);
        return ti_error_wrap(err, "serve: model '%s': ", name);
    }
    *out = e;
    return TI_OK;
}

void sv_entry_ref(sv_model_entry *e) { atomic_fetch_add(&e->refs, 1); }

void sv_entry_unref(sv_model_entry *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1) return;
    sv_dynbatch_destroy(e->batcher);
    sv_serve_streams_destroy(e->streams);
    ti_model_free(e->model);
    free(e);
}

void sv_registry_init(sv_registry *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

void sv_registry_free(sv_registry *r)
{
    for (int i = 0; i < r->n; i++) sv_entry_unref(r->slot[i].entry);
    r->n = 0;
    pthread_mutex_destroy(&r->mu);
}

static int find_slot(const sv_registry *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->slot[i].name, name) == 0) return i;
    return -1;
}

sv_model_entry *sv_registry_get(sv_registry *r, const char *name, int version)
{
    pthread_mutex_lock(&r->mu);
    int i = find_slot(r, name);
    sv_model_entry *e = i >= 0 ? r->slot[i].entry : NULL;
    if (e && version && e->version != version) e = NULL;
    if (e) sv_entry_ref(e);
    pthread_mutex_unlock(&r->mu);
    return e;
}

ti_err sv_registry_put(sv_registry *r, sv_model_entry *e)
{
    pthread_mutex_lock(&r->mu);
    int i = find_slot(r, e->name);
    if (i < 0) {
        if (r->n >= SV_REG_MAX_MODELS) {
            pthread_mutex_unlock(&r->mu);
            return ti_errorf(TI_ERR_LIMIT, "serve: registry holds at most %d models", SV_REG_MAX_MODELS);
        }
        i = r->n++;
        snprintf(r->slot[i].name, sizeof r->slot[i].name, "%s", e->name);
    }
    sv_model_entry *old = r->slot[i].entry;
    r->slot[i].entry = e;
    snprintf(r->slot[i].path, sizeof r->slot[i].path, "%s", e->path);
    if (e->version > r->slot[i].last_version) r->slot[i].last_version = e->version;
    pthread_mutex_unlock(&r->mu);
    sv_entry_unref(old); /* outside the lock: may join the old workers */
    return TI_OK;
}

ti_err sv_registry_remove(sv_registry *r, const char *name)
{
    pthread_mutex_lock(&r->mu);
    int i = find_slot(r, name);
    sv_model_entry *old = i >= 0 ? r->slot[i].entry : NULL;
    if (old) r->slot[i].entry = NULL;
    pthread_mutex_unlock(&r->mu);
    if (!old) return ti_errorf(TI_ERR_NOT_FOUND, "model '%s' is not loaded", name);
    sv_entry_unref(old);
    return TI_OK;
}

int sv_registry_lookup_path(sv_registry *r, const char *name, char *path, size_t cap, int *next_version)
{
    pthread_mutex_lock(&r->mu);
    int i = find_slot(r, name);
    if (i >= 0) snprintf(path, cap, "%s", r->slot[i].path);
    else if (cap) path[0] = '\0';
    *next_version = (i >= 0 ? r->slot[i].last_version : 0) + 1;
    pthread_mutex_unlock(&r->mu);
    return i >= 0;
}

ti_err sv_registry_render_steps(sv_registry *r, sv_sbuf *o)
{
    ti_err e = sv_sbuf_puts(o, "# HELP tickinfer_ensemble_step_count Forwards run by each step of an ensemble.\n"
                               "# TYPE tickinfer_ensemble_step_count counter\n"
                               "# HELP tickinfer_ensemble_step_seconds_total Time spent in each step of an ensemble.\n"
                               "# TYPE tickinfer_ensemble_step_seconds_total counter\n");
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && !e; i++) {
        const sv_model_entry *m = r->slot[i].entry;
        for (int k = 0; m && !e && k < ti_model_n_members(m->model); k++) {
            const char *step = NULL;
            uint64_t cnt = 0, ns = 0;
            ti_model_member_stats(m->model, k, &step, &cnt, &ns);
            e = sv_sbuf_printf(o,
                               "tickinfer_ensemble_step_count{model=\"%s\",step=\"%s\"} %llu\n"
                               "tickinfer_ensemble_step_seconds_total{model=\"%s\",step=\"%s\"} %.9f\n",
                               m->name, step, (unsigned long long)cnt, m->name, step, (double)ns * 1e-9);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return e;
}
