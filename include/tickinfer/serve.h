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
#include <stdio.h>

#include "tickinfer/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The server's options.  Defaults, ranges, config-file keys, flags, environment
 * variables and help text all come from one table (src/serve/server_config.c, listed by
 * ti_server_options and `tickinfer serve --help`, and in docs/serving.md). */
typedef struct ti_server_config {
    char host[64];             /* bind address (IPv4) */
    int port;                  /* 0 = ephemeral (ti_server_port tells) */
    int http_threads;          /* libmicrohttpd thread pool */
    int workers_per_model;     /* inference threads per model */
    int intra_op_threads;      /* threads sharing one forward (per worker); 0 = the online
                                * cores / workers_per_model, at least 1 */
    int max_batch;             /* rows per forward */
    int max_queue_delay_us;    /* how long a worker waits to fill a batch (see docs/serving.md) */
    int preferred_batch;       /* stop waiting once this many rows are in hand; 0 = max_batch */
    int request_timeout_ms;    /* deadline from arrival to compute start (503); 0 = none */
    int max_inflight;          /* request slots; beyond: 503 + Retry-After */
    size_t max_body_bytes;     /* 413 beyond */
    size_t max_header_bytes;   /* request line + headers (431/414 beyond) */
    int idle_timeout_s;        /* a connection idle or stalled this long is closed */
    int max_connections;
    int max_request_rows;      /* B per request */
    char stream_kv_dtype[8];   /* KV cache of the tick streams: "f32", "int8", "fp8" or "int4"
                                * (docs/kv_quant.md: 4-8x less memory per symbol) */
    char admin_token[256];     /* bearer token for /v2/repository/.../load|unload; "": env
                                * TICKINFER_ADMIN_TOKEN; neither: those endpoints answer 403 */
    char models_dir[1024];     /* where load by name looks: <dir>/<name>.safetensors|.pt */
    int drain_ms;              /* `tickinfer serve`: on SIGTERM, wait this long for requests */
} ti_server_config;

/* Every field at its table default. */
void ti_server_config_default(ti_server_config *c);

typedef enum ti_server_opt_type {
    TI_SERVER_OPT_INT = 0, /* int field, lo..hi */
    TI_SERVER_OPT_BYTES,   /* size_t field, lo..hi; text may end in K, M or G (KiB, MiB, GiB) */
    TI_SERVER_OPT_STRING,  /* char array field */
    TI_SERVER_OPT_CHOICE   /* char array field, one of `choices` */
} ti_server_opt_type;

/* One row of the option table. */
typedef struct ti_server_option {
    const char *key;     /* config file: "server": {"<key>": ...}, e.g. "max_batch" */
    const char *flag;    /* command line: "--max-batch" (value as the next argument or =V) */
    const char *env;     /* environment: "TICKINFER_MAX_BATCH" */
    const char *metavar; /* "N" */
    const char *def;     /* default, as text ("32", "64M", "f32") */
    const char *help;
    ti_server_opt_type type;
    int64_t lo, hi;      /* INT / BYTES */
    const char *choices; /* CHOICE: "f32,int8,fp8,int4" */
    size_t offset, size; /* the field in ti_server_config */
} ti_server_option;

/* The table, *n rows. */
const ti_server_option *ti_server_options(int *n);
/* The row of a config key, flag ("--max-batch") or environment variable; NULL if none. */
const ti_server_option *ti_server_option_find(const char *name);
/* Set one option from text (range- and choice-checked); `source` names where the text
 * came from in the error message ("--port", "TICKINFER_PORT"). */
ti_err ti_server_config_set(ti_server_config *cfg, const ti_server_option *o, const char *text, const char *source);
/* Apply every option whose environment variable is set (and not empty). */
ti_err ti_server_config_env(ti_server_config *cfg);
/* If argv[*i] is an option flag (--flag V or --flag=V): set it and step *i past it; *opt
 * gets the row (NULL, and TI_OK, when argv[*i] is not an option flag). */
ti_err ti_server_config_flag(ti_server_config *cfg, int argc, char **argv, int *i, const ti_server_option **opt);
/* The option lines of `tickinfer serve --help`, and the options table of docs/serving.md. */
void ti_server_options_help(FILE *f);
void ti_server_options_markdown(FILE *f);
/* Check every field against the table (ti_server_create does). */
ti_err ti_server_config_check(const ti_server_config *cfg);

typedef struct ti_server ti_server;

ti_err ti_server_create(ti_server **out, const ti_server_config *cfg);
/* Load a checkpoint (safetensors or .pt), start its workers, run one warm-up forward and
 * publish it as `name` (replacing a model of that name after in-flight requests on the
 * old one finish).  Callable before or after start. */
ti_err ti_server_add_model(ti_server *s, const char *name, const char *path);
/* Every *.safetensors / *.pt in dir, named by file stem.  TI_ERR_NOT_FOUND if none. */
ti_err ti_server_add_models_dir(ti_server *s, const char *dir);
/* Registry file: {"models": [{"name": "rv", "path": "models/x.safetensors"}, ...],
 *                 "server": {"port": 8000, "max_batch": 32, ...}} (server keys: the
 * option table's keys).  Fills *cfg from "server" (call before create); the models are added
 * by ti_server_add_config_models after create. */
ti_err ti_server_config_load(ti_server_config *cfg, const char *path);
ti_err ti_server_add_config_models(ti_server *s, const char *path);
/* A checkpoint given as "FILE[:NAME]" (NAME defaults to the file's stem: "models/rv.v1.pt"
 * -> "rv"), loaded like ti_server_add_model.  The older form "NAME=FILE" is accepted too. */
ti_err ti_server_add_model_spec(ti_server *s, const char *spec);
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
