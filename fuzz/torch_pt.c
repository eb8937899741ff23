/* Fuzz driver for the torch.save (.pt) reader: zip parsing, the safe pickle VM, and
 * tensor materialisation.  Input starting with "PK" is taken as a whole archive.  Any
 * other input is taken as the pickle itself and wrapped into a valid archive (correct
 * CRCs, storages "0".."15" of 256 bytes) so that mutations reach the VM and the view
 * checks instead of dying at the CRC check.  Loaded tensors must keep the header's
 * promises; a violation aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pt_zip_build.h"
#include "tickinfer/torch_pt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned g_sink;

static void load_and_check(const uint8_t *zip, size_t len, const char *key)
{
    ti_pt_options opt = {.key = key, .max_bytes = (uint64_t)1 << 24};
    ti_pt *pt = NULL;
    if (ti_pt_open_memory(&pt, zip, len, "fuzz.pt", &opt) != TI_OK) {
        if (pt) abort();
        return;
    }
    uint64_t params = 0;
    for (size_t i = 0; i < ti_pt_count(pt); i++) {
        const ti_pt_tensor *t = ti_pt_at(pt, i);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (uint64_t)t->shape[d];
        if (numel != t->numel || t->nbytes != numel * ti_st_dtype_size(t->dtype)) abort();
        if (t->nbytes && (!t->data || (uintptr_t)t->data % 64)) abort();
        if (ti_pt_find(pt, t->name) != t) abort();
        unsigned acc = 0;
        for (size_t k = 0; k < t->nbytes; k++) acc += ((const uint8_t *)t->data)[k];
        g_sink += acc;
        params += numel;
    }
    if (params != ti_pt_param_count(pt)) abort();
    for (size_t i = 0; i < ti_pt_scalar_count(pt); i++) g_sink += (unsigned)strlen(ti_pt_scalar_at(pt, i)->name);
    char prefix[64];
    if (ti_pt_shared_prefix(pt, prefix, sizeof prefix) && ti_pt_strip_prefix(pt, prefix, NULL) == TI_OK)
        for (size_t i = 0; i < ti_pt_count(pt); i++)
            if (ti_pt_find(pt, ti_pt_at(pt, i)->name) != ti_pt_at(pt, i)) abort();
    ti_pt_close(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        load_and_check(data, size, NULL);
        return 0;
    }
    uint8_t storage[256];
    for (size_t i = 0; i < sizeof storage; i++) storage[i] = (uint8_t)(i * 37 + 11);
    pt_zip_build z = {0};
    pzb_add(&z, "archive/data.pkl", data, size);
    pzb_add(&z, "archive/byteorder", "little", 6);
    for (int k = 0; k < 16; k++) {
        char name[32];
        snprintf(name, sizeof name, "archive/data/%d", k);
        pzb_add(&z, name, storage, sizeof storage);
    }
    size_t len = 0;
    uint8_t *zip = pzb_finish(&z, &len);
    if (!zip) return 0;
    load_and_check(zip, len, "");
    load_and_check(zip, len, NULL);
    free(zip);
    return 0;
}
