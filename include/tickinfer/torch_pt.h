/* tickinfer: reader for PyTorch torch.save checkpoints (.pt), without Python.
 *
 * A torch.save file (torch >= 1.6) is a zip archive:
 *   <prefix>/data.pkl      the object, pickled (protocol 2)
 *   <prefix>/data/<key>    raw little-endian bytes of each storage
 *   <prefix>/byteorder     "little" (absent in old files: little)
 *   <prefix>/version       format version
 * The pickle is run by a small safe VM (nothing is ever executed; only the types that
 * state dicts use are accepted), then every tensor reachable from the selected state dict
 * is materialised as a contiguous row-major copy, honouring its storage offset and strides
 * (so transposed views and tensors sharing a storage come out right).  Tensors saved from
 * "cuda:0" load the same way: the storage bytes are device-independent.
 *
 * Numbers outside tensors (ints, floats, bools anywhere in the saved object, such as
 * "best_rmspe") are exposed as scalars.
 *
 * Not supported (TI_ERR_UNSUPPORTED with a message): the legacy pre-1.6 format, TorchScript
 * archives, big-endian files, quantized/sparse/complex tensors, arbitrary pickled classes. */
#ifndef TICKINFER_TORCH_PT_H
#define TICKINFER_TORCH_PT_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TI_PT_MAX_TENSORS 100000
#define TI_PT_MAX_DEPTH 32 /* nesting of dicts/lists walked */

typedef struct ti_pt_options {
    /* Where the state dict is in the saved object: "" = the top-level object, "model" =
     * top["model"], "a/b" = top["a"]["b"].  NULL = auto: the top-level dict if it holds
     * tensors directly, else its only dict-valued entry that holds tensors. */
    const char *key;
    /* Strip this prefix from every tensor name that starts with it (e.g. "_orig_mod.",
     * added by torch.compile).  NULL or "" = keep names. */
    const char *strip_prefix;
    /* Cap on the bytes of all materialised tensors (a strided view can be far larger than
     * its storage).  0 = 16 GiB. */
    uint64_t max_bytes;
} ti_pt_options;

typedef struct ti_pt_tensor {
    const char *name;          /* key path inside the state dict, '.'-joined, prefix stripped */
    const char *orig_name;     /* before stripping */
    ti_st_dtype dtype;         /* from the storage type: F32 for torch.float32, ... */
    int ndim;
    int64_t shape[TI_ST_MAX_DIMS];
    int64_t stride[TI_ST_MAX_DIMS]; /* as saved, in elements */
    int64_t storage_offset;    /* as saved, in elements */
    const char *storage_key;   /* archive entry <prefix>/data/<key> */
    const char *location;      /* "cpu", "cuda:0", ... (informational) */
    uint64_t numel;
    size_t nbytes;             /* numel * element size */
    const void *data;          /* contiguous row-major copy, 64-byte aligned; NULL if numel == 0 */
} ti_pt_tensor;

typedef struct ti_pt_scalar {
    const char *name;          /* key path from the top-level object, '.'-joined ("best_rmspe") */
    double value;
    int is_int;                /* saved as int or bool (value is exact up to 2^53) */
} ti_pt_scalar;

typedef struct ti_pt ti_pt;

/* Load `path`.  opt may be NULL (auto key, no stripping).  Errors name the file and the
 * entry/tensor: TI_ERR_IO, TI_ERR_FORMAT, TI_ERR_CORRUPT (CRC, truncation), TI_ERR_UNSUPPORTED,
 * TI_ERR_NOT_FOUND (--key absent; the message lists the keys), TI_ERR_LIMIT. */
ti_err ti_pt_open(ti_pt **out, const char *path, const ti_pt_options *opt);
/* Same from memory; data is only read during the call. */
ti_err ti_pt_open_memory(ti_pt **out, const void *data, size_t size, const char *label, const ti_pt_options *opt);
void ti_pt_close(ti_pt *pt);

/* Tensors in the order they appear in the state dict. */
size_t ti_pt_count(const ti_pt *pt);
const ti_pt_tensor *ti_pt_at(const ti_pt *pt, size_t i);
const ti_pt_tensor *ti_pt_find(const ti_pt *pt, const char *name); /* NULL if absent */

size_t ti_pt_scalar_count(const ti_pt *pt);
const ti_pt_scalar *ti_pt_scalar_at(const ti_pt *pt, size_t i);
/* TI_ERR_NOT_FOUND if there is no scalar with this name. */
ti_err ti_pt_get_scalar(const ti_pt *pt, const char *name, double *out);

/* Key path of the state dict that was selected ("" = top level). */
const char *ti_pt_selected_key(const ti_pt *pt);
/* Sum of numel over all tensors. */
uint64_t ti_pt_param_count(const ti_pt *pt);
/* Strip `prefix` from every tensor name that starts with it; *n_stripped (may be NULL)
 * gets how many did.  TI_ERR_FORMAT if two names collide afterwards. */
ti_err ti_pt_strip_prefix(ti_pt *pt, const char *prefix, size_t *n_stripped);
/* Longest prefix ending in '.' that every tensor name shares (e.g. "_orig_mod.", or
 * "module." from DataParallel), copied into buf; returns its length (0 = none or no
 * tensors; also 0 if it does not fit in cap). */
size_t ti_pt_shared_prefix(const ti_pt *pt, char *buf, size_t cap);

/* Add every tensor to a safetensors builder under its (stripped) name.  With
 * floats_to_f32, F16/BF16/F64 tensors are converted to F32 (integer and bool tensors
 * keep their type).  This is what `tickinfer convert` writes. */
ti_err ti_pt_to_safetensors(ti_st_builder *out, const ti_pt *pt, int floats_to_f32);

#ifdef __cplusplus
}
#endif
#endif
