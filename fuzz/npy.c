/* Fuzz driver for the NPY reader (src/serve/npy.c): parse, and on success convert.  A
 * successful parse must describe data that lies inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "tickinfer/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ti_npy_view v;
    if (ti_npy_parse(&v, data, size) != TI_OK) return 0;
    size_t item = v.dtype == TI_NPY_F32 ? 4 : 8;
    if (v.data < data || v.data + v.count * item != data + size) abort();
    float *out = malloc(v.count ? v.count * sizeof(float) : 1);
    if (!out) return 0;
    (void)ti_npy_to_f32(out, &v);
    free(out);
    return 0;
}
