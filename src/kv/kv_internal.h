/* Internals shared by the block pool and the caches of src/kv/. */
#ifndef TICKINFER_KV_INTERNAL_H
#define TICKINFER_KV_INTERNAL_H

#include "tickinfer/kv.h"

/* Take a free block (refcount 1); TI_ERR_NOMEM at the cap or when the system says no. */
ti_err kv_pool_alloc(ti_kv_pool *p, int32_t *id);
void kv_pool_ref(ti_kv_pool *p, int32_t id);
/* Drop one reference; the block returns to the free list at zero. */
void kv_pool_unref(ti_kv_pool *p, int32_t id);
int kv_pool_refcount(const ti_kv_pool *p, int32_t id);
float *kv_pool_block(const ti_kv_pool *p, int32_t id);
int kv_pool_layers(const ti_kv_pool *p);
int kv_pool_width(const ti_kv_pool *p);
int kv_pool_block_size(const ti_kv_pool *p);
ti_kv_dtype kv_pool_dtype(const ti_kv_pool *p);
int kv_pool_heads(const ti_kv_pool *p);
size_t kv_pool_block_bytes(const ti_kv_pool *p);

#endif
