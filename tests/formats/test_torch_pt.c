/* torch.save (.pt) reader: values against Python dumps (tests/py/make_pt_fixtures.py),
 * views/shared storages, key selection, prefixes, conversion to safetensors, the safe
 * pickle VM, and hand-made hostile archives. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "formats/pickle.h"
#include "formats/pt_zip_build.h"
#include "tickinfer/fileio.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/torch_pt.h"

#define DATA_DIR "tests/model/data/"
#define SEED_PT DATA_DIR "seed_rv_tiny/best.pt" /* bundled: tests/model/data/seed_rv_tiny/README.md */

/* Every tensor of <name>.json/.bin (written by PyTorch) must be in pt, in order, with the
 * same dtype, shape and bytes; scalars too. */
static void check_against_dump(const ti_pt *pt, const char *name, const char *strip)
{
    char path[256];
    snprintf(path, sizeof path, DATA_DIR "%s.json", name);
    json_error_t jerr;
    json_t *idx = json_load_file(path, 0, &jerr);
    TI_CHECK_MSG(idx != NULL, "%s: %s", path, jerr.text);
    snprintf(path, sizeof path, DATA_DIR "%s.bin", name);
    char *bin = NULL;
    size_t bin_len = 0;
    TI_CHECK_OK(ti_read_file(path, 0, &bin, &bin_len));
    if (!idx || !bin) goto done;
    json_t *tensors = json_object_get(idx, "tensors");
    TI_CHECK_MSG(json_array_size(tensors) == ti_pt_count(pt), "%zu tensors, python has %zu", ti_pt_count(pt),
                 json_array_size(tensors));
    size_t i;
    json_t *e;
    json_array_foreach(tensors, i, e)
    {
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (strip && strncmp(nm, strip, strlen(strip)) == 0) nm += strlen(strip);
        const ti_pt_tensor *t = ti_pt_find(pt, nm);
        TI_CHECK_MSG(t != NULL, "tensor '%s' missing", nm);
        if (!t) continue;
        TI_CHECK_MSG(t == ti_pt_at(pt, i), "tensor '%s' not at position %zu", nm, i);
        TI_CHECK_MSG(strcmp(ti_st_dtype_name(t->dtype), json_string_value(json_object_get(e, "dtype"))) == 0,
                     "tensor '%s': dtype %s", nm, ti_st_dtype_name(t->dtype));
        json_t *shape = json_object_get(e, "shape");
        int same = (size_t)t->ndim == json_array_size(shape);
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == json_integer_value(json_array_get(shape, (size_t)d));
        TI_CHECK_MSG(same, "tensor '%s': shape differs", nm);
        size_t off = (size_t)json_integer_value(json_object_get(e, "offset"));
        size_t nb = (size_t)json_integer_value(json_object_get(e, "nbytes"));
        TI_CHECK_MSG(t->nbytes == nb && off + nb <= bin_len && (nb == 0 || memcmp(t->data, bin + off, nb) == 0),
                     "tensor '%s': bytes differ from PyTorch's", nm);
        TI_CHECK(nb == 0 || ((uintptr_t)t->data % 64) == 0);
    }
    const char *sk;
    json_t *sv;
    size_t n_sc = 0;
    json_object_foreach(json_object_get(idx, "scalars"), sk, sv)
    {
        double v = -1;
        TI_CHECK_OK(ti_pt_get_scalar(pt, sk, &v));
        TI_CHECK_NEAR(v, json_number_value(sv), 0);
        n_sc++;
    }
    TI_CHECK(ti_pt_scalar_count(pt) == n_sc);
done:
    json_decref(idx);
    free(bin);
}

TI_TEST(state_dict_matches_pytorch)
{
    ti_pt *pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "sd_small.pt", NULL));
    if (!pt) return;
    check_against_dump(pt, "sd_small", NULL);
    TI_CHECK(strcmp(ti_pt_selected_key(pt), "") == 0);
    /* how the views were saved */
    const ti_pt_tensor *wt = ti_pt_find(pt, "wt"), *a = ti_pt_find(pt, "shared_a"), *b = ti_pt_find(pt, "shared_b");
    const ti_pt_tensor *ex = ti_pt_find(pt, "expanded"), *s0 = ti_pt_find(pt, "scalar0d");
    TI_CHECK(wt && wt->stride[0] == 1 && wt->stride[1] == 5);
    TI_CHECK(a && b && strcmp(a->storage_key, b->storage_key) == 0);
    TI_CHECK(a && a->storage_offset == 2 && b && b->storage_offset == 10 && b->stride[0] == 3);
    if (b) { /* big = arange(20) * 0.25; shared_b = big[10:20:3] */
        const float *v = b->data;
        TI_CHECK(v[0] == 2.5f && v[1] == 3.25f && v[2] == 4.0f && v[3] == 4.75f);
    }
    TI_CHECK(ex && ex->stride[0] == 0 && ex->numel == 6);
    TI_CHECK(s0 && s0->ndim == 0 && s0->numel == 1 && *(const float *)s0->data == 3.5f);
    TI_CHECK(strcmp(ti_pt_at(pt, 0)->location, "cpu") == 0);
    TI_CHECK(ti_pt_param_count(pt) == 104);
    ti_pt_close(pt);
}

TI_TEST(nested_checkpoint_and_prefixes)
{
    ti_pt *pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "ckpt_nested.pt", NULL)); /* auto: the only dict of tensors */
    if (!pt) return;
    check_against_dump(pt, "ckpt_nested", NULL);
    TI_CHECK(strcmp(ti_pt_selected_key(pt), "model") == 0);
    double v = 0;
    TI_CHECK_OK(ti_pt_get_scalar(pt, "best_rmspe", &v));
    TI_CHECK(v == 0.25);
    TI_CHECK_ERR(ti_pt_get_scalar(pt, "lr", &v), TI_ERR_NOT_FOUND, "'lr'");
    const ti_pt_scalar *ep = ti_pt_scalar_at(pt, 1);
    TI_CHECK(ep && strcmp(ep->name, "epoch") == 0 && ep->is_int && ep->value == 7);
    char pre[64];
    TI_CHECK(ti_pt_shared_prefix(pt, pre, sizeof pre) == 10 && strcmp(pre, "_orig_mod.") == 0);
    TI_CHECK(ti_pt_shared_prefix(pt, pre, 5) == 0);
    size_t n = 0;
    TI_CHECK_OK(ti_pt_strip_prefix(pt, "_orig_mod.", &n));
    TI_CHECK(n == 8);
    const ti_pt_tensor *w = ti_pt_find(pt, "proj.weight");
    TI_CHECK(w && strcmp(w->orig_name, "_orig_mod.proj.weight") == 0 && w->shape[0] == 3 && w->shape[1] == 4);
    TI_CHECK(ti_pt_find(pt, "_orig_mod.proj.weight") == NULL);
    TI_CHECK(ti_pt_shared_prefix(pt, pre, sizeof pre) == 0);
    ti_pt_close(pt);

    /* the same through options, with an explicit key; and DEFLATE entries */
    ti_pt_options opt = {.key = "model", .strip_prefix = "_orig_mod."};
    pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "ckpt_nested_deflate.pt", &opt));
    if (pt) check_against_dump(pt, "ckpt_nested", "_orig_mod.");
    TI_CHECK(pt && ti_pt_find(pt, "head.1.bias") != NULL);
    ti_pt_close(pt);

    /* key "" = the whole object: names get the "model." path */
    opt = (ti_pt_options){.key = ""};
    pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "ckpt_nested.pt", &opt));
    TI_CHECK(pt && ti_pt_count(pt) == 8 && ti_pt_find(pt, "model._orig_mod.norm.bias") != NULL);
    ti_pt_close(pt);
}

TI_TEST(key_selection_errors)
{
    ti_pt *pt = NULL;
    ti_pt_options opt = {.key = "nope"};
    TI_CHECK_ERR(ti_pt_open(&pt, DATA_DIR "ckpt_nested.pt", &opt), TI_ERR_NOT_FOUND, "'model' (dict)");
    opt.key = "best_rmspe";
    TI_CHECK_ERR(ti_pt_open(&pt, DATA_DIR "ckpt_nested.pt", &opt), TI_ERR_FORMAT, "holds a float");
    TI_CHECK_ERR(ti_pt_open(&pt, DATA_DIR "ckpt_two.pt", NULL), TI_ERR_FORMAT, "several entries hold tensors");
    opt.key = "ema";
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "ckpt_two.pt", &opt));
    TI_CHECK(pt && ti_pt_count(pt) == 8);
    ti_pt_close(pt);
    pt = NULL;
    TI_CHECK_ERR(ti_pt_open(&pt, DATA_DIR "missing.pt", NULL), TI_ERR_NOT_FOUND, "missing.pt");
    TI_CHECK_ERR(ti_pt_open(&pt, DATA_DIR "tiny.safetensors", NULL), TI_ERR_FORMAT, "not a torch.save zip");
    TI_CHECK(pt == NULL);
}

TI_TEST(converts_to_safetensors)
{
    ti_pt *pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, DATA_DIR "sd_small.pt", NULL));
    ti_st_builder *b = NULL;
    TI_CHECK_OK(ti_st_builder_create(&b));
    if (!pt || !b) goto done;
    TI_CHECK_OK(ti_pt_to_safetensors(b, pt, 1));
    uint8_t *file = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_st_builder_serialize(b, &file, &len));
    ti_safetensors *st = NULL;
    TI_CHECK_OK(ti_safetensors_open_memory(&st, file, len, "converted"));
    if (st) {
        TI_CHECK(ti_safetensors_count(st) == ti_pt_count(pt));
        const ti_st_tensor *f16 = ti_safetensors_find(st, "f16"), *bf = ti_safetensors_find(st, "bf16");
        const ti_st_tensor *i64 = ti_safetensors_find(st, "i64"), *wt = ti_safetensors_find(st, "wt");
        TI_CHECK(f16 && f16->dtype == TI_ST_F32 && f16->numel == 5);
        if (f16) { /* torch.tensor([1.0, -2.5, 65504.0, 6.1e-5, 0.0], dtype=float16) */
            const float *v = f16->data;
            TI_CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f && v[3] == 1023 * 0x1p-24f && v[4] == 0.0f);
        }
        TI_CHECK(bf && bf->dtype == TI_ST_F32 && ((const float *)bf->data)[1] == -3.0f);
        TI_CHECK(i64 && i64->dtype == TI_ST_I64 && ((const int64_t *)i64->data)[3] == ((int64_t)1 << 40));
        const ti_pt_tensor *pwt = ti_pt_find(pt, "wt");
        TI_CHECK(wt && pwt && wt->nbytes == pwt->nbytes && memcmp(wt->data, pwt->data, wt->nbytes) == 0);
    }
    ti_safetensors_close(st);
    free(file);
done:
    ti_st_builder_destroy(b);
    ti_pt_close(pt);
}

/* Converted files checked by an independent Python parser against torch.load. */
TI_TEST(converted_files_match_torch_load)
{
    const char *py = getenv("TI_PYTHON");
    if (!py || !*py) TI_SKIP("TI_PYTHON unset: the torch.load comparison needs the .venv (run via make test)");
    struct {
        const char *pt, *key, *strip;
        int to_f32;
    } cases[] = {{"ckpt_nested.pt", "model", "_orig_mod.", 1}, {"sd_small.pt", "", "", 0}};
    for (size_t c = 0; c < 2; c++) {
        char in[256], out[] = "/tmp/ti_pt_conv_XXXXXX", cmd[1024];
        int fd = mkstemp(out);
        TI_CHECK(fd >= 0);
        if (fd < 0) return;
        close(fd);
        snprintf(in, sizeof in, DATA_DIR "%s", cases[c].pt);
        ti_pt_options opt = {.key = cases[c].key, .strip_prefix = cases[c].strip};
        ti_pt *pt = NULL;
        ti_st_builder *b = NULL;
        TI_CHECK_OK(ti_pt_open(&pt, in, &opt));
        TI_CHECK_OK(ti_st_builder_create(&b));
        if (pt && b) {
            TI_CHECK_OK(ti_pt_to_safetensors(b, pt, cases[c].to_f32));
            TI_CHECK_OK(ti_st_builder_write(b, out));
            snprintf(cmd, sizeof cmd, "'%s' tests/py/make_pt_fixtures.py --verify %s --against %s --key '%s' --strip '%s'",
                     py, out, in, cases[c].key, cases[c].strip);
            int rc = system(cmd);
            TI_CHECK_MSG(rc == 0, "python verify failed (%d): %s", rc, cmd);
        }
        ti_st_builder_destroy(b);
        ti_pt_close(pt);
        unlink(out);
    }
}

/* ---- hand-made pickles and archives ------------------------------------------------ */
typedef struct pkbuf {
    uint8_t d[8192];
    size_t n;
} pkbuf;

static void op(pkbuf *b, uint8_t c)
{
    if (b->n < sizeof b->d) b->d[b->n++] = c;
}
static void raw(pkbuf *b, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) op(b, ((const uint8_t *)p)[i]);
}
static void str(pkbuf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    op(b, 'X');
    for (int i = 0; i < 4; i++) op(b, (uint8_t)(n >> (8 * i)));
    raw(b, s, n);
}
static void bint(pkbuf *b, int32_t v)
{
    op(b, 'J');
    for (int i = 0; i < 4; i++) op(b, (uint8_t)((uint32_t)v >> (8 * i)));
}
static void glob(pkbuf *b, const char *module, const char *name)
{
    op(b, 'c');
    raw(b, module, strlen(module));
    op(b, '\n');
    raw(b, name, strlen(name));
    op(b, '\n');
}
/* _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, shape, stride, False, OrderedDict()) */
static void tensor(pkbuf *b, const char *key, int numel, int offset, int nd, const int *shape, const int *stride)
{
    glob(b, "torch._utils", "_rebuild_tensor_v2");
    op(b, '(');
    op(b, '(');
    str(b, "storage");
    glob(b, "torch", "FloatStorage");
    str(b, key);
    str(b, "cuda:0");
    bint(b, numel);
    op(b, 't');
    op(b, 'Q');
    bint(b, offset);
    op(b, '(');
    for (int i = 0; i < nd; i++) bint(b, shape[i]);
    op(b, 't');
    op(b, '(');
    for (int i = 0; i < nd; i++) bint(b, stride[i]);
    op(b, 't');
    op(b, 0x89);
    glob(b, "collections", "OrderedDict");
    op(b, ')');
    op(b, 'R');
    op(b, 't');
    op(b, 'R');
}

static const float k_storage[6] = {1, 2, 3, 4, 5, 6};

/* An archive holding `pk` as archive/data.pkl and k_storage (nbytes of it) as data/0. */
static uint8_t *archive(const pkbuf *pk, size_t storage_bytes, const char *byteorder, size_t *len)
{
    pt_zip_build z = {0};
    pzb_add(&z, "archive/data.pkl", pk->d, pk->n);
    if (byteorder) pzb_add(&z, "archive/byteorder", byteorder, strlen(byteorder));
    if (storage_bytes) pzb_add(&z, "archive/data/0", k_storage, storage_bytes);
    return pzb_finish(&z, len);
}

static ti_err open_archive(const pkbuf *pk, size_t storage_bytes, const char *byteorder, ti_pt **out)
{
    size_t len;
    uint8_t *zip = archive(pk, storage_bytes, byteorder, &len);
    if (!zip) return TI_ERR_NOMEM;
    ti_pt *pt = NULL;
    ti_pt_options opt = {.key = "", .max_bytes = 1 << 20}; /* key "": walk the whole object */
    ti_err err = ti_pt_open_memory(&pt, zip, len, "crafted.pt", &opt);
    free(zip);
    if (out) *out = pt;
    else ti_pt_close(pt);
    return err;
}

/* {"w": tensor(shape, stride, offset) over a 6-float storage} */
static pkbuf one_tensor(int numel, int offset, int nd, const int *shape, const int *stride)
{
    pkbuf b = {.n = 0};
    op(&b, 0x80);
    op(&b, 2);
    op(&b, '}');
    op(&b, '(');
    str(&b, "w");
    tensor(&b, "0", numel, offset, nd, shape, stride);
    op(&b, 'u');
    op(&b, '.');
    return b;
}

TI_TEST(crafted_archives)
{
    const int sh[] = {2, 2}, st[] = {1, 2}; /* transposed 2x2 view at offset 1: [[2,4],[3,5]] */
    pkbuf pk = one_tensor(6, 1, 2, sh, st);
    ti_pt *pt = NULL;
    TI_CHECK_OK(open_archive(&pk, sizeof k_storage, "little", &pt));
    const ti_pt_tensor *w = pt ? ti_pt_find(pt, "w") : NULL;
    TI_CHECK(w && strcmp(w->location, "cuda:0") == 0);
    if (w) {
        const float *v = w->data;
        TI_CHECK(v[0] == 2 && v[1] == 4 && v[2] == 3 && v[3] == 5);
    }
    ti_pt_close(pt);

    const int big[] = {3, 2}, bst[] = {2, 1};
    pk = one_tensor(6, 1, 2, big, bst); /* reaches element 6 of 6 */
    TI_CHECK_ERR(open_archive(&pk, sizeof k_storage, NULL, NULL), TI_ERR_FORMAT, "tensor 'w': view");
    pk = one_tensor(6, 0, 2, sh, st);
    TI_CHECK_ERR(open_archive(&pk, 0, NULL, NULL), TI_ERR_FORMAT, "'archive/data/0' is missing");
    TI_CHECK_ERR(open_archive(&pk, 8, NULL, NULL), TI_ERR_CORRUPT, "storage '0' has 8 bytes");
    TI_CHECK_ERR(open_archive(&pk, sizeof k_storage, "big", NULL), TI_ERR_UNSUPPORTED, "big-endian");
    const int huge[] = {1 << 20, 1 << 20}, zero[] = {0, 0};
    pk = one_tensor(6, 0, 2, huge, zero); /* stride-0 view: 4 TiB from 24 bytes */
    TI_CHECK_ERR(open_archive(&pk, sizeof k_storage, NULL, NULL), TI_ERR_LIMIT, "byte limit");

    /* a global outside the whitelist is never resolved */
    pk = (pkbuf){.n = 0};
    op(&pk, 0x80), op(&pk, 2);
    glob(&pk, "os", "system");
    str(&pk, "echo pwned");
    op(&pk, 0x85), op(&pk, 'R'), op(&pk, '.');
    TI_CHECK_ERR(open_archive(&pk, 0, NULL, NULL), TI_ERR_UNSUPPORTED, "offset 2, opcode 0x63 GLOBAL: global 'os.system'");

    /* a list that contains itself: bounded walk */
    pk = (pkbuf){.n = 0};
    op(&pk, 0x80), op(&pk, 2), op(&pk, '}'), str(&pk, "loop"), op(&pk, ']'), op(&pk, 'q'), op(&pk, 0);
    op(&pk, 'h'), op(&pk, 0), op(&pk, 'a'), op(&pk, 's'), op(&pk, '.');
    TI_CHECK_ERR(open_archive(&pk, 0, NULL, NULL), TI_ERR_LIMIT, "nested deeper than");
    /* 2^30 paths through 30 shared lists: bounded walk, not exponential */
    pk = (pkbuf){.n = 0};
    op(&pk, 0x80), op(&pk, 2), op(&pk, '}'), str(&pk, "dag"), op(&pk, ']');
    for (int i = 0; i < 30; i++) op(&pk, 'q'), op(&pk, 0), op(&pk, 'h'), op(&pk, 0), op(&pk, 0x86);
    op(&pk, 's'), op(&pk, '.');
    TI_CHECK_ERR(open_archive(&pk, 0, NULL, NULL), TI_ERR_LIMIT, "too large to walk");

    /* archive-level problems */
    pt_zip_build z = {0};
    pzb_add(&z, "archive/other.txt", "x", 1);
    size_t len;
    uint8_t *zip = pzb_finish(&z, &len);
    TI_CHECK_ERR(ti_pt_open_memory(&pt, zip, len, "nopkl.pt", NULL), TI_ERR_FORMAT, "data.pkl");
    free(zip);
    pzb_add(&z, "model/constants.pkl", "x", 1);
    zip = pzb_finish(&z, &len);
    TI_CHECK_ERR(ti_pt_open_memory(&pt, zip, len, "script.pt", NULL), TI_ERR_UNSUPPORTED, "TorchScript");
    free(zip);
    pk = one_tensor(6, 0, 2, sh, st);
    zip = archive(&pk, sizeof k_storage, NULL, &len);
    if (zip) {
        /* layout: [hdr+pkl] [hdr+"archive/data/0"+24 bytes] [2 central entries] [end record] */
        size_t storage_end = len - 22 - (46 + strlen("archive/data.pkl")) - (46 + strlen("archive/data/0"));
        zip[storage_end - sizeof k_storage + 5] ^= 0x5a;
        TI_CHECK_ERR(ti_pt_open_memory(&pt, zip, len, "flipped.pt", NULL), TI_ERR_CORRUPT, "CRC-32");
    }
    free(zip);
    /* ZIP64 directory records (torch writes them for archives over 4 GiB); the helper's
     * output was checked once with Python's zipfile */
    z = (pt_zip_build){.zip64 = 1};
    pk = one_tensor(6, 1, 2, sh, st);
    pzb_add(&z, "big/data.pkl", pk.d, pk.n);
    pzb_add(&z, "big/data/0", k_storage, sizeof k_storage);
    zip = pzb_finish(&z, &len);
    ti_pt_options all = {.key = ""};
    pt = NULL;
    TI_CHECK_OK(ti_pt_open_memory(&pt, zip, len, "zip64.pt", &all));
    TI_CHECK(pt && ti_pt_count(pt) == 1 && ((const float *)ti_pt_at(pt, 0)->data)[3] == 5);
    ti_pt_close(pt);
    pt = NULL;
    if (zip) {
        zip[len - 22 - 20 + 8] ^= 1; /* locator points elsewhere */
        TI_CHECK_ERR(ti_pt_open_memory(&pt, zip, len, "zip64.pt", &all), TI_ERR_FORMAT, "ZIP64 end record offset");
    }
    free(zip);
    const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    TI_CHECK_ERR(ti_pt_open_memory(&pt, legacy, sizeof legacy, "old.pt", NULL), TI_ERR_UNSUPPORTED, "legacy");
    TI_CHECK_ERR(ti_pt_open_memory(&pt, "PK\x05\x06", 4, "short.pt", NULL), TI_ERR_FORMAT, "too short");
    TI_CHECK(pt == NULL);
}

static ti_err run_pickle(const pkbuf *b, const ti_pk_value **root, ti_pickle **p)
{
    *p = NULL;
    ti_err err = ti_pickle_load(p, b->d, b->n, "t.pkl");
    *root = *p ? ti_pickle_root(*p) : NULL;
    return err;
}

TI_TEST(pickle_vm_opcodes)
{
    pkbuf b = {.n = 0};
    /* protocol 4 framing, STACK_GLOBAL, MEMOIZE, short strings, LONG1, BINFLOAT, DICT/LIST */
    const uint8_t prog[] = {
        0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0,  /* PROTO 4, FRAME */
        '(',                                    /* MARK for DICT */
        0x8c, 1, 'a', 0x8a, 2, 0x00, 0x80,      /* 'a': LONG1 -32768 */
        0x8c, 1, 'b', 'G', 0x3f, 0xd0, 0, 0, 0, 0, 0, 0, /* 'b': 0.25 */
        0x8c, 1, 'c', ']', 0x94, '(', 'N', 0x88, 'K', 9, 'e', /* 'c': [None, True, 9] */
        0x8c, 1, 'd', 0x8d, 2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i', /* 'd': BINUNICODE8 'hi' */
        0x8c, 1, 'e', 0x8c, 11, 'c', 'o', 'l', 'l', 'e', 'c', 't', 'i', 'o', 'n', 's', 0x8c, 11, 'O', 'r', 'd', 'e',
        'r', 'e', 'd', 'D', 'i', 'c', 't', 0x93, ')', 'R', /* 'e': OrderedDict() */
        0x8c, 1, 'f', 'M', 0x34, 0x12, 'K', 1, 'K', 2, 0x87, /* 'f': (0x1234, 1, 2) */
        'd', '.'};
    raw(&b, prog, sizeof prog);
    ti_pickle *p;
    const ti_pk_value *r;
    TI_CHECK_OK(run_pickle(&b, &r, &p));
    TI_CHECK(r && r->kind == TI_PK_DICT && r->n == 6);
    if (r && r->kind == TI_PK_DICT) {
        const ti_pk_value *a = ti_pk_dict_get(r, "a"), *bb = ti_pk_dict_get(r, "b"), *c = ti_pk_dict_get(r, "c");
        const ti_pk_value *d = ti_pk_dict_get(r, "d"), *e = ti_pk_dict_get(r, "e"), *f = ti_pk_dict_get(r, "f");
        TI_CHECK(a && a->kind == TI_PK_INT && a->i == -32768);
        TI_CHECK(bb && bb->kind == TI_PK_FLOAT && bb->f == 0.25);
        TI_CHECK(c && c->kind == TI_PK_LIST && c->n == 3 && c->items[0]->kind == TI_PK_NONE &&
                 c->items[1]->kind == TI_PK_BOOL && c->items[1]->i == 1 && c->items[2]->i == 9);
        TI_CHECK(d && d->kind == TI_PK_STR && d->len == 2 && strcmp(d->s, "hi") == 0);
        TI_CHECK(e && e->kind == TI_PK_DICT && e->n == 0);
        TI_CHECK(f && f->kind == TI_PK_TUPLE && f->n == 3 && f->items[0]->i == 0x1234);
    }
    ti_pickle_free(p);

    /* P(lit): a literal and its length (literals may hold NUL bytes) */
#define P(lit) lit, sizeof(lit) - 1
    struct {
        const char *prog;
        size_t len;
        ti_err code;
        const char *msg;
    } bad[] = {
        {P("\x80\x02s."), TI_ERR_FORMAT, "offset 2, opcode 0x73 SETITEM: stack underflow"},
        {P("\x80\x02S'x'\n."), TI_ERR_UNSUPPORTED, "0x53 STRING: opcode not supported"},
        {P("\x80\x02}"), TI_ERR_FORMAT, "without STOP"},
        {P("\x80\x02h\x05."), TI_ERR_FORMAT, "memo slot 5 is empty"},
        {P("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), TI_ERR_UNSUPPORTED, "9 bytes"},
        {P("\x80\x06}."), TI_ERR_UNSUPPORTED, "protocol 6"},
        {P("\x80\x02X\x05\x00\x00\x00" "ab."), TI_ERR_FORMAT, "truncated"},
        {P("\x80\x02(}t(."), TI_ERR_FORMAT, "stack underflow"}, /* STOP may not pop below a MARK */
        {P("\x80\x02]}u."), TI_ERR_FORMAT, "no MARK"},
        {P("\x80\x02](K\x01u."), TI_ERR_FORMAT, "odd number"},
        {P("\x80\x02](K\x01K\x02u."), TI_ERR_FORMAT, "target is a list, not a dict"},
        {P("\x80\x02K\x01)R."), TI_ERR_UNSUPPORTED, "REDUCE calls a int"},
        {P("\x80\x02" "ctorch\nFloatStorage\n)R."), TI_ERR_UNSUPPORTED, "calling a storage type"},
        {P("\x80\x02" "ccollections\nOrderedDict\nK\x01R."), TI_ERR_FORMAT, "not a tuple"},
        {P("\x80\x02]K\x01" "b."), TI_ERR_UNSUPPORTED, "BUILD on a list"},
        {P("\x80\x02(X\x07\x00\x00\x00storageK\x01tQ."), TI_ERR_UNSUPPORTED, "persistent id"},
        {P("\x80\x02\x63os\nsystem"), TI_ERR_FORMAT, "unterminated"},
    };
#undef P
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pkbuf x = {.n = 0};
        raw(&x, bad[i].prog, bad[i].len);
        TI_CHECK_ERR(run_pickle(&x, &r, &p), bad[i].code, bad[i].msg);
        TI_CHECK(p == NULL);
    }
}

/* Every prefix of a real torch.save file, and bytes flipped through it, fail cleanly. */
TI_TEST(truncated_and_flipped_archives)
{
    char *buf = NULL;
    size_t len = 0;
    TI_CHECK_OK(ti_read_file(DATA_DIR "ckpt_nested.pt", 0, &buf, &len));
    if (!buf) return;
    int bad = 0;
    for (size_t n = 0; n < len; n += (n < 64 || n + 200 > len) ? 1 : 7) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        ti_pt *pt = NULL;
        ti_err err = ti_pt_open_memory(&pt, copy, n, "cut.pt", NULL);
        if (err != TI_ERR_FORMAT && err != TI_ERR_CORRUPT) bad++;
        ti_pt_close(pt);
        free(copy);
    }
    TI_CHECK_MSG(bad == 0, "%d truncations not rejected as FORMAT/CORRUPT", bad);
    uint8_t *copy = malloc(len);
    for (size_t i = 0; copy && i < len; i += 3) {
        memcpy(copy, buf, len);
        copy[i] ^= 0xff;
        ti_pt *pt = NULL;
        ti_err err = ti_pt_open_memory(&pt, copy, len, "flip.pt", NULL);
        if (err == TI_OK) TI_CHECK(ti_pt_count(pt) <= 8); /* some bytes (padding, comments) do not matter */
        ti_pt_close(pt);
    }
    free(copy);
    free(buf);
}

/* The real checkpoint from the reference project (bundled; its absence is a failure). */
TI_TEST(seed_checkpoint)
{
    ti_pt *pt = NULL;
    TI_CHECK_OK(ti_pt_open(&pt, SEED_PT, NULL));
    if (!pt) return;
    TI_CHECK(ti_pt_count(pt) == 44);
    TI_CHECK(ti_pt_param_count(pt) == 476801);
    TI_CHECK(strcmp(ti_pt_selected_key(pt), "model") == 0);
    double rmspe = 0;
    TI_CHECK_OK(ti_pt_get_scalar(pt, "best_rmspe", &rmspe));
    TI_CHECK_NEAR(rmspe, 0.2488385412281237, 1e-15);
    for (size_t i = 0; i < ti_pt_count(pt); i++) TI_CHECK(ti_pt_at(pt, i)->dtype == TI_ST_F32);
    size_t n = 0;
    TI_CHECK_OK(ti_pt_strip_prefix(pt, "_orig_mod.", &n));
    TI_CHECK(n == 44);
    const ti_pt_tensor *pos = ti_pt_find(pt, "pos"), *inw = ti_pt_find(pt, "enc.layers.0.self_attn.in_proj_weight");
    const ti_pt_tensor *hw = ti_pt_find(pt, "head.1.weight");
    TI_CHECK(pos && pos->ndim == 3 && pos->shape[0] == 1 && pos->shape[1] == 601 && pos->shape[2] == 128);
    TI_CHECK(inw && inw->ndim == 2 && inw->shape[0] == 384 && inw->shape[1] == 128);
    TI_CHECK(hw && hw->ndim == 2 && hw->shape[0] == 1 && hw->shape[1] == 128);
    TI_CHECK(pos && strcmp(pos->location, "cuda:0") == 0);
    /* values checked against torch.load when this test was written */
    TI_CHECK(pos && ((const float *)pos->data)[0] == 0.0382364206f);
    TI_CHECK(inw && ((const float *)inw->data)[0] == -0.00393541716f);
    ti_pt_close(pt);
}

int main(void)
{
    TI_RUN(state_dict_matches_pytorch);
    TI_RUN(nested_checkpoint_and_prefixes);
    TI_RUN(key_selection_errors);
    TI_RUN(converts_to_safetensors);
    TI_RUN(converted_files_match_torch_load);
    TI_RUN(crafted_archives);
    TI_RUN(pickle_vm_opcodes);
    TI_RUN(truncated_and_flipped_archives);
    TI_RUN(seed_checkpoint);
    return ti_test_summary();
}
