/* Fuzz driver for the tree model parsers: first byte 0 = LightGBM text, 1 = XGBoost
 * JSON, 2 = XGBoost UBJSON, the rest is the file.  A parse either fails cleanly or gives
 * a forest whose fast predictor agrees bit for bit with the reference on rows of NaN,
 * +-inf, zeros and the model's own thresholds (so a parser cannot hand the predictor a
 * structure it would misread). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt/forest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const gb_forest *f)
{
    if (f->n_features > 4096 || f->n_trees > 100000) return;
    enum { B = 9 };
    const int F = f->n_features, C = gb_forest_out_cols(f);
    float *x = malloc(sizeof(float) * B * (size_t)F), *ya = malloc(sizeof(float) * B * (size_t)C),
          *yb = malloc(sizeof(float) * B * (size_t)C);
    if (!x || !ya || !yb) goto out;
    const float pool[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, 1.0f, 2.5f, -3.0f};
    for (int r = 0; r < B; r++)
        for (int j = 0; j < F; j++) {
            const gb_node *n = f->n_nodes ? &f->nodes[((size_t)r * 31u + (size_t)j * 7u) % f->n_nodes] : NULL;
            x[(size_t)r * (size_t)F + (size_t)j] = (r + j) % 3 == 0 && n ? (n->op == GB_OP_LE_D ? (float)n->thr_d : n->thr_f)
                                                                          : pool[(r + j) % 9];
        }
    gb_forest_predict_ref_out(f, ya, x, B, (size_t)F);
    gb_forest_predict(f, yb, x, B, (size_t)F, NULL);
    for (int i = 0; i < B * C; i++)
        if (memcmp(&ya[i], &yb[i], sizeof(float)) != 0 && !(isnan(ya[i]) && isnan(yb[i]))) abort();
out:
    free(x), free(ya), free(yb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gb_forest f;
    memset(&f, 0, sizeof f);
    ti_err e;
    if (data[0] % 3 == 2) {
        e = gb_load_xgboost_ubj(&f, data + 1, size - 1, 0, "fuzz.ubj");
    } else {
        char *text = malloc(size);
        if (!text) return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = 0;
        e = data[0] % 3 == 0 ? gb_load_lightgbm(&f, text, size - 1, 0, "fuzz.txt")
                             : gb_load_xgboost_json(&f, text, size - 1, 0, "fuzz.json");
        free(text);
    }
    if (e == TI_OK) {
        check(&f);
        gb_forest_free(&f);
    }
    return 0;
}
