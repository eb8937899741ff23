/* Thrift compact protocol reader: varints, zigzag integers, field headers, containers
 * and generic skipping of fields we do not know (forward compatibility). */
#include "data/parquet/thrift_compact.h"

#include <string.h>

#include "tickinfer/parquet.h"

void pq_thrift_init(pq_thrift *t, const uint8_t *p, size_t n)
{
    t->start = p;
    t->p = p;
    t->end = p + n;
    t->depth = 0;
    t->err = 0;
    t->why = "";
}

int pq_thrift_fail(pq_thrift *t, const char *why)
{
    if (!t->err) {
        t->err = 1;
        t->why = why;
        t->p = t->end; /* stop everything that follows */
    }
    return 0;
}

static uint64_t read_varint(pq_thrift *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->p >= t->end) return pq_thrift_fail(t, "truncated varint");
        uint8_t b = *t->p++;
        if (shift == 63 && (b & 0x7e)) return pq_thrift_fail(t, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return pq_thrift_fail(t, "varint longer than 10 bytes");
}

static int64_t zigzag64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static int64_t read_zigzag_bounded(pq_thrift *t, int bits)
{
    uint64_t v = read_varint(t);
    if (bits < 64 && (v >> bits)) return pq_thrift_fail(t, "integer out of range for its type");
    return zigzag64(v);
}

static uint8_t read_byte(pq_thrift *t)
{
    if (t->p >= t->end) return (uint8_t)pq_thrift_fail(t, "truncated");
    return *t->p++;
}

static int enter(pq_thrift *t)
{
    if (t->err) return 0;
    if (++t->depth > TI_PQ_MAX_NESTING) return pq_thrift_fail(t, "nesting too deep");
    return 1;
}

int pq_thrift_struct_begin(pq_thrift *t) { return enter(t); }

void pq_thrift_struct_end(pq_thrift *t)
{
    if (t->depth > 0) t->depth--;
}

int pq_thrift_field(pq_thrift *t, int16_t *last_id, int *id, int *type)
{
    if (t->err) return 0;
    uint8_t b = read_byte(t);
    if (t->err) return 0;
    *type = b & 0x0f;
    if (*type == PQ_T_STOP) return 0;
    int delta = b >> 4;
    int64_t fid = delta ? (int64_t)*last_id + delta : read_zigzag_bounded(t, 16);
    if (t->err) return 0;
    if (fid < INT16_MIN || fid > INT16_MAX) return pq_thrift_fail(t, "field id out of range");
    if (*type > PQ_T_STRUCT) return pq_thrift_fail(t, "unknown field type");
    *last_id = (int16_t)fid;
    *id = (int)fid;
    return 1;
}

int32_t pq_thrift_i32(pq_thrift *t, int type)
{
    if (type == PQ_T_I32) return (int32_t)read_zigzag_bounded(t, 32);
    if (type == PQ_T_I16) return (int32_t)read_zigzag_bounded(t, 16);
    if (type == PQ_T_BYTE) return (int8_t)read_byte(t);
    return pq_thrift_fail(t, "expected an integer field");
}

int64_t pq_thrift_i64(pq_thrift *t, int type)
{
    if (type == PQ_T_I64) return read_zigzag_bounded(t, 64);
    if (type == PQ_T_I32 || type == PQ_T_I16 || type == PQ_T_BYTE) return pq_thrift_i32(t, type);
    return pq_thrift_fail(t, "expected an i64 field");
}

int pq_thrift_bool(pq_thrift *t, int type)
{
    if (type == PQ_T_TRUE) return 1;
    if (type == PQ_T_FALSE) return 0;
    return pq_thrift_fail(t, "expected a bool field");
}

const uint8_t *pq_thrift_binary(pq_thrift *t, int type, uint32_t *len)
{
    *len = 0;
    if (type != PQ_T_BINARY) {
        pq_thrift_fail(t, "expected a binary field");
        return NULL;
    }
    uint64_t n = read_varint(t);
    if (t->err) return NULL;
    if (n > (uint64_t)(t->end - t->p)) {
        pq_thrift_fail(t, "binary length past the end");
        return NULL;
    }
    const uint8_t *p = t->p;
    t->p += n;
    *len = (uint32_t)n;
    return p;
}

int pq_thrift_list(pq_thrift *t, int type, int *elem_type, uint32_t *n)
{
    *n = 0;
    *elem_type = PQ_T_STOP;
    if (type != PQ_T_LIST && type != PQ_T_SET) return pq_thrift_fail(t, "expected a list field");
    uint8_t b = read_byte(t);
    if (t->err) return 0;
    uint64_t size = b >> 4;
    if (size == 15) size = read_varint(t);
    if (t->err) return 0;
    *elem_type = b & 0x0f;
    if (*elem_type == PQ_T_STOP || *elem_type > PQ_T_STRUCT) return pq_thrift_fail(t, "bad list element type");
    /* Every element takes at least one byte, which bounds what a corrupt count can cost. */
    if (size > (uint64_t)(t->end - t->p)) return pq_thrift_fail(t, "list longer than the data left");
    if (!enter(t)) return 0;
    *n = (uint32_t)size;
    return 1;
}

void pq_thrift_list_end(pq_thrift *t) { pq_thrift_struct_end(t); }

int32_t pq_thrift_elem_i32(pq_thrift *t, int elem_type)
{
    if (elem_type == PQ_T_TRUE || elem_type == PQ_T_FALSE) return pq_thrift_fail(t, "expected integer list elements");
    return pq_thrift_i32(t, elem_type);
}

/* in_list: booleans inside containers take a byte; as fields they live in the header. */
static void skip_value(pq_thrift *t, int type, int in_list)
{
    if (t->err) return;
    switch (type) {
    case PQ_T_TRUE:
    case PQ_T_FALSE:
        if (in_list) read_byte(t);
        return;
    case PQ_T_BYTE: read_byte(t); return;
    case PQ_T_I16:
    case PQ_T_I32:
    case PQ_T_I64: read_varint(t); return;
    case PQ_T_DOUBLE:
        if (t->end - t->p < 8) pq_thrift_fail(t, "truncated double");
        else t->p += 8;
        return;
    case PQ_T_BINARY: {
        uint32_t len;
        pq_thrift_binary(t, type, &len);
        return;
    }
    case PQ_T_LIST:
    case PQ_T_SET: {
        int et;
        uint32_t n;
        if (!pq_thrift_list(t, type, &et, &n)) return;
        for (uint32_t i = 0; i < n && !t->err; i++) skip_value(t, et, 1);
        pq_thrift_list_end(t);
        return;
    }
    case PQ_T_MAP: {
        uint64_t n = read_varint(t);
        if (t->err || n == 0) return;
        uint8_t kv = read_byte(t);
        int kt = kv >> 4, vt = kv & 0x0f;
        if (kt == PQ_T_STOP || kt > PQ_T_STRUCT || vt == PQ_T_STOP || vt > PQ_T_STRUCT) {
            pq_thrift_fail(t, "bad map types");
            return;
        }
        if (n > (uint64_t)(t->end - t->p) / 2) {
            pq_thrift_fail(t, "map longer than the data left");
            return;
        }
        if (!enter(t)) return;
        for (uint64_t i = 0; i < n && !t->err; i++) {
            skip_value(t, kt, 1);
            skip_value(t, vt, 1);
        }
        pq_thrift_struct_end(t);
        return;
    }
    case PQ_T_STRUCT: {
        if (!pq_thrift_struct_begin(t)) return;
        int16_t last = 0;
        int id, ft;
        while (pq_thrift_field(t, &last, &id, &ft)) skip_value(t, ft, 0);
        pq_thrift_struct_end(t);
        return;
    }
    default: pq_thrift_fail(t, "unknown type"); return;
    }
}

void pq_thrift_skip(pq_thrift *t, int type) { skip_value(t, type, 0); }
