/* safetensors reader/writer: dtype helpers, round trip, byte-identical output to a
 * hand-written Python file in the reference layout, and every malformed-header case. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/safetensors.h"

#define DATA_DIR "tests/model/data/"

TI_TEST(dtype_helpers)
{
    ti_st_dtype dt;
    TI_CHECK_OK(ti_st_dtype_parse(&dt, "BF16"));
    TI_CHECK(dt == TI_ST_BF16);
    TI_CHECK(ti_st_dtype_size(TI_ST_F64) == 8 && ti_st_dtype_size(TI_ST_BOOL) == 1);
    TI_CHECK(strcmp(ti_st_dtype_name(TI_ST_I64), "I64") == 0);
    TI_CHECK(ti_st_dtype_size((ti_st_dtype)99) == 0);
    TI_CHECK_ERR(ti_st_dtype_parse(&dt, "F8_E4M3"), TI_ERR_UNSUPPORTED, "F8_E4M3");

    /* F16 bit patterns with exactly known values: normal, max, subnormals, zero, inf. */
    const uint16_t h[] = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00};
    const float want[] = {1.0f, -2.5f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, -0.0f, INFINITY, -INFINITY};
    float out[9];
    TI_CHECK_OK(ti_st_to_f32(out, h, TI_ST_F16, 9));
    for (int i = 0; i < 9; i++) TI_CHECK_MSG(out[i] == want[i], "f16 0x%04x -> %g, want %g", h[i], out[i], want[i]);
    TI_CHECK(signbit(out[6]));
    const uint16_t nan16 = 0x7e00, bf[] = {0x3f80, 0xc040};
    TI_CHECK_OK(ti_st_to_f32(out, &nan16, TI_ST_F16, 1));
    TI_CHECK(isnan(out[0]));
    TI_CHECK_OK(ti_st_to_f32(out, bf, TI_ST_BF16, 2));
    TI_CHECK(out[0] == 1.0f && out[1] == -3.0f);
    const double d[] = {0.1, -1e300};
    TI_CHECK_OK(ti_st_to_f32(out, d, TI_ST_F64, 2));
    TI_CHECK(out[0] == 0.1f && isinf(out[1]) && out[1] < 0);
    const int64_t iv = 3;
    TI_CHECK_ERR(ti_st_to_f32(out, &iv, TI_ST_I64, 1), TI_ERR_UNSUPPORTED, "I64");
}

/* The tensors of tests/model/data/tiny.safetensors (see tests/py/make_pt_fixtures.py). */
static ti_st_builder *tiny_builder(void)
{
    ti_st_builder *b = NULL;
    if (ti_st_builder_create(&b) != TI_OK) return NULL;
    float a[6];
    for (int i = 0; i < 6; i++) a[i] = (float)i / 4 - 0.5f;
    const int64_t sa[] = {2, 3}, sb[] = {2}, sc[] = {3}, se[] = {0, 2}, su[] = {3};
    const int64_t b64[] = {5, -6};
    const uint16_t c16[] = {0x3c00, 0xc000, 0x3800}; /* 1, -2, 0.5 */
    const float s = 7.25f;
    const uint8_t u[] = {1, 2, 250};
    /* added out of order: the writer sorts */
    int ok = ti_st_builder_add(b, "c", TI_ST_F16, 1, sc, c16) == TI_OK &&
             ti_st_builder_add(b, "s", TI_ST_F32, 0, NULL, &s) == TI_OK &&
             ti_st_builder_add(b, "a", TI_ST_F32, 2, sa, a) == TI_OK &&
             ti_st_builder_add(b, "bytes", TI_ST_U8, 1, su, u) == TI_OK &&
             ti_st_builder_add(b, "empty", TI_ST_F32, 2, se, NULL) == TI_OK &&
             ti_st_builder_add(b, "b", TI_ST_I64, 1, sb, b64) == TI_OK &&
             ti_st_builder_set_meta(b, "note", "replaced below") == TI_OK &&
             ti_st_builder_set_meta(b, "note", "hand-written") == TI_OK &&
             ti_st_builder_set_meta(b, "format", "pt") == TI_OK;
    if (!ok) {
        ti_st_builder_destroy(b);
        return NULL;
    }
    return b;
}

static void check_tiny(const ti_safetensors *st)
{
    TI_CHECK(ti_safetensors_count(st) == 6);
    /* file order = reference order: element size desc, then name */
    const char *order[] = {"b", "a", "empty", "s", "c", "bytes"};
    for (size_t i = 0; i < 6 && i < ti_safetensors_count(st); i++)
        TI_CHECK_MSG(strcmp(ti_safetensors_at(st, i)->name, order[i]) == 0, "tensor %zu is %s, want %s", i,
                     ti_safetensors_at(st, i)->name, order[i]);
    const float *a = NULL;
    const int64_t sa[] = {2, 3};
    TI_CHECK_OK(ti_safetensors_get_f32(st, "a", 2, sa, &a));
    if (a) {
        TI_CHECK(((uintptr_t)a % 4) == 0);
        for (int i = 0; i < 6; i++) TI_CHECK_NEAR(a[i], (float)i / 4 - 0.5f, 0);
    }
    const ti_st_tensor *t = ti_safetensors_find(st, "b");
    TI_CHECK(t && t->dtype == TI_ST_I64 && t->ndim == 1 && t->shape[0] == 2 && t->nbytes == 16);
    if (t) {
        int64_t v[2];
        memcpy(v, t->data, 16);
        TI_CHECK(v[0] == 5 && v[1] == -6);
        TI_CHECK(((uintptr_t)t->data % 8) == 0);
    }
    t = ti_safetensors_find(st, "c");
    float c[3] = {0};
    TI_CHECK(t && t->dtype == TI_ST_F16 && t->numel == 3);
    if (t) TI_CHECK_OK(ti_st_to_f32(c, t->data, t->dtype, 3));
    TI_CHECK(c[0] == 1.0f && c[1] == -2.0f && c[2] == 0.5f);
    t = ti_safetensors_find(st, "s");
    TI_CHECK(t && t->ndim == 0 && t->numel == 1 && t->data && *(const float *)t->data == 7.25f);
    t = ti_safetensors_find(st, "empty");
    TI_CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 2 && t->numel == 0 && t->nbytes == 0);
    t = ti_safetensors_find(st, "bytes");
    TI_CHECK(t && t->nbytes == 3 && ((const uint8_t *)t->data)[2] == 250);
    TI_CHECK(ti_safetensors_find(st, "nope") == NULL);
    TI_CHECK(ti_safetensors_meta_count(st) == 2);
    TI_CHECK(ti_safetensors_meta(st, "format") && strcmp(ti_safetensors_meta(st, "format"), "pt") == 0);
    TI_CHECK(ti_safetensors_meta(st, "note") && strcmp(ti_safetensors_meta(st, "note"), "hand-written") == 0);
    TI_CHECK(ti_safetensors_meta(st, "absent") == NULL);
    TI_CHECK(ti_safetensors_data_bytes(st) == 24 + 16 + 4 + 6 + 3);
}

TI_TEST(reads_python_written_file)
{
    ti_safetensors *st = NULL;
    TI_CHECK_OK(ti_safetensors_open(&st, DATA_DIR "tiny.safetensors"));
    if (st) check_tiny(st);
    ti_safetensors_close(st);
    /* header length not a multiple of 8: data misaligned in the file, aligned for us */
    st = NULL;
    TI_CHECK_OK(ti_safetensors_open(&st, DATA_DIR "tiny_unpadded.safetensors"));
    if (st) check_tiny(st);
    ti_safetensors_close(st);
}

TI_TEST(writer_matches_reference_layout_byte_for_byte)
{
    ti_st_builder *b = tiny_builder();
    TI_CHECK(b != NULL);
    if (!b) return;
    uint8_t *mine = NULL;
    size_t mine_len = 0;
    TI_CHECK_OK(ti_st_builder_serialize(b, &mine, &mine_len));
    char *ref = NULL;
    size_t ref_len = 0;
    TI_CHECK_OK(ti_read_file(DATA_DIR "tiny.safetensors", 0, &ref, &ref_len));
    TI_CHECK_MSG(mine && ref && mine_len == ref_len && memcmp(mine, ref, ref_len) == 0,
                 "C writer output (%zu bytes) differs from the Python reference-layout file (%zu bytes)", mine_len,
                 ref_len);
    if (mine && mine_len >= 8) {
        uint64_t n;
        memcpy(&n, mine, 8);
        TI_CHECK(n % 8 == 0 && mine[8 + n - 1] == ' ');
    }
    free(mine);
    free(ref);
    ti_st_builder_destroy(b);
}

TI_TEST(round_trip_through_a_file)
{
    char path[] = "/tmp/ti_st_rt_XXXXXX";
    int fd = mkstemp(path);
    TI_CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    ti_st_builder *b = tiny_builder();
    TI_CHECK(b && ti_st_builder_count(b) == 6);
    /* a bigger tensor too, so alignment and data placement are exercised */
    float *big = malloc(1000 * sizeof *big);
    for (int i = 0; big && i < 1000; i++) big[i] = (float)i * 0.001f;
    const int64_t shape[] = {10, 10, 10};
    TI_CHECK_OK(ti_st_builder_add(b, "layer.0.weight", TI_ST_F32, 3, shape, big));
    TI_CHECK_OK(ti_st_builder_write(b, path));
    ti_safetensors *st = NULL;
    TI_CHECK_OK(ti_safetensors_open(&st, path));
    if (st) {
        TI_CHECK(ti_safetensors_count(st) == 7);
        const float *w = NULL;
        TI_CHECK_OK(ti_safetensors_get_f32(st, "layer.0.weight", 3, shape, &w));
        TI_CHECK(w && memcmp(w, big, 4000) == 0);
        const int64_t wrong[] = {10, 100};
        TI_CHECK_ERR(ti_safetensors_get_f32(st, "layer.0.weight", 2, wrong, &w), TI_ERR_FORMAT,
                     "tensor 'layer.0.weight' has shape [10,10,10] F32, expected [10,100] F32");
        TI_CHECK_ERR(ti_safetensors_get_f32(st, "b", 1, shape, &w), TI_ERR_FORMAT, "[2] I64");
        const ti_st_tensor *t;
        TI_CHECK_ERR(ti_safetensors_get(st, "missing.weight", &t), TI_ERR_NOT_FOUND, "'missing.weight'");
        for (size_t i = 0; i < ti_safetensors_count(st); i++) {
            const ti_st_tensor *x = ti_safetensors_at(st, i);
            TI_CHECK(x->nbytes == 0 || (uintptr_t)x->data % ti_st_dtype_size(x->dtype) == 0);
        }
    }
    ti_safetensors_close(st);
    unlink(path);
    free(big);
    /* a write that cannot happen leaves nothing behind and says where */
    TI_CHECK_ERR(ti_st_builder_write(b, "/nonexistent_dir_ti/x.safetensors"), TI_ERR_NOT_FOUND, "/nonexistent_dir_ti");
    ti_st_builder_destroy(b);
}

TI_TEST(builder_rejects_bad_input)
{
    ti_st_builder *b = NULL;
    TI_CHECK_OK(ti_st_builder_create(&b));
    if (!b) return;
    const float x[2] = {1, 2};
    const int64_t s2[] = {2}, neg[] = {-1};
    TI_CHECK_ERR(ti_st_builder_add(b, "__metadata__", TI_ST_F32, 1, s2, x), TI_ERR_INVALID_ARG, "__metadata__");
    TI_CHECK_ERR(ti_st_builder_add(b, "", TI_ST_F32, 1, s2, x), TI_ERR_INVALID_ARG, "name");
    TI_CHECK_ERR(ti_st_builder_add(b, "n", TI_ST_F32, 1, neg, x), TI_ERR_INVALID_ARG, "shape[0]");
    TI_CHECK_ERR(ti_st_builder_add(b, "n", TI_ST_F32, 9, s2, x), TI_ERR_INVALID_ARG, "dims");
    TI_CHECK_ERR(ti_st_builder_add(b, "n", TI_ST_F32, 1, s2, NULL), TI_ERR_INVALID_ARG, "NULL data");
    TI_CHECK_OK(ti_st_builder_add(b, "dup", TI_ST_F32, 1, s2, x));
    TI_CHECK_OK(ti_st_builder_add(b, "dup", TI_ST_F32, 1, s2, x));
    uint8_t *out = NULL;
    size_t len;
    TI_CHECK_ERR(ti_st_builder_serialize(b, &out, &len), TI_ERR_INVALID_ARG, "duplicate tensor name 'dup'");
    TI_CHECK(out == NULL);
    ti_st_builder_destroy(b);
    /* invalid UTF-8 cannot go into the JSON header */
    TI_CHECK_OK(ti_st_builder_create(&b));
    TI_CHECK_OK(ti_st_builder_add(b, "bad\xff", TI_ST_F32, 1, s2, x));
    TI_CHECK_ERR(ti_st_builder_serialize(b, &out, &len), TI_ERR_INVALID_ARG, "UTF-8");
    ti_st_builder_destroy(b);
}

/* A file with this header (length taken as is) and `data_len` bytes of data. */
static uint8_t *make_file(const char *header, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    uint8_t *buf = calloc(1, *len);
    if (!buf) return NULL;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    return buf;
}

static ti_err open_header(const char *header, size_t data_len)
{
    size_t len;
    uint8_t *buf = make_file(header, data_len, &len);
    if (!buf) return TI_ERR_NOMEM;
    ti_safetensors *st = NULL;
    ti_err err = ti_safetensors_open_memory(&st, buf, len, "m.safetensors");
    ti_safetensors_close(st);
    free(buf);
    return err;
}

#define T(name, shape, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

TI_TEST(malformed_headers_are_rejected_with_context)
{
    /* the valid baseline */
    TI_CHECK_OK(open_header("{" T("x", "[2]", 0, 8) "}", 8));
    TI_CHECK_OK(open_header("{}", 0));
    TI_CHECK_ERR(open_header("{" T("proj.weight", "[128,14]", 0, 100) "}", 100), TI_ERR_FORMAT,
                 "safetensors m.safetensors: tensor 'proj.weight': data_offsets [0, 100] but shape [128,14] F32 needs "
                 "7168 bytes");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 0, 8) "}", 4), TI_ERR_CORRUPT, "past the end");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 0, 8) "}", 12), TI_ERR_FORMAT, "4 trailing bytes");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 4, 12) "}", 12), TI_ERR_FORMAT, "gap of 4 bytes");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 0, 8) "," T("y", "[2]", 4, 12) "}", 12), TI_ERR_FORMAT,
                 "overlaps tensor 'x'");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 8, 0) "}", 8), TI_ERR_FORMAT, "end before begin");
    TI_CHECK_ERR(open_header("{" T("x", "[-2]", 0, 8) "}", 8), TI_ERR_FORMAT, "shape[0]");
    TI_CHECK_ERR(open_header("{" T("x", "[2.0]", 0, 8) "}", 8), TI_ERR_FORMAT, "shape[0]");
    TI_CHECK_ERR(open_header("{" T("x", "2", 0, 8) "}", 8), TI_ERR_FORMAT, "\"shape\"");
    TI_CHECK_ERR(open_header("{" T("x", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}", 8), TI_ERR_LIMIT, "9 dims");
    TI_CHECK_ERR(open_header("{" T("x", "[4294967296,4294967296,4294967296]", 0, 8) "}", 8), TI_ERR_FORMAT,
                 "overflows");
    TI_CHECK_ERR(open_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), TI_ERR_FORMAT,
                 "data_offsets");
    TI_CHECK_ERR(open_header("{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), TI_ERR_FORMAT, "\"dtype\"");
    TI_CHECK_ERR(open_header("{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                 TI_ERR_UNSUPPORTED, "tensor 'x': dtype 'Q7'");
    TI_CHECK_ERR(open_header("{\"x\":[1]}", 0), TI_ERR_FORMAT, "not an object");
    TI_CHECK_ERR(open_header("{" T("x", "[2]", 0, 8) "," T("x", "[2]", 0, 8) "}", 8), TI_ERR_FORMAT, "duplicate");
    TI_CHECK_ERR(open_header("{\"__metadata__\":{\"k\":1}}", 0), TI_ERR_FORMAT, "'k' is not a string");
    TI_CHECK_ERR(open_header("{\"__metadata__\":[]}", 0), TI_ERR_FORMAT, "__metadata__");
    TI_CHECK_ERR(open_header("{\"x\": ", 0), TI_ERR_FORMAT, "JSON invalid");
    TI_CHECK_ERR(open_header("[1,2]", 0), TI_ERR_FORMAT, "'{'");
    TI_CHECK_ERR(open_header("{", 0), TI_ERR_FORMAT, "too small");
    TI_CHECK_ERR(open_header("{} x", 0), TI_ERR_FORMAT, "JSON invalid");

    /* header length field itself */
    uint8_t tiny[8] = {0};
    ti_safetensors *st = NULL;
    TI_CHECK_ERR(ti_safetensors_open_memory(&st, tiny, 5, "m.safetensors"), TI_ERR_FORMAT, "too short");
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    TI_CHECK_ERR(ti_safetensors_open_memory(&st, huge, sizeof huge, "m.safetensors"), TI_ERR_FORMAT, "exceeds");
    uint8_t longer[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    TI_CHECK_ERR(ti_safetensors_open_memory(&st, longer, sizeof longer, "m.safetensors"), TI_ERR_CORRUPT,
                 "header length 100 but the file has only 8 bytes");
    TI_CHECK(st == NULL);
    TI_CHECK_ERR(ti_safetensors_open(&st, "tests/model/data/does_not_exist.safetensors"), TI_ERR_NOT_FOUND,
                 "does_not_exist.safetensors");
}

/* Every prefix of a valid file is rejected cleanly (and ASan sees no out-of-bounds read). */
TI_TEST(truncated_files_are_rejected)
{
    char *buf = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file(DATA_DIR "tiny.safetensors", 0, &buf, &len));
    if (!buf) return;
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        ti_safetensors *st = NULL;
        ti_err err = ti_safetensors_open_memory(&st, copy, n, "cut.safetensors");
        if (err != TI_ERR_FORMAT && err != TI_ERR_CORRUPT) bad++;
        if (err && !strstr(ti_errmsg(), "cut.safetensors")) bad++;
        ti_safetensors_close(st);
        free(copy);
    }
    TI_CHECK_MSG(bad == 0, "%d truncations not rejected as FORMAT/CORRUPT with the file name", bad);
    free(buf);
}

int main(void)
{
    TI_RUN(dtype_helpers);
    TI_RUN(reads_python_written_file);
    TI_RUN(writer_matches_reference_layout_byte_for_byte);
    TI_RUN(round_trip_through_a_file);
    TI_RUN(builder_rejects_bad_input);
    TI_RUN(malformed_headers_are_rejected_with_context);
    TI_RUN(truncated_files_are_rejected);
    return ti_test_summary();
}
