/* tickinfer serve: run the inference server until SIGTERM / SIGINT, then drain. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tickinfer/serve.h"

static void usage(void)
{
    printf("usage: tickinfer serve [options]\n\n"
           "Serves models over HTTP: Open Inference Protocol v2 (/v2/...), POST /predict (JSON),\n"
           "POST /predict_np (.npy), GET /metrics, GET /openapi.json (docs/serving.md).\n"
           "With no options: models/serve.json if present, else every *.safetensors / *.pt in\n"
           "models/ (named by file stem), on 127.0.0.1:8000.\n\n"
           "  --config FILE         registry file {\"models\": [{\"name\",\"path\"}], \"server\": {...}}\n"
           "  --model NAME=PATH     serve this checkpoint (repeatable; replaces the defaults)\n"
           "  --models-dir DIR      serve every checkpoint in DIR\n"
           "  --host ADDR           bind address (127.0.0.1)\n"
           "  --port N              port (8000; 0 = any free port, printed)\n"
           "  --http-threads N      HTTP threads (2)\n"
           "  --workers N           inference workers per model (1)\n"
           "  --intra-op-threads N  threads sharing each worker's forward (0: cores / workers)\n"
           "  --max-batch N         rows per forward (32)\n"
           "  --stream-kv-dtype D   KV cache of tick streams: f32, int8, fp8, int4 (f32)\n"
           "  --max-delay-us N      wait this long to fill a batch (0: take what is queued)\n"
           "  --preferred-batch N   dispatch once N rows are gathered (0 = max batch)\n"
           "  --max-inflight N      request slots before 503 (256)\n"
           "  --drain-ms N          on SIGTERM, wait this long for in-flight requests (10000)\n"
           "Admin endpoints (/v2/repository/models/NAME/load|unload) need\n"
           "TICKINFER_ADMIN_TOKEN in the environment (or server.admin_token in the config).\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    ti_server_config cfg;
    ti_server_config_default(&cfg);
    const char *config = NULL, *models_dir = NULL;
    const char *models[64];
    int n_models = 0, drain_ms = 10000;
    struct stat st;
    if (stat("models/serve.json", &st) == 0) config = "models/serve.json";
    /* First pass: the config file sets defaults that flags then override. */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0) config = argv[i + 1];
    if (config) {
        ti_err e = ti_server_config_load(&cfg, config);
        if (e) return cli_fail("serve", e);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v) bad = 1;
        else if (strcmp(a, "--config") == 0) (void)0;
        else if (strcmp(a, "--model") == 0) {
            if (n_models < 64 && strchr(v, '=')) models[n_models++] = v;
            else bad = 1;
        } else if (strcmp(a, "--models-dir") == 0) models_dir = v;
        else if (strcmp(a, "--host") == 0) bad = snprintf(cfg.host, sizeof cfg.host, "%s", v) >= (int)sizeof cfg.host;
        else if (strcmp(a, "--port") == 0) bad = parse_int(v, 0, 65535, &cfg.port);
        else if (strcmp(a, "--http-threads") == 0) bad = parse_int(v, 1, 256, &cfg.http_threads);
        else if (strcmp(a, "--workers") == 0) bad = parse_int(v, 1, 256, &cfg.workers_per_model);
        else if (strcmp(a, "--intra-op-threads") == 0) bad = parse_int(v, 0, 1024, &cfg.intra_op_threads);
        else if (strcmp(a, "--max-batch") == 0) bad = parse_int(v, 1, 4096, &cfg.max_batch);
        else if (strcmp(a, "--stream-kv-dtype") == 0)
            bad = snprintf(cfg.stream_kv_dtype, sizeof cfg.stream_kv_dtype, "%s", v) >= (int)sizeof cfg.stream_kv_dtype;
        else if (strcmp(a, "--max-delay-us") == 0) bad = parse_int(v, 0, 10000000, &cfg.max_queue_delay_us);
        else if (strcmp(a, "--preferred-batch") == 0) bad = parse_int(v, 0, 4096, &cfg.preferred_batch);
        else if (strcmp(a, "--max-inflight") == 0) bad = parse_int(v, 1, 65536, &cfg.max_inflight);
        else if (strcmp(a, "--drain-ms") == 0) bad = parse_int(v, 0, 3600000, &drain_ms);
        else bad = 1;
        if (bad) {
            fprintf(stderr, "tickinfer serve: bad option '%s'%s%s (see --help)\n", a, v ? " " : "", v ? v : "");
            return 2;
        }
        i++;
    }
    /* Block the stop signals before any thread starts so that only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    ti_server *s;
    ti_err e = ti_server_create(&s, &cfg);
    if (e) return cli_fail("serve", e);
    for (int i = 0; i < n_models && !e; i++) {
        char name[128];
        const char *eq = strchr(models[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - models[i]), models[i]);
        e = ti_server_add_model(s, name, eq + 1);
    }
    if (!e && !n_models) {
        if (models_dir) e = ti_server_add_models_dir(s, models_dir);
        else if (config) e = ti_server_add_config_models(s, config);
        else e = ti_server_add_models_dir(s, cfg.models_dir);
    }
    if (!e) e = ti_server_start(s);
    if (e) {
        int rc = cli_fail("serve", e);
        ti_server_destroy(s);
        return rc;
    }
    const ti_server_config *ec = ti_server_get_config(s);
    printf("tickinfer serve: listening on http://%s:%d (%d HTTP threads; per model %d worker(s) x %d intra-op "
           "thread(s), max batch %d; stream KV %s)\n",
           ec->host, ti_server_port(s), ec->http_threads, ec->workers_per_model, ec->intra_op_threads, ec->max_batch,
           ec->stream_kv_dtype);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "tickinfer serve: %s, draining (up to %d ms)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT", drain_ms);
    e = ti_server_drain(s, drain_ms);
    if (e) cli_fail("serve", e);
    ti_server_destroy(s);
    return e ? 1 : 0;
}
