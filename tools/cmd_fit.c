/* tickinfer fit linear|ensemble: fit the composable model kinds on a dataset. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/dataset.h"
#include "tickinfer/model_fit.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer fit linear --dataset D -o OUT.safetensors\n"
            "       tickinfer fit ensemble --config ENS.json --dataset D [--split val|test|train] -o OUT.json\n\n"
            "linear    a HAR-style linear model (kind \"linear\", servable like any model), fitted on the\n"
            "          train split: OLS of log RV on log rv_300/rv_120/rv_30 at the last second, log1p\n"
            "          trades and volume over the window (+ the market's mean log RV over 300 s and 30 s\n"
            "          when the dataset has market context); rv_scale = the RMSPE-optimal multiplier.\n"
            "ensemble  the stacking weights of an ensemble (docs/ensembles.md) fitted on a split the\n"
            "          members did not train on (default val): OLS of log RV on the members' log\n"
            "          forecasts; writes the config with a fitted \"linear\" combiner.\n\n"
            "options:\n"
            "  --dataset DIR   dataset folder (tickinfer ingest)\n"
            "  --config FILE   ensemble JSON (ensemble)\n"
            "  --split NAME    split to fit the ensemble on (default val)\n"
            "  -o FILE         output file (written atomically)\n");
}

int cmd_fit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *what = argv[1];
    if (strcmp(what, "linear") != 0 && strcmp(what, "ensemble") != 0) {
        fprintf(stderr, "tickinfer fit: unknown target '%s' (linear or ensemble)\n", what);
        return 2;
    }
    static const struct option opts[] = {{"dataset", required_argument, 0, 'd'}, {"config", required_argument, 0, 'c'},
                                         {"split", required_argument, 0, 's'},   {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *dsdir = NULL, *config = NULL, *out = NULL, *split = "val";
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:c:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dsdir = optarg; break;
        case 'c': config = optarg; break;
        case 's': split = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const int ens = strcmp(what, "ensemble") == 0;
    if (!dsdir || !out || (ens && !config) || optind != argc) {
        fprintf(stderr, "tickinfer fit %s: --dataset and -o%s are required (see --help)\n", what, ens ? " and --config" : "");
        return 2;
    }
    ti_split sp = TI_SPLIT_VAL;
    if (strcmp(split, "train") == 0) sp = TI_SPLIT_TRAIN;
    else if (strcmp(split, "test") == 0) sp = TI_SPLIT_TEST;
    else if (strcmp(split, "val") != 0) {
        fprintf(stderr, "tickinfer fit: --split must be train, val or test (got '%s')\n", split);
        return 2;
    }
    ti_dataset *ds = NULL;
    ti_model *m = NULL;
    ti_fit_report rep;
    memset(&rep, 0, sizeof rep);
    ti_err e = ti_dataset_open(&ds, dsdir, 0);
    if (!e && ens) e = ti_model_open(&m, config, NULL);
    if (!e) e = ens ? ti_fit_ensemble(m, ds, sp, config, out, &rep) : ti_fit_linear_har(ds, out, &rep);
    if (!e) {
        printf("fit %s: %zu buckets (%s), %d coefficients [", what, rep.n, ens ? split : "train", rep.k);
        for (int i = 0; i < rep.k; i++) printf("%s%.6g", i ? ", " : "", rep.coef[i]);
        printf("], rv_scale %.6f -> %s\n", rep.scale, out);
    }
    ti_model_free(m);
    ti_dataset_close(ds);
    return e ? cli_fail("fit", e) : 0;
}
