/* Fuzz driver for the Open Inference Protocol v2 request parser (src/serve/proto_v2.c),
 * JSON and binary tensor extension.  Input: 2 bytes little-endian Inference-Header-
 * Content-Length (0 = pure JSON), then the body.  The parser runs against a stand-in
 * causal model config (F 4, context 8) with normalisation on, no HTTP involved.  On
 * success the shape must fit the model and the buffers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"
#include "tickinfer/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t hl = (size_t)data[0] | (size_t)data[1] << 8;
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    if (hl > len) return 0; /* the server rejects this before parsing */
    static ti_server srv;
    static sv_model_entry ent;
    static ti_model *model; /* a tiny causal transformer with 4 normalised features */
    static float mean[4] = {0, 1, 2, 3}, sd[4] = {1, 2, 3, 4};
    if (!model) {
        ti_tfm_config cfg;
        ti_tfm_config_default(&cfg, TI_TFM_RV_CAUSAL);
        cfg.n_features = 4, cfg.context = 8, cfg.d_model = 8, cfg.n_heads = 2, cfg.n_layers = 1, cfg.d_ff = 8;
        ti_tfm *t = NULL;
        if (ti_tfm_create(&t, &cfg) != TI_OK) abort();
        const ti_ckpt_meta meta = {.n_features = 4, .mean = mean, .std = sd};
        if (ti_model_from_tfm(&model, t, &meta, 1.0f) != TI_OK) abort();
    }
    ti_server_config_default(&srv.cfg);
    srv.cfg.max_request_rows = 16;
    snprintf(ent.name, sizeof ent.name, "fuzz");
    ent.version = 1;
    ent.model = model;
    ent.info = ti_model_get_info(model);
    ent.norm = ti_model_get_norm(model);
    ent.per_step = 1;
    ent.normalise = ti_model_has_norm(model);
    sv_request r;
    memset(&r, 0, sizeof r);
    r.srv = &srv;
    r.model = &ent;
    sv_sbuf_init(&r.out, 1 << 20);
    if (sv_v2_parse_infer(&r, body, len, hl) == TI_OK) {
        if (r.B < 1 || r.B > 16 || r.T < 1 || r.T > 8) abort();
        if ((size_t)r.B * (size_t)r.T * 4 > r.x_cap || (size_t)r.B * (size_t)r.T > r.y_cap) abort();
        for (int i = 0; i < r.B * r.T; i++) r.y[i] = (float)i;
        if (sv_v2_write_infer(&r) != TI_OK) abort();
    }
    sv_sbuf_free(&r.out);
    ti_free_aligned(r.x);
    ti_free_aligned(r.y);
    return 0;
}
