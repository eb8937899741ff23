/* safetensors reader and writer; format and guarantees in include/tickinfer/safetensors.h
 * and docs/checkpoints.md. */
#include "tickinfer/safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/alloc.h"
#include "tickinfer/fileio.h"

/* ---- dtypes ------------------------------------------------------------------- */
static const struct {
    const char *name;
    size_t size;
} k_dtypes[TI_ST__COUNT] = {
    [TI_ST_F32] = {"F32", 4}, [TI_ST_F16] = {"F16", 2}, [TI_ST_BF16] = {"BF16", 2}, [TI_ST_F64] = {"F64", 8},
    [TI_ST_I8] = {"I8", 1},   [TI_ST_I16] = {"I16", 2}, [TI_ST_I32] = {"I32", 4},   [TI_ST_I64] = {"I64", 8},
    [TI_ST_U8] = {"U8", 1},   [TI_ST_U16] = {"U16", 2}, [TI_ST_U32] = {"U32", 4},   [TI_ST_U64] = {"U64", 8},
    [TI_ST_BOOL] = {"BOOL", 1},
};

const char *ti_st_dtype_name(ti_st_dtype dt)
{
    return (unsigned)dt < TI_ST__COUNT ? k_dtypes[dt].name : "?";
}

size_t ti_st_dtype_size(ti_st_dtype dt)
{
    return (unsigned)dt < TI_ST__COUNT ? k_dtypes[dt].size : 0;
}

ti_err ti_st_dtype_parse(ti_st_dtype *out, const char *name)
{
    for (int i = 0; i < TI_ST__COUNT; i++)
        if (strcmp(k_dtypes[i].name, name) == 0) {
            *out = (ti_st_dtype)i;
            return TI_OK;
        }
    return ti_errorf(TI_ERR_UNSUPPORTED, "dtype '%.32s' is not supported (F32 F16 BF16 F64 I8..I64 U8..U64 BOOL)",
                     name);
}

/* IEEE half -> float, exact (every half is representable as a float). */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: renormalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

ti_err ti_st_to_f32(float *out, const void *src, ti_st_dtype dt, size_t n)
{
    const uint8_t *p = src;
    switch (dt) {
    case TI_ST_F32:
        memcpy(out, src, n * 4);
        return TI_OK;
    case TI_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return TI_OK;
    case TI_ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = half_to_float(h);
        }
        return TI_OK;
    case TI_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
        }
        return TI_OK;
    default:
        return ti_errorf(TI_ERR_UNSUPPORTED, "cannot convert %s to F32 (not a floating type)", ti_st_dtype_name(dt));
    }
}

/* "[128,14]" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? "," : "", shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* ---- reader ------------------------------------------------------------------- */
struct ti_safetensors {
    char *label;
    ti_mmap map;         /* file mapping (size 0 if opened from memory) */
    uint8_t *owned;      /* memory copy of the file (open_memory) */
    uint8_t *aligned;    /* per-tensor aligned copies when the file leaves data misaligned */
    ti_st_tensor *t;     /* file order */
    uint64_t *begin;     /* data_offsets[0] of each tensor, parallel to t */
    size_t n;
    size_t *by_name;     /* indices of t sorted by name */
    char **meta_key, **meta_val;
    size_t n_meta;
    uint64_t data_bytes;
};

static ti_err st_fail(const ti_safetensors *st, ti_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ti_err st_fail(const ti_safetensors *st, ti_err code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ti_errorf(code, "safetensors %s: %s", st->label, msg);
}

void ti_safetensors_close(ti_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free((char *)(uintptr_t)st->t[i].name);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta_key[i]);
        free(st->meta_val[i]);
    }
    free(st->t);
    free(st->begin);
    free(st->by_name);
    free(st->meta_key);
    free(st->meta_val);
    ti_free_aligned(st->aligned);
    free(st->owned);
    if (st->map.data) ti_mmap_close(&st->map);
    free(st->label);
    free(st);
}

/* A JSON integer in [0, INT64_MAX]. */
static int json_uint(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static ti_err parse_meta(ti_safetensors *st, json_t *meta)
{
    if (!json_is_object(meta)) return st_fail(st, TI_ERR_FORMAT, "\"__metadata__\" is not an object of strings");
    size_t n = json_object_size(meta);
    st->meta_key = calloc(n ? n : 1, sizeof *st->meta_key);
    st->meta_val = calloc(n ? n : 1, sizeof *st->meta_val);
    if (!st->meta_key || !st->meta_val) return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (!json_is_string(v))
            return st_fail(st, TI_ERR_FORMAT, "\"__metadata__\" value of '%.64s' is not a string", k);
        st->meta_key[st->n_meta] = strdup(k);
        st->meta_val[st->n_meta] = strdup(json_string_value(v));
        st->n_meta++;
        if (!st->meta_key[st->n_meta - 1] || !st->meta_val[st->n_meta - 1])
            return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
    }
    return TI_OK;
}

/* Fills t (name, dtype, shape, numel, nbytes) and its data_offsets from one header entry. */
static ti_err parse_tensor(ti_safetensors *st, const char *name, json_t *info, ti_st_tensor *t, uint64_t *b,
                           uint64_t *e, uint64_t data_size)
{
    if (strlen(name) > TI_ST_MAX_NAME)
        return st_fail(st, TI_ERR_LIMIT, "tensor name '%.64s...' longer than %d bytes", name, TI_ST_MAX_NAME);
    if (!json_is_object(info)) return st_fail(st, TI_ERR_FORMAT, "tensor '%s': entry is not an object", name);
    json_t *jd = json_object_get(info, "dtype"), *js = json_object_get(info, "shape");
    json_t *jo = json_object_get(info, "data_offsets");
    if (!json_is_string(jd)) return st_fail(st, TI_ERR_FORMAT, "tensor '%s': missing string \"dtype\"", name);
    if (ti_st_dtype_parse(&t->dtype, json_string_value(jd)) != TI_OK)
        return st_fail(st, TI_ERR_UNSUPPORTED, "tensor '%s': %s", name, ti_errmsg());
    if (!json_is_array(js)) return st_fail(st, TI_ERR_FORMAT, "tensor '%s': missing array \"shape\"", name);
    if (json_array_size(js) > TI_ST_MAX_DIMS)
        return st_fail(st, TI_ERR_LIMIT, "tensor '%s': %zu dims, at most %d supported", name, json_array_size(js),
                       TI_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    uint64_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        if (!json_uint(json_array_get(js, (size_t)i), &d))
            return st_fail(st, TI_ERR_FORMAT, "tensor '%s': shape[%d] is not a non-negative integer", name, i);
        t->shape[i] = (int64_t)d;
        overflow |= __builtin_mul_overflow(numel, d, &numel);
    }
    size_t esz = k_dtypes[t->dtype].size;
    uint64_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)esz, &nbytes) || nbytes > SIZE_MAX)
        return st_fail(st, TI_ERR_FORMAT, "tensor '%s': shape overflows 64-bit byte count", name);
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_uint(json_array_get(jo, 0), b) ||
        !json_uint(json_array_get(jo, 1), e))
        return st_fail(st, TI_ERR_FORMAT, "tensor '%s': \"data_offsets\" must be [begin, end] non-negative integers",
                       name);
    char sh[192];
    if (*e < *b)
        return st_fail(st, TI_ERR_FORMAT, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before begin", name,
                       *b, *e);
    if (*e - *b != nbytes)
        return st_fail(st, TI_ERR_FORMAT,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] but shape %s %s needs %" PRIu64 " bytes",
                       name, *b, *e, shape_str(sh, sizeof sh, t->ndim, t->shape), k_dtypes[t->dtype].name, nbytes);
    if (*e > data_size)
        return st_fail(st, TI_ERR_CORRUPT,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] past the end of the %" PRIu64
                       "-byte data buffer (truncated file?)",
                       name, *b, *e, data_size);
    t->numel = numel;
    t->nbytes = (size_t)nbytes;
    t->name = strdup(name);
    if (!t->name) return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
    return TI_OK;
}

static int cmp_offset(const void *pa, const void *pb, void *ctx)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const ti_safetensors *st = ctx;
    if (st->begin[a] != st->begin[b]) return st->begin[a] < st->begin[b] ? -1 : 1;
    if (st->t[a].nbytes != st->t[b].nbytes) return st->t[a].nbytes < st->t[b].nbytes ? -1 : 1;
    return strcmp(st->t[a].name, st->t[b].name);
}

static int cmp_name(const void *pa, const void *pb, void *ctx)
{
    const ti_safetensors *st = ctx;
    return strcmp(st->t[*(const size_t *)pa].name, st->t[*(const size_t *)pb].name);
}

/* Reorders t/begin into offset order and checks they tile [0, data_size) exactly. */
static ti_err check_tiling(ti_safetensors *st, uint64_t data_size)
{
    size_t n = st->n;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    ti_st_tensor *t2 = malloc((n ? n : 1) * sizeof *t2);
    uint64_t *b2 = malloc((n ? n : 1) * sizeof *b2);
    if (!idx || !t2 || !b2) {
        free(idx), free(t2), free(b2);
        return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_offset, st);
    for (size_t i = 0; i < n; i++) {
        t2[i] = st->t[idx[i]];
        b2[i] = st->begin[idx[i]];
    }
    free(idx);
    free(st->t);
    free(st->begin);
    st->t = t2;
    st->begin = b2;
    uint64_t cursor = 0;
    for (size_t i = 0; i < n; i++) {
        if (b2[i] > cursor)
            return st_fail(st, TI_ERR_FORMAT, "tensor '%s': gap of %" PRIu64 " bytes before data_offsets begin %" PRIu64,
                           t2[i].name, b2[i] - cursor, b2[i]);
        if (b2[i] < cursor)
            return st_fail(st, TI_ERR_FORMAT, "tensor '%s': data_offsets begin %" PRIu64 " overlaps tensor '%s'",
                           t2[i].name, b2[i], t2[i - 1].name);
        cursor = b2[i] + t2[i].nbytes;
    }
    if (cursor != data_size)
        return st_fail(st, TI_ERR_FORMAT,
                       "tensors cover %" PRIu64 " of the %" PRIu64 " data bytes (%" PRIu64 " trailing bytes)", cursor,
                       data_size, data_size - cursor);
    return TI_OK;
}

/* Points every tensor at its data, copying all of them to aligned storage if any
 * would be misaligned for its element type (possible in files from other writers). */
static ti_err place_data(ti_safetensors *st, const uint8_t *data)
{
    int misaligned = 0;
    size_t total = 0;
    for (size_t i = 0; i < st->n; i++) {
        size_t esz = k_dtypes[st->t[i].dtype].size;
        if (st->t[i].nbytes && ((uintptr_t)(data + st->begin[i]) % esz) != 0) misaligned = 1;
        total += (st->t[i].nbytes + 63) & ~(size_t)63;
    }
    if (misaligned) {
        st->aligned = ti_malloc_aligned(total, 64);
        if (!st->aligned) return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory (%zu bytes)", st->label, total);
    }
    size_t off = 0;
    for (size_t i = 0; i < st->n; i++) {
        ti_st_tensor *t = &st->t[i];
        if (!t->nbytes) {
            t->data = NULL;
        } else if (misaligned) {
            memcpy(st->aligned + off, data + st->begin[i], t->nbytes);
            t->data = st->aligned + off;
            off += (t->nbytes + 63) & ~(size_t)63;
        } else {
            t->data = data + st->begin[i];
        }
    }
    return TI_OK;
}

static ti_err st_parse(ti_safetensors *st, const uint8_t *buf, size_t size)
{
    if (size < 8) return st_fail(st, TI_ERR_FORMAT, "file is %zu bytes, too short for the 8-byte header length", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > TI_ST_MAX_HEADER)
        return st_fail(st, TI_ERR_FORMAT, "header length %" PRIu64 " exceeds the %u-byte limit (not a safetensors file?)",
                       hlen, TI_ST_MAX_HEADER);
    if (hlen < 2) return st_fail(st, TI_ERR_FORMAT, "header length %" PRIu64 " is too small for a JSON object", hlen);
    if (hlen > size - 8)
        return st_fail(st, TI_ERR_CORRUPT, "header length %" PRIu64 " but the file has only %zu bytes after it", hlen,
                       size - 8);
    const char *hdr = (const char *)buf + 8;
    if (hdr[0] != '{') return st_fail(st, TI_ERR_FORMAT, "header does not start with '{'");
    json_error_t jerr;
    json_t *root = json_loadb(hdr, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return st_fail(st, TI_ERR_FORMAT, "header JSON invalid at line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
    ti_err err = TI_OK;
    uint64_t data_size = (uint64_t)(size - 8 - (size_t)hlen);
    size_t nkeys = json_object_size(root);
    if (!json_is_object(root)) {
        err = st_fail(st, TI_ERR_FORMAT, "header is not a JSON object");
        goto done;
    }
    if (nkeys > TI_ST_MAX_TENSORS) {
        err = st_fail(st, TI_ERR_LIMIT, "%zu header entries, at most %d supported", nkeys, TI_ST_MAX_TENSORS);
        goto done;
    }
    st->t = calloc(nkeys ? nkeys : 1, sizeof *st->t);
    st->begin = calloc(nkeys ? nkeys : 1, sizeof *st->begin);
    if (!st->t || !st->begin) {
        err = ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if ((err = parse_meta(st, val)) != TI_OK) goto done;
            continue;
        }
        uint64_t b, e;
        if ((err = parse_tensor(st, key, val, &st->t[st->n], &b, &e, data_size)) != TI_OK) goto done;
        st->begin[st->n++] = b;
        st->data_bytes += e - b;
    }
    if ((err = check_tiling(st, data_size)) != TI_OK) goto done;
    if ((err = place_data(st, buf + 8 + hlen)) != TI_OK) goto done;
    st->by_name = malloc((st->n ? st->n : 1) * sizeof *st->by_name);
    if (!st->by_name) {
        err = ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory", st->label);
        goto done;
    }
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = i;
    qsort_r(st->by_name, st->n, sizeof *st->by_name, cmp_name, st);
done:
    json_decref(root);
    return err;
}

static ti_err st_new(ti_safetensors **out, const char *label)
{
    *out = NULL;
    ti_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->label = strdup(label ? label : "<memory>"))) {
        free(st);
        return ti_errorf(TI_ERR_NOMEM, "safetensors: out of memory");
    }
    *out = st;
    return TI_OK;
}

ti_err ti_safetensors_open(ti_safetensors **out, const char *path)
{
    if (!out || !path) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors: NULL argument");
    ti_safetensors *st;
    ti_err err = st_new(&st, path);
    if (err) return err;
    if ((err = ti_mmap_open(&st->map, path)) != TI_OK) {
        ti_safetensors_close(st);
        return ti_error_wrap(err, "safetensors %s", path);
    }
    if ((err = st_parse(st, st->map.data, st->map.size)) != TI_OK) {
        ti_safetensors_close(st);
        return err;
    }
    *out = st;
    return TI_OK;
}

ti_err ti_safetensors_open_memory(ti_safetensors **out, const void *data, size_t size, const char *label)
{
    if (!out || (!data && size)) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors: NULL argument");
    ti_safetensors *st;
    ti_err err = st_new(&st, label);
    if (err) return err;
    st->owned = malloc(size ? size : 1);
    if (!st->owned) {
        ti_safetensors_close(st);
        return ti_errorf(TI_ERR_NOMEM, "safetensors %s: out of memory (%zu bytes)", label, size);
    }
    if (size) memcpy(st->owned, data, size);
    if ((err = st_parse(st, st->owned, size)) != TI_OK) {
        ti_safetensors_close(st);
        return err;
    }
    *out = st;
    return TI_OK;
}

size_t ti_safetensors_count(const ti_safetensors *st) { return st ? st->n : 0; }

const ti_st_tensor *ti_safetensors_at(const ti_safetensors *st, size_t i)
{
    return st && i < st->n ? &st->t[i] : NULL;
}

const ti_st_tensor *ti_safetensors_find(const ti_safetensors *st, const char *name)
{
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[st->by_name[mid]].name, name);
        if (c == 0) return &st->t[st->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

ti_err ti_safetensors_get(const ti_safetensors *st, const char *name, const ti_st_tensor **out)
{
    if (!st || !name || !out) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors: NULL argument");
    *out = ti_safetensors_find(st, name);
    if (!*out) return st_fail(st, TI_ERR_NOT_FOUND, "no tensor named '%s' (%zu tensors in file)", name, st->n);
    return TI_OK;
}

ti_err ti_safetensors_get_f32(const ti_safetensors *st, const char *name, int ndim, const int64_t *shape,
                              const float **out)
{
    const ti_st_tensor *t;
    ti_err err = ti_safetensors_get(st, name, &t);
    if (err) return err;
    int same = t->dtype == TI_ST_F32 && t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[192], b[192];
        return st_fail(st, TI_ERR_FORMAT, "tensor '%s' has shape %s %s, expected %s F32", name,
                       shape_str(a, sizeof a, t->ndim, t->shape), k_dtypes[t->dtype].name,
                       shape_str(b, sizeof b, ndim < 0 ? 0 : ndim > TI_ST_MAX_DIMS ? TI_ST_MAX_DIMS : ndim, shape));
    }
    *out = t->data;
    return TI_OK;
}

const char *ti_safetensors_meta(const ti_safetensors *st, const char *key)
{
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_key[i], key) == 0) return st->meta_val[i];
    return NULL;
}

size_t ti_safetensors_meta_count(const ti_safetensors *st) { return st ? st->n_meta : 0; }

void ti_safetensors_meta_at(const ti_safetensors *st, size_t i, const char **key, const char **value)
{
    int ok = st && i < st->n_meta;
    if (key) *key = ok ? st->meta_key[i] : NULL;
    if (value) *value = ok ? st->meta_val[i] : NULL;
}

uint64_t ti_safetensors_data_bytes(const ti_safetensors *st) { return st ? st->data_bytes : 0; }

/* ---- writer ------------------------------------------------------------------- */
typedef struct st_entry {
    char *name;
    ti_st_dtype dtype;
    int ndim;
    int64_t shape[TI_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} st_entry;

struct ti_st_builder {
    st_entry *e;
    size_t n, cap;
    char **meta_key, **meta_val;
    size_t n_meta, cap_meta;
};

ti_err ti_st_builder_create(ti_st_builder **out)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: NULL argument");
    *out = calloc(1, sizeof **out);
    return *out ? TI_OK : ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory");
}

void ti_st_builder_destroy(ti_st_builder *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->e[i].name);
        free(b->e[i].data);
    }
    for (size_t i = 0; i < b->n_meta; i++) {
        free(b->meta_key[i]);
        free(b->meta_val[i]);
    }
    free(b->e);
    free(b->meta_key);
    free(b->meta_val);
    free(b);
}

size_t ti_st_builder_count(const ti_st_builder *b) { return b ? b->n : 0; }

ti_err ti_st_builder_add(ti_st_builder *b, const char *name, ti_st_dtype dtype, int ndim, const int64_t *shape,
                         const void *data)
{
    if (!b || !name || (ndim > 0 && !shape)) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: NULL argument");
    if (!*name || strlen(name) > TI_ST_MAX_NAME || strcmp(name, "__metadata__") == 0)
        return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: invalid tensor name '%.64s'", name);
    if ((unsigned)dtype >= TI_ST__COUNT)
        return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: tensor '%s': invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > TI_ST_MAX_DIMS)
        return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: tensor '%s': %d dims (0..%d)", name, ndim,
                         TI_ST_MAX_DIMS);
    if (b->n >= TI_ST_MAX_TENSORS)
        return ti_errorf(TI_ERR_LIMIT, "safetensors builder: more than %d tensors", TI_ST_MAX_TENSORS);
    uint64_t numel = 1, nbytes;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)shape[i], &numel))
            return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: tensor '%s': bad shape[%d] = %" PRId64, name, i,
                             shape[i]);
    }
    if (__builtin_mul_overflow(numel, (uint64_t)k_dtypes[dtype].size, &nbytes) || nbytes > SIZE_MAX / 2)
        return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: tensor '%s': too large", name);
    if (nbytes && !data) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: tensor '%s': NULL data", name);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        st_entry *e = realloc(b->e, cap * sizeof *e);
        if (!e) return ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory");
        b->e = e;
        b->cap = cap;
    }
    st_entry *e = &b->e[b->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory for tensor '%s'", name);
    }
    if (nbytes) memcpy(e->data, data, (size_t)nbytes);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->nbytes = (size_t)nbytes;
    b->n++;
    return TI_OK;
}

ti_err ti_st_builder_set_meta(ti_st_builder *b, const char *key, const char *value)
{
    if (!b || !key || !value) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: NULL argument");
    if (strlen(key) > TI_ST_MAX_NAME)
        return ti_errorf(TI_ERR_INVALID_ARG, "safetensors builder: metadata key longer than %d bytes", TI_ST_MAX_NAME);
    char *v = strdup(value);
    if (!v) return ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory");
    for (size_t i = 0; i < b->n_meta; i++)
        if (strcmp(b->meta_key[i], key) == 0) {
            free(b->meta_val[i]);
            b->meta_val[i] = v;
            return TI_OK;
        }
    if (b->n_meta == b->cap_meta) {
        size_t cap = b->cap_meta ? b->cap_meta * 2 : 8;
        char **k2 = realloc(b->meta_key, cap * sizeof *k2);
        if (k2) b->meta_key = k2;
        char **v2 = k2 ? realloc(b->meta_val, cap * sizeof *v2) : NULL;
        if (v2) b->meta_val = v2;
        if (!k2 || !v2) {
            free(v);
            return ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory");
        }
        b->cap_meta = cap;
    }
    b->meta_key[b->n_meta] = strdup(key);
    if (!b->meta_key[b->n_meta]) {
        free(v);
        return ti_errorf(TI_ERR_NOMEM, "safetensors builder: out of memory");
    }
    b->meta_val[b->n_meta++] = v;
    return TI_OK;
}

/* Reference order: larger elements first (so every tensor is naturally aligned once the
 * header is padded to 8 bytes), then by name. */
static int cmp_entry(const void *pa, const void *pb, void *ctx)
{
    const st_entry *e = ctx;
    const st_entry *a = &e[*(const size_t *)pa], *b = &e[*(const size_t *)pb];
    size_t sa = k_dtypes[a->dtype].size, sb = k_dtypes[b->dtype].size;
    if (sa != sb) return sa > sb ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int cmp_entry_name(const void *pa, const void *pb, void *ctx)
{
    const st_entry *e = ctx;
    return strcmp(e[*(const size_t *)pa].name, e[*(const size_t *)pb].name);
}

static int cmp_meta(const void *pa, const void *pb, void *ctx)
{
    char *const *keys = ctx;
    return strcmp(keys[*(const size_t *)pa], keys[*(const size_t *)pb]);
}

/* Builds the padded header ("N" excluded) and the tensor order. */
static ti_err build_header(const ti_st_builder *b, char **hdr_out, size_t *hlen_out, size_t **order_out)
{
    *hdr_out = NULL;
    *order_out = NULL;
    size_t *order = malloc((b->n ? b->n : 1) * sizeof *order);
    size_t *mkeys = malloc((b->n_meta ? b->n_meta : 1) * sizeof *mkeys);
    json_t *root = json_object();
    ti_err err = TI_OK;
    if (!order || !mkeys || !root) {
        err = ti_errorf(TI_ERR_NOMEM, "safetensors writer: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < b->n; i++) order[i] = i;
    qsort_r(order, b->n, sizeof *order, cmp_entry_name, b->e);
    for (size_t i = 0; i + 1 < b->n; i++)
        if (strcmp(b->e[order[i]].name, b->e[order[i + 1]].name) == 0) {
            err = ti_errorf(TI_ERR_INVALID_ARG, "safetensors writer: duplicate tensor name '%s'", b->e[order[i]].name);
            goto fail;
        }
    qsort_r(order, b->n, sizeof *order, cmp_entry, b->e);
    if (b->n_meta) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) {
            err = ti_errorf(TI_ERR_NOMEM, "safetensors writer: out of memory");
            goto fail;
        }
        for (size_t i = 0; i < b->n_meta; i++) mkeys[i] = i;
        qsort_r(mkeys, b->n_meta, sizeof *mkeys, cmp_meta, b->meta_key); /* the reference sorts metadata */
        for (size_t i = 0; i < b->n_meta; i++) {
            const char *k = b->meta_key[mkeys[i]];
            if (json_object_set_new(meta, k, json_string(b->meta_val[mkeys[i]])) != 0) {
                err = ti_errorf(TI_ERR_INVALID_ARG, "safetensors writer: metadata '%.64s' is not valid UTF-8", k);
                goto fail;
            }
        }
    }
    uint64_t off = 0;
    for (size_t k = 0; k < b->n; k++) {
        const st_entry *e = &b->e[order[k]];
        json_t *t = json_object(), *shape = json_array(), *offs = json_array();
        int bad = !t || !shape || !offs;
        bad = bad || json_object_set_new(t, "dtype", json_string(k_dtypes[e->dtype].name)) != 0;
        for (int i = 0; !bad && i < e->ndim; i++) bad = json_array_append_new(shape, json_integer(e->shape[i])) != 0;
        bad = bad || json_array_append_new(offs, json_integer((json_int_t)off)) != 0;
        bad = bad || json_array_append_new(offs, json_integer((json_int_t)(off + e->nbytes))) != 0;
        bad = bad || json_object_set_new(t, "shape", shape) != 0;
        shape = NULL;
        bad = bad || json_object_set_new(t, "data_offsets", offs) != 0;
        offs = NULL;
        if (bad || json_object_set_new(root, e->name, t) != 0) {
            json_decref(shape);
            json_decref(offs);
            err = ti_errorf(TI_ERR_INVALID_ARG, "safetensors writer: cannot encode tensor '%.64s' (not UTF-8?)", e->name);
            goto fail;
        }
        off += e->nbytes;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) {
        err = ti_errorf(TI_ERR_NOMEM, "safetensors writer: cannot serialise the header");
        goto fail;
    }
    size_t len = strlen(s), padded = (len + 7) & ~(size_t)7;
    if (padded > TI_ST_MAX_HEADER) {
        free(s);
        err = ti_errorf(TI_ERR_LIMIT, "safetensors writer: header of %zu bytes exceeds %u", padded, TI_ST_MAX_HEADER);
        goto fail;
    }
    char *hdr = realloc(s, padded + 1);
    if (!hdr) {
        free(s);
        err = ti_errorf(TI_ERR_NOMEM, "safetensors writer: out of memory");
        goto fail;
    }
    memset(hdr + len, ' ', padded - len);
    hdr[padded] = '\0';
    *hdr_out = hdr;
    *hlen_out = padded;
    *order_out = order;
    order = NULL;
fail:
    free(order);
    free(mkeys);
    json_decref(root);
    return err;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

ti_err ti_st_builder_serialize(const ti_st_builder *b, uint8_t **out, size_t *out_len)
{
    if (!b || !out || !out_len) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    char *hdr;
    size_t hlen, *order;
    ti_err err = build_header(b, &hdr, &hlen, &order);
    if (err) return err;
    size_t total = 8 + hlen;
    for (size_t i = 0; i < b->n; i++) total += b->e[i].nbytes;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(hdr);
        free(order);
        return ti_errorf(TI_ERR_NOMEM, "safetensors writer: out of memory (%zu bytes)", total);
    }
    put_le64(buf, hlen);
    memcpy(buf + 8, hdr, hlen);
    size_t off = 8 + hlen;
    for (size_t k = 0; k < b->n; k++) {
        const st_entry *e = &b->e[order[k]];
        if (e->nbytes) memcpy(buf + off, e->data, e->nbytes);
        off += e->nbytes;
    }
    free(hdr);
    free(order);
    *out = buf;
    *out_len = total;
    return TI_OK;
}

ti_err ti_st_builder_write(const ti_st_builder *b, const char *path)
{
    if (!b || !path) return ti_errorf(TI_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    char *hdr;
    size_t hlen, *order;
    ti_err err = build_header(b, &hdr, &hlen, &order);
    if (err) return err;
    ti_atomic_file *f = NULL;
    uint8_t nbuf[8];
    put_le64(nbuf, hlen);
    if ((err = ti_atomic_open(&f, path)) != TI_OK) goto done;
    if ((err = ti_atomic_write(f, nbuf, 8)) != TI_OK) goto done;
    if ((err = ti_atomic_write(f, hdr, hlen)) != TI_OK) goto done;
    for (size_t k = 0; k < b->n; k++) {
        const st_entry *e = &b->e[order[k]];
        if (e->nbytes && (err = ti_atomic_write(f, e->data, e->nbytes)) != TI_OK) goto done;
    }
    err = ti_atomic_commit(f);
    f = NULL;
done:
    if (err) {
        ti_atomic_abort(f);
        err = ti_error_wrap(err, "safetensors %s", path);
    }
    free(hdr);
    free(order);
    return err;
}
