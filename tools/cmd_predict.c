/* tickinfer predict --model FILE --input X.npy --output Y.npy: one batch in-process, any
 * model kind, through the generic model interface (include/tickinfer/model.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/alloc.h"
#include "tickinfer/fileio.h"
#include "tickinfer/model.h"
#include "tickinfer/npy.h"

#define PREDICT_MAX_INPUT (4ull << 30) /* 4 GiB of NPY */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer predict --model FILE --input X.npy --output Y.npy [options]\n\n"
            "Run a model on one batch in-process.  X is float32/float64 [B,T,F] (or [T,F] for one\n"
            "window) of raw per-second features; the model's own normalisation is applied when its\n"
            "file has one.  Y is float32 log RV: [B] (or [B,T] for a per-position model).  Any\n"
            "file `tickinfer serve --model` takes: safetensors, .pt, .onnx, linear, ensemble JSON.\n\n"
            "options:\n"
            "  -m, --model FILE     model file (required)\n"
            "  -i, --input FILE     input NPY (required)\n"
            "  -o, --output FILE    output NPY (required; written atomically)\n"
            "  --normalised         X is already normalised: skip the model's normalisation\n"
            "  --last               per-position models: write y at the last step only, [B]\n"
            "  --batch N            rows per forward (default 64)\n"
            "  --threads N          threads per forward (default 1)\n"
            "  -q, --quiet          print nothing on success\n");
}

static ti_err write_npy(const char *path, const float *y, int ndim, const int64_t *shape, size_t n)
{
    char hdr[256];
    size_t hl = 0;
    ti_err e = ti_npy_header_f32(hdr, sizeof hdr, &hl, ndim, shape);
    ti_atomic_file *f = NULL;
    if (!e) e = ti_atomic_open(&f, path);
    if (!e) e = ti_atomic_write(f, hdr, hl);
    if (!e) e = ti_atomic_write(f, y, n * sizeof(float));
    if (!e) return ti_atomic_commit(f);
    if (f) ti_atomic_abort(f);
    return e;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},  {"input", required_argument, 0, 'i'},
                                         {"output", required_argument, 0, 'o'}, {"normalised", no_argument, 0, 'n'},
                                         {"last", no_argument, 0, 'l'},         {"batch", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'}, {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *model = NULL, *in = NULL, *out = NULL;
    int normalised = 0, last = 0, batch = 64, threads = 1, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:o:qh", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'n': normalised = 1; break;
        case 'l': last = 1; break;
        case 'q': quiet = 1; break;
        case 'b':
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 4096) {
                fprintf(stderr, "tickinfer predict: --%s must be 1..4096 (got '%s')\n", c == 'b' ? "batch" : "threads", optarg);
                return 2;
            }
            if (c == 'b') batch = (int)v;
            else threads = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model || !in || !out || optind != argc) {
        fprintf(stderr, "tickinfer predict: --model, --input and --output are required (see --help)\n");
        return 2;
    }
    ti_model *m = NULL;
    ti_ctx *ctx = NULL;
    ti_pool *pool = NULL;
    char *buf = NULL;
    size_t len = 0;
    float *x = NULL, *y = NULL;
    ti_npy_view v;
    ti_err e = ti_model_open(&m, model, NULL);
    if (!e) e = ti_read_file(in, PREDICT_MAX_INPUT, &buf, &len);
    if (!e && (e = ti_npy_parse(&v, buf, len)) != TI_OK) e = ti_error_wrap(e, "predict: %s", in);
    const ti_model_info *mi = m ? ti_model_get_info(m) : NULL;
    int64_t B = 0, T = 0, F = 0;
    if (!e) {
        if (v.ndim == 3) B = v.shape[0], T = v.shape[1], F = v.shape[2];
        else if (v.ndim == 2 && mi->fixed_context && mi->context == 1) B = v.shape[0], T = 1, F = v.shape[1]; /* rows */
        else if (v.ndim == 2) B = 1, T = v.shape[0], F = v.shape[1];
        else e = ti_errorf(TI_ERR_FORMAT, "predict: %s is %d-D; the model takes [B,T,%d] (or [T,%d])", in, v.ndim, mi->n_features, mi->n_features);
    }
    if (!e && F != mi->n_features)
        e = ti_errorf(TI_ERR_FORMAT, "predict: %s has %lld features per row; model %s takes %d", in, (long long)F, model, mi->n_features);
    if (!e && (mi->fixed_context ? T != mi->context : (T < 1 || T > mi->context)))
        e = ti_errorf(TI_ERR_FORMAT, "predict: %s has %lld rows per window; model %s takes %s%d", in, (long long)T, model,
                      mi->fixed_context ? "exactly " : "1..", mi->context);
    if (!e && B < 1) e = ti_errorf(TI_ERR_FORMAT, "predict: %s holds no window", in);
    /* values per window: T for a per-position model, C for a model giving C values per row */
    const size_t cols = mi && !mi->per_step && mi->outputs[0].ndim == 2 && mi->outputs[0].shape[1] > 1 ? (size_t)mi->outputs[0].shape[1] : 1;
    const size_t xs = (size_t)T * (size_t)F, ys = mi && mi->per_step ? (size_t)T : cols;
    if (!e) {
        x = ti_malloc_aligned(v.count * sizeof(float) + 64, 64);
        y = ti_malloc_aligned((size_t)B * ys * sizeof(float) + 64, 64);
        if (!x || !y) e = ti_errorf(TI_ERR_NOMEM, "predict: out of memory for %lld windows", (long long)B);
    }
    if (!e) e = ti_npy_to_f32_ex(x, &v, mi->missing_values);
    if (!e && !normalised) ti_model_normalise(m, x, (size_t)B * (size_t)T);
    if (!e && threads > 1) e = ti_pool_create(&pool, threads);
    if (!e) e = ti_ctx_create(&ctx, m, batch);
    for (int64_t b0 = 0; !e && b0 < B; b0 += batch) {
        const int n = (int)(B - b0 < batch ? B - b0 : batch);
        if (cols > 1) {
            ti_tensor ti = {.dtype = TI_DTYPE_F32, .ndim = 3, .shape = {n, T, F}, .data = x + (size_t)b0 * xs};
            ti_tensor to = {.dtype = TI_DTYPE_F32, .ndim = 2, .shape = {n, (int64_t)cols}, .data = y + (size_t)b0 * ys};
            e = ti_ctx_run(ctx, &to, 1, &ti, 1, pool);
        } else {
            e = ti_ctx_forward(ctx, y + (size_t)b0 * ys, x + (size_t)b0 * xs, n, (int)T, pool);
        }
    }
    if (!e) {
        int64_t shape[2] = {B, (int64_t)ys};
        int ndim = ys > 1 ? 2 : 1;
        if (last && ys > 1) {
            for (int64_t b = 0; b < B; b++) y[b] = y[(size_t)b * ys + ys - 1];
            ndim = 1;
        }
        e = write_npy(out, y, ndim, shape, ndim == 2 ? (size_t)B * ys : (size_t)B);
        if (!e && !quiet)
            printf("predict: %s (%s %s) on %lld windows of [%lld,%lld] -> %s %s\n", model, mi->kind, mi->arch, (long long)B,
                   (long long)T, (long long)F, out, ndim == 2 ? (cols > 1 ? "[B,C]" : "[B,T]") : "[B]");
    }
    ti_ctx_destroy(ctx);
    ti_pool_destroy(pool);
    ti_model_free(m);
    ti_free_aligned(x);
    ti_free_aligned(y);
    free(buf);
    return e ? cli_fail("predict", e) : 0;
}
