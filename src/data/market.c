/* Market-context features: accumulate per (time_id, second) across symbols during
 * ingest, store as market.tim (checksummed), read back by time_id. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "tickinfer/fileio.h"

#define MARKET_MAGIC "TIMARKT1"
#define MARKET_VERSION 1
#define FIX_SCALE 1048576.0 /* 2^20: integer sums are exact, so any thread order gives one result */

typedef struct market_header {
    char magic[8];
    uint32_t version, T, K, reserved;
    uint64_t n_tids;
    uint32_t payload_crc, header_crc; /* header_crc over the first 32 bytes */
} market_header;
_Static_assert(sizeof(market_header) == 40, "market header is 40 bytes");

struct ti_market_acc {
    pthread_mutex_t mu;
    int T;
    _Atomic(int64_t) **rows;   /* [TI_MARKET_MAX_TID] -> [T * K] fixed-point sums, lazily allocated */
    _Atomic(int64_t) *count;   /* symbols contributing per time_id */
    _Atomic(int64_t) *n_train; /* kept train buckets per time_id (for normalisation) */
};

ti_err ti_market_acc_create(ti_market_acc **out, int T)
{
    ti_market_acc *a = calloc(1, sizeof *a);
    if (!a) return ti_errorf(TI_ERR_NOMEM, "market: out of memory");
    a->T = T;
    a->rows = calloc(TI_MARKET_MAX_TID, sizeof *a->rows);
    a->count = calloc(TI_MARKET_MAX_TID, sizeof *a->count);
    a->n_train = calloc(TI_MARKET_MAX_TID, sizeof *a->n_train);
    pthread_mutex_init(&a->mu, NULL);
    if (!a->rows || !a->count || !a->n_train) {
        ti_market_acc_destroy(a);
        return ti_errorf(TI_ERR_NOMEM, "market: out of memory");
    }
    *out = a;
    return TI_OK;
}

void ti_market_acc_destroy(ti_market_acc *a)
{
    if (!a) return;
    if (a->rows)
        for (size_t i = 0; i < TI_MARKET_MAX_TID; i++) free((void *)(uintptr_t)a->rows[i]);
    free(a->rows);
    free(a->count);
    free(a->n_train);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

ti_err ti_market_acc_add(ti_market_acc *a, int32_t tid, const float *feat, int F, int is_train_kept)
{
    if (tid < 0 || tid >= TI_MARKET_MAX_TID)
        return ti_errorf(TI_ERR_LIMIT, "market: time_id %d outside [0, %d) (market features need small time ids)", tid, TI_MARKET_MAX_TID);
    if (!a->rows[tid]) {
        pthread_mutex_lock(&a->mu);
        if (!a->rows[tid]) a->rows[tid] = calloc((size_t)a->T * TI_MKT_FEATURES, sizeof(int64_t));
        pthread_mutex_unlock(&a->mu);
        if (!a->rows[tid]) return ti_errorf(TI_ERR_NOMEM, "market: out of memory");
    }
    _Atomic(int64_t) *r = a->rows[tid];
    for (int t = 0; t < a->T; t++) {
        float c[TI_MKT_FEATURES];
        ti_market_contrib(c, feat + (size_t)t * F);
        for (int k = 0; k < TI_MKT_FEATURES; k++) atomic_fetch_add_explicit(&r[t * TI_MKT_FEATURES + k], llrint(c[k] * FIX_SCALE), memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&a->count[tid], 1, memory_order_relaxed);
    if (is_train_kept) atomic_fetch_add_explicit(&a->n_train[tid], 1, memory_order_relaxed);
    return TI_OK;
}

ti_err ti_market_acc_finish(ti_market_acc *a, const char *path, ti_feat_moments *mom, uint32_t *crc_out, uint64_t *bytes_out)
{
    size_t n = 0;
    for (size_t i = 0; i < TI_MARKET_MAX_TID; i++) n += a->count[i] > 0;
    const size_t rowlen = (size_t)a->T * TI_MKT_FEATURES;
    int32_t *tids = malloc((n ? n : 1) * sizeof *tids);
    float *vals = malloc((n ? n : 1) * rowlen * sizeof *vals);
    if (!tids || !vals) {
        free(tids);
        free(vals);
        return ti_errorf(TI_ERR_NOMEM, "market: out of memory");
    }
    ti_feat_moments_init(mom, TI_MKT_FEATURES);
    size_t j = 0;
    for (size_t i = 0; i < TI_MARKET_MAX_TID; i++) {
        if (a->count[i] <= 0) continue;
        tids[j] = (int32_t)i;
        float *v = vals + j * rowlen;
        for (size_t q = 0; q < rowlen; q++) v[q] = (float)((double)a->rows[i][q] / FIX_SCALE / (double)a->count[i]);
        /* Each kept train bucket of this time window sees these rows once. */
        for (int64_t r = 0; r < a->n_train[i]; r++) ti_feat_moments_add_rows(mom, v, a->T);
        j++;
    }
    market_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MARKET_MAGIC, 8);
    h.version = MARKET_VERSION, h.T = (uint32_t)a->T, h.K = TI_MKT_FEATURES, h.n_tids = n;
    h.payload_crc = ti_crc32c(ti_crc32c(0, tids, n * sizeof *tids), vals, n * rowlen * sizeof *vals);
    h.header_crc = ti_crc32c(0, &h, 32);
    ti_atomic_file *f = NULL;
    ti_err e = ti_atomic_open(&f, path);
    if (!e) e = ti_atomic_write(f, &h, sizeof h);
    if (!e) e = ti_atomic_write(f, tids, n * sizeof *tids);
    if (!e) e = ti_atomic_write(f, vals, n * rowlen * sizeof *vals);
    if (e) ti_atomic_abort(f);
    else e = ti_atomic_commit(f);
    if (!e) *crc_out = h.payload_crc, *bytes_out = sizeof h + n * sizeof *tids + n * rowlen * sizeof *vals;
    free(tids);
    free(vals);
    return e;
}

ti_err ti_market_check(const uint8_t *data, size_t size, const char *name, int T, int verify_crc, const int32_t **tids,
                       const float **vals, size_t *n)
{
    market_header h;
    if (size < sizeof h) return ti_errorf(TI_ERR_CORRUPT, "dataset: market file %s is truncated", name);
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, MARKET_MAGIC, 8) != 0) return ti_errorf(TI_ERR_FORMAT, "dataset: %s is not a market-feature file", name);
    if (ti_crc32c(0, &h, 32) != h.header_crc) return ti_errorf(TI_ERR_CORRUPT, "dataset: market file %s: header checksum mismatch", name);
    if (h.version != MARKET_VERSION || h.K != TI_MKT_FEATURES || (int)h.T != T)
        return ti_errorf(TI_ERR_FORMAT, "dataset: market file %s: version/shape differ from this build", name);
    const size_t rowlen = (size_t)h.T * h.K;
    if (h.n_tids > TI_MARKET_MAX_TID || size != sizeof h + h.n_tids * 4 + h.n_tids * rowlen * 4)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: market file %s: size does not match its header", name);
    if (verify_crc && ti_crc32c(0, data + sizeof h, size - sizeof h) != h.payload_crc)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: market file %s: payload checksum mismatch (file corrupt)", name);
    *tids = (const int32_t *)(data + sizeof h);
    *vals = (const float *)(data + sizeof h + h.n_tids * 4);
    *n = h.n_tids;
    for (size_t i = 1; i < *n; i++)
        if ((*tids)[i] <= (*tids)[i - 1]) return ti_errorf(TI_ERR_CORRUPT, "dataset: market file %s: time ids not sorted", name);
    return TI_OK;
}
