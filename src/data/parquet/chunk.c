/* One column chunk -> the caller's array: walk its pages, check each page's CRC when
 * present, decompress, decode definition levels, decode values (PLAIN or dictionary)
 * straight into `out`, then spread them around nulls. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/parquet/pq_internal.h"

typedef struct chunk_rd {
    const ti_parquet_file *f;
    const ti_pq_column_info *ci;
    const ti_pq_chunk_info *ch;
    int rg, page;
    ti_pq_type dst;
    size_t es;       /* bytes per output value */
    size_t src_size; /* bytes per PLAIN value in the file */
    pq_scratch *s;
    uint32_t dict_n;
    int have_dict;
} chunk_rd;

/* "parquet: FILE: column 'C', row group R, page P: <msg>" (pages count from 0, the
 * dictionary page included; no page before the first one is read). */
static ti_err rd_err(const chunk_rd *r, ti_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ti_err rd_err(const chunk_rd *r, ti_err code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->page < 0) return ti_errorf(code, "parquet: %s: column '%s', row group %d: %s", r->f->name, r->ci->name, r->rg, msg);
    return ti_errorf(code, "parquet: %s: column '%s', row group %d, page %d: %s", r->f->name, r->ci->name, r->rg, r->page, msg);
}

void pq_scratch_free(pq_scratch *s)
{
    free(s->page);
    free(s->dict);
    pq_codec_free(&s->codec);
    memset(s, 0, sizeof *s);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 1;
    size_t n = need < 4096 ? 4096 : need;
    uint8_t *p = realloc(*buf, n);
    if (!p) return 0;
    *buf = p;
    *cap = n;
    return 1;
}

/* The page's bytes after decompression: the file buffer itself when not compressed. */
static ti_err page_bytes(chunk_rd *r, const uint8_t **data, size_t *len, const uint8_t *src, size_t src_len, size_t raw_len,
                         int compressed)
{
    if (!compressed || r->ch->codec == TI_PQ_UNCOMPRESSED) {
        *data = src;
        *len = src_len;
        return TI_OK;
    }
    if (!grow(&r->s->page, &r->s->page_cap, raw_len)) return rd_err(r, TI_ERR_NOMEM, "out of memory for a %zu-byte page", raw_len);
    char what[640];
    snprintf(what, sizeof what, "parquet: %s: column '%s', row group %d, page %d", r->f->name, r->ci->name, r->rg, r->page);
    ti_err e = pq_decompress(&r->s->codec, r->ch->codec, r->s->page, raw_len, src, src_len, what);
    if (e) return e;
    *data = r->s->page;
    *len = raw_len;
    return TI_OK;
}

static ti_err read_dict_page(chunk_rd *r, const pq_page_header *h, const uint8_t *body, uint64_t done)
{
    if (r->have_dict) return rd_err(r, TI_ERR_CORRUPT, "a second dictionary page");
    if (done > 0) return rd_err(r, TI_ERR_CORRUPT, "dictionary page after data pages");
    if (h->encoding != TI_PQ_ENC_PLAIN && h->encoding != TI_PQ_ENC_PLAIN_DICTIONARY)
        return rd_err(r, TI_ERR_UNSUPPORTED, "dictionary page encoding %s (%d) is unsupported", ti_pq_encoding_name((ti_pq_encoding)h->encoding),
                      h->encoding);
    const uint8_t *data;
    size_t len;
    ti_err e = page_bytes(r, &data, &len, body, (size_t)h->compressed_size, (size_t)h->uncompressed_size, 1);
    if (e) return e;
    uint32_t n = (uint32_t)h->num_values;
    if ((uint64_t)n * r->src_size > len) return rd_err(r, TI_ERR_CORRUPT, "dictionary of %u values in only %zu bytes", n, len);
    if (!grow(&r->s->dict, &r->s->dict_cap, (size_t)n * r->es + 8))
        return rd_err(r, TI_ERR_NOMEM, "out of memory for a %u-entry dictionary", n);
    pq_plain_convert(r->s->dict, r->dst, data, r->ci->type, n);
    r->dict_n = n;
    r->have_dict = 1;
    return TI_OK;
}

/* Decode n levels+values of a data page (v1 or v2) into out[0, n) / valid[0, n). */
static ti_err read_data_page(chunk_rd *r, const pq_page_header *h, const uint8_t *body, void *out, uint8_t *valid, uint64_t row)
{
    const uint32_t n = (uint32_t)h->num_values;
    const uint8_t *vp, *lv = NULL;
    size_t vlen, lvlen = 0;
    const char *why = NULL;
    ti_err e;
    if (h->type == PQ_PAGE_DATA) {
        e = page_bytes(r, &vp, &vlen, body, (size_t)h->compressed_size, (size_t)h->uncompressed_size, 1);
        if (e) return e;
        /* v1: [rep levels][def levels][values], levels each prefixed by a u32 length. */
        if (r->ci->max_def > 0) {
            if (h->def_encoding != TI_PQ_ENC_RLE)
                return rd_err(r, TI_ERR_UNSUPPORTED, "definition level encoding %s (%d) is unsupported (RLE only)",
                              ti_pq_encoding_name((ti_pq_encoding)h->def_encoding), h->def_encoding);
            if (vlen < 4) return rd_err(r, TI_ERR_CORRUPT, "page too short for its definition levels");
            uint32_t dl = (uint32_t)vp[0] | (uint32_t)vp[1] << 8 | (uint32_t)vp[2] << 16 | (uint32_t)vp[3] << 24;
            if (dl > vlen - 4) return rd_err(r, TI_ERR_CORRUPT, "definition levels (%u bytes) run past the page (%zu bytes)", dl, vlen);
            lv = vp + 4;
            lvlen = dl;
            vp += 4 + (size_t)dl;
            vlen -= 4 + (size_t)dl;
        }
    } else {
        /* v2: levels are never compressed and carry no length prefix. */
        if (h->num_rows != h->num_values) return rd_err(r, TI_ERR_CORRUPT, "%d rows but %d values in a flat column", h->num_rows, h->num_values);
        size_t lev = (size_t)h->rep_len + (size_t)h->def_len;
        lv = body + h->rep_len;
        lvlen = (size_t)h->def_len;
        e = page_bytes(r, &vp, &vlen, body + lev, (size_t)h->compressed_size - lev, (size_t)h->uncompressed_size - lev, h->is_compressed);
        if (e) return e;
    }
    uint32_t present = n;
    int64_t first_null = -1;
    if (r->ci->max_def > 0) {
        if (!pq_def_levels(valid, &present, &first_null, lv, lvlen, n, &why)) return rd_err(r, TI_ERR_CORRUPT, "definition levels: %s", why);
    } else if (valid) {
        memset(valid, 1, n);
    }
    if (h->type == PQ_PAGE_DATA_V2 && (int64_t)present != (int64_t)n - h->num_nulls)
        return rd_err(r, TI_ERR_CORRUPT, "header says %d nulls, definition levels say %u", h->num_nulls, n - present);
    if (present < n && !valid)
        return rd_err(r, TI_ERR_FORMAT, "null at row %llu; pass a validity array to read nullable columns",
                      (unsigned long long)(row + (uint64_t)first_null));
    switch (h->encoding) {
    case TI_PQ_ENC_PLAIN:
        if ((uint64_t)present * r->src_size > vlen)
            return rd_err(r, TI_ERR_CORRUPT, "%u PLAIN values need %llu bytes, page holds %zu", present,
                          (unsigned long long)present * r->src_size, vlen);
        pq_plain_convert(out, r->dst, vp, r->ci->type, present);
        break;
    case TI_PQ_ENC_PLAIN_DICTIONARY:
    case TI_PQ_ENC_RLE_DICTIONARY:
        if (!r->have_dict) return rd_err(r, TI_ERR_CORRUPT, "dictionary-encoded page but no dictionary page");
        if (present == 0) break;
        if (vlen < 1) return rd_err(r, TI_ERR_CORRUPT, "dictionary-encoded page without index data");
        if (vp[0] > 32) return rd_err(r, TI_ERR_CORRUPT, "dictionary index bit width %d", vp[0]);
        if (!pq_dict_gather(out, r->s->dict, r->dict_n, r->es, vp + 1, vlen - 1, vp[0], present, &why))
            return rd_err(r, TI_ERR_CORRUPT, "dictionary indices: %s", why);
        break;
    default:
        return rd_err(r, TI_ERR_UNSUPPORTED, "encoding %s (%d) is unsupported (PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY only)",
                      ti_pq_encoding_name((ti_pq_encoding)h->encoding), h->encoding);
    }
    if (present < n) pq_expand_nulls(out, r->es, valid, n, present);
    return TI_OK;
}

ti_err pq_read_chunk(const ti_parquet_file *f, int rg, int col, ti_pq_type dst, void *out, uint8_t *valid, uint64_t row0,
                     pq_scratch *s)
{
    chunk_rd r = {.f = f,
                  .ci = &f->columns[col],
                  .ch = &f->chunks[f->row_groups[rg].first_chunk + (size_t)col],
                  .rg = rg,
                  .page = -1,
                  .dst = dst,
                  .es = pq_plain_size(dst),
                  .src_size = pq_plain_size(f->columns[col].type),
                  .s = s};
    const ti_pq_chunk_info *ch = r.ch;
    const uint64_t rows = (uint64_t)f->row_groups[rg].num_rows;
    if (rows == 0) return TI_OK;
    if (ch->num_values < 0 || (uint64_t)ch->num_values != rows)
        return rd_err(&r, TI_ERR_CORRUPT, "chunk has %lld values for %llu rows", (long long)ch->num_values, (unsigned long long)rows);
    switch (ch->codec) {
    case TI_PQ_UNCOMPRESSED:
    case TI_PQ_SNAPPY:
    case TI_PQ_GZIP:
    case TI_PQ_ZSTD: break;
    default:
        return rd_err(&r, TI_ERR_UNSUPPORTED, "compression codec %s (%d) is unsupported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD only)",
                      ti_pq_codec_name(ch->codec), (int)ch->codec);
    }
    int64_t start = ch->data_page_offset;
    if (ch->dictionary_page_offset > 0 && ch->dictionary_page_offset < start) start = ch->dictionary_page_offset;
    if (start < 4 || (uint64_t)start >= f->footer_start || ch->total_compressed_size <= 0 ||
        (uint64_t)ch->total_compressed_size > f->footer_start - (uint64_t)start)
        return rd_err(&r, TI_ERR_CORRUPT, "chunk bytes [%lld, +%lld) lie outside the data area [4, %zu)", (long long)start,
                      (long long)ch->total_compressed_size, f->footer_start);
    const uint8_t *pos = f->data + start, *end = pos + ch->total_compressed_size;
    uint64_t done = 0;
    while (done < rows) {
        r.page++;
        if (pos >= end)
            return rd_err(&r, TI_ERR_CORRUPT, "chunk ends after %llu of %llu values", (unsigned long long)done, (unsigned long long)rows);
        pq_page_header h;
        size_t hl;
        const char *why = NULL;
        if (!pq_page_header_parse(&h, &hl, pos, (size_t)(end - pos), &why))
            return rd_err(&r, TI_ERR_CORRUPT, "bad page header at byte %zu (%s)", (size_t)(pos - f->data), why);
        const uint8_t *body = pos + hl;
        if ((size_t)h.compressed_size > (size_t)(end - body))
            return rd_err(&r, TI_ERR_CORRUPT, "page at byte %zu (%d bytes) runs past its chunk", (size_t)(pos - f->data), h.compressed_size);
        pos = body + h.compressed_size;
        if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2 && h.type != PQ_PAGE_DICT) continue; /* index pages etc. */
        if (h.has_crc && (uint32_t)crc32(0L, body, (uInt)h.compressed_size) != h.crc)
            return rd_err(&r, TI_ERR_CORRUPT, "page CRC mismatch (stored %08x)", h.crc);
        ti_err e;
        if (h.type == PQ_PAGE_DICT) {
            e = read_dict_page(&r, &h, body, done);
        } else {
            if ((uint64_t)h.num_values > rows - done)
                return rd_err(&r, TI_ERR_CORRUPT, "%d values but only %llu rows left in the row group", h.num_values,
                              (unsigned long long)(rows - done));
            e = read_data_page(&r, &h, body, (uint8_t *)out + done * r.es, valid ? valid + done : NULL, row0 + done);
            done += (uint64_t)h.num_values;
        }
        if (e) return e;
    }
    return TI_OK;
}
