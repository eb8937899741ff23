/* Parquet reader internals shared by the files of src/data/parquet/.
 *   thrift_compact.c  Thrift compact protocol
 *   metadata.c        FileMetaData -> schema leaves, row groups, chunks
 *   page.c            PageHeader
 *   codec.c           decompression (snappy, gzip, zstd)
 *   encoding_rle.c    RLE / bit-packed hybrid: levels and dictionary indices
 *   encoding_plain.c  PLAIN values with widening, dictionary gather, null expansion
 *   chunk.c           one column chunk: pages -> caller's array
 *   reader.c          open/close, accessors, public reads
 *   dataset.c         hive-partitioned folder listing */
#ifndef TICKINFER_PQ_INTERNAL_H
#define TICKINFER_PQ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/fileio.h"
#include "tickinfer/parquet.h"

typedef struct pq_row_group {
    int64_t num_rows;
    size_t first_chunk; /* index into f->chunks; n_columns chunks follow */
} pq_row_group;

struct ti_parquet_file {
    char *name;
    ti_mmap map; /* mapped file (open) or zeroed (open_memory) */
    const uint8_t *data;
    size_t size;
    size_t footer_start; /* offset of FileMetaData: pages must end before it */
    int32_t version;
    char *created_by;
    uint64_t num_rows;
    int n_columns;
    ti_pq_column_info *columns; /* [n_columns], names owned */
    int n_row_groups;
    pq_row_group *row_groups;   /* [n_row_groups] */
    ti_pq_chunk_info *chunks;   /* [n_row_groups * n_columns] */
};

/* metadata.c: parse the FileMetaData at f->data[f->footer_start, footer_start + len). */
ti_err pq_parse_metadata(ti_parquet_file *f, size_t len);

/* ---- page.c ---- */
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };

typedef struct pq_page_header {
    int32_t type;
    int32_t uncompressed_size, compressed_size;
    int has_crc;
    uint32_t crc;
    int32_t num_values;  /* data v1/v2 and dictionary */
    int32_t encoding;    /* of the values */
    int32_t def_encoding, rep_encoding; /* v1 */
    int32_t num_nulls, num_rows;        /* v2 */
    int32_t def_len, rep_len;           /* v2: level bytes, uncompressed, before values */
    int is_compressed;                  /* v2 (default 1) */
} pq_page_header;

/* Parse a PageHeader from p[0, avail); *header_len = its size.  Returns 0 and a static
 * reason in *why if malformed. */
int pq_page_header_parse(pq_page_header *h, size_t *header_len, const uint8_t *p, size_t avail, const char **why);

/* ---- codec.c ---- */
typedef struct pq_codec_ctx {
    void *zstd; /* ZSTD_DCtx, created on first use */
} pq_codec_ctx;

/* Decompress src[src_len] into exactly dst[dst_len].  Returns TI_OK, TI_ERR_CORRUPT
 * (bad data or wrong size), TI_ERR_UNSUPPORTED (codec) or TI_ERR_NOMEM with the message
 * set, naming `what` (e.g. "parquet: f.parquet: column 'price' row group 0"). */
ti_err pq_decompress(pq_codec_ctx *c, ti_pq_codec codec, uint8_t *dst, size_t dst_len, const uint8_t *src, size_t src_len,
                     const char *what);
void pq_codec_free(pq_codec_ctx *c);

/* ---- encoding_rle.c ---- */
/* One run of the RLE / bit-packed hybrid encoding. */
typedef struct pq_run {
    int packed;           /* 0: `count` copies of `value`; 1: bit-packed at `data` */
    uint32_t count;       /* values in the run (packed: only those whose bits are present) */
    uint32_t value;
    const uint8_t *data;  /* packed values, bit width d->bw, LSB first */
} pq_run;

typedef struct pq_rle {
    const uint8_t *p, *end;
    int bw; /* 0..32 */
} pq_rle;

void pq_rle_init(pq_rle *d, const uint8_t *p, size_t n, int bw);
/* Next run; 0 at the end of the data or if malformed (*why set when malformed). */
int pq_rle_next(pq_rle *d, pq_run *r, const char **why);
/* Unpack n values of bit width bw (1..32) starting at bit 0 of `in` into out[n].
 * Needs ceil(n * bw / 8) bytes at `in`; never reads at or past `in_end`. */
void pq_unpack32(uint32_t *out, const uint8_t *in, const uint8_t *in_end, size_t n, int bw);
/* Decode n definition levels of a flat OPTIONAL column (max level 1, bit width 1).
 * valid: NULL or valid[n] (1 = present).  *n_present = values present; *first_null =
 * index of the first null or -1.  0 if malformed (*why set). */
int pq_def_levels(uint8_t *valid, uint32_t *n_present, int64_t *first_null, const uint8_t *p, size_t len, uint32_t n,
                  const char **why);
/* Decode n dictionary indices (bit width bw) and gather dict[idx] into out[n]
 * (elem_size 4 or 8 bytes per value).  0 if malformed or an index >= dict_n (*why). */
int pq_dict_gather(void *out, const void *dict, uint32_t dict_n, size_t elem_size, const uint8_t *p, size_t len, int bw,
                   uint32_t n, const char **why);

/* ---- encoding_plain.c ---- */
/* Bytes per PLAIN value of the readable physical types (0 for others). */
size_t pq_plain_size(ti_pq_type t);
/* Is reading `src` as `dst` allowed (widening or same)? */
int pq_conversion_ok(ti_pq_type dst, ti_pq_type src);
/* out[n] (dst type) <- n PLAIN little-endian values of `src` type at in. */
void pq_plain_convert(void *out, ti_pq_type dst, const uint8_t *in, ti_pq_type src, size_t n);
/* The first k of n slots of out (elem_size bytes each) hold the present values in order;
 * spread them to the slots where valid[i] = 1 and zero the others.  In place. */
void pq_expand_nulls(void *out, size_t elem_size, const uint8_t *valid, size_t n, size_t k);

/* ---- chunk.c ---- */
/* Scratch reused across the chunks of one read call. */
typedef struct pq_scratch {
    uint8_t *page;
    size_t page_cap;
    uint8_t *dict;
    size_t dict_cap;
    pq_codec_ctx codec;
} pq_scratch;

void pq_scratch_free(pq_scratch *s);
/* Read column col of row group rg into out[rows of rg] (dst type), valid as in
 * ti_parquet_read_column; row0 = global index of the group's first row (messages). */
ti_err pq_read_chunk(const ti_parquet_file *f, int rg, int col, ti_pq_type dst, void *out, uint8_t *valid, uint64_t row0,
                     pq_scratch *s);

#endif
