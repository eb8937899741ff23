/* tickinfer baseline DIR [--json F] [--md F] */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "tickinfer/baseline.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer baseline DATASET [--json FILE] [--md FILE]\n\n"
            "Fit the baselines on the train split and report RMSPE on train/val/test:\n"
            "naive (history RV), scaled_naive, stock_mean, har_rv (OLS on log RV terms).\n\n"
            "options:\n"
            "  --json FILE   also write the report as JSON\n"
            "  --md FILE     also write it as Markdown\n");
}

int cmd_baseline(int argc, char **argv)
{
    static const struct option opts[] = {{"json", required_argument, 0, 'j'}, {"md", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *json = NULL, *md = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = optarg; break;
        case 'm': md = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    ti_dataset *ds = NULL;
    ti_err e = ti_dataset_open(&ds, argv[optind], 0);
    if (e) return cli_fail("baseline", e);
    ti_baseline_report rep;
    e = ti_baselines_run(&rep, ds);
    if (!e && json) e = ti_baselines_write_json(json, &rep, ti_dataset_get_info(ds));
    if (!e && md) e = ti_baselines_write_markdown(md, &rep, ti_dataset_get_info(ds));
    if (e) {
        ti_dataset_close(ds);
        return cli_fail("baseline", e);
    }
    char table[4096];
    ti_baselines_format_table(table, sizeof table, &rep);
    printf("Baselines on %s (fitted on %llu train buckets; RMSPE, lower is better)\n\n%s\n", argv[optind],
           (unsigned long long)rep.n_split[0], table);
    for (int i = 0; i < rep.n; i++) printf("  %-16s %s\n", rep.r[i].name, rep.r[i].desc);
    ti_dataset_close(ds);
    return 0;
}
