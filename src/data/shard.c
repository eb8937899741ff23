/* Shard files: binary, mmappable, checksummed; layout in include/tickinfer/dataset.h. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tickinfer/dataset.h"
#include "tickinfer/fileio.h"

_Static_assert(sizeof(ti_shard_header) == 128, "shard header is 128 bytes");
_Static_assert(offsetof(ti_shard_header, header_crc) == 124, "header_crc is the last field");
_Static_assert(sizeof(ti_shard_bucket) == 64, "bucket record is 64 bytes");
_Static_assert(sizeof(ti_bar) == 16, "bar is 16 bytes");
_Static_assert(sizeof(ti_book_sec) == 16, "book row is 16 bytes");

#define ALIGN 64u

static uint64_t align_up(uint64_t x) { return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

static uint32_t header_crc(const ti_shard_header *h) { return ti_crc32c(0, h, offsetof(ti_shard_header, header_crc)); }

ti_err ti_shard_write(const char *path, int32_t symbol_id, int bucket_len, const ti_shard_bucket *recs,
                      uint64_t n_buckets, const ti_bar *bars, uint64_t n_bars, const ti_book_sec *book,
                      uint64_t n_book_rows, uint32_t *crc_out, uint64_t *bytes_out)
{
    ti_shard_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TI_SHARD_MAGIC, 8);
    h.version = TI_SHARD_VERSION;
    h.header_size = sizeof h;
    h.flags = book ? TI_SHARD_FLAG_BOOK : 0;
    h.bucket_len = (uint32_t)bucket_len;
    h.symbol_id = symbol_id;
    h.rec_size = sizeof(ti_shard_bucket);
    h.bar_size = sizeof(ti_bar);
    h.book_size = sizeof(ti_book_sec);
    h.n_buckets = n_buckets;
    h.n_bars = n_bars;
    h.n_book_rows = book ? n_book_rows : 0;
    h.buckets_off = align_up(sizeof h);
    h.bars_off = align_up(h.buckets_off + n_buckets * sizeof(ti_shard_bucket));
    h.book_off = align_up(h.bars_off + n_bars * sizeof(ti_bar));
    h.file_size = h.book_off + h.n_book_rows * sizeof(ti_book_sec);

    /* The payload CRC is computed over exactly the bytes written, padding included. */
    static const uint8_t zeros[ALIGN];
    struct { const void *p; uint64_t len; uint64_t off; } parts[3] = {
        {recs, n_buckets * sizeof(ti_shard_bucket), h.buckets_off},
        {bars, n_bars * sizeof(ti_bar), h.bars_off},
        {book, h.n_book_rows * sizeof(ti_book_sec), h.book_off},
    };
    uint32_t crc = 0;
    uint64_t pos = sizeof h;
    for (int i = 0; i < 3; i++) {
        crc = ti_crc32c(crc, zeros, parts[i].off - pos);
        if (parts[i].len) crc = ti_crc32c(crc, parts[i].p, parts[i].len);
        pos = parts[i].off + parts[i].len;
    }
    h.payload_crc = crc;
    h.header_crc = header_crc(&h);

    ti_atomic_file *f = NULL;
    ti_err e = ti_atomic_open(&f, path);
    if (e) return e;
    e = ti_atomic_write(f, &h, sizeof h);
    for (int i = 0; i < 3 && !e; i++) {
        e = ti_atomic_pad(f, ALIGN);
        if (!e && parts[i].len) e = ti_atomic_write(f, parts[i].p, parts[i].len);
    }
    if (e) {
        ti_atomic_abort(f);
        return e;
    }
    e = ti_atomic_commit(f);
    if (e) return e;
    if (crc_out) *crc_out = h.payload_crc;
    if (bytes_out) *bytes_out = h.file_size;
    return TI_OK;
}

ti_err ti_shard_check(const uint8_t *data, size_t size, const char *name, int verify_crc)
{
    ti_shard_header h;
    if (size < sizeof h) return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s is truncated (%zu bytes, header needs 128)", name, size);
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, TI_SHARD_MAGIC, 8) != 0) return ti_errorf(TI_ERR_FORMAT, "dataset: shard %s: bad magic (not a tickinfer shard)", name);
    if (header_crc(&h) != h.header_crc) return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: header checksum mismatch (file corrupt)", name);
    if (h.version != TI_SHARD_VERSION)
        return ti_errorf(TI_ERR_UNSUPPORTED, "dataset: shard %s: version %u, this build reads version %u", name, h.version, TI_SHARD_VERSION);
    if (h.header_size != sizeof h || h.rec_size != sizeof(ti_shard_bucket) || h.bar_size != sizeof(ti_bar) ||
        h.book_size != sizeof(ti_book_sec))
        return ti_errorf(TI_ERR_FORMAT, "dataset: shard %s: record sizes do not match this build", name);
    if (h.file_size != size)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: size %zu bytes, header says %llu (truncated or appended)", name, size,
                         (unsigned long long)h.file_size);
    /* Sections must lie inside the file, in order, without overflow. */
    const uint64_t lim = (uint64_t)1 << 40;
    if (h.n_buckets > lim / 64 || h.n_bars > lim / 16 || h.n_book_rows > lim / 16 || h.bucket_len == 0 || h.bucket_len > 86400 ||
        h.buckets_off < sizeof h || h.buckets_off + h.n_buckets * sizeof(ti_shard_bucket) > h.bars_off ||
        h.bars_off + h.n_bars * sizeof(ti_bar) > h.book_off || h.book_off + h.n_book_rows * sizeof(ti_book_sec) > h.file_size)
        return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: section table inconsistent", name);
    if (verify_crc) {
        uint32_t crc = ti_crc32c(0, data + sizeof h, size - sizeof h);
        if (crc != h.payload_crc)
            return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: payload checksum mismatch (stored %08x, computed %08x): file corrupt",
                             name, h.payload_crc, crc);
    }
    /* Structure: every bucket's bar range and book rows inside the shard, bars sorted. */
    const ti_shard_bucket *recs = (const ti_shard_bucket *)(data + h.buckets_off);
    const ti_bar *bars = (const ti_bar *)(data + h.bars_off);
    for (uint64_t i = 0; i < h.n_buckets; i++) {
        const ti_shard_bucket *r = &recs[i];
        if (r->bar_begin > h.n_bars || r->n_bars > h.n_bars - r->bar_begin)
            return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu bar range out of bounds", name, (unsigned long long)i);
        if (r->split >= TI_SPLIT__COUNT)
            return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu has split %u", name, (unsigned long long)i, r->split);
        if (r->book_row != UINT32_MAX && ((uint64_t)r->book_row + h.bucket_len > h.n_book_rows))
            return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu book rows out of bounds", name, (unsigned long long)i);
        if (!(h.flags & TI_SHARD_FLAG_BOOK) && r->book_row != UINT32_MAX)
            return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu has book rows but shard has no book", name, (unsigned long long)i);
        for (uint32_t j = 0; j < r->n_bars; j++) {
            const ti_bar *b = &bars[r->bar_begin + j];
            if (b->sec >= h.bucket_len || (j > 0 && b->sec <= bars[r->bar_begin + j - 1].sec))
                return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu (time_id %d): seconds not strictly increasing", name,
                                 (unsigned long long)i, r->time_id);
            if (!(b->price > 0) || !isfinite(b->price) || !(b->size >= 0) || !isfinite(b->size))
                return ti_errorf(TI_ERR_CORRUPT, "dataset: shard %s: bucket %llu (time_id %d): invalid price/size", name,
                                 (unsigned long long)i, r->time_id);
        }
    }
    return TI_OK;
}
