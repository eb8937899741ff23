/* Fuzz driver for the model files that are JSON: the linear kind's terms
 * (tickinfer.linear metadata) and ensemble files (opened through ti_model_open, members
 * included).  First byte: even = linear terms, odd = ensemble.  A parse either fails
 * cleanly (no object handed out) or yields a model whose description holds together; a
 * forward of a zero window must then succeed or fail cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/linear/linear.h"
#include "tickinfer/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_model(ti_model *m)
{
    const ti_model_info *mi = ti_model_get_info(m);
    if (mi->n_features < 1 || mi->context < 1 || mi->n_inputs < 1 || mi->n_outputs < 1) abort();
    if (mi->context > 4096 || mi->n_features > 64) return; /* a real but large member: skip the forward */
    ti_ctx *c = NULL;
    if (ti_ctx_create(&c, m, 1) != TI_OK) return;
    const int T = mi->context < 8 ? mi->context : 8;
    float *x = calloc((size_t)mi->context * (size_t)mi->n_features, sizeof(float));
    float *y = calloc((size_t)mi->context * 8 + 8, sizeof(float));
    if (x && y) (void)ti_ctx_forward(c, y, x, 1, mi->fixed_context ? mi->context : T, NULL);
    free(x);
    free(y);
    ti_ctx_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 2 == 0) {
        ti_linear lm;
        memset(&lm, 0, sizeof lm);
        if (ti_linear_terms_from_json(&lm, text, "fuzz") == TI_OK) {
            if (lm.n_terms < 0 || lm.n_terms > TI_LINEAR_MAX_TERMS) abort();
            for (int k = 0; k < lm.n_terms; k++)
                if (lm.terms[k].feature < 0 || lm.terms[k].feature >= lm.n_features || lm.terms[k].window < 1) abort();
            char *back = NULL;
            if (ti_linear_terms_to_json(&back, &lm) == TI_OK) {
                ti_linear again;
                if (ti_linear_terms_from_json(&again, back, "round trip") != TI_OK) abort();
                if (again.n_terms != lm.n_terms) abort();
            }
            free(back);
        }
    } else {
        char path[64];
        snprintf(path, sizeof path, "/tmp/ti_fuzz_model_json_%d.json", (int)getpid());
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(text, 1, size - 1, f);
            fclose(f);
            ti_model *m = NULL;
            ti_model_opts o;
            ti_model_default_opts(&o);
            o.kind = "ensemble";
            if (ti_model_open(&m, path, &o) == TI_OK) {
                check_model(m);
                ti_model_free(m);
            } else if (m) {
                abort();
            }
            remove(path);
        }
    }
    free(text);
    return 0;
}
