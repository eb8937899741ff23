/* Parquet reader: fixture values (every codec, dictionary on/off, data pages v1/v2,
 * nulls, many row groups and pages, dictionary fallback, page CRCs), widening reads,
 * refused features, hive dataset listing, and the bundled real Optiver files.
 * Fixture values come from formulas of the row index written by
 * tests/py/parquet_make_fixtures.py; they are recomputed here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/parquet.h"

#define FIX(name) TI_TEST_DATA("parquet/" name)

/* ---- expected values (keep in sync with parquet_make_fixtures.py) ---- */
typedef struct col_spec {
    const char *name;
    ti_pq_type type;
    int optional;
} col_spec;

static const col_spec k_cols[] = {
    {"i32", TI_PQ_INT32, 0},     {"i64", TI_PQ_INT64, 0},     {"f32", TI_PQ_FLOAT, 0},      {"f64", TI_PQ_DOUBLE, 0},
    {"cat", TI_PQ_INT32, 0},     {"opt_i32", TI_PQ_INT32, 1}, {"opt_f32", TI_PQ_FLOAT, 1}, {"opt_f64", TI_PQ_DOUBLE, 1},
};
#define N_COLS (int)(sizeof k_cols / sizeof k_cols[0])

/* Expected value of column `name` at row i as a double (exact for all fixtures); *valid = 0 for a null. */
static double expect(const char *name, int64_t i, int *valid)
{
    *valid = 1;
    if (!strcmp(name, "i32")) return (double)(int32_t)(i * 3 - 7);
    if (!strcmp(name, "i64")) return (double)(i * 1000000007LL - 3000000000LL);
    if (!strcmp(name, "f32")) return (double)(float)((double)i * 0.25 - 10.0);
    if (!strcmp(name, "f64")) return (double)i * 0.1 - 3.0;
    if (!strcmp(name, "cat")) return (double)((i * 7) % 13 - 6);
    if (!strcmp(name, "opt_i32")) return (*valid = i % 7 != 3) ? (double)((i % 11) * 5 - 20) : 0.0;
    if (!strcmp(name, "opt_f32")) return (*valid = i % 7 != 3) ? (double)(float)((double)i * 0.25) : 0.0;
    if (!strcmp(name, "opt_f64")) return (*valid = i % 5 != 1) ? (double)i * 0.5 : 0.0;
    *valid = -1;
    return 0.0;
}

static const col_spec *spec_of(const char *name)
{
    for (int k = 0; k < N_COLS; k++)
        if (!strcmp(k_cols[k].name, name)) return &k_cols[k];
    return NULL;
}

/* Read column `col` (rows [row0, row0 + n) of the file, row group rg or all) as every
 * type it widens to and compare each value with the formula.  Returns mismatches. */
static long check_column(const ti_parquet_file *f, int col, int rg, int64_t row0, int64_t n)
{
    const char *name = ti_parquet_column_name(f, col);
    const col_spec *sp = spec_of(name);
    if (!sp) return 0;
    long bad = 0;
    uint8_t *valid = malloc((size_t)n + 1);
    void *buf = malloc((size_t)n * 8 + 8);
    static const ti_pq_type outs[] = {TI_PQ_INT32, TI_PQ_INT64, TI_PQ_FLOAT, TI_PQ_DOUBLE};
    for (int o = 0; o < 4; o++) {
        ti_pq_type ot = outs[o];
        int allowed = sp->type == TI_PQ_INT32 || (sp->type == TI_PQ_INT64 && (ot == TI_PQ_INT64 || ot == TI_PQ_DOUBLE)) ||
                      (sp->type == TI_PQ_FLOAT && (ot == TI_PQ_FLOAT || ot == TI_PQ_DOUBLE)) || (sp->type == TI_PQ_DOUBLE && ot == TI_PQ_DOUBLE);
        if (!allowed) {
            TI_CHECK_ERR(ti_parquet_read_column(f, col, rg, ot, buf, valid), TI_ERR_INVALID_ARG, "narrow");
            continue;
        }
        memset(valid, 0xee, (size_t)n + 1);
        ti_err e = ti_parquet_read_column(f, col, rg, ot, buf, valid);
        TI_CHECK_MSG(e == TI_OK, "%s col %s as %s: %s", ti_parquet_name(f), name, ti_pq_type_name(ot), ti_errmsg());
        if (e) {
            bad++;
            continue;
        }
        TI_CHECK(valid[n] == 0xee); /* nothing written past the end */
        for (int64_t i = 0; i < n; i++) {
            int v;
            double want = expect(name, row0 + i, &v);
            double got = ot == TI_PQ_INT32    ? (double)((int32_t *)buf)[i]
                         : ot == TI_PQ_INT64  ? (double)((int64_t *)buf)[i]
                         : ot == TI_PQ_FLOAT  ? (double)((float *)buf)[i]
                                              : ((double *)buf)[i];
            if (valid[i] != v || got != want) {
                if (bad < 5)
                    fprintf(stderr, "  %s %s as %s row %lld: got %.17g valid %d, want %.17g valid %d\n", ti_parquet_name(f), name,
                            ti_pq_type_name(ot), (long long)(row0 + i), got, valid[i], want, v);
                bad++;
            }
        }
        /* Without a validity array: fine for required columns, an error naming the row for nullable ones. */
        if (!sp->optional) {
            TI_CHECK_OK(ti_parquet_read_column(f, col, rg, ot, buf, NULL));
        } else {
            int64_t first = -1;
            for (int64_t i = 0; i < n && first < 0; i++) {
                int v;
                expect(name, row0 + i, &v);
                if (!v) first = row0 + i;
            }
            if (first >= 0) {
                char want[64];
                snprintf(want, sizeof want, "null at row %lld", (long long)first);
                TI_CHECK_ERR(ti_parquet_read_column(f, col, rg, ot, buf, NULL), TI_ERR_FORMAT, want);
            }
        }
    }
    free(valid);
    free(buf);
    return bad;
}

/* Open a fixture, check its shape and every readable column's values. */
static void check_fixture(const char *path, int64_t rows, int n_rg, ti_pq_codec codec, int dict)
{
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open(&f, path));
    if (!f) return;
    TI_CHECK((int64_t)ti_parquet_num_rows(f) == rows);
    TI_CHECK(ti_parquet_num_row_groups(f) == n_rg);
    TI_CHECK(strstr(ti_parquet_created_by(f), "parquet-cpp") != NULL);
    int seen = 0;
    for (int c = 0; c < ti_parquet_num_columns(f); c++) {
        const ti_pq_column_info *ci = ti_parquet_column(f, c);
        const col_spec *sp = spec_of(ci->name);
        TI_CHECK(ti_parquet_find_column(f, ci->name) == c);
        if (sp) {
            seen++;
            TI_CHECK_MSG(ci->type == sp->type && ci->optional == sp->optional && !ci->nested, "%s: column %s type/optional", path, ci->name);
            TI_CHECK(ci->max_def == sp->optional && ci->max_rep == 0);
            long bad = check_column(f, c, -1, 0, rows);
            TI_CHECK_MSG(bad == 0, "%s: column %s: %ld mismatches", path, ci->name, bad);
            /* The same values one row group at a time. */
            int64_t row0 = 0;
            for (int g = 0; g < ti_parquet_num_row_groups(f); g++) {
                int64_t n = (int64_t)ti_parquet_row_group_num_rows(f, g);
                TI_CHECK(check_column(f, c, g, row0, n) == 0);
                const ti_pq_chunk_info *ch = ti_parquet_chunk(f, g, c);
                TI_CHECK(ch && ch->codec == codec && ch->num_values == n && ch->type == sp->type);
                if (ch && !ci->optional)
                    TI_CHECK_MSG(!!(ch->encodings & (1u << TI_PQ_ENC_RLE_DICTIONARY | 1u << TI_PQ_ENC_PLAIN_DICTIONARY)) == dict,
                                 "%s: %s encodings %#x", path, ci->name, ch->encodings);
                row0 += n;
            }
            TI_CHECK(row0 == rows);
        } else if (!strcmp(ci->name, "s")) {
            TI_CHECK(ci->type == TI_PQ_BYTE_ARRAY);
            double x;
            TI_CHECK_ERR(ti_parquet_read_f64(f, c, &x, NULL), TI_ERR_UNSUPPORTED, "column 's' has physical type BYTE_ARRAY");
        } else if (!strcmp(ci->name, "b")) {
            TI_CHECK(ci->type == TI_PQ_BOOLEAN);
            double x;
            TI_CHECK_ERR(ti_parquet_read_f64(f, c, &x, NULL), TI_ERR_UNSUPPORTED, "BOOLEAN");
        }
    }
    TI_CHECK(seen >= 5);
    ti_parquet_close(f);
}

TI_TEST(reads_every_codec_and_page_version)
{
    check_fixture(FIX("plain_none_v1.parquet"), 300, 1, TI_PQ_UNCOMPRESSED, 0);
    check_fixture(FIX("dict_none_v1.parquet"), 300, 1, TI_PQ_UNCOMPRESSED, 1);
    check_fixture(FIX("dict_snappy_v1.parquet"), 300, 1, TI_PQ_SNAPPY, 1);
    check_fixture(FIX("plain_snappy_v2.parquet"), 300, 1, TI_PQ_SNAPPY, 0);
    check_fixture(FIX("dict_zstd_v2.parquet"), 300, 1, TI_PQ_ZSTD, 1);
    check_fixture(FIX("plain_gzip_v1.parquet"), 300, 1, TI_PQ_GZIP, 0);
    check_fixture(FIX("dict_gzip_v2.parquet"), 300, 1, TI_PQ_GZIP, 1);
}

TI_TEST(reads_many_row_groups_pages_and_dictionary_fallback)
{
    /* 3000 rows in row groups of 700, 512-byte pages, 1 KiB dictionary limit, CRCs. */
    check_fixture(FIX("multi_rg_pages_v1.parquet"), 3000, 5, TI_PQ_SNAPPY, 1);
    check_fixture(FIX("multi_rg_pages_v2.parquet"), 3000, 5, TI_PQ_ZSTD, 1);
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open(&f, FIX("multi_rg_pages_v1.parquet")));
    if (!f) return;
    TI_CHECK(ti_parquet_row_group_num_rows(f, 4) == 200);
    TI_CHECK(ti_parquet_row_group_num_rows(f, 5) == 0 && ti_parquet_chunk(f, 5, 0) == NULL && ti_parquet_column(f, 99) == NULL);
    /* Several pages per chunk: the data pages span far more than one 512-byte page. */
    const ti_pq_chunk_info *ch = ti_parquet_chunk(f, 0, ti_parquet_find_column(f, "i64"));
    TI_CHECK(ch && ch->total_uncompressed_size > 4 * 512);
    int32_t v[3000];
    TI_CHECK_ERR(ti_parquet_read_column(f, 0, 7, TI_PQ_INT32, v, NULL), TI_ERR_INVALID_ARG, "row group 7 out of range");
    TI_CHECK_ERR(ti_parquet_read_column(f, 42, -1, TI_PQ_INT32, v, NULL), TI_ERR_INVALID_ARG, "column index 42");
    TI_CHECK_ERR(ti_parquet_read_column(f, 0, -1, TI_PQ_BOOLEAN, v, NULL), TI_ERR_INVALID_ARG, "output type");
    TI_CHECK_ERR(ti_parquet_read_i32(f, 0, NULL, NULL), TI_ERR_INVALID_ARG, "NULL output");
    ti_parquet_close(f);
}

TI_TEST(empty_file_has_schema_and_no_rows)
{
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open(&f, FIX("empty.parquet")));
    if (!f) return;
    TI_CHECK(ti_parquet_num_rows(f) == 0 && ti_parquet_num_columns(f) == 2);
    TI_CHECK(ti_parquet_column_type(f, 1) == TI_PQ_DOUBLE && ti_parquet_column(f, 1)->optional);
    TI_CHECK(ti_parquet_column_type(f, 2) == TI_PQ__TYPE_COUNT && ti_parquet_find_column(f, "nope") == -1);
    TI_CHECK_OK(ti_parquet_read_i32(f, 0, NULL, NULL));
    TI_CHECK_OK(ti_parquet_read_f64(f, 1, NULL, NULL));
    ti_parquet_close(f);
}

TI_TEST(refuses_unsupported_codecs_and_encodings_by_name)
{
    ti_parquet_file *f = NULL;
    int32_t i32[64];
    int64_t i64[64];
    float f32[64];
    double f64[64];
    TI_CHECK_OK(ti_parquet_open(&f, FIX("codec_lz4.parquet")));
    if (f) {
        TI_CHECK_ERR(ti_parquet_read_i32(f, 0, i32, NULL), TI_ERR_UNSUPPORTED, "compression codec LZ4");
        TI_CHECK_ERR(ti_parquet_read_f64(f, 1, f64, NULL), TI_ERR_UNSUPPORTED, "codec_lz4.parquet: column 'f64'");
        ti_parquet_close(f);
    }
    TI_CHECK_OK(ti_parquet_open(&f, FIX("codec_brotli.parquet")));
    if (f) {
        TI_CHECK_ERR(ti_parquet_read_i32(f, 0, i32, NULL), TI_ERR_UNSUPPORTED, "codec BROTLI");
        ti_parquet_close(f);
    }
    /* DELTA_BINARY_PACKED on i32, BYTE_STREAM_SPLIT on f32; i64 and f64 are PLAIN and read fine. */
    TI_CHECK_OK(ti_parquet_open(&f, FIX("enc_delta.parquet")));
    if (f) {
        TI_CHECK_ERR(ti_parquet_read_i32(f, ti_parquet_find_column(f, "i32"), i32, NULL), TI_ERR_UNSUPPORTED, "encoding DELTA_BINARY_PACKED");
        TI_CHECK_ERR(ti_parquet_read_i32(f, ti_parquet_find_column(f, "i32"), i32, NULL), TI_ERR_UNSUPPORTED, "enc_delta.parquet: column 'i32'");
        TI_CHECK_ERR(ti_parquet_read_f32(f, ti_parquet_find_column(f, "f32"), f32, NULL), TI_ERR_UNSUPPORTED, "BYTE_STREAM_SPLIT");
        TI_CHECK_OK(ti_parquet_read_i64(f, ti_parquet_find_column(f, "i64"), i64, NULL));
        TI_CHECK_OK(ti_parquet_read_f64(f, ti_parquet_find_column(f, "f64"), f64, NULL));
        int v;
        TI_CHECK(i64[49] == (int64_t)expect("i64", 49, &v) && f64[17] == expect("f64", 17, &v));
        ti_parquet_close(f);
    }
}

TI_TEST(nested_columns_are_listed_but_refused)
{
    ti_parquet_file *f = NULL;
    TI_CHECK_OK(ti_parquet_open(&f, FIX("nested.parquet")));
    if (!f) return;
    int id = ti_parquet_find_column(f, "id"), a = ti_parquet_find_column(f, "st.a"), b = ti_parquet_find_column(f, "st.b");
    TI_CHECK(id == 0 && a >= 0 && b >= 0 && ti_parquet_num_columns(f) == 4);
    int32_t v[20];
    double d[20];
    TI_CHECK_OK(ti_parquet_read_i32(f, id, v, NULL));
    TI_CHECK(v[0] == 0 && v[19] == 19);
    TI_CHECK(ti_parquet_column(f, a)->nested && ti_parquet_column(f, 1)->nested && ti_parquet_column(f, 1)->max_rep == 1);
    TI_CHECK_ERR(ti_parquet_read_i32(f, a, v, NULL), TI_ERR_UNSUPPORTED, "column 'st.a' is nested");
    TI_CHECK_ERR(ti_parquet_read_f64(f, b, d, NULL), TI_ERR_UNSUPPORTED, "nested.parquet");
    TI_CHECK_ERR(ti_parquet_read_i32(f, 1, v, NULL), TI_ERR_UNSUPPORTED, "column 'lst.");
    ti_parquet_close(f);
}

TI_TEST(open_errors_name_the_file)
{
    ti_parquet_file *f = (ti_parquet_file *)1;
    TI_CHECK_ERR(ti_parquet_open(&f, "tests/data/parquet/no_such.parquet"), TI_ERR_NOT_FOUND, "no_such.parquet");
    TI_CHECK(f == NULL);
    TI_CHECK_ERR(ti_parquet_open(&f, "tests/data/parquet"), TI_ERR_IO, "not a regular file");
    TI_CHECK_ERR(ti_parquet_open_memory(&f, "PAR1PAR1", 8, "tiny.parquet"), TI_ERR_FORMAT, "tiny.parquet: 8 bytes is too small");
    static const uint8_t bad_head[] = "PAR2\0\0\0\0\0\0\0\0PAR1";
    TI_CHECK_ERR(ti_parquet_open_memory(&f, bad_head, 16, "m"), TI_ERR_FORMAT, "no PAR1 magic at the start");
    static const uint8_t bad_tail[] = "PAR1\0\0\0\0\0\0\0\0PARX";
    TI_CHECK_ERR(ti_parquet_open_memory(&f, bad_tail, 16, "m"), TI_ERR_FORMAT, "truncated file?");
    static const uint8_t enc[] = "PAR1\0\0\0\0\0\0\0\0PARE";
    TI_CHECK_ERR(ti_parquet_open_memory(&f, enc, 16, "m"), TI_ERR_UNSUPPORTED, "encrypted");
    static const uint8_t big_len[] = "PAR1\0\0\0\0\xff\0\0\0PAR1";
    TI_CHECK_ERR(ti_parquet_open_memory(&f, big_len, 16, "m"), TI_ERR_FORMAT, "footer length 255 exceeds");
    static const uint8_t zero_len[] = "PAR1\0\0\0\0\0\0\0\0PAR1";
    TI_CHECK_ERR(ti_parquet_open_memory(&f, zero_len, 16, "zero"), TI_ERR_FORMAT, "zero: bad footer");
    TI_CHECK_ERR(ti_parquet_open_memory(&f, NULL, 5, "m"), TI_ERR_INVALID_ARG, "NULL");
    ti_parquet_close(NULL);
}

/* ---- hive datasets ---- */
static void touch(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *fp = fopen(path, "w");
    if (fp) fclose(fp);
}

TI_TEST(lists_hive_dataset_sorted_with_decoded_keys)
{
    char dir[] = "/tmp/ti_pq_ds_XXXXXX";
    char *made = mkdtemp(dir);
    TI_CHECK_MSG(made != NULL, "mkdtemp failed");
    if (!made) return;
    touch(dir, "year=2024/sym=A%20B/part-1.parquet");
    touch(dir, "year=2024/sym=A%20B/part-0.parquet");
    touch(dir, "year=2023/plain/x.pq");
    touch(dir, "year=2023/_SUCCESS");
    touch(dir, "year=2023/.hidden.parquet");
    touch(dir, "_tmp/y.parquet");
    touch(dir, "README.md");
    touch(dir, "z.parq");
    char with_slash[64];
    snprintf(with_slash, sizeof with_slash, "%s//", dir);
    ti_parquet_part *p = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_parquet_list_dataset(with_slash, &p, &n));
    TI_CHECK(n == 4);
    if (n == 4) {
        char want[128];
        snprintf(want, sizeof want, "%s/year=2023/plain/x.pq", dir);
        TI_CHECK(!strcmp(p[0].path, want));
        TI_CHECK(p[0].n_keys == 1 && !strcmp(p[0].keys[0], "year") && !strcmp(p[0].values[0], "2023"));
        TI_CHECK(strstr(p[1].path, "sym=A%20B/part-0.parquet") && strstr(p[2].path, "part-1.parquet"));
        TI_CHECK(p[1].n_keys == 2 && !strcmp(ti_parquet_part_value(&p[1], "sym"), "A B"));
        TI_CHECK(!strcmp(ti_parquet_part_value(&p[2], "year"), "2024") && ti_parquet_part_value(&p[2], "nope") == NULL);
        TI_CHECK(strstr(p[3].path, "/z.parq") && p[3].n_keys == 0);
    }
    ti_parquet_free_parts(p, n);
    /* A file given directly is a one-part dataset. */
    char file[128];
    snprintf(file, sizeof file, "%s/z.parq", dir);
    TI_CHECK_OK(ti_parquet_list_dataset(file, &p, &n));
    TI_CHECK(n == 1 && p && !strcmp(p[0].path, file) && p[0].n_keys == 0);
    ti_parquet_free_parts(p, n);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    TI_CHECK(system(cmd) == 0);
    TI_CHECK_ERR(ti_parquet_list_dataset(dir, &p, &n), TI_ERR_NOT_FOUND, dir);
    TI_CHECK_ERR(ti_parquet_list_dataset("tests/data/lobster", &p, &n), TI_ERR_NOT_FOUND, "no .parquet files");
}

/* ---- the bundled real Optiver files, checked against data/optiver/manifest.csv ---- */
TI_TEST(reads_bundled_optiver_files_matching_manifest)
{
    const char *root = "data/optiver/trade_train.parquet";
    ti_parquet_part *parts = NULL;
    size_t n = 0;
    TI_CHECK_MSG(access(root, R_OK) == 0, "bundled %s missing", root);
    TI_CHECK_OK(ti_parquet_list_dataset(root, &parts, &n));
    FILE *man = fopen("data/optiver/manifest.csv", "r");
    TI_CHECK_MSG(man != NULL, "bundled data/optiver/manifest.csv missing");
    if (!man) {
        ti_parquet_free_parts(parts, n);
        return;
    }
    char line[512];
    int checked = 0;
    TI_CHECK(fgets(line, sizeof line, man) != NULL); /* header */
    while (fgets(line, sizeof line, man)) {
        int stock, min_t, max_t, min_s, max_s, n_tid;
        long long bytes, rows;
        char file[256];
        double min_p, max_p;
        if (sscanf(line, "%d,%255[^,],%lld,%lld,%d,%d,%d,%d,%d,%lf,%lf", &stock, file, &bytes, &rows, &n_tid, &min_t, &max_t, &min_s, &max_s,
                   &min_p, &max_p) != 11)
            continue;
        const ti_parquet_part *part = NULL;
        for (size_t i = 0; i < n; i++)
            if (strstr(parts[i].path, file)) part = &parts[i];
        TI_CHECK_MSG(part != NULL, "%s not listed", file);
        if (!part) continue;
        char want[16];
        snprintf(want, sizeof want, "%d", stock);
        TI_CHECK(!strcmp(ti_parquet_part_value(part, "stock_id"), want));
        ti_parquet_file *f = NULL;
        TI_CHECK_OK(ti_parquet_open(&f, part->path));
        if (!f) continue;
        TI_CHECK((long long)ti_parquet_num_rows(f) == rows && ti_parquet_num_columns(f) == 5);
        static const char *names[] = {"time_id", "seconds_in_bucket", "price", "size", "order_count"};
        for (int c = 0; c < 5; c++) TI_CHECK(ti_parquet_find_column(f, names[c]) == c);
        TI_CHECK(ti_parquet_column_type(f, 2) == TI_PQ_FLOAT && ti_parquet_column(f, 0)->optional);
        int32_t *t = malloc((size_t)rows * 4), *s = malloc((size_t)rows * 4), *sz = malloc((size_t)rows * 4);
        float *p = malloc((size_t)rows * 4);
        TI_CHECK_OK(ti_parquet_read_i32(f, 0, t, NULL));
        TI_CHECK_OK(ti_parquet_read_i32(f, 1, s, NULL));
        TI_CHECK_OK(ti_parquet_read_f32(f, 2, p, NULL));
        TI_CHECK_OK(ti_parquet_read_i32(f, 3, sz, NULL));
        int32_t lo_t = INT32_MAX, hi_t = INT32_MIN, lo_s = INT32_MAX, hi_s = INT32_MIN, changes = 1;
        float lo_p = 1e30f, hi_p = -1e30f;
        long bad_size = 0;
        for (long long i = 0; i < rows; i++) {
            lo_t = t[i] < lo_t ? t[i] : lo_t;
            hi_t = t[i] > hi_t ? t[i] : hi_t;
            lo_s = s[i] < lo_s ? s[i] : lo_s;
            hi_s = s[i] > hi_s ? s[i] : hi_s;
            lo_p = p[i] < lo_p ? p[i] : lo_p;
            hi_p = p[i] > hi_p ? p[i] : hi_p;
            changes += i > 0 && t[i] != t[i - 1];
            bad_size += sz[i] <= 0;
        }
        TI_CHECK(lo_t == min_t && hi_t == max_t && lo_s == min_s && hi_s == max_s && bad_size == 0);
        TI_CHECK(changes == n_tid); /* rows are grouped by time_id */
        TI_CHECK_NEAR(lo_p, min_p, 1e-6);
        TI_CHECK_NEAR(hi_p, max_p, 1e-6);
        free(t);
        free(s);
        free(sz);
        free(p);
        ti_parquet_close(f);
        checked++;
    }
    fclose(man);
    TI_CHECK(checked == 5 && n == 5);
    ti_parquet_free_parts(parts, n);
}

int main(void)
{
    TI_RUN(reads_every_codec_and_page_version);
    TI_RUN(reads_many_row_groups_pages_and_dictionary_fallback);
    TI_RUN(empty_file_has_schema_and_no_rows);
    TI_RUN(refuses_unsupported_codecs_and_encodings_by_name);
    TI_RUN(nested_columns_are_listed_but_refused);
    TI_RUN(open_errors_name_the_file);
    TI_RUN(lists_hive_dataset_sorted_with_decoded_keys);
    TI_RUN(reads_bundled_optiver_files_matching_manifest);
    return ti_test_summary();
}
