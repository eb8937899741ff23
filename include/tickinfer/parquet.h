/* tickinfer: a native Apache Parquet reader (no Arrow), for flat tick files.
 *
 * File layout (https://parquet.apache.org/docs/file-format/):
 *   "PAR1" | column chunks (pages) ... | FileMetaData (Thrift compact) | u32 LE len | "PAR1"
 * Each row group holds one column chunk per leaf column; a chunk is an optional
 * dictionary page followed by data pages, each page a Thrift PageHeader + body.
 *
 * Supported: data pages v1 and v2; dictionary pages; encodings PLAIN, PLAIN_DICTIONARY
 * and RLE_DICTIONARY (RLE/bit-packed hybrid indices); RLE definition levels of OPTIONAL
 * columns (nulls); codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD; physical types INT32,
 * INT64, FLOAT, DOUBLE; any number of row groups and pages; page CRCs are verified when
 * the writer stored them.  Other columns (BOOLEAN, BYTE_ARRAY, INT96, nested, ...) are
 * listed and described but reading them is refused, and they never stop the other
 * columns from being read.  Anything unsupported (codec LZ4/BROTLI/LZO, encodings
 * DELTA_* or BYTE_STREAM_SPLIT, nested or repeated columns, encrypted files, chunks in
 * other files) gives TI_ERR_UNSUPPORTED with a message naming the feature, the column
 * and the file.
 *
 * Robustness: every length, offset and count read from the file is checked against the
 * buffer and against the limits below; malformed input gives TI_ERR_FORMAT (structure:
 * magic, footer, Thrift, schema) or TI_ERR_CORRUPT (truncated data, bad page CRC,
 * decompression failure, values that contradict the metadata), never a crash.
 *
 * Threads: an open file is read-only; any number of threads may read columns of the same
 * ti_parquet_file at once (each read uses its own scratch memory). */
#ifndef TICKINFER_PARQUET_H
#define TICKINFER_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Physical types, numbered as in parquet.thrift `Type`.  Append-only. */
typedef enum ti_pq_type {
    TI_PQ_BOOLEAN = 0,
    TI_PQ_INT32 = 1,
    TI_PQ_INT64 = 2,
    TI_PQ_INT96 = 3,
    TI_PQ_FLOAT = 4,
    TI_PQ_DOUBLE = 5,
    TI_PQ_BYTE_ARRAY = 6,
    TI_PQ_FIXED_LEN_BYTE_ARRAY = 7,
    TI_PQ__TYPE_COUNT
} ti_pq_type;

/* Compression codecs, numbered as in parquet.thrift `CompressionCodec`. */
typedef enum ti_pq_codec {
    TI_PQ_UNCOMPRESSED = 0,
    TI_PQ_SNAPPY = 1,
    TI_PQ_GZIP = 2,
    TI_PQ_LZO = 3,
    TI_PQ_BROTLI = 4,
    TI_PQ_LZ4 = 5,
    TI_PQ_ZSTD = 6,
    TI_PQ_LZ4_RAW = 7,
    TI_PQ__CODEC_COUNT
} ti_pq_codec;

/* Encodings, numbered as in parquet.thrift `Encoding` (1 was GROUP_VAR_INT, unused). */
typedef enum ti_pq_encoding {
    TI_PQ_ENC_PLAIN = 0,
    TI_PQ_ENC_GROUP_VAR_INT = 1,
    TI_PQ_ENC_PLAIN_DICTIONARY = 2,
    TI_PQ_ENC_RLE = 3,
    TI_PQ_ENC_BIT_PACKED = 4,
    TI_PQ_ENC_DELTA_BINARY_PACKED = 5,
    TI_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    TI_PQ_ENC_DELTA_BYTE_ARRAY = 7,
    TI_PQ_ENC_RLE_DICTIONARY = 8,
    TI_PQ_ENC_BYTE_STREAM_SPLIT = 9,
    TI_PQ__ENC_COUNT
} ti_pq_encoding;

/* Limits on what a file may declare (bigger -> TI_ERR_LIMIT naming the file). */
#define TI_PQ_MAX_FOOTER (64u << 20)              /* bytes of FileMetaData */
#define TI_PQ_MAX_COLUMNS 10000                   /* leaf columns */
#define TI_PQ_MAX_SCHEMA_ELEMENTS 20000           /* schema tree nodes */
#define TI_PQ_MAX_CHUNKS (4u << 20)               /* row groups x columns */
#define TI_PQ_MAX_ROW_GROUPS (1u << 20)
#define TI_PQ_MAX_PAGE_SIZE (512u << 20)          /* bytes of one page, compressed or not */
#define TI_PQ_MAX_ROWS ((uint64_t)INT32_MAX)      /* rows in one file */
#define TI_PQ_MAX_NAME 4096                       /* bytes in a column path */
#define TI_PQ_MAX_NESTING 32                      /* Thrift struct / schema depth */

/* "INT32", "SNAPPY", "RLE_DICTIONARY" ... ("?" for values outside the enum). */
const char *ti_pq_type_name(ti_pq_type t);
const char *ti_pq_codec_name(ti_pq_codec c);
const char *ti_pq_encoding_name(ti_pq_encoding e);

/* One leaf column of the schema (flattened, in file order). */
typedef struct ti_pq_column_info {
    const char *name;       /* dotted path from the root, e.g. "price" or "st.a" */
    ti_pq_type type;        /* physical type */
    int32_t type_length;    /* FIXED_LEN_BYTE_ARRAY width, else 0 */
    int optional;           /* 1: the leaf is OPTIONAL (may hold nulls) */
    int nested;             /* 1: inside a group or REPEATED somewhere: reading refused */
    int max_def, max_rep;   /* maximum definition / repetition level */
    int32_t converted_type; /* parquet.thrift ConvertedType, -1 if absent */
} ti_pq_column_info;

/* One column chunk (one column in one row group). */
typedef struct ti_pq_chunk_info {
    ti_pq_type type;             /* physical type (always the column's) */
    ti_pq_codec codec;
    uint32_t encodings;          /* bit (1u << ti_pq_encoding) for each encoding listed */
    int64_t num_values;          /* values incl. nulls */
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1 if none */
    int64_t total_compressed_size;
    int64_t total_uncompressed_size;
} ti_pq_chunk_info;

typedef struct ti_parquet_file ti_parquet_file;

/* Map `path` read-only and parse its footer.  Errors: TI_ERR_NOT_FOUND / TI_ERR_IO,
 * TI_ERR_FORMAT (magic, footer length, Thrift, schema), TI_ERR_UNSUPPORTED (encrypted,
 * external chunks), TI_ERR_LIMIT; messages name the file. */
ti_err ti_parquet_open(ti_parquet_file **out, const char *path);
/* Same over caller memory, which is NOT copied and must stay valid and unchanged until
 * ti_parquet_close.  `name` is used in messages (and copied). */
ti_err ti_parquet_open_memory(ti_parquet_file **out, const void *data, size_t size, const char *name);
void ti_parquet_close(ti_parquet_file *f); /* NULL is fine */

const char *ti_parquet_name(const ti_parquet_file *f);
const char *ti_parquet_created_by(const ti_parquet_file *f); /* "" if absent */
uint64_t ti_parquet_num_rows(const ti_parquet_file *f);
int ti_parquet_num_columns(const ti_parquet_file *f);
int ti_parquet_num_row_groups(const ti_parquet_file *f);
uint64_t ti_parquet_row_group_num_rows(const ti_parquet_file *f, int rg); /* 0 if rg is out of range */
/* NULL when col (or rg) is out of range. */
const ti_pq_column_info *ti_parquet_column(const ti_parquet_file *f, int col);
const ti_pq_chunk_info *ti_parquet_chunk(const ti_parquet_file *f, int rg, int col);
const char *ti_parquet_column_name(const ti_parquet_file *f, int col);
ti_pq_type ti_parquet_column_type(const ti_parquet_file *f, int col); /* TI_PQ__TYPE_COUNT if out of range */
/* Index of the column with this dotted name, -1 if absent. */
int ti_parquet_find_column(const ti_parquet_file *f, const char *name);

/* Read column `col` of row group `rg` (or of all row groups when rg == -1) into
 * out[n], n = ti_parquet_row_group_num_rows(f, rg) (or ti_parquet_num_rows(f)), as
 * `out_type` (INT32 -> int32_t, INT64 -> int64_t, FLOAT -> float, DOUBLE -> double).
 * Widening conversions only: INT32 -> INT32/INT64/FLOAT/DOUBLE, INT64 -> INT64/DOUBLE,
 * FLOAT -> FLOAT/DOUBLE, DOUBLE -> DOUBLE; others are TI_ERR_INVALID_ARG.
 * `out` must be aligned for its element type.  Values are decoded straight into it
 * (no intermediate copy of the column).
 * valid: NULL, or valid[n] receiving 1 for a value and 0 for a null (whose out slot is
 * set to 0).  With valid == NULL any null is TI_ERR_FORMAT naming the column and row.
 * Unreadable columns (nested, BOOLEAN, BYTE_ARRAY, INT96, FIXED_LEN_BYTE_ARRAY) and
 * unsupported codecs/encodings give TI_ERR_UNSUPPORTED; a page that contradicts the
 * metadata, fails its CRC or does not decompress gives TI_ERR_CORRUPT.
 * Errors name the file, column and (where known) row group and page. */
ti_err ti_parquet_read_column(const ti_parquet_file *f, int col, int rg, ti_pq_type out_type, void *out, uint8_t *valid);

/* Whole column (all row groups), out[ti_parquet_num_rows(f)]. */
ti_err ti_parquet_read_i32(const ti_parquet_file *f, int col, int32_t *out, uint8_t *valid);
ti_err ti_parquet_read_i64(const ti_parquet_file *f, int col, int64_t *out, uint8_t *valid);
ti_err ti_parquet_read_f32(const ti_parquet_file *f, int col, float *out, uint8_t *valid);
ti_err ti_parquet_read_f64(const ti_parquet_file *f, int col, double *out, uint8_t *valid);

/* ---- Hive-partitioned datasets ------------------------------------------------------
 * ti_parquet_list_dataset walks `dir` recursively and returns every Parquet file (name
 * ending in .parquet, .parq or .pq; names starting with '.' or '_' are skipped, like
 * _SUCCESS or _metadata), sorted by path (byte order, so the result is deterministic).
 * Each `key=value` folder between `dir` and the file becomes a partition key (both
 * %XX-decoded); other folders are just walked.  A `dir` that is itself a file gives one
 * part with no keys.  No files at all is TI_ERR_NOT_FOUND. */
typedef struct ti_parquet_part {
    char *path;   /* dir + "/" + relative path */
    int n_keys;
    char **keys;
    char **values;
} ti_parquet_part;

#define TI_PQ_MAX_DATASET_FILES 1000000
#define TI_PQ_MAX_DATASET_DEPTH 32

ti_err ti_parquet_list_dataset(const char *dir, ti_parquet_part **parts, size_t *n_parts);
void ti_parquet_free_parts(ti_parquet_part *parts, size_t n);
/* Value of partition key `key` in `part`, NULL if absent. */
const char *ti_parquet_part_value(const ti_parquet_part *part, const char *key);

#ifdef __cplusplus
}
#endif
#endif
