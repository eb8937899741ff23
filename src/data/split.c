/* Deterministic split by hash of (stock_id, time_id); see include/tickinfer/split.h. */
#include "tickinfer/split.h"

uint64_t ti_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

ti_split ti_split_of(int32_t stock_id, int32_t time_id)
{
    uint64_t key = ((uint64_t)(uint32_t)stock_id << 32) | (uint32_t)time_id;
    unsigned v = (unsigned)(ti_splitmix64(key) % 10u);
    return v <= 6 ? TI_SPLIT_TRAIN : v == 7 ? TI_SPLIT_VAL : TI_SPLIT_TEST;
}

const char *ti_split_name(ti_split s)
{
    switch (s) {
    case TI_SPLIT_TRAIN: return "train";
    case TI_SPLIT_VAL: return "val";
    case TI_SPLIT_TEST: return "test";
    default: return "?";
    }
}
