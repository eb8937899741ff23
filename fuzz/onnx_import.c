/* Fuzz driver for the ONNX importer: any input either fails with a message or yields a
 * valid model; an accepted model must export again and re-import to the very same
 * parameters (the importer reads its own exports).  A violated invariant aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickinfer/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ti_tfm *m = NULL;
    ti_onnx_info info;
    ti_onnx_import_opts opts = {.no_pack = 1};
    if (ti_onnx_import_memory(&m, &info, data, size, "fuzz.onnx", &opts) != TI_OK) {
        if (m || ti_errmsg()[0] == '\0') abort(); /* a failure leaves no model and says why */
        return 0;
    }
    if (ti_tfm_config_validate(ti_tfm_get_config(m)) != TI_OK || !info.pattern) abort();
    if (info.meta.n_features && info.meta.n_features != ti_tfm_get_config(m)->n_features) abort();
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ti_onnx_export_memory(&buf, &len, m, NULL, NULL) == TI_OK) {
        ti_tfm *again = NULL;
        if (ti_onnx_import_memory(&again, NULL, buf, len, "fuzz re-export", &opts) != TI_OK) abort();
        if (ti_tfm_n_params(again) != ti_tfm_n_params(m) ||
            memcmp(ti_tfm_params(again), ti_tfm_params(m), ti_tfm_n_params(m) * sizeof(float)) != 0)
            abort();
        ti_tfm_destroy(again);
    }
    free(buf);
    ti_onnx_info_free(&info);
    ti_tfm_destroy(m);
    return 0;
}
