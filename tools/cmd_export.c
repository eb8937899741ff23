/* tickinfer export --format onnx CKPT -o OUT.onnx [--graph full|decode] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/model.h"
#include "tickinfer/transformer.h"
#include "tickinfer/onnx.h"
#include "tickinfer/safetensors.h"

#define MAX_EXTRA 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer export --format onnx CKPT -o OUT.onnx [--graph full|decode]\n\n"
            "Write a model checkpoint (.safetensors or .pt) as ONNX (opset 17) for ONNX Runtime and\n"
            "other runtimes.  Weights become initializers under their PyTorch names; the config,\n"
            "features, normalisation, version and other checkpoint metadata go to metadata_props.\n\n"
            "options:\n"
            "  --format onnx      output format (only onnx)\n"
            "  -o, --output FILE  ONNX file to write (required; written atomically)\n"
            "  --graph full       the whole forward: x [B,T,F] -> y_log [B] (tinyrv) or [B,T] (default)\n"
            "  --graph decode     rv_causal one-step decode: x_t [B,1,F], past_key_l / past_value_l\n"
            "                     [B,H,P,hd] -> y_t [B,1], present_key_l / present_value_l [B,H,P+1,hd]\n"
            "  -q, --quiet        print nothing on success\n\n"
            "See docs/onnx.md.\n");
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"graph", required_argument, 0, 'g'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *format = "onnx";
    ti_onnx_export_opts eo = {.graph = TI_ONNX_FULL};
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'g':
            if (strcmp(optarg, "full") == 0) eo.graph = TI_ONNX_FULL;
            else if (strcmp(optarg, "decode") == 0) eo.graph = TI_ONNX_DECODE;
            else {
                fprintf(stderr, "tickinfer export: --graph must be full or decode, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (strcmp(format, "onnx") != 0) {
        fprintf(stderr, "tickinfer export: unknown --format '%s' (supported: onnx)\n", format);
        return 2;
    }
    if (optind + 1 != argc || !out) {
        usage(stderr);
        return 2;
    }
    const char *in = argv[optind];
    /* any model file opens; ONNX graphs are written for the transformer kind */
    ti_model *gm = NULL;
    ti_err e = ti_model_open(&gm, in, NULL);
    if (e) return cli_fail("export", e);
    const ti_tfm *m = ti_tfm_of_model(gm);
    if (!m) {
        e = ti_errorf(TI_ERR_UNSUPPORTED, "export: %s is a %s model; ONNX export writes transformer graphs", in,
                      ti_model_get_info(gm)->kind);
        ti_model_free(gm);
        return cli_fail("export", e);
    }
    const ti_model_norm *meta = ti_model_get_norm(gm);
    /* carry the checkpoint's own metadata (rv_scale, step, ...) when it is safetensors */
    const char *keys[MAX_EXTRA], *vals[MAX_EXTRA];
    size_t n_extra = 0;
    ti_safetensors *st = NULL;
    if (ti_safetensors_open(&st, in) == TI_OK) {
        for (size_t i = 0; i < ti_safetensors_meta_count(st) && n_extra < MAX_EXTRA; i++) {
            const char *k, *v;
            ti_safetensors_meta_at(st, i, &k, &v);
            if (strncmp(k, "tickinfer.", 10) != 0) keys[n_extra] = k, vals[n_extra++] = v;
        }
    }
    ti_error_clear();
    ti_ckpt_data data = {.n_features = meta->n_features,
                         .feature_names = (const char *const *)meta->feature_names,
                         .mean = meta->mean,
                         .std = meta->std,
                         .n_extra = n_extra,
                         .extra_keys = keys,
                         .extra_values = vals};
    e = ti_onnx_export(out, m, &data, &eo);
    if (!e && !quiet) {
        const ti_tfm_config *cfg = ti_tfm_get_config(m);
        printf("wrote %s: %s %s graph, %zu parameters, opset 17\n", out, ti_tfm_arch_name(cfg->kind),
               eo.graph == TI_ONNX_DECODE ? "decode" : "full", ti_tfm_n_params(m));
    }
    if (st) ti_safetensors_close(st);
    ti_model_free(gm);
    return e ? cli_fail("export", e) : 0;
}
