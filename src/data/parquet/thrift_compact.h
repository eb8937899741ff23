/* Thrift compact protocol reader (read-only, bounds-checked), just enough for Parquet's
 * FileMetaData and PageHeader.  See
 * https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 *
 * Errors are sticky: the first problem sets t->err and t->why, every later read returns
 * 0 / NULL, so parsers can read a whole struct and check once at the end. */
#ifndef TICKINFER_PQ_THRIFT_COMPACT_H
#define TICKINFER_PQ_THRIFT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

/* Compact-protocol type codes (field headers and list element types). */
enum {
    PQ_T_STOP = 0,
    PQ_T_TRUE = 1,
    PQ_T_FALSE = 2,
    PQ_T_BYTE = 3,
    PQ_T_I16 = 4,
    PQ_T_I32 = 5,
    PQ_T_I64 = 6,
    PQ_T_DOUBLE = 7,
    PQ_T_BINARY = 8,
    PQ_T_LIST = 9,
    PQ_T_SET = 10,
    PQ_T_MAP = 11,
    PQ_T_STRUCT = 12
};

typedef struct pq_thrift {
    const uint8_t *start, *p, *end;
    int depth;       /* current struct/container nesting */
    int err;         /* 1 once malformed */
    const char *why; /* first problem (static string) */
} pq_thrift;

void pq_thrift_init(pq_thrift *t, const uint8_t *p, size_t n);
/* Record a problem (the first one wins); returns 0. */
int pq_thrift_fail(pq_thrift *t, const char *why);
/* Bytes consumed so far. */
static inline size_t pq_thrift_pos(const pq_thrift *t) { return (size_t)(t->p - t->start); }

/* Struct traversal:
 *   int16_t last = 0; int id, type;
 *   if (pq_thrift_struct_begin(t)) {
 *       while (pq_thrift_field(t, &last, &id, &type)) { switch (id) ... default: pq_thrift_skip(t, type); }
 *       pq_thrift_struct_end(t);
 *   }
 * pq_thrift_field returns 0 at the STOP byte or on error. */
int pq_thrift_struct_begin(pq_thrift *t);
int pq_thrift_field(pq_thrift *t, int16_t *last_id, int *id, int *type);
void pq_thrift_struct_end(pq_thrift *t);

/* Typed field readers: `type` is the field's type from pq_thrift_field; a mismatch is
 * an error (a known field with the wrong type means the file is not what we think). */
int32_t pq_thrift_i32(pq_thrift *t, int type);
int64_t pq_thrift_i64(pq_thrift *t, int type);
int pq_thrift_bool(pq_thrift *t, int type);
/* Binary/string: pointer into the buffer and its length (not NUL-terminated). */
const uint8_t *pq_thrift_binary(pq_thrift *t, int type, uint32_t *len);
/* List header (type must be LIST or SET): element type and count.  The count is
 * checked against the bytes left (every element takes at least one byte). */
int pq_thrift_list(pq_thrift *t, int type, int *elem_type, uint32_t *n);
/* A list element of integer type (I32, or I16/BYTE widened). */
int32_t pq_thrift_elem_i32(pq_thrift *t, int elem_type);
/* Close a list opened with pq_thrift_list (nesting bookkeeping). */
void pq_thrift_list_end(pq_thrift *t);

/* Skip one value of `type`, however deeply nested (depth capped). */
void pq_thrift_skip(pq_thrift *t, int type);

#endif
