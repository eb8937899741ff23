/* Parquet reader robustness: bit-unpacking and RLE/bit-packed decoding against a scalar
 * reference for every bit width; hand-built files (Thrift unknown fields of every type,
 * long-form field ids, deep nesting, bad indices/levels/counts/offsets); and every
 * fixture cut at many offsets, spliced, and byte-flipped with a fixed seed: errors with
 * the file's name, never a crash (the ASan build checks every read). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/parquet/pq_internal.h"
#include "data/parquet/thrift_compact.h"
#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/parquet.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 11);
}

/* ---- reference bit packing (LSB first), one value at a time ---- */
static void pack_ref(uint8_t *out, const uint32_t *v, size_t n, int bw)
{
    size_t bytes = (n * (size_t)bw + 7) / 8;
    memset(out, 0, bytes);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < bw; b++)
            if (v[i] >> b & 1u) out[(i * (size_t)bw + (size_t)b) / 8] |= (uint8_t)(1u << ((i * (size_t)bw + (size_t)b) % 8));
}

TI_TEST(unpack_matches_reference_for_every_width)
{
    static const size_t ns[] = {1, 7, 8, 9, 63, 64, 65, 513, 1000};
    long bad = 0;
    for (int bw = 1; bw <= 32; bw++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            size_t n = ns[k], bytes = (n * (size_t)bw + 7) / 8;
            uint32_t *v = malloc(n * 4), *got = malloc(n * 4);
            uint8_t *packed = malloc(bytes); /* exact size: ASan sees any over-read */
            uint32_t mask = bw == 32 ? 0xffffffffu : (1u << bw) - 1;
            for (size_t i = 0; i < n; i++) v[i] = (rnd() ^ rnd() << 7) & mask;
            pack_ref(packed, v, n, bw);
            pq_unpack32(got, packed, packed + bytes, n, bw);
            for (size_t i = 0; i < n; i++) bad += got[i] != v[i];
            free(v);
            free(got);
            free(packed);
        }
    TI_CHECK(bad == 0);
}

/* ---- RLE / bit-packed hybrid writer (reference) ---- */
typedef struct hyb {
    uint8_t b[1 << 16];
    size_t n;
} hyb;

static void hyb_varint(hyb *h, uint64_t v)
{
    while (v >= 0x80) {
        h->b[h->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    h->b[h->n++] = (uint8_t)v;
}
static void hyb_rle(hyb *h, uint32_t value, uint32_t count, int bw)
{
    hyb_varint(h, (uint64_t)count << 1);
    for (int i = 0; i < (bw + 7) / 8; i++) h->b[h->n++] = (uint8_t)(value >> (8 * i));
}
/* n values bit-packed (padded with zeros to a multiple of 8). */
static void hyb_packed(hyb *h, const uint32_t *v, size_t n, int bw)
{
    size_t groups = (n + 7) / 8;
    uint32_t *pad = calloc(groups * 8, 4);
    memcpy(pad, v, n * 4);
    hyb_varint(h, (uint64_t)groups << 1 | 1);
    pack_ref(h->b + h->n, pad, groups * 8, bw);
    h->n += groups * (size_t)bw;
    free(pad);
}

TI_TEST(hybrid_decoding_gathers_and_levels_match_reference)
{
    for (int bw = 0; bw <= 20; bw++) {
        uint32_t dict_n = bw == 0 ? 1 : bw >= 12 ? 4096 : 1u << bw;
        uint32_t *dict32 = malloc(dict_n * 4);
        uint64_t *dict64 = malloc(dict_n * 8);
        for (uint32_t k = 0; k < dict_n; k++) dict32[k] = k * 2654435761u, dict64[k] = (uint64_t)k * 0x9E3779B97F4A7C15ull;
        /* Runs: RLE, packed, RLE, packed (odd length: padded) -> 1200 values. */
        enum { N = 1200 };
        uint32_t idx[N];
        hyb *h = calloc(1, sizeof *h);
        size_t i = 0;
        for (int part = 0; part < 4; part++) {
            /* Only the last bit-packed run may be padded: the middle one holds 8k values. */
            uint32_t cnt = part == 3 ? N - (uint32_t)i : part == 1 ? 240 : 200 + (uint32_t)part * 37;
            if (part % 2 == 0) {
                uint32_t val = dict_n > 1 ? rnd() % dict_n : 0;
                for (uint32_t k = 0; k < cnt; k++) idx[i + k] = val;
                hyb_rle(h, val, cnt, bw);
            } else {
                for (uint32_t k = 0; k < cnt; k++) idx[i + k] = dict_n > 1 ? rnd() % dict_n : 0;
                if (bw) hyb_packed(h, idx + i, cnt, bw);
                else hyb_rle(h, 0, cnt, 0);
            }
            i += cnt;
        }
        uint8_t *enc = malloc(h->n);
        memcpy(enc, h->b, h->n);
        uint32_t o32[N + 16]; /* room for the N + 9 request below */
        uint64_t o64[N + 16];
        const char *why = NULL;
        TI_CHECK(pq_dict_gather(o32, dict32, dict_n, 4, enc, h->n, bw, N, &why));
        TI_CHECK(pq_dict_gather(o64, dict64, dict_n, 8, enc, h->n, bw, N, &why));
        long bad = 0;
        for (size_t k = 0; k < N; k++) bad += o32[k] != dict32[idx[k]] || o64[k] != dict64[idx[k]];
        TI_CHECK_MSG(bad == 0, "bw %d: %ld mismatches", bw, bad);
        /* One more value than encoded, or a dictionary one entry short, is an error. */
        if (bw > 0) {
            TI_CHECK(!pq_dict_gather(o32, dict32, dict_n, 4, enc, h->n, bw, N + 9, &why) && why);
            uint32_t mx = 0;
            for (size_t k = 0; k < N; k++) mx = idx[k] > mx ? idx[k] : mx;
            TI_CHECK(!pq_dict_gather(o32, dict32, mx, 4, enc, h->n, bw, N, &why) && !strcmp(why, "dictionary index out of range"));
        }
        /* Every prefix of the stream: never reads past it (ASan), errors when short. */
        for (size_t cut = 0; cut < h->n; cut += 1 + h->n / 50) {
            uint8_t *c = malloc(cut + 1);
            memcpy(c, enc, cut);
            pq_dict_gather(o32, dict32, dict_n, 4, c, cut, bw, N, &why);
            free(c);
        }
        free(enc);
        free(h);
        free(dict32);
        free(dict64);
    }
}

TI_TEST(definition_levels_match_reference)
{
    enum { N = 1000 };
    uint32_t lv[N];
    for (int k = 0; k < N; k++) lv[k] = k < 100 ? 1 : k < 130 ? 0 : (rnd() % 3 != 0);
    hyb *h = calloc(1, sizeof *h);
    hyb_rle(h, 1, 100, 1);
    hyb_rle(h, 0, 30, 1);
    hyb_packed(h, lv + 130, N - 130, 1);
    uint8_t valid[N + 16]; /* room for the N + 10 request below */
    uint32_t present;
    int64_t first;
    const char *why = NULL;
    TI_CHECK(pq_def_levels(valid, &present, &first, h->b, h->n, N, &why));
    uint32_t want = 0;
    long bad = 0;
    for (int k = 0; k < N; k++) want += lv[k], bad += valid[k] != lv[k];
    TI_CHECK(bad == 0 && present == want && first == 100);
    TI_CHECK(pq_def_levels(NULL, &present, &first, h->b, h->n, N, &why) && present == want && first == 100);
    TI_CHECK(!pq_def_levels(valid, &present, &first, h->b, h->n, N + 10, &why));
    h->n = 0;
    hyb_rle(h, 2, 5, 1); /* level 2 > max level 1 */
    TI_CHECK(!pq_def_levels(valid, &present, &first, h->b, h->n, 5, &why) && strstr(why, "above the maximum"));
    free(h);
}

/* ---- Thrift compact writer, for hand-built files ---- */
typedef struct tw {
    uint8_t b[1 << 15];
    size_t n;
    int16_t last[64];
    int d;
} tw;

static void put(tw *w, uint8_t c) { w->b[w->n++] = c; }
static void putn(tw *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void uvar(tw *w, uint64_t v)
{
    while (v >= 0x80) {
        put(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put(w, (uint8_t)v);
}
static void zz(tw *w, int64_t v) { uvar(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void fld(tw *w, int id, int type)
{
    int delta = id - w->last[w->d];
    if (delta > 0 && delta <= 15) put(w, (uint8_t)(delta << 4 | type));
    else {
        put(w, (uint8_t)type); /* long form: explicit zigzag id */
        zz(w, id);
    }
    w->last[w->d] = (int16_t)id;
}
static void begin(tw *w) { w->last[++w->d] = 0; }
static void end(tw *w)
{
    put(w, 0);
    w->d--;
}
static void f_i32(tw *w, int id, int32_t v)
{
    fld(w, id, PQ_T_I32);
    zz(w, v);
}
static void f_i64(tw *w, int id, int64_t v)
{
    fld(w, id, PQ_T_I64);
    zz(w, v);
}
static void f_bin(tw *w, int id, const char *s)
{
    fld(w, id, PQ_T_BINARY);
    uvar(w, strlen(s));
    putn(w, s, strlen(s));
}
static void f_struct(tw *w, int id)
{
    fld(w, id, PQ_T_STRUCT);
    begin(w);
}
static void list_hdr(tw *w, int etype, uint32_t n)
{
    if (n < 15) put(w, (uint8_t)(n << 4 | (uint32_t)etype));
    else {
        put(w, (uint8_t)(0xf0 | etype));
        uvar(w, n);
    }
}
static void f_list(tw *w, int id, int etype, uint32_t n)
{
    fld(w, id, PQ_T_LIST);
    list_hdr(w, etype, n);
}

/* Every kind of field parquet.thrift does not have (ids 99/100, long form). */
static void unknown_fields(tw *w, int deep)
{
    f_struct(w, 99);
    fld(w, 1, PQ_T_DOUBLE);
    double x = 3.5;
    putn(w, &x, 8);
    fld(w, 2, PQ_T_MAP);
    uvar(w, 2);
    put(w, PQ_T_BINARY << 4 | PQ_T_I32);
    for (int k = 0; k < 2; k++) {
        uvar(w, 1);
        put(w, 'a');
        zz(w, k);
    }
    fld(w, 3, PQ_T_SET);
    list_hdr(w, PQ_T_TRUE, 3);
    put(w, 1), put(w, 2), put(w, 1);
    f_list(w, 4, PQ_T_LIST, 2);
    for (int k = 0; k < 2; k++) {
        list_hdr(w, PQ_T_I16, 2);
        zz(w, 7), zz(w, -7);
    }
    fld(w, 5, PQ_T_TRUE);
    fld(w, 6, PQ_T_BYTE);
    put(w, 0xff);
    fld(w, 7, PQ_T_MAP);
    uvar(w, 0); /* empty map: no type byte */
    f_list(w, 8, PQ_T_STRUCT, 20);
    for (int k = 0; k < 20; k++) {
        begin(w);
        f_i64(w, 1, -k);
        end(w);
    }
    for (int k = 0; k < deep; k++) f_struct(w, 1);
    for (int k = 0; k < deep; k++) end(w);
    end(w);
}

/* A one-column file: OPTIONAL INT32 "x", rows i: null when i % 4 == 1, else
 * dict[(i * 5) % dict_n] with dict[k] = 100 + 10 k; dictionary page + one v1 data page. */
typedef struct mk {
    int n, dict_n;
    int bad_index, extra_values, level2, deep, no_dict, bad_offset, no_subheader, huge_list;
} mk;

static int32_t mk_value(int i, int dict_n, int *valid)
{
    *valid = i % 4 != 1;
    return *valid ? 100 + 10 * ((i * 5) % dict_n) : 0;
}

static size_t build(uint8_t *out, const mk *o)
{
    tw *w = calloc(1, sizeof *w);
    putn(w, "PAR1", 4);
    int bw = 0;
    while ((1 << bw) < o->dict_n) bw++;
    /* dictionary page */
    int64_t dict_off = (int64_t)w->n;
    if (!o->no_dict) {
        begin(w);
        f_i32(w, 1, PQ_PAGE_DICT);
        f_i32(w, 2, 4 * o->dict_n);
        f_i32(w, 3, 4 * o->dict_n);
        f_struct(w, 7);
        f_i32(w, 1, o->dict_n);
        f_i32(w, 2, TI_PQ_ENC_PLAIN);
        end(w);
        end(w);
        for (int k = 0; k < o->dict_n; k++) {
            int32_t v = 100 + 10 * k;
            putn(w, &v, 4);
        }
    }
    /* data page body: def levels (u32 length + bit-packed) then bw byte + indices */
    hyb *lev = calloc(1, sizeof *lev), *ind = calloc(1, sizeof *ind);
    uint32_t *lv = calloc((size_t)o->n, 4), *ix = calloc((size_t)o->n, 4);
    int present = 0;
    for (int i = 0; i < o->n; i++) {
        int v;
        mk_value(i, o->dict_n, &v);
        lv[i] = (uint32_t)v;
        if (v) ix[present++] = (uint32_t)((i * 5) % o->dict_n);
    }
    if (o->bad_index) ix[present - 1] = (uint32_t)o->dict_n;
    if (o->level2) hyb_rle(lev, 2, 1, 2);
    hyb_packed(lev, lv, (size_t)o->n, 1);
    hyb_rle(ind, ix[0], 1, bw);
    hyb_packed(ind, ix + 1, (size_t)present - 1, bw);
    size_t body = 4 + lev->n + 1 + ind->n;
    int64_t data_off = (int64_t)w->n;
    begin(w);
    f_i32(w, 1, PQ_PAGE_DATA);
    f_i32(w, 2, (int32_t)body);
    f_i32(w, 3, (int32_t)body);
    if (!o->no_subheader) {
        f_struct(w, 5);
        f_i32(w, 1, o->n + o->extra_values);
        f_i32(w, 2, TI_PQ_ENC_RLE_DICTIONARY);
        f_i32(w, 3, TI_PQ_ENC_RLE);
        f_i32(w, 4, TI_PQ_ENC_RLE);
        end(w);
    }
    end(w);
    uint32_t ll = (uint32_t)lev->n;
    putn(w, &ll, 4);
    putn(w, lev->b, lev->n);
    put(w, (uint8_t)bw);
    putn(w, ind->b, ind->n);
    int64_t chunk_end = (int64_t)w->n, start = o->no_dict ? data_off : dict_off;
    /* footer */
    size_t footer = w->n;
    begin(w);
    f_i32(w, 1, 1);
    f_list(w, 2, PQ_T_STRUCT, 2);
    begin(w);
    f_bin(w, 4, "schema");
    f_i32(w, 5, 1);
    end(w);
    begin(w);
    f_i32(w, 1, TI_PQ_INT32);
    f_i32(w, 3, 1);
    f_bin(w, 4, "x");
    f_i64(w, 50, 12345); /* unknown, long-form id */
    end(w);
    f_i64(w, 3, o->n);
    f_list(w, 4, PQ_T_STRUCT, 1);
    begin(w);
    f_list(w, 1, PQ_T_STRUCT, 1);
    begin(w);
    f_i64(w, 2, chunk_end);
    f_struct(w, 3);
    f_i32(w, 1, TI_PQ_INT32);
    f_list(w, 2, PQ_T_I32, 2);
    zz(w, TI_PQ_ENC_RLE_DICTIONARY), zz(w, TI_PQ_ENC_RLE);
    f_list(w, 3, PQ_T_BINARY, 1);
    uvar(w, 1), put(w, 'x');
    f_i32(w, 4, TI_PQ_UNCOMPRESSED);
    f_i64(w, 5, o->n);
    f_i64(w, 6, chunk_end - start);
    f_i64(w, 7, chunk_end - start + (o->bad_offset ? 100 : 0));
    f_i64(w, 9, data_off);
    if (!o->no_dict) f_i64(w, 11, dict_off);
    f_struct(w, 12); /* statistics: known to Parquet, skipped by us */
    f_bin(w, 1, "max");
    f_i64(w, 3, 0);
    end(w);
    end(w);
    end(w);
    f_i64(w, 2, 1000);
    f_i64(w, 3, o->n);
    end(w);
    f_list(w, 5, PQ_T_STRUCT, 1); /* key_value_metadata */
    begin(w);
    f_bin(w, 1, "k");
    f_bin(w, 2, "v");
    end(w);
    f_bin(w, 6, "handmade");
    unknown_fields(w, o->deep);
    if (o->huge_list) {
        f_list(w, 120, PQ_T_I32, 1000000);
        zz(w, 1);
    }
    end(w);
    uint32_t flen = (uint32_t)(w->n - footer);
    putn(w, &flen, 4);
    putn(w, "PAR1", 4);
    size_t n = w->n;
    memcpy(out, w->b, n);
    free(w);
    free(lev);
    free(ind);
    free(lv);
    free(ix);
    return n;
}

/* Open the built bytes from an exact-size heap copy and read x; returns the error. */
static ti_err open_read(const mk *o, int check_values)
{
    static uint8_t tmp[1 << 15];
    size_t n = build(tmp, o);
    uint8_t *buf = malloc(n);
    memcpy(buf, tmp, n);
    ti_parquet_file *f = NULL;
    ti_err e = ti_parquet_open_memory(&f, buf, n, "hand.parquet");
    if (!e) {
        int32_t *v = malloc((size_t)o->n * 4);
        uint8_t *valid = malloc((size_t)o->n);
        e = ti_parquet_read_i32(f, 0, v, valid);
        if (!e && check_values) {
            long bad = 0;
            for (int i = 0; i < o->n; i++) {
                int ok;
                int32_t want = mk_value(i, o->dict_n, &ok);
                bad += valid[i] != ok || v[i] != want;
            }
            TI_CHECK(bad == 0);
            TI_CHECK(!strcmp(ti_parquet_created_by(f), "handmade") && ti_parquet_column(f, 0)->optional);
            TI_CHECK(ti_parquet_chunk(f, 0, 0)->encodings == (1u << TI_PQ_ENC_RLE_DICTIONARY | 1u << TI_PQ_ENC_RLE));
        }
        free(v);
        free(valid);
        ti_parquet_close(f);
    }
    free(buf);
    return e;
}

TI_TEST(hand_built_file_with_unknown_thrift_fields_reads)
{
    mk o = {.n = 1000, .dict_n = 37};
    TI_CHECK_OK(open_read(&o, 1));
    o.dict_n = 1; /* bit width 0 indices */
    TI_CHECK_OK(open_read(&o, 1));
    o.dict_n = 3000; /* 12-bit indices */
    TI_CHECK_OK(open_read(&o, 1));
    o.dict_n = 37;
    o.deep = 20; /* unknown struct nested 20 deep is fine ... */
    TI_CHECK_OK(open_read(&o, 1));
}

TI_TEST(hand_built_corruptions_give_precise_errors)
{
    const mk base = {.n = 300, .dict_n = 11};
    mk o = base;
    o.deep = 40; /* ... 40 deep is refused before the stack suffers */
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_FORMAT, "nesting too deep");
    o = base, o.huge_list = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_FORMAT, "list longer than the data left");
    o = base, o.bad_index = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "hand.parquet: column 'x', row group 0, page 1: dictionary indices: dictionary index out of range");
    o = base, o.extra_values = 5;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "305 values but only 300 rows left");
    o = base, o.level2 = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "definition level above the maximum");
    o = base, o.no_dict = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "no dictionary page");
    o = base, o.bad_offset = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "outside the data area");
    o = base, o.no_subheader = 1;
    TI_CHECK_ERR(open_read(&o, 0), TI_ERR_CORRUPT, "lacks the sub-header");
}

/* ---- fixtures cut, spliced and flipped ---- */
static const char *const k_fixtures[] = {
    "plain_none_v1.parquet", "dict_none_v1.parquet",   "dict_snappy_v1.parquet",    "plain_snappy_v2.parquet", "dict_zstd_v2.parquet",
    "plain_gzip_v1.parquet", "dict_gzip_v2.parquet",   "multi_rg_pages_v1.parquet", "multi_rg_pages_v2.parquet", "empty.parquet",
    "codec_lz4.parquet",     "enc_delta.parquet",      "nested.parquet",
};
#define N_FIX (sizeof k_fixtures / sizeof k_fixtures[0])

static uint8_t *load(const char *name, size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/parquet/%s", name);
    char *data = NULL;
    if (ti_read_file(path, 0, &data, n) != TI_OK) return NULL;
    return (uint8_t *)data;
}

/* Open buf[n] (copied to an exact-size heap block) and read every column every way.
 * Returns the first error (TI_OK if everything read); checks messages name the file. */
static ti_err try_all(const uint8_t *src, size_t n, const char *name)
{
    uint8_t *buf = malloc(n ? n : 1);
    if (n) memcpy(buf, src, n);
    ti_parquet_file *f = NULL;
    ti_err first = ti_parquet_open_memory(&f, buf, n, name);
    if (first) TI_CHECK_MSG(strstr(ti_errmsg(), name) != NULL, "message lacks the file name: %s", ti_errmsg());
    if (f && ti_parquet_num_rows(f) <= 100000) {
        size_t rows = (size_t)ti_parquet_num_rows(f);
        double *out = malloc(rows * 8 + 8);
        uint8_t *valid = malloc(rows + 1);
        for (int c = 0; c < ti_parquet_num_columns(f); c++) {
            ti_err e = ti_parquet_read_f64(f, c, out, valid);
            if (e) TI_CHECK_MSG(strstr(ti_errmsg(), name) != NULL, "message lacks the file name: %s", ti_errmsg());
            if (e && !first) first = e;
            for (int g = 0; g < ti_parquet_num_row_groups(f); g++) ti_parquet_read_column(f, c, g, ti_parquet_column_type(f, c), out, valid);
        }
        free(out);
        free(valid);
    }
    ti_parquet_close(f);
    free(buf);
    return first;
}

TI_TEST(truncated_fixtures_always_fail_cleanly)
{
    for (size_t k = 0; k < N_FIX; k++) {
        size_t n;
        uint8_t *d = load(k_fixtures[k], &n);
        TI_CHECK(d != NULL);
        if (!d) continue;
        size_t step = n / 97 + 1;
        long ok = 0;
        for (size_t cut = 0; cut < n; cut += (cut + 64 >= n ? 1 : step)) ok += try_all(d, cut, "cut.parquet") == TI_OK;
        TI_CHECK_MSG(ok == 0, "%s: %ld truncated copies read without error", k_fixtures[k], ok);
        free(d);
    }
}

TI_TEST(spliced_and_flipped_fixtures_never_crash)
{
    long errors = 0, runs = 0;
    for (size_t k = 0; k < N_FIX; k++) {
        size_t n;
        uint8_t *d = load(k_fixtures[k], &n);
        if (!d) continue;
        uint8_t *m = malloc(n);
        /* Remove a range from the middle: footer intact, offsets now wrong. */
        for (int it = 0; it < 20; it++) {
            size_t a = 4 + rnd() % (n / 2), len = 1 + rnd() % 64;
            if (a + len >= n) continue;
            memcpy(m, d, a);
            memcpy(m + a, d + a + len, n - a - len);
            errors += try_all(m, n - len, "splice.parquet") != TI_OK;
            runs++;
        }
        /* Flip 1-4 random bytes (pages and footer alike). */
        for (int it = 0; it < 150; it++) {
            memcpy(m, d, n);
            int flips = 1 + (int)(rnd() % 4);
            for (int j = 0; j < flips; j++) m[rnd() % n] ^= (uint8_t)(1 + rnd() % 255);
            errors += try_all(m, n, "flip.parquet") != TI_OK;
            runs++;
        }
        free(m);
        free(d);
    }
    /* Most corruptions are caught (the rest land in values, which no format can tell). */
    TI_CHECK_MSG(errors > runs / 4, "only %ld of %ld corrupted copies gave an error", errors, runs);
}

TI_TEST(page_crc_catches_a_flipped_page_byte)
{
    size_t n;
    uint8_t *d = load("multi_rg_pages_v1.parquet", &n);
    TI_CHECK(d != NULL);
    if (!d) return;
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open_memory(&f, d, n, "crc.parquet"));
    if (!f) {
        free(d);
        return;
    }
    /* The last byte of a chunk is the last byte of its last page's body. */
    const ti_pq_chunk_info *ch = ti_parquet_chunk(f, 2, 1);
    int64_t start = ch->dictionary_page_offset > 0 ? ch->dictionary_page_offset : ch->data_page_offset;
    size_t at = (size_t)(start + ch->total_compressed_size - 1);
    int64_t v[700];
    TI_CHECK_OK(ti_parquet_read_column(f, 1, 2, TI_PQ_INT64, v, NULL));
    d[at] ^= 0x10;
    TI_CHECK_ERR(ti_parquet_read_column(f, 1, 2, TI_PQ_INT64, v, NULL), TI_ERR_CORRUPT, "crc.parquet: column 'i64', row group 2");
    TI_CHECK_ERR(ti_parquet_read_column(f, 1, 2, TI_PQ_INT64, v, NULL), TI_ERR_CORRUPT, "page CRC mismatch");
    TI_CHECK_OK(ti_parquet_read_column(f, 1, 1, TI_PQ_INT64, v, NULL)); /* other row groups are unaffected */
    ti_parquet_close(f);
    free(d);
}

int main(void)
{
    TI_RUN(unpack_matches_reference_for_every_width);
    TI_RUN(hybrid_decoding_gathers_and_levels_match_reference);
    TI_RUN(definition_levels_match_reference);
    TI_RUN(hand_built_file_with_unknown_thrift_fields_reads);
    TI_RUN(hand_built_corruptions_give_precise_errors);
    TI_RUN(truncated_fixtures_always_fail_cleanly);
    TI_RUN(spliced_and_flipped_fixtures_never_crash);
    TI_RUN(page_crc_catches_a_flipped_page_byte);
    return ti_test_summary();
}
