/* dataset.json: the manifest of a dataset folder (jansson). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "tickinfer/fileio.h"
#include "tickinfer/version.h"

static json_t *float_array(const float *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

ti_err ti_dataset_write_manifest(const char *dir, const ti_dataset_info *info)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(TI_DATASET_FORMAT));
    json_object_set_new(root, "version", json_integer(TI_DATASET_VERSION));
    json_object_set_new(root, "created_by", json_string("tickinfer " TI_VERSION_STRING));
    json_object_set_new(root, "source", json_string(info->source));
    json_object_set_new(root, "source_kind", json_string(info->source_kind));
    json_object_set_new(root, "bucket_len", json_integer(info->bucket_len));
    json_object_set_new(root, "history_len", json_integer(info->history_len));
    json_object_set_new(root, "horizon_len", json_integer(info->horizon_len));
    json_object_set_new(root, "has_book", json_boolean(info->has_book));
    json_object_set_new(root, "has_market", json_boolean(info->has_market));
    if (info->has_market) {
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", info->market_crc);
        json_object_set_new(root, "market", json_pack("{s:s,s:I,s:s}", "file", info->market_file, "bytes", (json_int_t)info->market_bytes,
                                                      "crc32c", crc));
    }

    json_t *feat = json_object();
    json_t *names = json_array();
    for (int i = 0; i < info->n_features; i++) json_array_append_new(names, json_string(info->feature_names[i]));
    json_object_set_new(feat, "names", names);
    json_object_set_new(feat, "dtype", json_string("float32"));
    json_object_set_new(feat, "shape_per_bucket", json_pack("[ii]", info->history_len, info->n_features));
    json_object_set_new(feat, "storage", json_string("recomputed from bars (src/data/features.c)"));
    json_object_set_new(root, "features", feat);

    json_t *norm = json_object();
    json_object_set_new(norm, "fitted_on", json_string("train"));
    json_object_set_new(norm, "mean", float_array(info->norm.mean, info->norm.n));
    json_object_set_new(norm, "std", float_array(info->norm.std, info->norm.n));
    json_object_set_new(root, "normalization", norm);

    json_object_set_new(root, "split_by", json_string(ti_split_by_name(info->split_by)));
    json_object_set_new(root, "split_rule", json_string(ti_split_rule_text(info->split_by)));
    json_object_set_new(root, "exclusion", json_pack("{s:i,s:f}", "min_horizon_trades", TI_TARGET_MIN_TRADES, "min_target_rv", TI_TARGET_MIN_RV));

    json_t *c = json_object();
    json_object_set_new(c, "buckets_total", json_integer((json_int_t)info->n_total));
    json_object_set_new(c, "excluded_few_trades", json_integer((json_int_t)info->n_excluded_few_trades));
    json_object_set_new(c, "excluded_low_target", json_integer((json_int_t)info->n_excluded_low_target));
    json_object_set_new(c, "kept", json_integer((json_int_t)info->n_kept));
    for (int s = 0; s < TI_SPLIT__COUNT; s++) json_object_set_new(c, ti_split_name((ti_split)s), json_integer((json_int_t)info->n_split[s]));
    json_object_set_new(c, "bars", json_integer((json_int_t)info->n_bars));
    json_object_set_new(c, "rows_read", json_integer((json_int_t)info->n_rows_read));
    json_object_set_new(c, "duplicates_merged", json_integer((json_int_t)info->n_duplicates_merged));
    json_object_set_new(c, "unsorted_fixed", json_integer((json_int_t)info->n_unsorted_fixed));
    json_object_set_new(root, "counts", c);

    json_t *shards = json_array();
    for (int i = 0; i < info->n_shards; i++) {
        const ti_dataset_shard_info *s = &info->shards[i];
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", s->crc);
        json_array_append_new(shards, json_pack("{s:s,s:i,s:s,s:I,s:I,s:I,s:s}", "file", s->file, "symbol_id", (int)s->symbol_id,
                                                "symbol", s->symbol, "buckets", (json_int_t)s->n_buckets, "bars",
                                                (json_int_t)s->n_bars, "bytes", (json_int_t)s->bytes, "crc32c", crc));
    }
    json_object_set_new(root, "shards", shards);

    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!text) return ti_errorf(TI_ERR_NOMEM, "dataset: cannot serialise manifest");
    char path[4096];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    size_t len = strlen(text);
    text[len] = '\0';
    ti_err e = ti_write_file_atomic(path, text, len);
    free(text);
    return e;
}

/* ---- reading -------------------------------------------------------------------- */

static ti_err get_int(json_t *o, const char *key, const char *path, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return ti_errorf(TI_ERR_FORMAT, "dataset: %s: '%s' missing or not an integer", path, key);
    *out = json_integer_value(v);
    return TI_OK;
}

static ti_err get_str(json_t *o, const char *key, const char *path, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return ti_errorf(TI_ERR_FORMAT, "dataset: %s: '%s' missing or not a string", path, key);
    const char *s = json_string_value(v);
    if (strlen(s) >= cap) return ti_errorf(TI_ERR_FORMAT, "dataset: %s: '%s' too long", path, key);
    memcpy(dst, s, strlen(s) + 1);
    return TI_OK;
}

static ti_err get_floats(json_t *o, const char *key, const char *path, float *dst, int n)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || (int)json_array_size(a) != n)
        return ti_errorf(TI_ERR_FORMAT, "dataset: %s: '%s' must be an array of %d numbers", path, key, n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v)) return ti_errorf(TI_ERR_FORMAT, "dataset: %s: '%s'[%d] is not a number", path, key, i);
        dst[i] = (float)json_number_value(v);
    }
    return TI_OK;
}

#define TRY(x)              \
    do {                    \
        ti_err e_ = (x);    \
        if (e_) {           \
            err = e_;       \
            goto fail;      \
        }                   \
    } while (0)

ti_err ti_dataset_read_manifest(const char *dir, ti_dataset_info *info)
{
    memset(info, 0, sizeof *info);
    char path[4096];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f) return ti_errorf(TI_ERR_NOT_FOUND, "dataset: %s not found (is '%s' a dataset made by `tickinfer ingest`?)", path, dir);
        fclose(f);
        return ti_errorf(TI_ERR_FORMAT, "dataset: %s:%d: %s", path, jerr.line, jerr.text);
    }
    ti_err err = TI_ERR_FORMAT;
    int64_t v = 0;
    char fmt[64];
    TRY(get_str(root, "format", path, fmt, sizeof fmt));
    if (strcmp(fmt, TI_DATASET_FORMAT) != 0) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: format '%s', expected '%s'", path, fmt, TI_DATASET_FORMAT);
        goto fail;
    }
    TRY(get_int(root, "version", path, &v));
    if (v != TI_DATASET_VERSION) {
        err = ti_errorf(TI_ERR_UNSUPPORTED, "dataset: %s: version %lld, this build reads %d (re-run `tickinfer ingest`)", path,
                        (long long)v, TI_DATASET_VERSION);
        goto fail;
    }
    info->version = (int)v;
    TRY(get_str(root, "source", path, info->source, sizeof info->source));
    TRY(get_str(root, "source_kind", path, info->source_kind, sizeof info->source_kind));
    TRY(get_int(root, "bucket_len", path, &v));
    info->bucket_len = (int)v;
    TRY(get_int(root, "history_len", path, &v));
    info->history_len = (int)v;
    TRY(get_int(root, "horizon_len", path, &v));
    info->horizon_len = (int)v;
    if (info->bucket_len <= 0 || info->bucket_len > 86400 || info->history_len <= 0 || info->history_len > info->bucket_len) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: impossible bucket/history lengths", path);
        goto fail;
    }
    info->has_book = json_is_true(json_object_get(root, "has_book"));
    info->has_market = json_is_true(json_object_get(root, "has_market"));
    info->n_features = ti_features_count(info->has_book) + (info->has_market ? TI_MKT_FEATURES : 0);
    if (info->has_market) {
        json_t *mk = json_object_get(root, "market");
        char crc[16];
        if (!json_is_object(mk)) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: has_market but no 'market' entry", path);
            goto fail;
        }
        TRY(get_str(mk, "file", path, info->market_file, sizeof info->market_file));
        if (strchr(info->market_file, '/')) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: market file name must not contain '/'", path);
            goto fail;
        }
        TRY(get_int(mk, "bytes", path, &v));
        info->market_bytes = (uint64_t)v;
        TRY(get_str(mk, "crc32c", path, crc, sizeof crc));
        info->market_crc = (uint32_t)strtoul(crc, NULL, 16);
    }

    json_t *feat = json_object_get(root, "features");
    json_t *names = feat ? json_object_get(feat, "names") : NULL;
    if (!json_is_array(names) || (int)json_array_size(names) != info->n_features) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: features.names must list %d names", path, info->n_features);
        goto fail;
    }
    for (int i = 0; i < info->n_features; i++) {
        const char *nm = json_string_value(json_array_get(names, (size_t)i));
        const char *want = ti_dataset_feature_name(i, info->has_book, info->has_market);
        if (!nm || strcmp(nm, want) != 0) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: feature %d is '%s', this build computes '%s' (re-run ingest)", path, i,
                      nm ? nm : "?", want);
            goto fail;
        }
        snprintf(info->feature_names[i], sizeof info->feature_names[i], "%s", nm);
    }
    /* Datasets written before the stock rule existed carry no split_by: the bucket rule. */
    json_t *sb = json_object_get(root, "split_by");
    info->split_by = TI_SPLIT_BY_BUCKET;
    if (sb && (!json_is_string(sb) || ti_split_by_parse(json_string_value(sb), &info->split_by))) {
        err = ti_errorf(TI_ERR_FORMAT, "dataset: %s: split_by must be \"bucket\" or \"stock\"", path);
        goto fail;
    }
    json_t *norm = json_object_get(root, "normalization");
    if (!json_is_object(norm)) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: 'normalization' missing", path);
        goto fail;
    }
    info->norm.n = info->n_features;
    TRY(get_floats(norm, "mean", path, info->norm.mean, info->n_features));
    TRY(get_floats(norm, "std", path, info->norm.std, info->n_features));

    json_t *c = json_object_get(root, "counts");
    if (!json_is_object(c)) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: 'counts' missing", path);
        goto fail;
    }
    struct { const char *k; uint64_t *dst; } cnt[] = {
        {"buckets_total", &info->n_total}, {"excluded_few_trades", &info->n_excluded_few_trades},
        {"excluded_low_target", &info->n_excluded_low_target}, {"kept", &info->n_kept},
        {"train", &info->n_split[0]}, {"val", &info->n_split[1]}, {"test", &info->n_split[2]},
        {"bars", &info->n_bars}, {"rows_read", &info->n_rows_read}, {"duplicates_merged", &info->n_duplicates_merged},
        {"unsorted_fixed", &info->n_unsorted_fixed},
    };
    for (size_t i = 0; i < sizeof cnt / sizeof cnt[0]; i++) {
        TRY(get_int(c, cnt[i].k, path, &v));
        if (v < 0) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: counts.%s is negative", path, cnt[i].k);
            goto fail;
        }
        *cnt[i].dst = (uint64_t)v;
    }
    json_t *shards = json_object_get(root, "shards");
    if (!json_is_array(shards) || json_array_size(shards) > 100000) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: 'shards' missing or too long", path);
        goto fail;
    }
    info->n_shards = (int)json_array_size(shards);
    info->shards = calloc(info->n_shards ? (size_t)info->n_shards : 1, sizeof *info->shards);
    if (!info->shards) {
        err = ti_errorf(TI_ERR_NOMEM, "dataset: out of memory reading %s", path);
        goto fail;
    }
    uint64_t sum_buckets = 0;
    for (int i = 0; i < info->n_shards; i++) {
        json_t *s = json_array_get(shards, (size_t)i);
        ti_dataset_shard_info *si = &info->shards[i];
        char crc[16];
        if (!json_is_object(s)) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: shards[%d] is not an object", path, i);
            goto fail;
        }
        TRY(get_str(s, "file", path, si->file, sizeof si->file));
        if (strchr(si->file, '/') || strcmp(si->file, "..") == 0) {
            ti_errorf(TI_ERR_FORMAT, "dataset: %s: shard file name '%s' must not contain '/'", path, si->file);
            goto fail;
        }
        TRY(get_str(s, "symbol", path, si->symbol, sizeof si->symbol));
        TRY(get_int(s, "symbol_id", path, &v));
        si->symbol_id = (int32_t)v;
        TRY(get_int(s, "buckets", path, &v));
        si->n_buckets = (uint64_t)v;
        TRY(get_int(s, "bars", path, &v));
        si->n_bars = (uint64_t)v;
        TRY(get_int(s, "bytes", path, &v));
        si->bytes = (uint64_t)v;
        TRY(get_str(s, "crc32c", path, crc, sizeof crc));
        si->crc = (uint32_t)strtoul(crc, NULL, 16);
        info->total_bytes += si->bytes;
        sum_buckets += si->n_buckets;
    }
    if (sum_buckets != info->n_kept) {
        ti_errorf(TI_ERR_FORMAT, "dataset: %s: shards hold %llu buckets but counts.kept is %llu", path, (unsigned long long)sum_buckets,
                  (unsigned long long)info->n_kept);
        goto fail;
    }
    json_decref(root);
    return TI_OK;
fail:
    json_decref(root);
    free(info->shards);
    info->shards = NULL;
    return err;
}
