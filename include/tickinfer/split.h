/* tickinfer: deterministic train/val/test split.
 *
 * split(stock_id, time_id) = splitmix64((uint64)stock_id << 32 | (uint32)time_id) % 10:
 * 0..6 train, 7 val, 8..9 test.  A bucket's split never depends on which other buckets
 * exist, so adding stocks or days never moves a bucket between splits. */
#ifndef TICKINFER_SPLIT_H
#define TICKINFER_SPLIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ti_split { TI_SPLIT_TRAIN = 0, TI_SPLIT_VAL = 1, TI_SPLIT_TEST = 2, TI_SPLIT__COUNT } ti_split;

uint64_t ti_splitmix64(uint64_t x);
ti_split ti_split_of(int32_t stock_id, int32_t time_id);
const char *ti_split_name(ti_split s);

#ifdef __cplusplus
}
#endif
#endif
