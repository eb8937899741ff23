/* A safe subset of the Python pickle VM, enough for torch.save state dicts (private to
 * src/model/).
 *
 * It never executes anything: GLOBAL may only name a whitelisted set of torch and
 * collections callables, and REDUCE/BINPERSID/BUILD on them build plain data nodes
 * (dict, tensor, storage reference).  Any other opcode or global is TI_ERR_UNSUPPORTED
 * naming it and its byte offset.  Stack depth, mark depth, memo size and node count are
 * bounded; containers may be shared or even cyclic (through the memo), so walkers must
 * bound their depth. */
#ifndef TICKINFER_MODEL_PICKLE_H
#define TICKINFER_MODEL_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"
#include "tickinfer/safetensors.h"

#define TI_PK_MAX_STACK 100000
#define TI_PK_MAX_MARKS 10000
#define TI_PK_MAX_MEMO 1000000
#define TI_PK_MAX_NODES 2000000

typedef enum ti_pk_kind {
    TI_PK_NONE,
    TI_PK_BOOL,
    TI_PK_INT,
    TI_PK_FLOAT,
    TI_PK_STR,
    TI_PK_TUPLE,
    TI_PK_LIST,
    TI_PK_DICT,
    TI_PK_GLOBAL,  /* a whitelisted callable, see ti_pk_global */
    TI_PK_STORAGE, /* persistent id ('storage', type, key, location, numel) */
    TI_PK_TENSOR,  /* result of torch._utils._rebuild_tensor_v2 / _rebuild_parameter */
} ti_pk_kind;

typedef enum ti_pk_global {
    TI_PKG_ORDERED_DICT, /* collections.OrderedDict */
    TI_PKG_REBUILD_TENSOR_V2,
    TI_PKG_REBUILD_PARAMETER,
    TI_PKG_REBUILD_PARAMETER_STATE,
    TI_PKG_STORAGE_TYPE, /* torch.FloatStorage etc.; dtype in the node */
    TI_PKG_DEVICE,       /* torch.device */
} ti_pk_global;

typedef struct ti_pk_value ti_pk_value;
struct ti_pk_value {
    ti_pk_kind kind;
    int64_t i;          /* BOOL, INT */
    double f;           /* FLOAT */
    char *s;            /* STR (NUL-terminated; may also contain NULs), STORAGE key */
    size_t len;         /* STR length */
    ti_pk_value **items; /* TUPLE/LIST items; DICT keys and values interleaved */
    size_t n, cap;      /* TUPLE/LIST: items; DICT: pairs */
    ti_pk_global global; /* GLOBAL */
    ti_st_dtype dtype;  /* GLOBAL storage type, STORAGE, TENSOR */
    /* STORAGE */
    char *location;
    int64_t numel;
    /* TENSOR */
    ti_pk_value *storage;
    int64_t storage_offset;
    int ndim;
    int64_t shape[TI_ST_MAX_DIMS];
    int64_t stride[TI_ST_MAX_DIMS];
    ti_pk_value *next_alloc; /* every node, for freeing */
};

typedef struct ti_pickle ti_pickle;

/* Run the pickle in data[0..len).  label names it in messages. */
ti_err ti_pickle_load(ti_pickle **out, const uint8_t *data, size_t len, const char *label);
const ti_pk_value *ti_pickle_root(const ti_pickle *p);
size_t ti_pickle_node_count(const ti_pickle *p);
void ti_pickle_free(ti_pickle *p);

/* Dict lookup by string key (NULL if absent or d is not a dict). */
const ti_pk_value *ti_pk_dict_get(const ti_pk_value *d, const char *key);
/* "dict", "tensor", ... */
const char *ti_pk_kind_name(ti_pk_kind k);

#endif
