/* FileMetaData (the footer) -> flattened schema leaves, row groups and column chunks.
 * Field numbers are those of parquet.thrift; unknown fields are skipped. */
#include <stdlib.h>
#include <string.h>

#include "data/parquet/pq_internal.h"
#include "data/parquet/thrift_compact.h"

enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };

typedef struct schema_el {
    const uint8_t *name; /* into the footer, not NUL-terminated */
    uint32_t name_len;
    int32_t type, type_length, repetition, num_children, converted; /* -1 = absent */
} schema_el;

typedef struct chunk_tmp {
    ti_pq_chunk_info info;
    int32_t type;
    int external;  /* file_path set: data lives in another file */
    int encrypted; /* ColumnMetaData missing, encrypted instead */
} chunk_tmp;

typedef struct parse_ctx {
    pq_thrift t;
    schema_el *els;
    uint32_t n_els;
    chunk_tmp *chunks;
    size_t n_chunks, cap_chunks;
    pq_row_group *rgs;
    uint32_t n_rgs;
    int64_t num_rows;
    const uint8_t *created_by;
    uint32_t created_by_len;
    int32_t version;
    int limit_hit;
} parse_ctx;

/* Field `id` seen: bit in a mask, to check required fields at the end of a struct. */
#define SEEN(id) (1u << (id))

static void parse_schema_element(parse_ctx *c, schema_el *el)
{
    pq_thrift *t = &c->t;
    *el = (schema_el){.type = -1, .type_length = -1, .repetition = -1, .num_children = -1, .converted = -1};
    if (!pq_thrift_struct_begin(t)) return;
    int16_t last = 0;
    int id, type;
    unsigned seen = 0;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: el->type = pq_thrift_i32(t, type); break;
        case 2: el->type_length = pq_thrift_i32(t, type); break;
        case 3: el->repetition = pq_thrift_i32(t, type); break;
        case 4: el->name = pq_thrift_binary(t, type, &el->name_len); break;
        case 5: el->num_children = pq_thrift_i32(t, type); break;
        case 6: el->converted = pq_thrift_i32(t, type); break;
        default: pq_thrift_skip(t, type); continue;
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    if (!(seen & SEEN(4))) pq_thrift_fail(t, "schema element without a name");
}

static void parse_schema(parse_ctx *c, int type)
{
    pq_thrift *t = &c->t;
    int et;
    uint32_t n;
    if (!pq_thrift_list(t, type, &et, &n)) return;
    if (et != PQ_T_STRUCT) pq_thrift_fail(t, "schema is not a list of structs");
    else if (c->els) pq_thrift_fail(t, "schema given twice");
    else if (n > TI_PQ_MAX_SCHEMA_ELEMENTS) c->limit_hit = 1, pq_thrift_fail(t, "too many schema elements");
    else if (n == 0) pq_thrift_fail(t, "empty schema");
    else if (!(c->els = calloc(n, sizeof *c->els))) pq_thrift_fail(t, "out of memory");
    for (uint32_t i = 0; i < n && !t->err; i++) parse_schema_element(c, &c->els[c->n_els++]);
    pq_thrift_list_end(t);
}

static void parse_column_meta(parse_ctx *c, chunk_tmp *ch)
{
    pq_thrift *t = &c->t;
    if (!pq_thrift_struct_begin(t)) return;
    int16_t last = 0;
    int id, type;
    unsigned seen = 0;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: ch->type = pq_thrift_i32(t, type); break;
        case 2: {
            int et;
            uint32_t n;
            if (!pq_thrift_list(t, type, &et, &n)) break;
            for (uint32_t i = 0; i < n && !t->err; i++) {
                int32_t e = pq_thrift_elem_i32(t, et);
                if (e >= 0 && e < 32) ch->info.encodings |= 1u << e;
            }
            pq_thrift_list_end(t);
            break;
        }
        case 4: ch->info.codec = (ti_pq_codec)pq_thrift_i32(t, type); break;
        case 5: ch->info.num_values = pq_thrift_i64(t, type); break;
        case 6: ch->info.total_uncompressed_size = pq_thrift_i64(t, type); break;
        case 7: ch->info.total_compressed_size = pq_thrift_i64(t, type); break;
        case 9: ch->info.data_page_offset = pq_thrift_i64(t, type); break;
        case 11: ch->info.dictionary_page_offset = pq_thrift_i64(t, type); break;
        default: pq_thrift_skip(t, type); continue; /* 3 path_in_schema, statistics, ... */
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    const unsigned need = SEEN(1) | SEEN(2) | SEEN(4) | SEEN(5) | SEEN(7) | SEEN(9);
    if ((seen & need) != need) pq_thrift_fail(t, "column metadata lacks a required field");
}

static void parse_column_chunk(parse_ctx *c, chunk_tmp *ch)
{
    pq_thrift *t = &c->t;
    *ch = (chunk_tmp){.type = -1};
    ch->info.dictionary_page_offset = -1;
    if (!pq_thrift_struct_begin(t)) return;
    int16_t last = 0;
    int id, type;
    int has_meta = 0;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: {
            uint32_t len;
            pq_thrift_binary(t, type, &len);
            if (len) ch->external = 1;
            break;
        }
        case 3:
            parse_column_meta(c, ch);
            has_meta = 1;
            break;
        case 8:
        case 9:
            ch->encrypted = 1;
            pq_thrift_skip(t, type);
            break;
        default: pq_thrift_skip(t, type); break;
        }
    }
    pq_thrift_struct_end(t);
    if (!has_meta && !ch->encrypted) pq_thrift_fail(t, "column chunk without metadata");
}

static int push_chunk(parse_ctx *c)
{
    if (c->n_chunks == c->cap_chunks) {
        if (c->n_chunks >= TI_PQ_MAX_CHUNKS) {
            c->limit_hit = 1;
            return pq_thrift_fail(&c->t, "too many column chunks");
        }
        size_t cap = c->cap_chunks ? c->cap_chunks * 2 : 16;
        chunk_tmp *p = realloc(c->chunks, cap * sizeof *p);
        if (!p) return pq_thrift_fail(&c->t, "out of memory");
        c->chunks = p;
        c->cap_chunks = cap;
    }
    c->n_chunks++;
    return 1;
}

static void parse_row_group(parse_ctx *c, pq_row_group *rg, uint32_t *n_chunks)
{
    pq_thrift *t = &c->t;
    rg->first_chunk = c->n_chunks;
    *n_chunks = 0;
    if (!pq_thrift_struct_begin(t)) return;
    int16_t last = 0;
    int id, type;
    unsigned seen = 0;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: {
            int et;
            uint32_t n;
            if (!pq_thrift_list(t, type, &et, &n)) break;
            if (et != PQ_T_STRUCT || seen & SEEN(1)) pq_thrift_fail(t, "bad column chunk list");
            for (uint32_t i = 0; i < n && !t->err; i++)
                if (push_chunk(c)) parse_column_chunk(c, &c->chunks[c->n_chunks - 1]);
            pq_thrift_list_end(t);
            *n_chunks = n;
            break;
        }
        case 3: rg->num_rows = pq_thrift_i64(t, type); break;
        default: pq_thrift_skip(t, type); continue;
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    if ((seen & (SEEN(1) | SEEN(3))) != (SEEN(1) | SEEN(3))) pq_thrift_fail(t, "row group lacks columns or num_rows");
}

static void parse_row_groups(parse_ctx *c, int type, uint32_t **counts)
{
    pq_thrift *t = &c->t;
    int et;
    uint32_t n;
    if (!pq_thrift_list(t, type, &et, &n)) return;
    if (et != PQ_T_STRUCT) pq_thrift_fail(t, "row groups are not structs");
    else if (c->rgs) pq_thrift_fail(t, "row groups given twice");
    else if (n > TI_PQ_MAX_ROW_GROUPS) c->limit_hit = 1, pq_thrift_fail(t, "too many row groups");
    else if (n && (!(c->rgs = calloc(n, sizeof *c->rgs)) || !(*counts = calloc(n, sizeof **counts))))
        pq_thrift_fail(t, "out of memory");
    for (uint32_t i = 0; i < n && !t->err; i++) parse_row_group(c, &c->rgs[c->n_rgs++], &(*counts)[i]);
    pq_thrift_list_end(t);
}

static void parse_file_metadata(parse_ctx *c, uint32_t **counts)
{
    pq_thrift *t = &c->t;
    if (!pq_thrift_struct_begin(t)) return;
    int16_t last = 0;
    int id, type;
    unsigned seen = 0;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: c->version = pq_thrift_i32(t, type); break;
        case 2: parse_schema(c, type); break;
        case 3: c->num_rows = pq_thrift_i64(t, type); break;
        case 4: parse_row_groups(c, type, counts); break;
        case 6: c->created_by = pq_thrift_binary(t, type, &c->created_by_len); break;
        default: pq_thrift_skip(t, type); continue;
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    const unsigned need = SEEN(2) | SEEN(3) | SEEN(4);
    if ((seen & need) != need) pq_thrift_fail(t, "FileMetaData lacks schema, num_rows or row_groups");
}

static char *dup_n(const uint8_t *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Flatten the depth-first schema list into leaf columns.  *idx walks els; `count`
 * children of the current group follow.  path[plen] is the group's dotted path. */
static ti_err walk_children(ti_parquet_file *f, const parse_ctx *c, uint32_t *idx, int64_t count, int depth, int def, int rep,
                            int nested, char *path, size_t plen)
{
    if (depth >= TI_PQ_MAX_NESTING) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: schema nested deeper than %d", f->name, TI_PQ_MAX_NESTING);
    for (int64_t k = 0; k < count; k++) {
        if (*idx >= c->n_els) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: schema ends inside a group", f->name);
        const schema_el *el = &c->els[(*idx)++];
        int r = el->repetition < 0 ? REP_REQUIRED : el->repetition;
        if (r > REP_REPEATED) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: bad repetition type %d", f->name, r);
        size_t need = plen + (plen ? 1 : 0) + el->name_len;
        if (need >= TI_PQ_MAX_NAME) return ti_errorf(TI_ERR_LIMIT, "parquet: %s: column path longer than %d bytes", f->name, TI_PQ_MAX_NAME);
        size_t p2 = plen;
        if (plen) path[p2++] = '.';
        if (el->name_len) memcpy(path + p2, el->name, el->name_len);
        p2 += el->name_len;
        path[p2] = 0;
        int d2 = def + (r != REP_REQUIRED), r2 = rep + (r == REP_REPEATED);
        int n2 = nested || depth > 0 || r == REP_REPEATED;
        int is_group = el->num_children > 0 || (el->num_children == 0 && el->type < 0);
        if (is_group) {
            if ((uint32_t)el->num_children > c->n_els)
                return ti_errorf(TI_ERR_FORMAT, "parquet: %s: group '%s' claims %d children", f->name, path, el->num_children);
            ti_err e = walk_children(f, c, idx, el->num_children, depth + 1, d2, r2, n2, path, p2);
            if (e) return e;
            continue;
        }
        if (el->type < 0 || el->type >= TI_PQ__TYPE_COUNT)
            return ti_errorf(TI_ERR_FORMAT, "parquet: %s: column '%s' has an unknown physical type %d", f->name, path, el->type);
        if (f->n_columns >= TI_PQ_MAX_COLUMNS)
            return ti_errorf(TI_ERR_LIMIT, "parquet: %s: more than %d columns", f->name, TI_PQ_MAX_COLUMNS);
        ti_pq_column_info *col = &f->columns[f->n_columns];
        *col = (ti_pq_column_info){.type = (ti_pq_type)el->type,
                                   .type_length = el->type == TI_PQ_FIXED_LEN_BYTE_ARRAY ? el->type_length : 0,
                                   .optional = r == REP_OPTIONAL,
                                   .nested = n2,
                                   .max_def = d2,
                                   .max_rep = r2,
                                   .converted_type = el->converted};
        if (!(col->name = dup_n((const uint8_t *)path, p2))) return ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", f->name);
        f->n_columns++;
    }
    return TI_OK;
}

static ti_err build_schema(ti_parquet_file *f, const parse_ctx *c)
{
    const schema_el *root = &c->els[0];
    if (root->type >= 0 && root->num_children <= 0) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: schema root is not a group", f->name);
    /* Leaves <= elements, so this bounds the column array. */
    if (!(f->columns = calloc(c->n_els, sizeof *f->columns))) return ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", f->name);
    char *path = malloc(TI_PQ_MAX_NAME);
    if (!path) return ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", f->name);
    path[0] = 0;
    uint32_t idx = 1;
    int64_t n_root = root->num_children < 0 ? 0 : root->num_children;
    ti_err e = (uint32_t)n_root > c->n_els ? ti_errorf(TI_ERR_FORMAT, "parquet: %s: schema root claims %lld children", f->name, (long long)n_root)
                                          : walk_children(f, c, &idx, n_root, 0, 0, 0, 0, path, 0);
    free(path);
    if (e) return e;
    if (idx != c->n_els)
        return ti_errorf(TI_ERR_FORMAT, "parquet: %s: schema has %u elements but its tree uses %u", f->name, c->n_els, idx);
    return TI_OK;
}

static ti_err check_row_groups(ti_parquet_file *f, const parse_ctx *c, const uint32_t *counts)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < c->n_rgs; i++) {
        if (counts[i] != (uint32_t)f->n_columns)
            return ti_errorf(TI_ERR_FORMAT, "parquet: %s: row group %u has %u column chunks, schema has %d columns", f->name, i, counts[i],
                             f->n_columns);
        if (c->rgs[i].num_rows < 0 || (uint64_t)c->rgs[i].num_rows > TI_PQ_MAX_ROWS)
            return ti_errorf(TI_ERR_FORMAT, "parquet: %s: row group %u has %lld rows", f->name, i, (long long)c->rgs[i].num_rows);
        total += (uint64_t)c->rgs[i].num_rows;
    }
    if (c->num_rows < 0 || total != (uint64_t)c->num_rows)
        return ti_errorf(TI_ERR_FORMAT, "parquet: %s: file says %lld rows, its row groups hold %llu", f->name, (long long)c->num_rows,
                         (unsigned long long)total);
    if (total > TI_PQ_MAX_ROWS) return ti_errorf(TI_ERR_LIMIT, "parquet: %s: %llu rows (limit %llu)", f->name, (unsigned long long)total,
                                                 (unsigned long long)TI_PQ_MAX_ROWS);
    for (size_t i = 0; i < c->n_chunks; i++) {
        const chunk_tmp *ch = &c->chunks[i];
        int col = (int)(i % (size_t)f->n_columns);
        const char *name = f->columns[col].name;
        if (ch->encrypted) return ti_errorf(TI_ERR_UNSUPPORTED, "parquet: %s: column '%s' is encrypted (unsupported)", f->name, name);
        if (ch->external)
            return ti_errorf(TI_ERR_UNSUPPORTED, "parquet: %s: column '%s' has chunks in another file (unsupported)", f->name, name);
        if (ch->type != (int32_t)f->columns[col].type)
            return ti_errorf(TI_ERR_FORMAT, "parquet: %s: column '%s' is %s in the schema but type %d in row group %zu", f->name, name,
                             ti_pq_type_name(f->columns[col].type), ch->type, i / (size_t)f->n_columns);
    }
    return TI_OK;
}

ti_err pq_parse_metadata(ti_parquet_file *f, size_t len)
{
    parse_ctx c = {0};
    uint32_t *counts = NULL;
    pq_thrift_init(&c.t, f->data + f->footer_start, len);
    parse_file_metadata(&c, &counts);
    ti_err e = TI_OK;
    if (c.t.err)
        e = ti_errorf(c.limit_hit ? TI_ERR_LIMIT : TI_ERR_FORMAT, "parquet: %s: bad footer (FileMetaData byte %zu of %zu: %s)", f->name,
                      pq_thrift_pos(&c.t), len, c.t.why);
    if (!e) e = build_schema(f, &c);
    if (!e) e = check_row_groups(f, &c, counts);
    if (!e) {
        f->version = c.version;
        f->num_rows = (uint64_t)c.num_rows;
        if (!(f->created_by = dup_n(c.created_by, c.created_by_len))) e = ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", f->name);
    }
    if (!e && c.n_rgs) {
        f->chunks = malloc(c.n_chunks * sizeof *f->chunks);
        if (!f->chunks && c.n_chunks) e = ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", f->name);
        for (size_t i = 0; !e && i < c.n_chunks; i++) {
            f->chunks[i] = c.chunks[i].info;
            f->chunks[i].type = (ti_pq_type)c.chunks[i].type;
        }
        if (!e) {
            f->row_groups = c.rgs;
            f->n_row_groups = (int)c.n_rgs;
            c.rgs = NULL;
        }
    }
    free(counts);
    free(c.els);
    free(c.chunks);
    free(c.rgs);
    return e;
}
