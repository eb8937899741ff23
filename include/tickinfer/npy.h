/* tickinfer: NumPy .npy arrays (format 1.0 / 2.0 / 3.0), read and write.
 *
 * Reading is zero-copy: ti_npy_parse checks the magic, the header dict ('descr',
 * 'fortran_order', 'shape'), and that the data is exactly count * itemsize bytes, and
 * returns a view into the caller's buffer.  Supported: float32 and float64, either byte
 * order ('<f4', '>f8', ...), C order only, up to TI_NPY_MAX_DIMS dims.  Anything else is
 * TI_ERR_FORMAT / TI_ERR_UNSUPPORTED with a message ("npy: fortran_order arrays are not
 * supported; use np.ascontiguousarray").  Writing emits format 1.0, '<f4', C order. */
#ifndef TICKINFER_NPY_H
#define TICKINFER_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_NPY_MAX_DIMS 8
#define TI_NPY_MAX_HEADER 65536 /* header bytes accepted (numpy writes < 4 KiB) */

typedef enum ti_npy_dtype { TI_NPY_F32 = 0, TI_NPY_F64, TI_NPY__COUNT } ti_npy_dtype;

typedef struct ti_npy_view {
    ti_npy_dtype dtype;
    int big_endian;
    int ndim;                         /* 0 = a scalar */
    int64_t shape[TI_NPY_MAX_DIMS];
    size_t count;                     /* product of shape */
    const uint8_t *data;              /* count * itemsize bytes inside the parsed buffer */
} ti_npy_view;

ti_err ti_npy_parse(ti_npy_view *out, const void *buf, size_t len);
/* out[count] = the values as float32; TI_ERR_RANGE on NaN, Inf or a float64 outside the
 * float32 range (the message gives the flat index). */
ti_err ti_npy_to_f32(float *out, const ti_npy_view *v);
/* The same, with NaN (a missing value) and +-inf passed through when allow_missing: models
 * whose rules define them (ti_model_info.missing_values: tree files). */
ti_err ti_npy_to_f32_ex(float *out, const ti_npy_view *v, int allow_missing);

/* Writes the format-1.0 header for a '<f4' C-order array of `shape` into hdr[cap];
 * the data (count * 4 bytes, little-endian) follows it.  The header length is a multiple
 * of 64.  TI_ERR_LIMIT if cap is too small (128 + 24 * ndim always suffices). */
ti_err ti_npy_header_f32(char *hdr, size_t cap, size_t *hdr_len, int ndim, const int64_t *shape);
/* The same for any dtype string ('<i4', '|i1', ...): the caller writes matching data. */
ti_err ti_npy_header(char *hdr, size_t cap, size_t *hdr_len, const char *descr, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
