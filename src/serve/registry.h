/* tickinfer serve: the model registry (internal).
 *
 * A ti_model_entry is one loaded version of a named model: the weights, the checkpoint's
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
#include "serve/streams.h"
#include "tickinfer/model.h"

#define TI_REG_MAX_MODELS 64
#define TI_REG_MAX_PATH 1024

typedef struct ti_model_entry {
    char name[TI_MODEL_MAX_NAME];
    char path[TI_REG_MAX_PATH];
    int version;          /* 1, 2, ... each load of the same name */
    ti_model *model;
    ti_ckpt_meta meta;    /* feature names, mean/std (may be absent) */
    int normalise;        /* 1 if mean/std present: inputs are raw features */
    const ti_model_config *cfg;
    int per_step;         /* causal: y [B,T]; TinyRV: y [B] */
    ti_dynbatch *batcher;
    ti_serve_streams *streams; /* causal models: /v1/streams (NULL for TinyRV) */
    float rv_scale;            /* safetensors metadata "rv_scale", else 1 */
    atomic_int refs;
} ti_model_entry;

/* Load, start workers, warm up (one forward of zeros). */
ti_err ti_entry_load(ti_model_entry **out, const char *name, const char *path, int version,
                     const ti_dynbatch_opts *bo, ti_kv_dtype stream_kv);
void ti_entry_ref(ti_model_entry *e);
void ti_entry_unref(ti_model_entry *e);

typedef struct ti_registry {
    pthread_mutex_t mu;
    int n;
    struct {
        char name[TI_MODEL_MAX_NAME];
        char path[TI_REG_MAX_PATH];
        int last_version;
        ti_model_entry *entry; /* NULL when unloaded */
    } slot[TI_REG_MAX_MODELS];
} ti_registry;

void ti_registry_init(ti_registry *r);
void ti_registry_free(ti_registry *r); /* drops the registry's references */
/* A referenced entry, or NULL (version 0 = current; else must match). */
ti_model_entry *ti_registry_get(ti_registry *r, const char *name, int version);
/* Publish e (its name), replacing and unreferencing the previous version. */
ti_err ti_registry_put(ti_registry *r, ti_model_entry *e);
/* Unpublish; TI_ERR_NOT_FOUND if not loaded. */
ti_err ti_registry_remove(ti_registry *r, const char *name);
/* Path last used for name ("" if unknown) and the next version number. */
int ti_registry_lookup_path(ti_registry *r, const char *name, char *path, size_t cap, int *next_version);

#endif
