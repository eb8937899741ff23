/* tickinfer: safetensors checkpoints (read + write).
 *
 * File layout (the Hugging Face format, https://github.com/huggingface/safetensors):
 *   u64 little-endian N | N bytes of JSON header | data buffer
 * The header maps tensor names to {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
 * (offsets relative to the data buffer) plus an optional "__metadata__": {str: str}.
 *
 * The reader validates everything before handing out a pointer: header length bounds,
 * well-formed JSON, known dtypes, shape product * element size == e - b, offsets inside
 * the buffer, and (as the reference implementation demands) tensors that tile the buffer
 * exactly: sorted by offset, no gap, no overlap, the last one ending at end of file.
 * Every data pointer it returns is aligned to its element size (a file whose header
 * leaves data misaligned is copied once into an aligned buffer).
 *
 * The writer produces what the reference writer produces: tensors sorted by element
 * size (largest first) then by name, so each tensor is naturally aligned; header JSON
 * padded with spaces to a multiple of 8 bytes; written atomically (temp + rename). */
#ifndef TICKINFER_SAFETENSORS_H
#define TICKINFER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, named as in the file.  Append-only. */
typedef enum ti_st_dtype {
    TI_ST_F32 = 0,
    TI_ST_F16,
    TI_ST_BF16,
    TI_ST_F64,
    TI_ST_I8,
    TI_ST_I16,
    TI_ST_I32,
    TI_ST_I64,
    TI_ST_U8,
    TI_ST_U16,
    TI_ST_U32,
    TI_ST_U64,
    TI_ST_BOOL,
    TI_ST__COUNT
} ti_st_dtype;

#define TI_ST_MAX_DIMS 8
#define TI_ST_MAX_HEADER (100u * 1000u * 1000u) /* same cap as the reference reader */
#define TI_ST_MAX_TENSORS 100000
#define TI_ST_MAX_NAME 1024 /* bytes in a tensor name or a metadata key */

/* "F32", "BF16", ... ("?" for an invalid value). */
const char *ti_st_dtype_name(ti_st_dtype dt);
/* Bytes per element (0 for an invalid value). */
size_t ti_st_dtype_size(ti_st_dtype dt);
/* Parse "F32" etc.; TI_ERR_UNSUPPORTED for anything else. */
ti_err ti_st_dtype_parse(ti_st_dtype *out, const char *name);
/* Convert n elements of a floating dtype (F32, F16, BF16, F64) to float32.
 * TI_ERR_UNSUPPORTED for other dtypes. */
ti_err ti_st_to_f32(float *out, const void *src, ti_st_dtype dt, size_t n);

/* A tensor view into an open file.  Valid until ti_safetensors_close. */
typedef struct ti_st_tensor {
    const char *name;
    ti_st_dtype dtype;
    int ndim;                        /* 0 = scalar */
    int64_t shape[TI_ST_MAX_DIMS];
    uint64_t numel;                  /* product of shape (1 for a scalar) */
    const void *data;                /* aligned to the element size; NULL when nbytes == 0 */
    size_t nbytes;
} ti_st_tensor;

typedef struct ti_safetensors ti_safetensors;

/* mmap and validate `path`. Errors: TI_ERR_IO, TI_ERR_FORMAT (bad header/JSON/offsets),
 * TI_ERR_CORRUPT (file shorter than its header says), TI_ERR_UNSUPPORTED (unknown dtype),
 * TI_ERR_LIMIT (too many tensors/dims).  Messages name the file and the tensor. */
ti_err ti_safetensors_open(ti_safetensors **out, const char *path);
/* Same from memory; the bytes are copied, `label` names it in messages. */
ti_err ti_safetensors_open_memory(ti_safetensors **out, const void *data, size_t size, const char *label);
void ti_safetensors_close(ti_safetensors *st);

/* Tensors in file (data offset) order. */
size_t ti_safetensors_count(const ti_safetensors *st);
const ti_st_tensor *ti_safetensors_at(const ti_safetensors *st, size_t i);
/* NULL if absent. */
const ti_st_tensor *ti_safetensors_find(const ti_safetensors *st, const char *name);
/* Like find, but TI_ERR_NOT_FOUND with a message naming the file if absent. */
ti_err ti_safetensors_get(const ti_safetensors *st, const char *name, const ti_st_tensor **out);
/* Model loading helper: the tensor must exist, be F32 and have exactly this shape
 * (ndim dims); otherwise an error such as "safetensors m.safetensors: tensor
 * 'proj.weight' has shape [128,14] F32, expected [128,15] F32". */
ti_err ti_safetensors_get_f32(const ti_safetensors *st, const char *name, int ndim, const int64_t *shape,
                              const float **out);

/* "__metadata__" entries (NULL if absent); in header order. */
const char *ti_safetensors_meta(const ti_safetensors *st, const char *key);
size_t ti_safetensors_meta_count(const ti_safetensors *st);
void ti_safetensors_meta_at(const ti_safetensors *st, size_t i, const char **key, const char **value);
/* Total bytes of tensor data. */
uint64_t ti_safetensors_data_bytes(const ti_safetensors *st);

/* ---- writer ------------------------------------------------------------------- */
typedef struct ti_st_builder ti_st_builder;

ti_err ti_st_builder_create(ti_st_builder **out);
void ti_st_builder_destroy(ti_st_builder *b);
/* Add a tensor; `data` (numel * element size bytes, any alignment) is copied.
 * TI_ERR_INVALID_ARG for an empty name, "__metadata__", bad dims or dtype; duplicate
 * names are reported by write/serialize. */
ti_err ti_st_builder_add(ti_st_builder *b, const char *name, ti_st_dtype dtype, int ndim, const int64_t *shape,
                         const void *data);
/* Set (or replace) a metadata string. */
ti_err ti_st_builder_set_meta(ti_st_builder *b, const char *key, const char *value);
size_t ti_st_builder_count(const ti_st_builder *b);
/* Write the file atomically (temp + fsync + rename).  The builder stays usable. */
ti_err ti_st_builder_write(const ti_st_builder *b, const char *path);
/* Serialise into a malloc'd buffer (free with free()); for tests and in-memory use. */
ti_err ti_st_builder_serialize(const ti_st_builder *b, uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
