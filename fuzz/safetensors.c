/* Fuzz driver for the safetensors reader (and, on every file it accepts, the writer):
 * a parsed file must keep its promises (sizes, alignment, lookups, in-bounds data), and
 * writing its tensors back out must give a file that reads back identically.  A
 * violated invariant aborts, which the fuzzer reports. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ti_safetensors *st = NULL;
    if (ti_safetensors_open_memory(&st, data, size, "fuzz.safetensors") != TI_OK) {
        if (st) abort();
        return 0;
    }
    ti_st_builder *b = NULL;
    int round_trip = ti_st_builder_create(&b) == TI_OK;
    size_t n = ti_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const ti_st_tensor *t = ti_safetensors_at(st, i);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (uint64_t)t->shape[d];
        size_t esz = ti_st_dtype_size(t->dtype);
        if (esz == 0 || numel != t->numel || t->nbytes != numel * esz) abort();
        if (t->nbytes && (!t->data || (uintptr_t)t->data % esz)) abort();
        if (ti_safetensors_find(st, t->name) != t) abort();
        unsigned acc = 0;
        for (size_t k = 0; k < t->nbytes; k++) acc += ((const uint8_t *)t->data)[k]; /* in bounds (ASan) */
        g_sink += acc;
        if (round_trip && ti_st_builder_add(b, t->name, t->dtype, t->ndim, t->shape, t->data) != TI_OK) round_trip = 0;
    }
    for (size_t i = 0; i < ti_safetensors_meta_count(st); i++) {
        const char *k, *v;
        ti_safetensors_meta_at(st, i, &k, &v);
        if (!k || !v || ti_safetensors_meta(st, k) != v) abort();
        if (round_trip && ti_st_builder_set_meta(b, k, v) != TI_OK) round_trip = 0;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (round_trip && ti_st_builder_serialize(b, &out, &out_len) == TI_OK) {
        ti_safetensors *again = NULL;
        if (ti_safetensors_open_memory(&again, out, out_len, "fuzz-rewritten") != TI_OK) abort();
        if (ti_safetensors_count(again) != n || ti_safetensors_meta_count(again) != ti_safetensors_meta_count(st)) abort();
        for (size_t i = 0; i < n; i++) {
            const ti_st_tensor *t = ti_safetensors_at(st, i), *u = ti_safetensors_find(again, t->name);
            if (!u || u->dtype != t->dtype || u->ndim != t->ndim || u->nbytes != t->nbytes) abort();
            if (t->nbytes && memcmp(u->data, t->data, t->nbytes) != 0) abort();
        }
        ti_safetensors_close(again);
    }
    free(out);
    ti_st_builder_destroy(b);
    ti_safetensors_close(st);
    return 0;
}
