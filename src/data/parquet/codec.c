/* Page decompression: SNAPPY (raw snappy), GZIP (RFC 1952, zlib header accepted too),
 * ZSTD (one or more frames).  The output size is known from the page header, so every
 * codec must produce exactly that many bytes. */
#include <snappy-c.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "data/parquet/pq_internal.h"

static ti_err inflate_gzip(uint8_t *dst, size_t dst_len, const uint8_t *src, size_t src_len, const char *what)
{
    if (dst_len > UINT32_MAX || src_len > UINT32_MAX) return ti_errorf(TI_ERR_LIMIT, "%s: GZIP page too large", what);
    z_stream z = {0};
    /* 32 + MAX_WBITS: accept gzip or zlib headers (some writers used zlib). */
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK) return ti_errorf(TI_ERR_NOMEM, "%s: inflateInit failed", what);
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)src_len;
    z.next_out = dst;
    z.avail_out = (uInt)dst_len;
    int rc;
    for (;;) {
        rc = inflate(&z, Z_FINISH);
        /* Concatenated gzip members are legal: continue with the next one. */
        if (rc == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0) {
            if (inflateReset(&z) != Z_OK) break;
            continue;
        }
        break;
    }
    size_t produced = dst_len - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return ti_errorf(TI_ERR_CORRUPT, "%s: GZIP data is corrupt (zlib error %d)", what, rc);
    if (produced != dst_len)
        return ti_errorf(TI_ERR_CORRUPT, "%s: GZIP page gave %zu bytes, header says %zu", what, produced, dst_len);
    return TI_OK;
}

ti_err pq_decompress(pq_codec_ctx *c, ti_pq_codec codec, uint8_t *dst, size_t dst_len, const uint8_t *src, size_t src_len,
                     const char *what)
{
    switch (codec) {
    case TI_PQ_SNAPPY: {
        size_t n = 0;
        if (snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK)
            return ti_errorf(TI_ERR_CORRUPT, "%s: SNAPPY header is corrupt", what);
        if (n != dst_len) return ti_errorf(TI_ERR_CORRUPT, "%s: SNAPPY page holds %zu bytes, header says %zu", what, n, dst_len);
        size_t out_len = dst_len;
        if (snappy_uncompress((const char *)src, src_len, (char *)dst, &out_len) != SNAPPY_OK || out_len != dst_len)
            return ti_errorf(TI_ERR_CORRUPT, "%s: SNAPPY data is corrupt", what);
        return TI_OK;
    }
    case TI_PQ_ZSTD: {
        if (!c->zstd && !(c->zstd = ZSTD_createDCtx())) return ti_errorf(TI_ERR_NOMEM, "%s: out of memory (zstd)", what);
        size_t r = ZSTD_decompressDCtx(c->zstd, dst, dst_len, src, src_len);
        if (ZSTD_isError(r)) return ti_errorf(TI_ERR_CORRUPT, "%s: ZSTD data is corrupt (%s)", what, ZSTD_getErrorName(r));
        if (r != dst_len) return ti_errorf(TI_ERR_CORRUPT, "%s: ZSTD page gave %zu bytes, header says %zu", what, r, dst_len);
        return TI_OK;
    }
    case TI_PQ_GZIP: return inflate_gzip(dst, dst_len, src, src_len, what);
    case TI_PQ_UNCOMPRESSED: return ti_errorf(TI_ERR_INVALID_ARG, "%s: nothing to decompress", what);
    default:
        return ti_errorf(TI_ERR_UNSUPPORTED, "%s: compression codec %s is unsupported (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD)", what,
                         ti_pq_codec_name(codec));
    }
}

void pq_codec_free(pq_codec_ctx *c)
{
    if (c->zstd) ZSTD_freeDCtx(c->zstd);
    c->zstd = NULL;
}
