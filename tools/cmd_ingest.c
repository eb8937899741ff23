/* tickinfer ingest SRC -o OUT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "tickinfer/ingest.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer ingest SOURCE -o OUT [--market] [--split-by bucket|stock] [--threads N] [--quiet]\n\n"
            "Build a dataset folder OUT (shards + dataset.json) from SOURCE:\n"
            "  DIR of stock_id=N/*.parquet     Optiver trade files (hive layout)\n"
            "  DIR or *_message_L.csv          LOBSTER message + order-book files\n"
            "  sim:SYMBOLS:BUCKETS[:SEED]      the synthetic market\n\n"
            "Buckets of 600 s: history = seconds 0..299, target = RV of seconds 300..599.\n"
            "Buckets with < 10 horizon trades or target < 1e-4 are excluded (and counted).\n"
            "An existing OUT dataset is replaced only when the new one is complete.\n\n"
            "options:\n"
            "  -o, --out DIR     output folder (required)\n"
            "  -j, --threads N   worker threads (default: all cores)\n"
            "  -q, --quiet       no progress bar\n"
            "  -m, --market      add market-context features: per second, the mean over all symbols of\n"
            "                    the same time window of log RV over 30/120/300 s (history only)\n"
            "  -s, --split-by R  train/val/test rule (normalisation is fitted on train either way):\n"
            "                    bucket  (default) hash of (stock_id, time_id): 70/10/20 of each stock's buckets\n"
            "                    stock   whole stocks held out: the stocks ordered by a hash of stock_id,\n"
            "                            first 20%% test, next 10%% val (at least one each), rest train;\n"
            "                            measures generalisation to unseen symbols (needs >= 3 stocks)\n");
}

int cmd_ingest(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"threads", required_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'}, {"market", no_argument, 0, 'm'},     {"split-by", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ti_ingest_options o = {.progress = 1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:j:qms:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 'j': o.n_threads = atoi(optarg); break;
        case 'q': o.progress = 0; break;
        case 'm': o.market = 1; break;
        case 's':
            if (ti_split_by_parse(optarg, &o.split_by)) return cli_fail("ingest --split-by", TI_ERR_INVALID_ARG);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !o.out_dir) {
        usage(stderr);
        return 2;
    }
    o.source = argv[optind];
    ti_ingest_report r;
    ti_err e = ti_ingest(&o, &r);
    if (e) return cli_fail("ingest", e);
    printf("ingested %s -> %s in %.2f s\n", o.source, o.out_dir, r.seconds);
    printf("  symbols %d, rows read %llu, bars %llu, on disk %.1f MB\n", r.n_symbols, (unsigned long long)r.n_rows_read,
           (unsigned long long)r.n_bars, r.bytes_on_disk / 1e6);
    printf("  buckets %llu: kept %llu, excluded %llu (< 10 horizon trades) + %llu (target < 1e-4)\n", (unsigned long long)r.n_total,
           (unsigned long long)r.n_kept, (unsigned long long)r.n_excluded_few_trades, (unsigned long long)r.n_excluded_low_target);
    printf("  split by %s: train %llu, val %llu, test %llu\n", ti_split_by_name(o.split_by), (unsigned long long)r.n_split[0],
           (unsigned long long)r.n_split[1], (unsigned long long)r.n_split[2]);
    if (r.n_duplicates_merged || r.n_unsorted_fixed)
        printf("  repairs: %llu duplicate rows merged, %llu out-of-order rows sorted\n", (unsigned long long)r.n_duplicates_merged,
               (unsigned long long)r.n_unsorted_fixed);
    return 0;
}
