/* Parquet reader vs pyarrow: every flat INT32/INT64/FLOAT/DOUBLE column of every
 * fixture and every bundled Optiver file must come out bit-identical (values and
 * nulls).  tests/py/parquet_dump.py writes pyarrow's values; skipped when TI_PYTHON is
 * unset (make test sets it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/parquet.h"

/* Fixtures whose columns we are allowed to refuse (pyarrow reads them all). */
static int may_refuse(const char *path)
{
    return strstr(path, "codec_lz4") || strstr(path, "codec_brotli") || strstr(path, "enc_delta");
}

typedef struct file_list {
    ti_parquet_part *fix, *real;
    size_t n_fix, n_real;
} file_list;

static const char *path_at(const file_list *l, size_t k)
{
    return k < l->n_fix ? l->fix[k].path : l->real[k - l->n_fix].path;
}

/* Compare column c of file k with the dump; returns 1 if compared, 0 if refused (allowed). */
static int compare_column(const char *dir, size_t k, const char *path, int c, const char *name, const char *ptype, long long rows,
                          long long *values)
{
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open(&f, path));
    if (!f) return 0;
    int compared = 0;
    TI_CHECK_MSG(c < ti_parquet_num_columns(f) && !strcmp(ti_parquet_column_name(f, c), name), "%s: column %d is not '%s'", path, c,
                 name);
    TI_CHECK(!strcmp(ti_pq_type_name(ti_parquet_column_type(f, c)), ptype));
    TI_CHECK((long long)ti_parquet_num_rows(f) == rows);
    char bin_path[512], valid_path[512];
    snprintf(bin_path, sizeof bin_path, "%s/%zu_%d.bin", dir, k, c);
    snprintf(valid_path, sizeof valid_path, "%s/%zu_%d.valid", dir, k, c);
    char *want = NULL, *want_valid = NULL;
    size_t want_len = 0, want_valid_len = 0;
    TI_CHECK_OK(ti_read_file(bin_path, 0, &want, &want_len));
    TI_CHECK_OK(ti_read_file(valid_path, 0, &want_valid, &want_valid_len));
    ti_pq_type t = ti_parquet_column_type(f, c);
    size_t es = t == TI_PQ_INT64 || t == TI_PQ_DOUBLE ? 8 : 4;
    if (want && want_valid && want_len == (size_t)rows * es && want_valid_len == (size_t)rows) {
        void *got = malloc((size_t)rows * es + 1);
        uint8_t *valid = malloc((size_t)rows + 1);
        ti_err e = ti_parquet_read_column(f, c, -1, t, got, valid);
        if (e == TI_ERR_UNSUPPORTED && may_refuse(path)) {
            /* refused by design; the message names the feature */
        } else {
            TI_CHECK_MSG(e == TI_OK, "%s '%s': %s", path, name, ti_errmsg());
            if (e == TI_OK) {
                TI_CHECK_MSG(memcmp(valid, want_valid, (size_t)rows) == 0, "%s '%s': nulls differ from pyarrow", path, name);
                long long bad = 0, first = -1;
                for (long long i = 0; i < rows; i++)
                    if (memcmp((char *)got + i * (long long)es, want + i * (long long)es, es) != 0) {
                        if (first < 0) first = i;
                        bad++;
                    }
                TI_CHECK_MSG(bad == 0, "%s '%s': %lld values differ from pyarrow (first at row %lld)", path, name, bad, first);
                *values += rows;
                compared = 1;
            }
        }
        free(got);
        free(valid);
    } else {
        TI_CHECK_MSG(0, "%s '%s': dump sizes %zu/%zu for %lld rows", path, name, want_len, want_valid_len, rows);
    }
    free(want);
    free(want_valid);
    ti_parquet_close(f);
    return compared;
}

TI_TEST(every_column_matches_pyarrow_bit_for_bit)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("TI_PYTHON unset (make test sets it to .venv/bin/python)");
    file_list l = {0};
    TI_CHECK_OK(ti_parquet_list_dataset("tests/data/parquet", &l.fix, &l.n_fix));
    TI_CHECK_OK(ti_parquet_list_dataset("data/optiver/trade_train.parquet", &l.real, &l.n_real)); /* bundled */
    char dir[] = "/tmp/ti_pq_pyarrow_XXXXXX";
    char *made = mkdtemp(dir);
    TI_CHECK_MSG(made != NULL, "mkdtemp failed");
    if (!made) {
        ti_parquet_free_parts(l.fix, l.n_fix);
        ti_parquet_free_parts(l.real, l.n_real);
        return;
    }
    char list_path[128], cmd[1024], man_path[128];
    snprintf(list_path, sizeof list_path, "%s/files.txt", dir);
    snprintf(man_path, sizeof man_path, "%s/manifest.tsv", dir);
    FILE *lf = fopen(list_path, "w");
    TI_CHECK(lf != NULL);
    size_t n_files = l.n_fix + l.n_real;
    for (size_t k = 0; lf && k < n_files; k++) fprintf(lf, "%s\n", path_at(&l, k));
    if (lf) fclose(lf);
    snprintf(cmd, sizeof cmd, "'%s' tests/py/parquet_dump.py '%s' '%s'", py, dir, list_path);
    int rc = system(cmd);
    TI_CHECK_MSG(rc == 0, "oracle failed (%d): %s", rc, cmd);
    FILE *man = rc == 0 ? fopen(man_path, "r") : NULL;
    long long values = 0;
    int columns = 0, per_file[64] = {0};
    char line[1024];
    while (man && fgets(line, sizeof line, man)) {
        size_t k;
        int c;
        char name[512], ptype[32];
        long long rows;
        if (sscanf(line, "%zu\t%d\t%511[^\t]\t%31[^\t]\t%lld", &k, &c, name, ptype, &rows) != 5 || k >= n_files) {
            TI_CHECK_MSG(0, "bad manifest line: %s", line);
            continue;
        }
        int ok = compare_column(dir, k, path_at(&l, k), c, name, ptype, rows, &values);
        columns += ok;
        if (ok && k < 64) per_file[k]++;
    }
    if (man) fclose(man);
    /* Every file that is not expected to be refused had all its flat numeric columns compared. */
    for (size_t k = 0; k < n_files && k < 64; k++) {
        const char *p = path_at(&l, k);
        ti_parquet_file *f = NULL;
        if (ti_parquet_open(&f, p) != TI_OK) continue;
        int readable = 0;
        for (int c = 0; c < ti_parquet_num_columns(f); c++) {
            const ti_pq_column_info *ci = ti_parquet_column(f, c);
            readable += !ci->nested && (ci->type == TI_PQ_INT32 || ci->type == TI_PQ_INT64 || ci->type == TI_PQ_FLOAT || ci->type == TI_PQ_DOUBLE);
        }
        if (!may_refuse(p)) TI_CHECK_MSG(per_file[k] == readable, "%s: compared %d of %d columns", p, per_file[k], readable);
        ti_parquet_close(f);
    }
    fprintf(stderr, "  compared %d columns, %lld values in %zu files against pyarrow\n", columns, values, n_files);
    TI_CHECK(l.n_fix >= 10 && columns > 50);
    TI_CHECK(l.n_real == 5 && values > 5 * 5 * 80000);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", dir);
    ti_parquet_free_parts(l.fix, l.n_fix);
    ti_parquet_free_parts(l.real, l.n_real);
}

int main(void)
{
    TI_RUN(every_column_matches_pyarrow_bit_for_bit);
    return ti_test_summary();
}
