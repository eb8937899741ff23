/* tickinfer dataset info|verify|export DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/dataset.h"
#include "tickinfer/flat.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer dataset info DIR     describe a dataset (counts, splits, features, shards)\n"
            "       tickinfer dataset verify DIR   check every shard (sizes, checksums, structure)\n"
            "       tickinfer dataset export DIR --flat -o OUT [--split all|train|val|test[,..]] [--quiet]\n"
            "                                      one row of window terms per bucket (RVs, counts, volumes,\n"
            "                                      ranges, book and market columns) for training trees\n"
            "                                      elsewhere: OUT/X.npy [N,K] float32, y.npy (target RV),\n"
            "                                      split.npy (int8 0 train 1 val 2 test), stock_id.npy,\n"
            "                                      time_id.npy (int32), features.json (names and terms: a\n"
            "                                      tickinfer-trees model file copies them); see docs/trees.md\n");
}

static void print_stock_split(const ti_dataset_info *in)
{
    int32_t *ids = malloc(((size_t)in->n_shards + 1) * sizeof *ids);
    ti_split_plan plan;
    if (!ids) return;
    for (int i = 0; i < in->n_shards; i++) ids[i] = in->shards[i].symbol_id;
    if (ti_split_plan_init(&plan, in->split_by, ids, (size_t)in->n_shards) == TI_OK) {
        for (int s = TI_SPLIT_VAL; s < TI_SPLIT__COUNT; s++) {
            printf("    %s stocks:", ti_split_name((ti_split)s));
            for (size_t k = 0; k < plan.n; k++)
                if (plan.split[k] == s) printf(" %d", plan.ids[k]);
            printf("\n");
        }
        ti_split_plan_free(&plan);
    }
    free(ids);
}

static void print_info(const char *dir, const ti_dataset_info *in)
{
    printf("dataset %s (format v%d)\n", dir, in->version);
    printf("  source:    %s (%s)\n", in->source, in->source_kind);
    printf("  buckets:   %d s (history %d s, horizon %d s)\n", in->bucket_len, in->history_len, in->horizon_len);
    printf("  total buckets  %10llu\n", (unsigned long long)in->n_total);
    printf("  excluded       %10llu  (%llu with < %d horizon trades, %llu with target < %g)\n",
           (unsigned long long)(in->n_excluded_few_trades + in->n_excluded_low_target), (unsigned long long)in->n_excluded_few_trades,
           TI_TARGET_MIN_TRADES, (unsigned long long)in->n_excluded_low_target, TI_TARGET_MIN_RV);
    printf("  kept           %10llu\n", (unsigned long long)in->n_kept);
    printf("  split by %s: %s\n", ti_split_by_name(in->split_by), ti_split_rule_text(in->split_by));
    if (in->split_by == TI_SPLIT_BY_STOCK) print_stock_split(in);
    for (int s = 0; s < TI_SPLIT__COUNT; s++)
        printf("    %-5s        %10llu  (%.1f%%)\n", ti_split_name((ti_split)s), (unsigned long long)in->n_split[s],
               in->n_kept ? 100.0 * (double)in->n_split[s] / (double)in->n_kept : 0.0);
    printf("  bars           %10llu  (rows read %llu, duplicates merged %llu, out-of-order sorted %llu)\n",
           (unsigned long long)in->n_bars, (unsigned long long)in->n_rows_read, (unsigned long long)in->n_duplicates_merged,
           (unsigned long long)in->n_unsorted_fixed);
    printf("  shards         %10d  (%.1f MB)\n", in->n_shards, (double)in->total_bytes / 1e6);
    printf("  features       [%d, %d] float32 per bucket%s, normalised with train mean/std:\n", in->history_len, in->n_features,
           in->has_market ? " (incl. market context)" : "");
    for (int f = 0; f < in->n_features; f++)
        printf("    %2d %-18s mean %12.5g  std %12.5g\n", f, in->feature_names[f], in->norm.mean[f], in->norm.std[f]);
}

static int split_mask_of(const char *s, unsigned *mask)
{
    *mask = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "all")) *mask |= 7u;
        else if (!strcmp(t, "train")) *mask |= 1u << TI_SPLIT_TRAIN;
        else if (!strcmp(t, "val")) *mask |= 1u << TI_SPLIT_VAL;
        else if (!strcmp(t, "test")) *mask |= 1u << TI_SPLIT_TEST;
        else return -1;
    }
    return *mask ? 0 : -1;
}

static int cmd_dataset_export(int argc, char **argv)
{
    const char *dir = argv[2], *out = NULL, *split = "all";
    int flat = 0, quiet = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--flat")) flat = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--split") && i + 1 < argc) split = argv[++i];
        else {
            fprintf(stderr, "dataset export: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    unsigned mask;
    if (!flat || !out) {
        fprintf(stderr, "dataset export: needs --flat and -o OUT (the only export format is the flat one)\n");
        return 2;
    }
    if (split_mask_of(split, &mask)) {
        fprintf(stderr, "dataset export: --split '%s': use all, train, val, test or a comma list of them\n", split);
        return 2;
    }
    ti_dataset *ds = NULL;
    ti_err e = ti_dataset_open(&ds, dir, 0);
    if (e) return cli_fail("dataset export", e);
    ti_wterm terms[TI_FLAT_MAX_TERMS];
    const int n = ti_flat_default_terms(ti_dataset_get_info(ds), terms, TI_FLAT_MAX_TERMS);
    e = ti_flat_export(ds, dir, terms, n, mask, out, !quiet);
    ti_dataset_close(ds);
    if (e) return cli_fail("dataset export", e);
    if (!quiet) printf("dataset %s: %d flat features per bucket written to %s (see %s/features.json)\n", dir, n, out, out);
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "export") == 0) return cmd_dataset_export(argc, argv);
    if (argc != 3) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1], *dir = argv[2];
    if (strcmp(sub, "info") == 0) {
        ti_dataset *ds = NULL;
        ti_err e = ti_dataset_open(&ds, dir, 0);
        if (e) return cli_fail("dataset info", e);
        print_info(dir, ti_dataset_get_info(ds));
        ti_dataset_close(ds);
        return 0;
    }
    if (strcmp(sub, "verify") == 0) {
        ti_err e = ti_dataset_verify(dir);
        if (e) return cli_fail("dataset verify", e);
        printf("dataset %s: OK (manifest, shard sizes, checksums and structure verified)\n", dir);
        return 0;
    }
    usage(stderr);
    return 2;
}
