/* Deterministic train/val/test splits: the bucket hash rule and the stock hold-out rule;
 * see include/tickinfer/split.h. */
#include "tickinfer/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

const char *ti_split_by_name(ti_split_by by) { return by == TI_SPLIT_BY_STOCK ? "stock" : "bucket"; }

ti_err ti_split_by_parse(const char *s, ti_split_by *out)
{
    if (s && strcmp(s, "bucket") == 0) *out = TI_SPLIT_BY_BUCKET;
    else if (s && strcmp(s, "stock") == 0) *out = TI_SPLIT_BY_STOCK;
    else return ti_errorf(TI_ERR_INVALID_ARG, "split: '%s' is not a split rule (use bucket or stock)", s ? s : "");
    return TI_OK;
}

const char *ti_split_rule_text(ti_split_by by)
{
    if (by == TI_SPLIT_BY_STOCK)
        return "whole stocks: stocks ordered by (splitmix64((uint32)stock_id ^ 0x73746f636b73706c), stock_id); first max(1, round(0.2 n)) "
               "test, next max(1, round(0.1 n)) val, rest train";
    return "splitmix64((uint64)stock_id << 32 | (uint32)time_id) % 10: 0-6 train, 7 val, 8-9 test";
}

typedef struct ranked {
    uint64_t h;
    int32_t id;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

ti_err ti_split_plan_init(ti_split_plan *p, ti_split_by by, const int32_t *stock_ids, size_t n)
{
    memset(p, 0, sizeof *p);
    p->by = by;
    if (by == TI_SPLIT_BY_BUCKET) return TI_OK;
    if (by != TI_SPLIT_BY_STOCK) return ti_errorf(TI_ERR_INVALID_ARG, "split: unknown rule %d", (int)by);
    if (n < 3)
        return ti_errorf(TI_ERR_INVALID_ARG, "split by stock: %zu stock%s, at least 3 are needed (one each for train, val and test)", n,
                         n == 1 ? "" : "s");
    ranked *r = malloc(n * sizeof *r);
    p->ids = malloc(n * sizeof *p->ids);
    p->split = malloc(n);
    if (!r || !p->ids || !p->split) {
        free(r);
        ti_split_plan_free(p);
        return ti_errorf(TI_ERR_NOMEM, "split: out of memory");
    }
    for (size_t i = 0; i < n; i++) r[i] = (ranked){ti_splitmix64((uint64_t)(uint32_t)stock_ids[i] ^ TI_SPLIT_STOCK_SALT), stock_ids[i]};
    qsort(r, n, sizeof *r, cmp_ranked);
    size_t n_test = (size_t)lround(0.2 * (double)n), n_val = (size_t)lround(0.1 * (double)n);
    if (n_test < 1) n_test = 1;
    if (n_val < 1) n_val = 1;
    for (size_t i = 0; i < n; i++) p->ids[i] = stock_ids[i];
    qsort(p->ids, n, sizeof *p->ids, cmp_i32);
    for (size_t i = 1; i < n; i++)
        if (p->ids[i] == p->ids[i - 1]) {
            int32_t dup = p->ids[i];
            free(r);
            ti_split_plan_free(p);
            return ti_errorf(TI_ERR_INVALID_ARG, "split by stock: stock_id %d appears twice in the universe", dup);
        }
    p->n = n;
    for (size_t k = 0; k < n; k++) {
        const ti_split s = k < n_test ? TI_SPLIT_TEST : k < n_test + n_val ? TI_SPLIT_VAL : TI_SPLIT_TRAIN;
        const int32_t *hit = bsearch(&r[k].id, p->ids, n, sizeof *p->ids, cmp_i32);
        p->split[hit - p->ids] = (uint8_t)s;
    }
    free(r);
    return TI_OK;
}

ti_split ti_split_plan_of(const ti_split_plan *p, int32_t stock_id, int32_t time_id)
{
    if (p->by == TI_SPLIT_BY_BUCKET) return ti_split_of(stock_id, time_id);
    const int32_t *hit = p->n ? bsearch(&stock_id, p->ids, p->n, sizeof *p->ids, cmp_i32) : NULL;
    return hit ? (ti_split)p->split[hit - p->ids] : TI_SPLIT__COUNT;
}

void ti_split_plan_free(ti_split_plan *p)
{
    free(p->ids);
    free(p->split);
    p->ids = NULL;
    p->split = NULL;
    p->n = 0;
}
