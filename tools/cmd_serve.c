/* tickinfer serve: run the inference server until SIGTERM / SIGINT, then drain.
 *
 * Options come from the server's option table (include/tickinfer/serve.h,
 * ti_server_options): defaults, then the config file, then TICKINFER_* environment
 * variables, then flags.  --config and --model are this command's own. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tickinfer/serve.h"

#define MAX_MODEL_ARGS 64

static void usage(void)
{
    printf("usage: tickinfer serve [options]\n\n"
           "Serves models over HTTP: Open Inference Protocol v2 (/v2/...), POST /predict (JSON),\n"
           "POST /predict_np (.npy), tick streams (/v1/streams/{symbol}/ticks, /v1/ticks),\n"
           "GET /metrics, GET /openapi.json (docs/serving.md).\n"
           "Models: those of the config file (--config, or models/serve.json if present), else\n"
           "every *.safetensors / *.pt in the models folder (named by file stem); plus each --model.\n\n"
           "  --config FILE              registry file {\"models\": [{\"name\",\"path\"}], \"server\": {...}}\n"
           "  --model FILE[:NAME]        also serve this checkpoint as NAME (default: the file's\n"
           "                             stem); repeatable; NAME=FILE is accepted too\n"
           "  --options-markdown         print the options table of docs/serving.md\n\n"
           "Server options (flag, or the config key under \"server\", or the environment variable;\n"
           "flags override the environment, which overrides the file):\n");
    ti_server_options_help(stdout);
    printf("\nAdmin endpoints (/v2/repository/models/NAME/load|unload) need a token:\n"
           "TICKINFER_ADMIN_TOKEN in the environment (or server.admin_token in the config).\n");
}

static int bad_option(const char *a, const char *v)
{
    fprintf(stderr, "tickinfer serve: bad option '%s'%s%s (see --help)\n", a, v ? " " : "", v ? v : "");
    return 2;
}

int cmd_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--options-markdown") == 0) {
            ti_server_options_markdown(stdout);
            return 0;
        }
    ti_server_config cfg;
    ti_server_config_default(&cfg);
    const char *config = NULL;
    const char *models[MAX_MODEL_ARGS];
    int n_models = 0, dir_flag = 0;
    struct stat st;
    if (stat("models/serve.json", &st) == 0) config = "models/serve.json";
    /* First pass: the config file sets what the environment and flags then override. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0) config = argv[i] + 9;
    }
    ti_err e = TI_OK;
    if (config && (e = ti_server_config_load(&cfg, config))) return cli_fail("serve", e);
    if ((e = ti_server_config_env(&cfg))) {
        fprintf(stderr, "tickinfer serve: %s\n", ti_errmsg());
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--config") == 0) {
            if (!v) return bad_option(a, v);
            i++;
        } else if (strncmp(a, "--config=", 9) == 0) {
            continue;
        } else if (strcmp(a, "--model") == 0 || strncmp(a, "--model=", 8) == 0) {
            const char *m = a[7] == '=' ? a + 8 : v;
            if (!m || !*m || n_models >= MAX_MODEL_ARGS) return bad_option(a, v);
            models[n_models++] = m;
            if (a[7] != '=') i++;
        } else {
            const ti_server_option *o = NULL;
            e = ti_server_config_flag(&cfg, argc, argv, &i, &o);
            if (!o) return bad_option(a, v);
            if (e) {
                fprintf(stderr, "tickinfer serve: %s (see --help)\n", ti_errmsg());
                return 2;
            }
            if (strcmp(o->key, "models_dir") == 0) dir_flag = 1;
        }
    }
    /* Block the stop signals before any thread starts so that only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    ti_server *s;
    if ((e = ti_server_create(&s, &cfg))) return cli_fail("serve", e);
    /* The base set: --models-dir's folder, else the config's models, else (no --model)
     * the models folder; then each --model file beside them. */
    if (dir_flag) e = ti_server_add_models_dir(s, cfg.models_dir);
    else if (config) e = ti_server_add_config_models(s, config);
    else if (!n_models) e = ti_server_add_models_dir(s, cfg.models_dir);
    for (int i = 0; i < n_models && !e; i++) e = ti_server_add_model_spec(s, models[i]);
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
    fprintf(stderr, "tickinfer serve: %s, draining (up to %d ms)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT", ec->drain_ms);
    e = ti_server_drain(s, ec->drain_ms);
    if (e) cli_fail("serve", e);
    ti_server_destroy(s);
    return e ? 1 : 0;
}
