/* Read-only ZIP reader (see zip_reader.h).  Layout per PKWARE APPNOTE 6.3:
 *   [local header + data]... [central directory] [zip64 EOCD + locator] [EOCD]
 * The central directory is authoritative for sizes (local headers may defer them to a
 * data descriptor); the local header is read only for its name/extra lengths, which
 * torch uses to pad entry data to 64-byte alignment. */
#include "formats/zip_reader.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

void ti_zip_close(ti_zip *z)
{
    if (!z) return;
    free(z->entries);
    free(z->names);
    free(z->by_name);
    z->entries = NULL;
    z->names = NULL;
    z->by_name = NULL;
    z->n = 0;
}

/* Locates the end-of-central-directory record: it is the last thing in the file,
 * followed only by a comment of at most 65535 bytes. */
static ti_err find_eocd(const ti_zip *z, size_t *pos)
{
    if (z->size < 22) return ti_errorf(TI_ERR_FORMAT, "zip %s: %zu bytes, too short for a zip archive", z->label, z->size);
    size_t lo = z->size > 22 + 65535 ? z->size - 22 - 65535 : 0;
    for (size_t p = z->size - 22 + 1; p-- > lo;) {
        if (rd32(z->buf + p) == SIG_EOCD && p + 22 + rd16(z->buf + p + 20) <= z->size) {
            *pos = p;
            return TI_OK;
        }
    }
    return ti_errorf(TI_ERR_FORMAT, "zip %s: no end-of-central-directory record (not a zip archive, or truncated)",
                     z->label);
}

/* Reads the directory location, switching to the ZIP64 record when the classic one
 * holds the 0xFFFF/0xFFFFFFFF escape values. */
static ti_err read_directory_span(const ti_zip *z, size_t eocd, uint64_t *n_entries, uint64_t *cd_off,
                                  uint64_t *cd_size)
{
    const uint8_t *e = z->buf + eocd;
    uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
    *n_entries = rd16(e + 10);
    *cd_size = rd32(e + 12);
    *cd_off = rd32(e + 16);
    int zip64 = *n_entries == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu;
    if (!zip64) {
        if (disk != 0 || cd_disk != 0 || rd16(e + 8) != *n_entries)
            return ti_errorf(TI_ERR_UNSUPPORTED, "zip %s: multi-disk archives are not supported", z->label);
        return TI_OK;
    }
    if (eocd < 20 || rd32(z->buf + eocd - 20) != SIG_LOCATOR64)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: ZIP64 values in the end record but no ZIP64 locator", z->label);
    uint64_t rec = rd64(z->buf + eocd - 20 + 8);
    if (rec > eocd - 20 || eocd - 20 - rec < 56 || rd32(z->buf + rec) != SIG_EOCD64)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: ZIP64 end record offset %" PRIu64 " is invalid", z->label, rec);
    const uint8_t *r = z->buf + rec;
    if (rd32(r + 16) != 0 || rd32(r + 20) != 0 || rd64(r + 24) != rd64(r + 32))
        return ti_errorf(TI_ERR_UNSUPPORTED, "zip %s: multi-disk archives are not supported", z->label);
    *n_entries = rd64(r + 32);
    *cd_size = rd64(r + 40);
    *cd_off = rd64(r + 48);
    return TI_OK;
}

/* Applies the ZIP64 extended-information extra field (id 1): it holds, in this order,
 * only the values whose 32-bit fields are 0xFFFFFFFF. */
static ti_err apply_zip64_extra(const ti_zip *z, const uint8_t *extra, size_t len, ti_zip_entry *e, uint64_t *local,
                                int need_u, int need_c, int need_l, size_t idx)
{
    size_t p = 0;
    while (p + 4 <= len) {
        uint16_t id = rd16(extra + p), sz = rd16(extra + p + 2);
        if (p + 4 + sz > len) break;
        if (id == 1) {
            const uint8_t *d = extra + p + 4;
            size_t q = 0;
            if (need_u) {
                if (q + 8 > sz) goto bad;
                e->usize = rd64(d + q), q += 8;
            }
            if (need_c) {
                if (q + 8 > sz) goto bad;
                e->csize = rd64(d + q), q += 8;
            }
            if (need_l) {
                if (q + 8 > sz) goto bad;
                *local = rd64(d + q), q += 8;
            }
            return TI_OK;
        }
        p += 4 + (size_t)sz;
    }
    if (!need_u && !need_c && !need_l) return TI_OK;
bad:
    return ti_errorf(TI_ERR_FORMAT, "zip %s: entry %zu: ZIP64 sizes missing from its extra field", z->label, idx);
}

/* Parses central-directory entry `idx` at *pos and advances *pos. */
static ti_err parse_central(ti_zip *z, uint64_t *pos, uint64_t cd_end, size_t idx, size_t *name_off)
{
    uint64_t p = *pos;
    if (cd_end - p < 46 || rd32(z->buf + p) != SIG_CENTRAL)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: central directory entry %zu at offset %" PRIu64 " is malformed",
                         z->label, idx, p);
    const uint8_t *c = z->buf + p;
    uint16_t flags = rd16(c + 8), nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
    if (cd_end - p - 46 < (uint64_t)nlen + xlen + clen)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: central directory entry %zu overruns the directory", z->label, idx);
    ti_zip_entry *e = &z->entries[idx];
    memcpy(z->names + *name_off, c + 46, nlen);
    z->names[*name_off + nlen] = '\0';
    e->name = z->names + *name_off;
    *name_off += (size_t)nlen + 1;
    e->method = rd16(c + 10);
    e->crc32 = rd32(c + 16);
    e->csize = rd32(c + 20);
    e->usize = rd32(c + 24);
    uint64_t local = rd32(c + 42);
    ti_err err = apply_zip64_extra(z, c + 46 + nlen, xlen, e, &local, e->usize == 0xffffffffu,
                                   e->csize == 0xffffffffu, local == 0xffffffffu, idx);
    if (err) return err;
    if (flags & 0x41u) return ti_errorf(TI_ERR_UNSUPPORTED, "zip %s: entry '%s' is encrypted", z->label, e->name);
    if (e->method != 0 && e->method != 8)
        return ti_errorf(TI_ERR_UNSUPPORTED, "zip %s: entry '%s' uses compression method %u (only 0 STORED and 8 DEFLATE)",
                         z->label, e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: STORED entry '%s' has compressed size %" PRIu64 " != size %" PRIu64,
                         z->label, e->name, e->csize, e->usize);
    /* The local header repeats the name; its extra field (torch's alignment padding) may
     * differ in length from the central one. */
    if (local > z->size || z->size - local < 30 || rd32(z->buf + local) != SIG_LOCAL)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: entry '%s': local header offset %" PRIu64 " is invalid", z->label,
                         e->name, local);
    uint64_t data = local + 30 + rd16(z->buf + local + 26) + rd16(z->buf + local + 28);
    if (data > z->size || z->size - data < e->csize)
        return ti_errorf(TI_ERR_CORRUPT, "zip %s: entry '%s': %" PRIu64 " data bytes at offset %" PRIu64
                         " run past the end of the %zu-byte archive (truncated?)",
                         z->label, e->name, e->csize, data, z->size);
    e->data_offset = data;
    *pos = p + 46 + nlen + xlen + clen;
    return TI_OK;
}

static int cmp_entry(const void *a, const void *b, void *ctx)
{
    const ti_zip_entry *e = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(e[i].name, e[j].name);
    return c ? c : (i > j) - (i < j);
}

ti_err ti_zip_open(ti_zip *z, const uint8_t *buf, size_t size, const char *label)
{
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->size = size;
    z->label = label ? label : "<memory>";
    size_t eocd = 0;
    ti_err err = find_eocd(z, &eocd);
    if (err) return err;
    uint64_t n, cd_off, cd_size;
    if ((err = read_directory_span(z, eocd, &n, &cd_off, &cd_size)) != TI_OK) return err;
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: central directory [%" PRIu64 ", +%" PRIu64 "] outside the archive",
                         z->label, cd_off, cd_size);
    if (n > TI_ZIP_MAX_ENTRIES)
        return ti_errorf(TI_ERR_LIMIT, "zip %s: %" PRIu64 " entries, at most %d supported", z->label, n,
                         TI_ZIP_MAX_ENTRIES);
    if (n * 46 > cd_size)
        return ti_errorf(TI_ERR_FORMAT, "zip %s: %" PRIu64 " entries cannot fit a %" PRIu64 "-byte directory", z->label,
                         n, cd_size);
    z->entries = calloc(n ? (size_t)n : 1, sizeof *z->entries);
    /* names are at most the directory size, plus one NUL each */
    z->names = malloc((size_t)cd_size + (size_t)n + 1);
    if (!z->entries || !z->names) {
        ti_zip_close(z);
        return ti_errorf(TI_ERR_NOMEM, "zip %s: out of memory", z->label);
    }
    uint64_t pos = cd_off, cd_end = cd_off + cd_size;
    size_t name_off = 0;
    for (size_t i = 0; i < (size_t)n; i++) {
        if ((err = parse_central(z, &pos, cd_end, i, &name_off)) != TI_OK) {
            ti_zip_close(z);
            return err;
        }
    }
    z->n = (size_t)n;
    z->by_name = malloc((n ? (size_t)n : 1) * sizeof *z->by_name);
    if (!z->by_name) {
        ti_zip_close(z);
        return ti_errorf(TI_ERR_NOMEM, "zip %s: out of memory", z->label);
    }
    for (size_t i = 0; i < z->n; i++) z->by_name[i] = i;
    qsort_r(z->by_name, z->n, sizeof *z->by_name, cmp_entry, z->entries);
    return TI_OK;
}

const ti_zip_entry *ti_zip_find(const ti_zip *z, const char *name)
{
    size_t lo = 0, hi = z->n; /* first position whose name is >= name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(z->entries[z->by_name[mid]].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < z->n && strcmp(z->entries[z->by_name[lo]].name, name) == 0) return &z->entries[z->by_name[lo]];
    return NULL;
}

/* zlib counts in uInt; feed it in chunks well below 4 GiB. */
#define ZCHUNK ((size_t)1 << 30)

static uint32_t crc_of(const uint8_t *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len) {
        size_t k = len < ZCHUNK ? len : ZCHUNK;
        crc = crc32(crc, p, (uInt)k);
        p += k;
        len -= k;
    }
    return (uint32_t)crc;
}

static ti_err inflate_entry(const ti_zip *z, const ti_zip_entry *e, uint8_t *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return ti_errorf(TI_ERR_NOMEM, "zip %s: inflateInit failed", z->label);
    const uint8_t *in = z->buf + e->data_offset;
    size_t in_left = (size_t)e->csize, out_left = (size_t)e->usize;
    int rc = Z_OK;
    zs.next_out = out;
    while (rc == Z_OK) {
        if (zs.avail_in == 0 && in_left) {
            size_t k = in_left < ZCHUNK ? in_left : ZCHUNK;
            zs.next_in = (Bytef *)(uintptr_t)in;
            zs.avail_in = (uInt)k;
            in += k;
            in_left -= k;
        }
        if (zs.avail_out == 0 && out_left) {
            size_t k = out_left < ZCHUNK ? out_left : ZCHUNK;
            zs.avail_out = (uInt)k;
            out_left -= k;
        }
        uLong before_in = zs.total_in, before_out = zs.total_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && zs.total_in == before_in && zs.total_out == before_out) break; /* no progress */
        if (rc == Z_BUF_ERROR) rc = Z_OK;
    }
    uint64_t produced = zs.total_out;
    const char *why = rc == Z_STREAM_END ? "size mismatch" : zs.msg ? zs.msg : "truncated";
    inflateEnd(&zs); /* zlib's messages are static strings, still valid after this */
    if (rc != Z_STREAM_END || produced != e->usize)
        return ti_errorf(TI_ERR_CORRUPT, "zip %s: entry '%s': DEFLATE data is corrupt (%s, %" PRIu64 " of %" PRIu64 " bytes)",
                         z->label, e->name, why, produced, e->usize);
    return TI_OK;
}

ti_err ti_zip_read(const ti_zip *z, const ti_zip_entry *e, uint64_t max_size, const uint8_t **data, size_t *len,
                   uint8_t **owned)
{
    *data = NULL;
    *len = 0;
    *owned = NULL;
    if (e->usize > max_size || e->usize > SIZE_MAX / 2)
        return ti_errorf(TI_ERR_LIMIT, "zip %s: entry '%s' is %" PRIu64 " bytes, over the %" PRIu64 "-byte limit",
                         z->label, e->name, e->usize, max_size);
    const uint8_t *p = z->buf + e->data_offset;
    if (e->method == 8) {
        /* DEFLATE expands at most ~1032x; a larger claim is a lie (and a memory bomb). */
        if (e->usize / 1032 > e->csize + 1)
            return ti_errorf(TI_ERR_CORRUPT, "zip %s: entry '%s' claims %" PRIu64 " bytes from %" PRIu64
                             " compressed, beyond DEFLATE's ratio",
                             z->label, e->name, e->usize, e->csize);
        uint8_t *buf = malloc(e->usize ? (size_t)e->usize : 1);
        if (!buf) return ti_errorf(TI_ERR_NOMEM, "zip %s: out of memory for '%s'", z->label, e->name);
        ti_err err = inflate_entry(z, e, buf);
        if (err) {
            free(buf);
            return err;
        }
        p = buf;
        *owned = buf;
    }
    uint32_t crc = crc_of(p, (size_t)e->usize);
    if (crc != e->crc32) {
        free(*owned);
        *owned = NULL;
        return ti_errorf(TI_ERR_CORRUPT, "zip %s: entry '%s': CRC-32 %08x, expected %08x", z->label, e->name, crc,
                         e->crc32);
    }
    *data = p;
    *len = (size_t)e->usize;
    return TI_OK;
}
