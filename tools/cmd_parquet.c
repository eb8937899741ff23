/* tickinfer parquet [--head N] FILE|DIR...: schema, rows, row groups, codecs and
 * encodings per column, and optionally the first N rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tickinfer/parquet.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tickinfer parquet [--head N] FILE|DIR...\n\n"
               "Describes Parquet files: schema (physical type, nullability), rows, row groups, and per column\n"
               "the codec(s), encodings and sizes summed over row groups.  A DIR is walked as a hive-partitioned\n"
               "dataset (key=value folders).  --head N also prints the first N rows (null for nulls, '-' for\n"
               "columns the reader does not decode).\n");
}

static int readable(const ti_pq_column_info *ci)
{
    return !ci->nested && (ci->type == TI_PQ_INT32 || ci->type == TI_PQ_INT64 || ci->type == TI_PQ_FLOAT || ci->type == TI_PQ_DOUBLE);
}

static void print_schema(const ti_parquet_file *f)
{
    printf("  %-3s %-24s %-11s %-10s %-14s %-40s %12s %12s\n", "#", "column", "type", "repetition", "codec", "encodings", "compressed", "raw");
    for (int c = 0; c < ti_parquet_num_columns(f); c++) {
        const ti_pq_column_info *ci = ti_parquet_column(f, c);
        uint32_t enc = 0, codecs = 0;
        long long comp = 0, raw = 0;
        for (int g = 0; g < ti_parquet_num_row_groups(f); g++) {
            const ti_pq_chunk_info *ch = ti_parquet_chunk(f, g, c);
            enc |= ch->encodings;
            codecs |= (unsigned)ch->codec < 32 ? 1u << ch->codec : 0;
            comp += ch->total_compressed_size;
            raw += ch->total_uncompressed_size;
        }
        char encs[256] = "", codec[64] = "";
        for (int e = 0; e < 32; e++)
            if (enc >> e & 1) {
                size_t n = strlen(encs);
                snprintf(encs + n, sizeof encs - n, "%s%s", n ? "," : "", ti_pq_encoding_name((ti_pq_encoding)e));
            }
        for (int k = 0; k < 32; k++)
            if (codecs >> k & 1) {
                size_t n = strlen(codec);
                snprintf(codec + n, sizeof codec - n, "%s%s", n ? "," : "", ti_pq_codec_name((ti_pq_codec)k));
            }
        char type[40];
        snprintf(type, sizeof type, "%s%s", ti_pq_type_name(ci->type), readable(ci) ? "" : "*");
        printf("  %-3d %-24s %-11s %-10s %-14s %-40s %12lld %12lld%s\n", c, ci->name, type,
               ci->nested ? "nested" : ci->optional ? "optional" : "required", codec, encs, comp, raw, ci->nested ? "  (nested)" : "");
    }
    printf("  (* = not decoded by this reader: only flat INT32, INT64, FLOAT, DOUBLE columns are)\n");
}

static int print_head(const ti_parquet_file *f, long long head)
{
    int nc = ti_parquet_num_columns(f), rc = 0;
    printf("  first %lld rows:\n   ", head);
    for (int c = 0; c < nc; c++) printf(" %16.16s", ti_parquet_column_name(f, c));
    printf("\n");
    long long shown = 0;
    char **failed = calloc((size_t)nc, sizeof *failed);
    for (int g = 0; g < ti_parquet_num_row_groups(f) && shown < head; g++) {
        size_t n = (size_t)ti_parquet_row_group_num_rows(f, g);
        if (n == 0) continue;
        double *fv = malloc(n * sizeof *fv * (size_t)nc);
        long long *iv = malloc(n * sizeof *iv * (size_t)nc);
        uint8_t *valid = malloc(n * (size_t)nc);
        int *ok = calloc((size_t)nc, sizeof *ok);
        if (!fv || !iv || !valid || !ok) {
            free(fv), free(iv), free(valid), free(ok);
            fprintf(stderr, "tickinfer parquet: out of memory\n");
            rc = 1;
            break;
        }
        for (int c = 0; c < nc; c++) {
            const ti_pq_column_info *ci = ti_parquet_column(f, c);
            if (!readable(ci)) continue;
            int is_int = ci->type == TI_PQ_INT32 || ci->type == TI_PQ_INT64;
            ti_err e = ti_parquet_read_column(f, c, g, is_int ? TI_PQ_INT64 : TI_PQ_DOUBLE, is_int ? (void *)(iv + (size_t)c * n) : (void *)(fv + (size_t)c * n),
                                              valid + (size_t)c * n);
            ok[c] = e == TI_OK;
            if (e && !failed[c]) failed[c] = strdup(ti_errmsg());
        }
        for (size_t i = 0; i < n && shown < head; i++, shown++) {
            printf("   ");
            for (int c = 0; c < nc; c++) {
                const ti_pq_column_info *ci = ti_parquet_column(f, c);
                size_t at = (size_t)c * n + i;
                if (!ok[c]) printf(" %16s", "-");
                else if (!valid[at]) printf(" %16s", "null");
                else if (ci->type == TI_PQ_INT32 || ci->type == TI_PQ_INT64) printf(" %16lld", iv[at]);
                else printf(" %16.*g", ci->type == TI_PQ_FLOAT ? 7 : 15, fv[at]);
            }
            printf("\n");
        }
        free(fv), free(iv), free(valid), free(ok);
    }
    for (int c = 0; c < nc; c++) {
        if (failed[c]) printf("  column '%s' not shown: %s\n", ti_parquet_column_name(f, c), failed[c]);
        free(failed[c]);
    }
    free(failed);
    return rc;
}

static int describe(const ti_parquet_part *part, long long head)
{
    ti_parquet_file *f = NULL;
    ti_err e = ti_parquet_open(&f, part->path);
    if (e) return cli_fail("parquet", e);
    struct stat st;
    printf("%s\n", part->path);
    for (int k = 0; k < part->n_keys; k++) printf("%s%s=%s%s", k ? ", " : "  partition: ", part->keys[k], part->values[k], k + 1 == part->n_keys ? "\n" : "");
    printf("  created by: %s\n", ti_parquet_created_by(f));
    printf("  rows: %llu   row groups: %d   columns: %d   bytes: %lld\n", (unsigned long long)ti_parquet_num_rows(f), ti_parquet_num_row_groups(f),
           ti_parquet_num_columns(f), stat(part->path, &st) == 0 ? (long long)st.st_size : -1LL);
    if (ti_parquet_num_row_groups(f) > 1) {
        printf("  rows per row group:");
        for (int g = 0; g < ti_parquet_num_row_groups(f) && g < 16; g++) printf(" %llu", (unsigned long long)ti_parquet_row_group_num_rows(f, g));
        printf("%s\n", ti_parquet_num_row_groups(f) > 16 ? " ..." : "");
    }
    print_schema(f);
    int rc = 0;
    if (head > 0) rc = print_head(f, head);
    ti_parquet_close(f);
    return rc;
}

int cmd_parquet(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    long long head = 0;
    int rc = 0, n_inputs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--head") == 0) {
            char *end = NULL;
            if (i + 1 >= argc || (head = strtoll(argv[i + 1], &end, 10)) < 0 || *end) {
                usage(stderr);
                return 2;
            }
            i++;
            continue;
        }
        if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        }
        n_inputs++;
        ti_parquet_part *parts = NULL;
        size_t n = 0;
        ti_err e = ti_parquet_list_dataset(argv[i], &parts, &n);
        if (e) {
            rc = cli_fail("parquet", e);
            continue;
        }
        for (size_t k = 0; k < n; k++) rc |= describe(&parts[k], head);
        ti_parquet_free_parts(parts, n);
    }
    if (n_inputs == 0) {
        usage(stderr);
        return 2;
    }
    return rc;
}
