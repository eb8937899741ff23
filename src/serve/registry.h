/* tickinfer serve: the model registry (internal).
 *
 * A sv_model_entry is one loaded version of a named model: the weights, the checkpoint's
 * feature names and normalisation, and its batcher.  Entries are refcounted: the registry
 * holds one reference and every request in flight holds one, so unloading or replacing a
 * model never pulls weights from under a running forward; the last release joins the
 * workers and frees the model.  The registry also remembers models it has seen (name,
 * path) after they are unloaded, for the repository index. */
#ifndef TICKINFER_SERVE_REGISTRY_H
#define TICKINFER_SERVE_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/dynbatch.h"
#include "serve/sbuf.h"
#include "serve/streams.h"
#include "tickinfer/model.h"

#define SV_REG_MAX_MODELS 64
#define SV_REG_MAX_PATH 1024

typedef struct sv_model_entry {
    char name[TI_MODEL_MAX_NAME];
    char path[SV_REG_MAX_PATH];
    int version;          /* 1, 2, ... each load of the same name */
    ti_model *model;      /* any kind (include/tickinfer/model.h) */
    const ti_model_info *info;
    const ti_model_norm *norm; /* feature names, mean/std (may be absent), rv_scale */
    int normalise;        /* 1 if mean/std present: inputs are raw features */
    int per_step;         /* y [B,T] (causal transformer); else y [B] */
    sv_dynbatch *batcher;
    sv_serve_streams *streams; /* causal models: /v1/streams (NULL for TinyRV) */
    float rv_scale;            /* safetensors metadata "rv_scale", else 1 */
    atomic_int refs;
} sv_model_entry;

/* Load, start workers, warm up (one forward of zeros). */
ti_err sv_entry_load(sv_model_entry **out, const char *name, const char *path, int version,
                     const sv_dynbatch_opts *bo, ti_kv_dtype stream_kv);
void sv_entry_ref(sv_model_entry *e);
void sv_entry_unref(sv_model_entry *e);

typedef struct sv_registry {
    pthread_mutex_t mu;
    int n;
    struct {
        char name[TI_MODEL_MAX_NAME];
        char path[SV_REG_MAX_PATH];
        int last_version;
        sv_model_entry *entry; /* NULL when unloaded */
    } slot[SV_REG_MAX_MODELS];
} sv_registry;

void sv_registry_init(sv_registry *r);
void sv_registry_free(sv_registry *r); /* drops the registry's references */
/* A referenced entry, or NULL (version 0 = current; else must match). */
sv_model_entry *sv_registry_get(sv_registry *r, const char *name, int version);
/* Publish e (its name), replacing and unreferencing the previous version. */
ti_err sv_registry_put(sv_registry *r, sv_model_entry *e);
/* Unpublish; TI_ERR_NOT_FOUND if not loaded. */
ti_err sv_registry_remove(sv_registry *r, const char *name);
/* Prometheus lines for the steps of every loaded ensemble: forwards and seconds per step. */
ti_err sv_registry_render_steps(sv_registry *r, sv_sbuf *o);
/* Path last used for name ("" if unknown) and the next version number. */
int sv_registry_lookup_path(sv_registry *r, const char *name, char *path, size_t cap, int *next_version);

#endif
