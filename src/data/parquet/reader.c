/* Opening a Parquet file (magic, footer), accessors, and the public column reads. */
#include <stdlib.h>
#include <string.h>

#include "data/parquet/pq_internal.h"

static const char *const k_types[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
static const char *const k_codecs[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
static const char *const k_encodings[] = {"PLAIN",
                                          "GROUP_VAR_INT",
                                          "PLAIN_DICTIONARY",
                                          "RLE",
                                          "BIT_PACKED",
                                          "DELTA_BINARY_PACKED",
                                          "DELTA_LENGTH_BYTE_ARRAY",
                                          "DELTA_BYTE_ARRAY",
                                          "RLE_DICTIONARY",
                                          "BYTE_STREAM_SPLIT"};

const char *ti_pq_type_name(ti_pq_type t) { return (unsigned)t < TI_PQ__TYPE_COUNT ? k_types[t] : "?"; }
const char *ti_pq_codec_name(ti_pq_codec c) { return (unsigned)c < TI_PQ__CODEC_COUNT ? k_codecs[c] : "?"; }
const char *ti_pq_encoding_name(ti_pq_encoding e) { return (unsigned)e < TI_PQ__ENC_COUNT ? k_encodings[e] : "?"; }

void ti_parquet_close(ti_parquet_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n_columns; i++) free((char *)(uintptr_t)f->columns[i].name);
    free(f->columns);
    free(f->row_groups);
    free(f->chunks);
    free(f->created_by);
    free(f->name);
    ti_mmap_close(&f->map);
    free(f);
}

static ti_err parse_file(ti_parquet_file *f)
{
    const uint8_t *d = f->data;
    const size_t n = f->size;
    if (n < 12) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: %zu bytes is too small for a Parquet file", f->name, n);
    if (memcmp(d, "PAR1", 4) != 0) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: not a Parquet file (no PAR1 magic at the start)", f->name);
    if (memcmp(d + n - 4, "PARE", 4) == 0)
        return ti_errorf(TI_ERR_UNSUPPORTED, "parquet: %s: encrypted footer (PARE) is unsupported", f->name);
    if (memcmp(d + n - 4, "PAR1", 4) != 0)
        return ti_errorf(TI_ERR_FORMAT, "parquet: %s: no PAR1 magic at the end (truncated file?)", f->name);
    const uint32_t len = (uint32_t)d[n - 8] | (uint32_t)d[n - 7] << 8 | (uint32_t)d[n - 6] << 16 | (uint32_t)d[n - 5] << 24;
    if (len > n - 12) return ti_errorf(TI_ERR_FORMAT, "parquet: %s: footer length %u exceeds the file (%zu bytes)", f->name, len, n);
    if (len > TI_PQ_MAX_FOOTER) return ti_errorf(TI_ERR_LIMIT, "parquet: %s: footer of %u bytes (limit %u)", f->name, len, TI_PQ_MAX_FOOTER);
    f->footer_start = n - 8 - len;
    return pq_parse_metadata(f, len);
}

static ti_err new_file(ti_parquet_file **out, const char *name)
{
    ti_parquet_file *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(name ? name : "(memory)"))) {
        free(f);
        return ti_errorf(TI_ERR_NOMEM, "parquet: %s: out of memory", name ? name : "(memory)");
    }
    *out = f;
    return TI_OK;
}

ti_err ti_parquet_open(ti_parquet_file **out, const char *path)
{
    if (!out || !path) return ti_errorf(TI_ERR_INVALID_ARG, "parquet: NULL argument");
    *out = NULL;
    ti_parquet_file *f;
    ti_err e = new_file(&f, path);
    if (e) return e;
    e = ti_mmap_open(&f->map, path);
    if (e) {
        ti_parquet_close(f);
        return ti_error_wrap(e, "parquet");
    }
    f->data = f->map.data;
    f->size = f->map.size;
    if ((e = parse_file(f))) {
        ti_parquet_close(f);
        return e;
    }
    *out = f;
    return TI_OK;
}

ti_err ti_parquet_open_memory(ti_parquet_file **out, const void *data, size_t size, const char *name)
{
    if (!out || (!data && size)) return ti_errorf(TI_ERR_INVALID_ARG, "parquet: NULL argument");
    *out = NULL;
    ti_parquet_file *f;
    ti_err e = new_file(&f, name);
    if (e) return e;
    f->data = data;
    f->size = size;
    if ((e = parse_file(f))) {
        ti_parquet_close(f);
        return e;
    }
    *out = f;
    return TI_OK;
}

const char *ti_parquet_name(const ti_parquet_file *f) { return f->name; }
const char *ti_parquet_created_by(const ti_parquet_file *f) { return f->created_by ? f->created_by : ""; }
uint64_t ti_parquet_num_rows(const ti_parquet_file *f) { return f->num_rows; }
int ti_parquet_num_columns(const ti_parquet_file *f) { return f->n_columns; }
int ti_parquet_num_row_groups(const ti_parquet_file *f) { return f->n_row_groups; }

uint64_t ti_parquet_row_group_num_rows(const ti_parquet_file *f, int rg)
{
    return rg >= 0 && rg < f->n_row_groups ? (uint64_t)f->row_groups[rg].num_rows : 0;
}

const ti_pq_column_info *ti_parquet_column(const ti_parquet_file *f, int col)
{
    return col >= 0 && col < f->n_columns ? &f->columns[col] : NULL;
}

const ti_pq_chunk_info *ti_parquet_chunk(const ti_parquet_file *f, int rg, int col)
{
    if (rg < 0 || rg >= f->n_row_groups || col < 0 || col >= f->n_columns) return NULL;
    return &f->chunks[f->row_groups[rg].first_chunk + (size_t)col];
}

const char *ti_parquet_column_name(const ti_parquet_file *f, int col)
{
    return col >= 0 && col < f->n_columns ? f->columns[col].name : NULL;
}

ti_pq_type ti_parquet_column_type(const ti_parquet_file *f, int col)
{
    return col >= 0 && col < f->n_columns ? f->columns[col].type : TI_PQ__TYPE_COUNT;
}

int ti_parquet_find_column(const ti_parquet_file *f, const char *name)
{
    if (!f || !name) return -1;
    for (int i = 0; i < f->n_columns; i++)
        if (strcmp(f->columns[i].name, name) == 0) return i;
    return -1;
}

ti_err ti_parquet_read_column(const ti_parquet_file *f, int col, int rg, ti_pq_type out_type, void *out, uint8_t *valid)
{
    if (!f) return ti_errorf(TI_ERR_INVALID_ARG, "parquet: NULL file");
    if (col < 0 || col >= f->n_columns)
        return ti_errorf(TI_ERR_INVALID_ARG, "parquet: %s: column index %d out of range (%d columns)", f->name, col, f->n_columns);
    if (rg < -1 || rg >= f->n_row_groups)
        return ti_errorf(TI_ERR_INVALID_ARG, "parquet: %s: row group %d out of range (%d row groups)", f->name, rg, f->n_row_groups);
    const ti_pq_column_info *ci = &f->columns[col];
    if (ci->nested)
        return ti_errorf(TI_ERR_UNSUPPORTED, "parquet: %s: column '%s' is nested or repeated (only flat columns are supported)", f->name,
                         ci->name);
    if (!pq_plain_size(ci->type))
        return ti_errorf(TI_ERR_UNSUPPORTED, "parquet: %s: column '%s' has physical type %s; reading it is unsupported (INT32, INT64, FLOAT, DOUBLE only)",
                         f->name, ci->name, ti_pq_type_name(ci->type));
    if (!pq_plain_size(out_type))
        return ti_errorf(TI_ERR_INVALID_ARG, "parquet: %s: column '%s': output type %s is not INT32, INT64, FLOAT or DOUBLE", f->name, ci->name,
                         ti_pq_type_name(out_type));
    if (!pq_conversion_ok(out_type, ci->type))
        return ti_errorf(TI_ERR_INVALID_ARG, "parquet: %s: column '%s' is %s; reading it as %s would narrow it", f->name, ci->name,
                         ti_pq_type_name(ci->type), ti_pq_type_name(out_type));
    uint64_t rows = rg < 0 ? f->num_rows : (uint64_t)f->row_groups[rg].num_rows;
    if (rows && !out) return ti_errorf(TI_ERR_INVALID_ARG, "parquet: %s: column '%s': NULL output array", f->name, ci->name);
    pq_scratch s = {0};
    const size_t es = pq_plain_size(out_type);
    const int g0 = rg < 0 ? 0 : rg, g1 = rg < 0 ? f->n_row_groups : rg + 1;
    uint64_t first_row = 0; /* of group g0 in the file, for messages */
    for (int g = 0; g < g0; g++) first_row += (uint64_t)f->row_groups[g].num_rows;
    uint64_t off = 0;
    ti_err e = TI_OK;
    for (int g = g0; g < g1 && !e; g++) {
        e = pq_read_chunk(f, g, col, out_type, (uint8_t *)out + off * es, valid ? valid + off : NULL, first_row + off, &s);
        off += (uint64_t)f->row_groups[g].num_rows;
    }
    pq_scratch_free(&s);
    return e;
}

ti_err ti_parquet_read_i32(const ti_parquet_file *f, int col, int32_t *out, uint8_t *valid)
{
    return ti_parquet_read_column(f, col, -1, TI_PQ_INT32, out, valid);
}
ti_err ti_parquet_read_i64(const ti_parquet_file *f, int col, int64_t *out, uint8_t *valid)
{
    return ti_parquet_read_column(f, col, -1, TI_PQ_INT64, out, valid);
}
ti_err ti_parquet_read_f32(const ti_parquet_file *f, int col, float *out, uint8_t *valid)
{
    return ti_parquet_read_column(f, col, -1, TI_PQ_FLOAT, out, valid);
}
ti_err ti_parquet_read_f64(const ti_parquet_file *f, int col, double *out, uint8_t *valid)
{
    return ti_parquet_read_column(f, col, -1, TI_PQ_DOUBLE, out, valid);
}
