/* Internal to src/data: manifest reading. */
#ifndef TICKINFER_DATA_DATASET_INTERNAL_H
#define TICKINFER_DATA_DATASET_INTERNAL_H

#include "tickinfer/dataset.h"

/* Parse dir/dataset.json into info (info->shards is malloc'd; free it). */
ti_err ti_dataset_read_manifest(const char *dir, ti_dataset_info *info);

#endif
