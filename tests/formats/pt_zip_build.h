/* Test/fuzz helper: build a STORED zip archive in memory, the way torch.save lays it out
 * (entries "<prefix>/data.pkl", "<prefix>/data/<key>", ...), so tests and the fuzz driver
 * can feed hand-made pickles and storages (with correct CRCs) to the .pt reader. */
#ifndef TICKINFER_TESTS_PT_ZIP_BUILD_H
#define TICKINFER_TESTS_PT_ZIP_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct pt_zip_build {
    uint8_t *buf;
    size_t len, cap;
    uint8_t *cd; /* central directory, appended at the end */
    size_t cd_len, cd_cap;
    unsigned n;
    int oom;
    int zip64; /* set before the first add: ZIP64 central entries and end records */
} pt_zip_build;

static inline void pzb_put(uint8_t **buf, size_t *len, size_t *cap, int *oom, const void *p, size_t n)
{
    if (*oom) return;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n) c *= 2;
        uint8_t *b = realloc(*buf, c);
        if (!b) {
            *oom = 1;
            return;
        }
        *buf = b;
        *cap = c;
    }
    if (n) memcpy(*buf + *len, p, n);
    *len += n;
}

static inline void pzb_u16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline void pzb_u32(uint8_t *p, uint32_t v) { pzb_u16(p, v & 0xffff), pzb_u16(p + 2, v >> 16); }
static inline void pzb_u64(uint8_t *p, uint64_t v) { pzb_u32(p, (uint32_t)v), pzb_u32(p + 4, (uint32_t)(v >> 32)); }

/* Adds one STORED entry. */
static inline void pzb_add(pt_zip_build *z, const char *name, const void *data, size_t n)
{
    size_t nlen = strlen(name);
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)data, (uInt)n);
    uint8_t lh[30] = {0}, ch[46] = {0};
    pzb_u32(lh, 0x04034b50u);
    pzb_u16(lh + 4, 20);
    pzb_u32(lh + 14, crc);
    pzb_u32(lh + 18, (uint32_t)n);
    pzb_u32(lh + 22, (uint32_t)n);
    pzb_u16(lh + 26, (unsigned)nlen);
    pzb_u32(ch, 0x02014b50u);
    pzb_u16(ch + 4, 20);
    pzb_u16(ch + 6, 20);
    pzb_u32(ch + 16, crc);
    pzb_u32(ch + 20, (uint32_t)n);
    pzb_u32(ch + 24, (uint32_t)n);
    pzb_u16(ch + 28, (unsigned)nlen);
    pzb_u32(ch + 42, (uint32_t)z->len);
    uint8_t x64[28]; /* ZIP64 extra: id 1, 24 bytes: size, compressed size, local offset */
    if (z->zip64) {
        pzb_u32(ch + 20, 0xffffffffu);
        pzb_u32(ch + 24, 0xffffffffu);
        pzb_u32(ch + 42, 0xffffffffu);
        pzb_u16(ch + 30, sizeof x64);
        pzb_u16(x64, 1);
        pzb_u16(x64 + 2, 24);
        pzb_u64(x64 + 4, n);
        pzb_u64(x64 + 12, n);
        pzb_u64(x64 + 20, z->len);
    }
    pzb_put(&z->buf, &z->len, &z->cap, &z->oom, lh, sizeof lh);
    pzb_put(&z->buf, &z->len, &z->cap, &z->oom, name, nlen);
    pzb_put(&z->buf, &z->len, &z->cap, &z->oom, data, n);
    pzb_put(&z->cd, &z->cd_len, &z->cd_cap, &z->oom, ch, sizeof ch);
    pzb_put(&z->cd, &z->cd_len, &z->cd_cap, &z->oom, name, nlen);
    if (z->zip64) pzb_put(&z->cd, &z->cd_len, &z->cd_cap, &z->oom, x64, sizeof x64);
    z->n++;
}

/* Appends the central directory and end record; returns the archive (free() it) or
 * NULL when out of memory.  *len gets its size.  z is reset. */
static inline uint8_t *pzb_finish(pt_zip_build *z, size_t *len)
{
    uint8_t eocd[22] = {0};
    pzb_u32(eocd, 0x06054b50u);
    pzb_u16(eocd + 8, z->n);
    pzb_u16(eocd + 10, z->n);
    pzb_u32(eocd + 12, (uint32_t)z->cd_len);
    pzb_u32(eocd + 16, (uint32_t)z->len);
    size_t cd_off = z->len;
    pzb_put(&z->buf, &z->len, &z->cap, &z->oom, z->cd, z->cd_len);
    if (z->zip64) { /* ZIP64 end record + locator; the classic record holds escape values */
        uint8_t r[56] = {0}, loc[20] = {0};
        pzb_u32(r, 0x06064b50u);
        pzb_u64(r + 4, 44);
        pzb_u16(r + 12, 45);
        pzb_u16(r + 14, 45);
        pzb_u64(r + 24, z->n);
        pzb_u64(r + 32, z->n);
        pzb_u64(r + 40, z->cd_len);
        pzb_u64(r + 48, cd_off);
        pzb_u32(loc, 0x07064b50u);
        pzb_u64(loc + 8, z->len);
        pzb_u32(loc + 16, 1);
        pzb_put(&z->buf, &z->len, &z->cap, &z->oom, r, sizeof r);
        pzb_put(&z->buf, &z->len, &z->cap, &z->oom, loc, sizeof loc);
        pzb_u16(eocd + 8, 0xffff);
        pzb_u16(eocd + 10, 0xffff);
        pzb_u32(eocd + 12, 0xffffffffu);
        pzb_u32(eocd + 16, 0xffffffffu);
    }
    pzb_put(&z->buf, &z->len, &z->cap, &z->oom, eocd, sizeof eocd);
    free(z->cd);
    uint8_t *out = z->oom ? NULL : z->buf;
    if (z->oom) free(z->buf);
    *len = z->oom ? 0 : z->len;
    memset(z, 0, sizeof *z);
    return out;
}

#endif
