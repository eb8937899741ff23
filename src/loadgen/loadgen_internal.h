/* Internal to src/loadgen: request bodies per target. */
#ifndef TICKINFER_LOADGEN_INTERNAL_H
#define TICKINFER_LOADGEN_INTERNAL_H

#include <stddef.h>

#include "tickinfer/loadgen.h"

/* One prepared request: method path, extra headers and body, reused for every send. */
typedef struct lg_request {
    char path[256];
    char headers[256];
    char *body;
    size_t body_len;
    float *x;        /* [B,T,F] the values in the body (in-process target uses it) */
} lg_request;

/* Build the request for cfg->target from deterministic values (seed). */
ti_err lg_request_build(lg_request *r, const ti_lg_config *cfg);
void lg_request_free(lg_request *r);

#endif
