/* Internal to src/data: manifest reading. */
#ifndef TICKINFER_DATA_DATASET_INTERNAL_H
#define TICKINFER_DATA_DATASET_INTERNAL_H

#include "tickinfer/dataset.h"

/* Parse dir/dataset.json into info (info->shards is malloc'd; free it). */
ti_err ti_dataset_read_manifest(const char *dir, ti_dataset_info *info);


/* ---- market features (src/data/market.c) ---- */
#define TI_MARKET_MAX_TID (1 << 20)
typedef struct ti_market_acc ti_market_acc;
ti_err ti_market_acc_create(ti_market_acc **out, int T);
void ti_market_acc_destroy(ti_market_acc *a);
/* Add one bucket's feature rows feat [T, F] (thread-safe, order-independent). */
ti_err ti_market_acc_add(ti_market_acc *a, int32_t tid, const float *feat, int F, int is_train_kept);
/* Means per (time_id, second) -> path (atomic); moments of the market columns over the
 * kept train buckets' rows. */
ti_err ti_market_acc_finish(ti_market_acc *a, const char *path, ti_feat_moments *mom, uint32_t *crc_out, uint64_t *bytes_out);
/* Validate a mapped market file and point into it. */
ti_err ti_market_check(const uint8_t *data, size_t size, const char *name, int T, int verify_crc, const int32_t **tids,
                       const float **vals, size_t *n);

#endif
