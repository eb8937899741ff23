/* Internal to src/loadgen: request bodies per target. */
#ifndef TICKINFER_LOADGEN_INTERNAL_H
#define TICKINFER_LOADGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/loadgen.h"

#define LG_PATH_MAX 256

/* One prepared request: method path, extra headers and body, reused for every send. */
typedef struct lg_request {
    char path[LG_PATH_MAX];
    char headers[256];
    char *body;
    size_t body_len;
    float *x;        /* [B,T,F] the values in the body (in-process target uses it) */
    char (*stream_paths)[LG_PATH_MAX]; /* stream: [clients * symbols], client c's symbol k at c*symbols+k */
    int symbols;
    char **client_bodies; /* ticks: [clients] bodies naming each client's own symbols */
    size_t *client_lens;
    int n_clients;
} lg_request;

/* Build the request for cfg->target from deterministic values (seed); the stream target
 * builds one path per client and symbol (cfg->concurrency x cfg->symbols). */
ti_err lg_request_build(lg_request *r, const ti_lg_config *cfg);
void lg_request_free(lg_request *r);
/* Path of a client's send number `send` (its own count): the stream target cycles over the
 * client's symbols, the others always send to r->path. */
const char *lg_request_path(const lg_request *r, int client, uint64_t send);
/* Body a client sends: its own for the ticks target, else the shared one. */
const char *lg_request_body(const lg_request *r, int client, size_t *len);

#endif
