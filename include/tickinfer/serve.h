/* tickinfer: the inference server (`tickinfer serve`).
 *
 * An HTTP/1.1 server (libmicrohttpd: epoll + an internal thread pool, keep-alive,
 * connection limits and timeouts) that speaks the Open Inference Protocol v2 (KServe /
 * Triton REST, JSON and the binary tensor extension) plus two simple endpoints
 * (/predict JSON, /predict_np NPY) and per-symbol tick streams (/v1/streams/{symbol}/ticks
 * over include/tickinfer/stream.h).  docs/serving.md lists the endpoints and limits.
 *
 * Shape of the code (HOUSE_STYLE: llama.cpp server, h2o):
 *   edge       libmicrohttpd threads read the body into a pooled request slot, parse it
 *              into a native float tensor (src/serve/proto_*.c), normalise, and queue a
 *              job; the connection is suspended, not the thread.
 *   batcher    per model, worker threads each own a ti_runstate; a worker takes queued
 *              jobs of the same T up to max_batch rows (waiting at most max_queue_delay_us
 *              for more), runs one forward and hands each job its rows back.
 *   registry   name -> loaded model (refcounted), hot load/unload without dropping
 *              in-flight requests.
 * Request slots are preallocated (max_inflight) and keep their buffers between requests,
 * so a warm server does not allocate per request for bodies and tensors.
 *
 *   ti_server *s;  ti_server_config c;  ti_server_config_default(&c);  c.port = 0;
 *   ti_server_create(&s, &c);
 *   ti_server_add_model(s, "rv", "models/rv_causal_optiver.safetensors");
 *   ti_server_start(s);  printf("%d\n", ti_server_port(s));
 *   ...  ti_server_drain(s, 5000);  ti_server_destroy(s); */
#ifndef TICKINFER_SERVE_H
#define TICKINFER_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ti_server_config {
    char host[64];             /* bind address (IPv4), "127.0.0.1" */
    int port;                  /* 8000; 0 = ephemeral (ti_server_port tells) */
    int http_threads;          /* libmicrohttpd thread pool, 2 */
    int workers_per_model;     /* inference threads per model, 1 */
    int intra_op_threads;      /* threads sharing one forward (per worker); 0 = the online
                                * cores / workers_per_model, at least 1 */
    int max_batch;             /* rows per forward, 32 */
    int max_queue_delay_us;    /* how long a worker waits to fill a batch, 0 (see docs/serving.md) */
    int preferred_batch;       /* stop waiting once this many rows are in hand; 0 = max_batch */
    int request_timeout_ms;    /* deadline from arrival to compute start, 10000 (503) */
    int max_inflight;          /* request slots; beyond: 503 + Retry-After, 256 */
    size_t max_body_bytes;     /* 413 beyond, 64 MiB */
    size_t max_header_bytes;   /* request line + headers (431/414 beyond), 32 KiB */
    int idle_timeout_s;        /* a connection idle or stalled this long is closed, 30 */
    int max_connections;       /* 1024 */
    int max_request_rows;      /* B per request, 4096 */
    char stream_kv_dtype[8];   /* KV cache of the tick streams: "f32" (default), "int8", "fp8"
                                * or "int4" (docs/kv_quant.md: 4-8x less memory per symbol) */
    char admin_token[256];     /* bearer token for /v2/repository/.../load|unload; "": env
                                * TICKINFER_ADMIN_TOKEN; neither: those endpoints answer 403 */
    char models_dir[1024];     /* where load by name looks: <dir>/<name>.safetensors|.pt */
} ti_server_config;

void ti_server_config_default(ti_server_config *c);

typedef struct ti_server ti_server;

ti_err ti_server_create(ti_server **out, const ti_server_config *cfg);
/* Load a checkpoint (safetensors or .pt), start its workers, run one warm-up forward and
 * publish it as `name` (replacing a model of that name after in-flight requests on the
 * old one finish).  Callable before or after start. */
ti_err ti_server_add_model(ti_server *s, const char *name, const char *path);
/* Every *.safetensors / *.pt in dir, named by file stem.  TI_ERR_NOT_FOUND if none. */
ti_err ti_server_add_models_dir(ti_server *s, const char *dir);
/* Registry file: {"models": [{"name": "rv", "path": "models/x.safetensors"}, ...],
 *                 "server": {"port": 8000, "max_batch": 32, ...}} (server keys as the
 * config fields).  Fills *cfg from "server" (call before create); the models are added
 * by ti_server_add_config_models after create. */
ti_err ti_server_config_load(ti_server_config *cfg, const char *path);
ti_err ti_server_add_config_models(ti_server *s, const char *path);
ti_err ti_server_start(ti_server *s);
int ti_server_port(const ti_server *s);
/* The configuration in effect: defaults resolved (intra_op_threads, admin token from the
 * environment, host, models_dir). */
const ti_server_config *ti_server_get_config(const ti_server *s);
/* Stop accepting connections, let in-flight requests finish (up to timeout_ms), stop. */
ti_err ti_server_drain(ti_server *s, int timeout_ms);
void ti_server_destroy(ti_server *s);

#ifdef __cplusplus
}
#endif
#endif
