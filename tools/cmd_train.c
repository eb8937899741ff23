/* tickinfer train --config F [overrides] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "tickinfer/train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer train --config FILE [--dataset DIR] [--out DIR] [--steps N] [--threads N] [--resume] [--stop-after N] [--quiet]\n\n"
            "Train an RV model (rv_causal or tinyrv) on a dataset made by `tickinfer ingest`.\n"
            "AdamW, warmup + cosine schedule, gradient clipping, MSE on log RV or RMSPE.\n"
            "Writes OUT/best.safetensors (lowest val RMSPE), OUT/last.safetensors + OUT/last.state\n"
            "(resume after a kill with --resume; --stop-after N stops early as if killed).  Config keys: docs/training.md; example: configs/demo.json.\n");
}

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"dataset", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},    {"steps", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 'j'}, {"resume", no_argument, 0, 'r'}, {"stop-after", required_argument, 0, 'S'},
                                         {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ti_train_config c;
    ti_train_config_default(&c);
    static char strings[8192];
    const char *cfg_path = NULL, *ds = NULL, *out = NULL;
    long long steps = -1;
    int threads = -1, resume = 0, quiet = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:d:o:s:j:rqhS:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg_path = optarg; break;
        case 'd': ds = optarg; break;
        case 'o': out = optarg; break;
        case 's': steps = atoll(optarg); break;
        case 'j': threads = atoi(optarg); break;
        case 'r': resume = 1; break;
        case 'S': c.stop_after = atoll(optarg); break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    ti_err e = ti_train_config_load(&c, cfg_path, strings, sizeof strings);
    if (e) return cli_fail("train", e);
    if (ds) c.dataset = ds;
    if (out) c.out_dir = out;
    if (steps >= 0) c.max_steps = steps;
    if (threads >= 0) c.threads = threads;
    c.resume = resume;
    c.progress = !quiet;
    ti_train_report r;
    e = ti_train(&c, &r);
    if (e) return cli_fail("train", e);
    printf("trained %lld steps in %.1f s (%.0f samples/s); best val RMSPE %.4f at step %lld -> %s/best.safetensors\n",
           (long long)r.steps, r.seconds, r.samples_per_s, r.best_val_rmspe, (long long)r.best_step, c.out_dir);
    return 0;
}
