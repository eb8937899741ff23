/* The transformer kind behind the generic model interface (include/tickinfer/model.h):
 * TinyRV (CLS, fixed window) and the causal ALiBi model (an output per position, a native
 * KV-cache step).  Files: safetensors, PyTorch .pt, ONNX (through src/onnx/). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "model/transformer/decode.h"
#include "tickinfer/alloc.h"
#include "tickinfer/kv.h"
#include "tickinfer/onnx.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/transformer.h"

typedef struct tfm_state {
    ti_kv_cache kv;
    ti_kv_seg *segs;
    ti_kvq_seg *qsegs;
    float *scratch;
    tfm_decode_scratch sc;
} tfm_state;

static int tfm_probe(const char *path, const uint8_t *head, size_t n)
{
    if (ti_path_has_ext(path, ".onnx")) return 10;
    if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return 10; /* .pt zip */
    if (n >= 9 && head[8] == '{') return 5; /* safetensors: u64 header length, then JSON */
    if (n == 0 && (ti_path_has_ext(path, ".safetensors") || ti_path_has_ext(path, ".pt") || ti_path_has_ext(path, ".pth")))
        return 1; /* unreadable: let the loader say why */
    return 0;
}

static ti_err norm_from_meta(ti_model_norm *norm, ti_ckpt_meta *meta)
{
    /* take the arrays: the generic layer frees them */
    norm->n_features = meta->n_features;
    norm->feature_names = meta->feature_names, meta->feature_names = NULL;
    norm->mean = meta->mean, meta->mean = NULL;
    norm->std = meta->std, meta->std = NULL;
    memcpy(norm->version, meta->version, sizeof norm->version < sizeof meta->version ? sizeof norm->version : sizeof meta->version);
    norm->version[sizeof norm->version - 1] = '\0';
    return TI_OK;
}

static void fill_info(ti_model_info *mi, const ti_tfm *m)
{
    const ti_tfm_config *c = ti_tfm_get_config(m);
    snprintf(mi->arch, sizeof mi->arch, "%s", ti_tfm_arch_name(c->kind));
    mi->n_features = c->n_features;
    mi->context = c->context;
    mi->fixed_context = c->kind == TI_TFM_TINYRV;
    mi->per_step = c->kind == TI_TFM_RV_CAUSAL;
    mi->native_step = c->kind == TI_TFM_RV_CAUSAL;
    mi->n_params = ti_tfm_n_params(m);
    ti_model_info_main_io(mi);
}

static ti_err tfm_load(void **impl, ti_model_info *mi, ti_model_norm *norm, const char *path, const ti_model_opts *o)
{
    ti_tfm *m = NULL;
    ti_err e;
    if (ti_path_has_ext(path, ".onnx")) {
        ti_onnx_info oi;
        memset(&oi, 0, sizeof oi);
        e = ti_onnx_import(&m, &oi, path, &(ti_onnx_import_opts){.n_heads = o->n_heads});
        if (!e) {
            if (o->kernels) ti_tfm_set_kernels(m, o->kernels), e = ti_tfm_pack(m);
            norm_from_meta(norm, &oi.meta);
            for (size_t i = 0; i < oi.n_extra; i++)
                if (strcmp(oi.extra_keys[i], "rv_scale") == 0) norm->rv_scale = strtof(oi.extra_values[i], NULL);
        }
        ti_onnx_info_free(&oi);
    } else {
        ti_ckpt_meta meta;
        memset(&meta, 0, sizeof meta);
        e = ti_tfm_load(&m, &meta, path,
                        &(ti_tfm_load_opts){.n_heads = o->n_heads, .context = o->context, .kernels = o->kernels});
        if (!e) {
            norm_from_meta(norm, &meta);
            ti_safetensors *st = NULL;
            if (ti_safetensors_open(&st, path) == TI_OK) { /* .pt files have no metadata: keep 1 */
                const char *v = ti_safetensors_meta(st, "rv_scale");
                float f = v ? strtof(v, NULL) : 0.0f;
                if (f > 0 && f < 1e6f) norm->rv_scale = f;
                ti_safetensors_close(st);
            }
            ti_error_clear();
        }
        ti_ckpt_meta_free(&meta);
    }
    if (e) {
        ti_tfm_destroy(m);
        return e;
    }
    fill_info(mi, m);
    *impl = m;
    return TI_OK;
}

static void tfm_destroy(void *impl) { ti_tfm_destroy(impl); }

static ti_err tfm_ctx_create(void **ctx, const void *impl, int max_batch)
{
    return ti_runstate_create((ti_runstate **)ctx, impl, max_batch, 0, 0);
}

static void tfm_ctx_destroy(void *ctx) { ti_runstate_destroy(ctx); }

/* in[0] x [B,T,F] -> out[0] y [B] or [B,T] */
static ti_err tfm_forward(const void *impl, void *ctx, ti_tensor *out, int n_out, const ti_tensor *in, int n_in,
                          ti_pool *pool)
{
    return ti_tfm_forward(impl, ctx, out[0].data, in[0].data, (int)in[0].shape[0], (int)in[0].shape[1], pool);
}

static void tfm_state_destroy(void *st)
{
    tfm_state *s = st;
    if (!s) return;
    ti_kv_cache_free(&s->kv);
    free(s->segs);
    free(s->qsegs);
    ti_free_aligned(s->scratch);
    free(s);
}

/* A ring cache of the model's context (what a stream with default options keeps). */
static ti_err tfm_state_create(void **out, const void *impl)
{
    const ti_tfm *m = impl;
    const ti_tfm_config *c = ti_tfm_get_config(m);
    tfm_state *s = calloc(1, sizeof *s);
    if (!s) return ti_errorf(TI_ERR_NOMEM, "transformer state: out of memory");
    const ti_kv_cache_opts ko = {.dtype = TI_KV_F32, .H = c->n_heads};
    ti_err e = ti_kv_cache_init_ex(&s->kv, TI_KV_RING, c->n_layers, c->d_model, c->context, &ko, NULL);
    if (!e) {
        s->segs = malloc((size_t)ti_kv_max_segments(&s->kv) * sizeof *s->segs);
        s->scratch = ti_calloc_aligned(tfm_decode_scratch_floats(m), sizeof(float), TI_CACHELINE);
        if (!s->segs || !s->scratch) e = ti_errorf(TI_ERR_NOMEM, "transformer state: out of memory");
    }
    if (e) {
        tfm_state_destroy(s);
        return e;
    }
    tfm_decode_scratch_bind(&s->sc, m, s->scratch);
    *out = s;
    return TI_OK;
}

static void tfm_state_reset(void *st) { ti_kv_cache_reset(&((tfm_state *)st)->kv); }

static ti_err tfm_state_step(const void *impl, void *st, float *y, const float *x)
{
    tfm_state *s = st;
    return tfm_decode_step(impl, &s->kv, &s->sc, s->segs, s->qsegs, x, y);
}

static size_t tfm_state_bytes(const void *st) { return ti_kv_cache_bytes(&((const tfm_state *)st)->kv); }

/* What the owning and the borrowing tables share. */
#define TFM_KIND_RUN_OPS                                                                               \
    .ctx_create = tfm_ctx_create, .ctx_destroy = tfm_ctx_destroy, .forward = tfm_forward,             \
    .state_create = tfm_state_create, .state_destroy = tfm_state_destroy, .state_reset = tfm_state_reset, \
    .state_step = tfm_state_step, .state_bytes = tfm_state_bytes

const ti_model_kind_ops ti_kind_transformer = {
    .name = "transformer",
    .probe = tfm_probe,
    .load = tfm_load,
    .destroy = tfm_destroy,
    TFM_KIND_RUN_OPS,
};

/* The same kind for a transformer the caller keeps owning (a model being trained). */
static void tfm_borrowed_destroy(void *impl) {}
static const ti_model_kind_ops kind_borrowed = {
    .name = "transformer",
    .destroy = tfm_borrowed_destroy,
    TFM_KIND_RUN_OPS,
};

const ti_tfm *ti_tfm_of_model(const ti_model *m)
{
    const ti_model_kind_ops *k = m ? ti_model_get_kind(m) : NULL;
    return k == &ti_kind_transformer || k == &kind_borrowed ? ti_model_impl(m) : NULL;
}

ti_err ti_model_from_tfm(struct ti_model **out, ti_tfm *t, const ti_ckpt_meta *meta, float rv_scale)
{
    ti_model_info mi;
    memset(&mi, 0, sizeof mi);
    fill_info(&mi, t);
    ti_model_norm norm = {.rv_scale = rv_scale};
    if (meta) {
        norm.n_features = meta->n_features;
        norm.feature_names = meta->feature_names;
        norm.mean = meta->mean, norm.std = meta->std;
    }
    return ti_model_wrap(out, &ti_kind_transformer, t, &mi, &norm, ""); /* copies norm */
}

ti_err ti_model_borrow_tfm(struct ti_model **out, const ti_tfm *t, const ti_ckpt_meta *meta)
{
    ti_model_info mi;
    memset(&mi, 0, sizeof mi);
    fill_info(&mi, t);
    ti_model_norm norm = {.rv_scale = 1.0f};
    if (meta) {
        norm.n_features = meta->n_features;
        norm.feature_names = meta->feature_names;
        norm.mean = meta->mean, norm.std = meta->std;
    }
    return ti_model_wrap(out, &kind_borrowed, (void *)(uintptr_t)t, &mi, &norm, "");
}
