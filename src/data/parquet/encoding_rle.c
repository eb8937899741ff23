/* RLE / bit-packed hybrid encoding (definition levels and dictionary indices).
 *   run := varint header, then
 *     header & 1 == 0: RLE, (header >> 1) copies of one value in ceil(bw / 8) bytes LE
 *     header & 1 == 1: bit-packed, (header >> 1) groups of 8 values, bw bytes per group,
 *                      values packed LSB first.
 * Unpacking is specialised per bit width (a switch over always-inline copies with a
 * constant width) and reads 64-bit words, so the inner loop is a load, a shift and a
 * mask per value with no calls and no data-dependent branches. */
#include <string.h>

#include "data/parquet/pq_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet reader assumes a little-endian host"
#endif

#define PQ_INLINE static inline __attribute__((always_inline))

void pq_rle_init(pq_rle *d, const uint8_t *p, size_t n, int bw)
{
    d->p = p;
    d->end = p + n;
    d->bw = bw;
}

int pq_rle_next(pq_rle *d, pq_run *r, const char **why)
{
    *why = NULL;
    if (d->p >= d->end) return 0;
    uint64_t header = 0;
    for (int shift = 0;; shift += 7) {
        if (d->p >= d->end || shift > 28) return *why = "bad run header", 0;
        uint8_t b = *d->p++;
        header |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    if (header > UINT32_MAX) return *why = "run header overflows 32 bits", 0;
    const uint64_t n = header >> 1;
    if (n == 0) return *why = "empty run", 0;
    const size_t avail = (size_t)(d->end - d->p);
    if (header & 1) {
        uint64_t count = n * 8, bytes = n * (uint64_t)d->bw;
        if (bytes > avail) {
            /* A final run may be cut short: keep the values whose bits are all present. */
            count = (uint64_t)avail * 8 / (uint64_t)d->bw;
            bytes = avail;
            if (count == 0) return *why = "bit-packed run past the end", 0;
        }
        r->packed = 1;
        r->count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
        r->value = 0;
        r->data = d->p;
        d->p += bytes;
        return 1;
    }
    const size_t vb = ((size_t)d->bw + 7) / 8;
    if (vb > avail) return *why = "RLE run value past the end", 0;
    uint32_t v = 0;
    for (size_t i = 0; i < vb; i++) v |= (uint32_t)d->p[i] << (8 * i);
    d->p += vb;
    r->packed = 0;
    r->count = (uint32_t)n;
    r->value = v;
    r->data = NULL;
    return 1;
}

PQ_INLINE uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* groups x 8 values of width BW.  Reads up to in + (groups-1)*BW + (7*BW)/8 + 8. */
PQ_INLINE void unpack_groups(uint32_t *restrict out, const uint8_t *restrict in, size_t groups, const int BW)
{
    const uint64_t mask = BW == 32 ? 0xffffffffu : ((uint64_t)1 << BW) - 1;
    for (size_t g = 0; g < groups; g++, in += BW, out += 8)
        for (int j = 0; j < 8; j++) out[j] = (uint32_t)((load64(in + ((j * BW) >> 3)) >> ((j * BW) & 7)) & mask);
}

#define PQ_UNPACK_CASE(k) \
    case k: unpack_groups(out, in, groups, k); break;

static void unpack_dispatch(uint32_t *out, const uint8_t *in, size_t groups, int bw)
{
    switch (bw) {
        PQ_UNPACK_CASE(1) PQ_UNPACK_CASE(2) PQ_UNPACK_CASE(3) PQ_UNPACK_CASE(4) PQ_UNPACK_CASE(5) PQ_UNPACK_CASE(6)
        PQ_UNPACK_CASE(7) PQ_UNPACK_CASE(8) PQ_UNPACK_CASE(9) PQ_UNPACK_CASE(10) PQ_UNPACK_CASE(11) PQ_UNPACK_CASE(12)
        PQ_UNPACK_CASE(13) PQ_UNPACK_CASE(14) PQ_UNPACK_CASE(15) PQ_UNPACK_CASE(16) PQ_UNPACK_CASE(17) PQ_UNPACK_CASE(18)
        PQ_UNPACK_CASE(19) PQ_UNPACK_CASE(20) PQ_UNPACK_CASE(21) PQ_UNPACK_CASE(22) PQ_UNPACK_CASE(23) PQ_UNPACK_CASE(24)
        PQ_UNPACK_CASE(25) PQ_UNPACK_CASE(26) PQ_UNPACK_CASE(27) PQ_UNPACK_CASE(28) PQ_UNPACK_CASE(29) PQ_UNPACK_CASE(30)
        PQ_UNPACK_CASE(31) PQ_UNPACK_CASE(32)
    default: memset(out, 0, groups * 8 * sizeof *out); break; /* bw 0: all zeros */
    }
}

void pq_unpack32(uint32_t *out, const uint8_t *in, const uint8_t *in_end, size_t n, int bw)
{
    if (bw <= 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    const size_t avail = (size_t)(in_end - in), groups = (n + 7) / 8;
    /* Groups whose 64-bit loads stay inside the buffer go straight through ... */
    const size_t reach = (size_t)((7 * bw) >> 3) + 8;
    size_t safe = avail >= reach ? (avail - reach) / (size_t)bw + 1 : 0;
    if (safe > n / 8) safe = n / 8;
    unpack_dispatch(out, in, safe, bw);
    /* ... the last one or two go through a zero-padded copy. */
    for (size_t g = safe; g < groups; g++) {
        uint8_t tmp[48] = {0};
        uint32_t vals[8];
        size_t off = g * (size_t)bw, len = avail - off < (size_t)bw ? avail - off : (size_t)bw;
        memcpy(tmp, in + off, len);
        unpack_dispatch(vals, tmp, 1, bw);
        size_t m = n - g * 8 < 8 ? n - g * 8 : 8;
        memcpy(out + g * 8, vals, m * sizeof *vals);
    }
}

#define PQ_CHUNK 512 /* values unpacked at a time: stays in L1 */

int pq_def_levels(uint8_t *valid, uint32_t *n_present, int64_t *first_null, const uint8_t *p, size_t len, uint32_t n,
                  const char **why)
{
    pq_rle d;
    pq_rle_init(&d, p, len, 1);
    uint32_t i = 0, present = 0;
    int64_t first = -1;
    uint32_t tmp[PQ_CHUNK];
    while (i < n) {
        pq_run r;
        if (!pq_rle_next(&d, &r, why)) {
            if (!*why) *why = "fewer definition levels than values";
            return 0;
        }
        uint32_t m = r.count < n - i ? r.count : n - i;
        if (!r.packed) {
            if (r.value > 1) return *why = "definition level above the maximum", 0;
            if (valid) memset(valid + i, (int)r.value, m);
            if (r.value) present += m;
            else if (first < 0) first = i;
        } else {
            for (uint32_t done = 0; done < m;) {
                uint32_t c = m - done < PQ_CHUNK ? m - done : PQ_CHUNK;
                pq_unpack32(tmp, r.data + done / 8, d.end, c, 1);
                uint32_t cnt = 0;
                for (uint32_t k = 0; k < c; k++) cnt += tmp[k];
                if (valid)
                    for (uint32_t k = 0; k < c; k++) valid[i + done + k] = (uint8_t)tmp[k];
                if (cnt < c && first < 0)
                    for (uint32_t k = 0; k < c; k++)
                        if (!tmp[k]) {
                            first = (int64_t)i + done + k;
                            break;
                        }
                present += cnt;
                done += c;
            }
        }
        i += m;
    }
    *n_present = present;
    *first_null = first;
    return 1;
}

PQ_INLINE void fill(void *out, size_t es, const void *dict, uint32_t idx, uint32_t m)
{
    if (es == 4) {
        uint32_t v = ((const uint32_t *)dict)[idx], *o = out;
        for (uint32_t k = 0; k < m; k++) o[k] = v;
    } else {
        uint64_t v = ((const uint64_t *)dict)[idx], *o = out;
        for (uint32_t k = 0; k < m; k++) o[k] = v;
    }
}

int pq_dict_gather(void *out, const void *dict, uint32_t dict_n, size_t es, const uint8_t *p, size_t len, int bw, uint32_t n,
                   const char **why)
{
    pq_rle d;
    pq_rle_init(&d, p, len, bw);
    uint32_t i = 0;
    uint32_t tmp[PQ_CHUNK];
    while (i < n) {
        pq_run r;
        if (!pq_rle_next(&d, &r, why)) {
            if (!*why) *why = "fewer dictionary indices than values";
            return 0;
        }
        uint32_t m = r.count < n - i ? r.count : n - i;
        uint8_t *o = (uint8_t *)out + (size_t)i * es;
        if (!r.packed || bw == 0) {
            if (r.value >= dict_n) return *why = "dictionary index out of range", 0;
            fill(o, es, dict, r.value, m);
        } else {
            for (uint32_t done = 0; done < m;) {
                uint32_t c = m - done < PQ_CHUNK ? m - done : PQ_CHUNK;
                pq_unpack32(tmp, r.data + (size_t)done / 8 * (size_t)bw, d.end, c, bw);
                /* Validate the chunk first (vectorisable max), then gather without checks. */
                uint32_t mx = 0;
                for (uint32_t k = 0; k < c; k++) mx = tmp[k] > mx ? tmp[k] : mx;
                if (mx >= dict_n) return *why = "dictionary index out of range", 0;
                if (es == 4) {
                    const uint32_t *dv = dict;
                    uint32_t *ov = (uint32_t *)(void *)(o + (size_t)done * 4);
                    for (uint32_t k = 0; k < c; k++) ov[k] = dv[tmp[k]];
                } else {
                    const uint64_t *dv = dict;
                    uint64_t *ov = (uint64_t *)(void *)(o + (size_t)done * 8);
                    for (uint32_t k = 0; k < c; k++) ov[k] = dv[tmp[k]];
                }
                done += c;
            }
        }
        i += m;
    }
    return 1;
}
