/* The paged layout's block pool: blocks of bs positions x L layers x [k|v] rows, handed out
 * from a free list, reference counted (prefix sharing), grown in chunks so memory follows
 * the live symbols.  Block memory is never returned to the system before destroy, so a
 * steady state allocates nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"
#include "tickinfer/alloc.h"

#define KV_MAX_BLOCKS_DEFAULT ((size_t)1 << 24)

typedef struct kv_chunk {
    float *data;          /* [chunk_blocks][block_floats] */
    atomic_int *ref;      /* [chunk_blocks] */
} kv_chunk;

struct ti_kv_pool {
    int L, C, bs;
    ti_kv_dtype dtype;
    int H;
    size_t block_floats, chunk_blocks, max_blocks;
    pthread_mutex_t mu;
    kv_chunk *chunks;     /* [max_chunks] */
    size_t n_chunks, max_chunks;
    int32_t *free_ids;    /* stack of free block ids [n_chunks * chunk_blocks] */
    size_t n_free;
    atomic_size_t used, refs;
};

ti_err ti_kv_pool_create(ti_kv_pool **out, int n_layers, int C, int block_size, size_t max_blocks,
                         size_t chunk_blocks)
{
    return ti_kv_pool_create_dtype(out, n_layers, C, TI_KV_F32, 1, block_size, max_blocks, chunk_blocks);
}

ti_err ti_kv_pool_create_dtype(ti_kv_pool **out, int n_layers, int C, ti_kv_dtype dtype, int H, int block_size,
                               size_t max_blocks, size_t chunk_blocks)
{
    *out = NULL;
    if (n_layers <= 0 || C <= 0 || block_size <= 0 || block_size > 4096)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv pool: layers %d, width %d, block size %d invalid", n_layers,
                         C, block_size);
    if (dtype == TI_KV_F32) H = 1;
    const size_t slot = ti_kv_slot_bytes(dtype, H, C);
    if (slot == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "kv pool: dtype %s unsupported for %d heads of width %d",
                         ti_kv_dtype_name(dtype), H, C);
    if (max_blocks == 0) max_blocks = KV_MAX_BLOCKS_DEFAULT;
    if (max_blocks > KV_MAX_BLOCKS_DEFAULT)
        return ti_errorf(TI_ERR_LIMIT, "kv pool: max_blocks %zu above %zu", max_blocks, KV_MAX_BLOCKS_DEFAULT);
    if (chunk_blocks == 0) chunk_blocks = 64;
    if (chunk_blocks > max_blocks) chunk_blocks = max_blocks;
    ti_kv_pool *p = calloc(1, sizeof *p);
    if (!p) return ti_errorf(TI_ERR_NOMEM, "kv pool: out of memory");
    p->L = n_layers, p->C = C, p->bs = block_size, p->dtype = dtype, p->H = H;
    p->block_floats = (size_t)n_layers * block_size * (slot / sizeof(float));
    p->chunk_blocks = chunk_blocks;
    p->max_blocks = max_blocks;
    p->max_chunks = (max_blocks + chunk_blocks - 1) / chunk_blocks;
    p->chunks = calloc(p->max_chunks, sizeof *p->chunks);
    if (!p->chunks) {
        free(p);
        return ti_errorf(TI_ERR_NOMEM, "kv pool: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return TI_OK;
}

void ti_kv_pool_destroy(ti_kv_pool *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_chunks; i++) {
        ti_free_aligned(p->chunks[i].data);
        free(p->chunks[i].ref);
    }
    free(p->chunks);
    free(p->free_ids);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Called with the mutex held. */
static ti_err grow(ti_kv_pool *p)
{
    if (p->n_chunks == p->max_chunks)
        return ti_errorf(TI_ERR_NOMEM, "kv pool: all %zu blocks (%zu MiB) in use; raise the cap or close streams",
                         p->max_blocks, p->max_blocks * p->block_floats * sizeof(float) >> 20);
    const size_t nb = p->chunk_blocks, total = (p->n_chunks + 1) * nb;
    int32_t *ids = realloc(p->free_ids, total * sizeof *ids);
    if (!ids) return ti_errorf(TI_ERR_NOMEM, "kv pool: out of memory growing the free list");
    p->free_ids = ids;
    kv_chunk ch;
    ch.data = ti_malloc_aligned(nb * p->block_floats * sizeof(float), TI_CACHELINE);
    ch.ref = calloc(nb, sizeof *ch.ref);
    if (!ch.data || !ch.ref) {
        ti_free_aligned(ch.data);
        free(ch.ref);
        return ti_errorf(TI_ERR_NOMEM, "kv pool: out of memory for %zu blocks", nb);
    }
    const size_t base = p->n_chunks * nb;
    p->chunks[p->n_chunks++] = ch;
    for (size_t i = nb; i-- > 0;) p->free_ids[p->n_free++] = (int32_t)(base + i); /* lowest id on top */
    return TI_OK;
}

static atomic_int *refp(const ti_kv_pool *p, int32_t id)
{
    return &p->chunks[(size_t)id / p->chunk_blocks].ref[(size_t)id % p->chunk_blocks];
}

ti_err kv_pool_alloc(ti_kv_pool *p, int32_t *id)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_free == 0) {
        ti_err e = grow(p);
        if (e) {
            pthread_mutex_unlock(&p->mu);
            return e;
        }
    }
    *id = p->free_ids[--p->n_free];
    pthread_mutex_unlock(&p->mu);
    atomic_store(refp(p, *id), 1);
    atomic_fetch_add(&p->used, 1);
    atomic_fetch_add(&p->refs, 1);
    return TI_OK;
}

void kv_pool_ref(ti_kv_pool *p, int32_t id)
{
    atomic_fetch_add(refp(p, id), 1);
    atomic_fetch_add(&p->refs, 1);
}

void kv_pool_unref(ti_kv_pool *p, int32_t id)
{
    atomic_fetch_sub(&p->refs, 1);
    if (atomic_fetch_sub(refp(p, id), 1) != 1) return;
    atomic_fetch_sub(&p->used, 1);
    pthread_mutex_lock(&p->mu);
    p->free_ids[p->n_free++] = id;
    pthread_mutex_unlock(&p->mu);
}

int kv_pool_refcount(const ti_kv_pool *p, int32_t id) { return atomic_load(refp(p, id)); }

float *kv_pool_block(const ti_kv_pool *p, int32_t id)
{
    return p->chunks[(size_t)id / p->chunk_blocks].data + ((size_t)id % p->chunk_blocks) * p->block_floats;
}

int kv_pool_layers(const ti_kv_pool *p) { return p->L; }
int kv_pool_width(const ti_kv_pool *p) { return p->C; }
int kv_pool_block_size(const ti_kv_pool *p) { return p->bs; }
ti_kv_dtype kv_pool_dtype(const ti_kv_pool *p) { return p->dtype; }
int kv_pool_heads(const ti_kv_pool *p) { return p->H; }
size_t kv_pool_block_bytes(const ti_kv_pool *p) { return p->block_floats * sizeof(float); }

void ti_kv_pool_stats_get(const ti_kv_pool *p, ti_kv_pool_stats *st)
{
    memset(st, 0, sizeof *st);
    st->block_size = (size_t)p->bs;
    st->block_bytes = kv_pool_block_bytes(p);
    pthread_mutex_t *mu = (pthread_mutex_t *)(uintptr_t)&p->mu;
    pthread_mutex_lock(mu);
    st->blocks_alloc = p->n_chunks * p->chunk_blocks;
    for (size_t i = 0; i < st->blocks_alloc; i++)
        if (atomic_load(refp(p, (int32_t)i)) > 1) st->blocks_shared++;
    pthread_mutex_unlock(mu);
    st->blocks_used = atomic_load(&p->used);
    st->refs = atomic_load(&p->refs);
}
