/* PLAIN values (little-endian, fixed width) with widening to the caller's type, the
 * widening rules, and the in-place spreading of present values around nulls. */
#include <string.h>

#include "data/parquet/pq_internal.h"

size_t pq_plain_size(ti_pq_type t)
{
    switch (t) {
    case TI_PQ_INT32:
    case TI_PQ_FLOAT: return 4;
    case TI_PQ_INT64:
    case TI_PQ_DOUBLE: return 8;
    default: return 0;
    }
}

int pq_conversion_ok(ti_pq_type dst, ti_pq_type src)
{
    switch (src) {
    case TI_PQ_INT32: return dst == TI_PQ_INT32 || dst == TI_PQ_INT64 || dst == TI_PQ_FLOAT || dst == TI_PQ_DOUBLE;
    case TI_PQ_INT64: return dst == TI_PQ_INT64 || dst == TI_PQ_DOUBLE;
    case TI_PQ_FLOAT: return dst == TI_PQ_FLOAT || dst == TI_PQ_DOUBLE;
    case TI_PQ_DOUBLE: return dst == TI_PQ_DOUBLE;
    default: return 0;
    }
}

/* One loop per (source, destination) pair: the switch is outside the loops. */
#define PQ_CONVERT_LOOP(SRC_T, DST_T)                    \
    do {                                                 \
        DST_T *o = out;                                  \
        for (size_t i = 0; i < n; i++) {                 \
            SRC_T v;                                     \
            memcpy(&v, in + i * sizeof(SRC_T), sizeof v); \
            o[i] = (DST_T)v;                             \
        }                                                \
    } while (0)

void pq_plain_convert(void *out, ti_pq_type dst, const uint8_t *in, ti_pq_type src, size_t n)
{
    if (dst == src) {
        if (n) memcpy(out, in, n * pq_plain_size(src));
        return;
    }
    if (src == TI_PQ_INT32 && dst == TI_PQ_INT64) PQ_CONVERT_LOOP(int32_t, int64_t);
    else if (src == TI_PQ_INT32 && dst == TI_PQ_FLOAT) PQ_CONVERT_LOOP(int32_t, float);
    else if (src == TI_PQ_INT32 && dst == TI_PQ_DOUBLE) PQ_CONVERT_LOOP(int32_t, double);
    else if (src == TI_PQ_INT64 && dst == TI_PQ_DOUBLE) PQ_CONVERT_LOOP(int64_t, double);
    else if (src == TI_PQ_FLOAT && dst == TI_PQ_DOUBLE) PQ_CONVERT_LOOP(float, double);
}

#define PQ_EXPAND_LOOP(T)                            \
    do {                                             \
        T *o = out;                                  \
        size_t j = k;                                \
        for (size_t i = n; i-- > 0;) o[i] = valid[i] && j ? o[--j] : 0; \
    } while (0)

void pq_expand_nulls(void *out, size_t elem_size, const uint8_t *valid, size_t n, size_t k)
{
    /* Walking backwards, the write position i is never below the read position j, so
     * no present value is overwritten before it is moved. */
    if (elem_size == 4) PQ_EXPAND_LOOP(uint32_t);
    else PQ_EXPAND_LOOP(uint64_t);
}
