/* tickinfer import MODEL.onnx -o CKPT.safetensors [--heads H] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tickinfer/transformer.h"
#include "tickinfer/onnx.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer import MODEL.onnx -o CKPT.safetensors [--heads H]\n\n"
            "Read an ONNX transformer into a tickinfer checkpoint by pattern-matching its graph:\n"
            "torch.onnx.export of TinyRVTransformer (opsets 14-17, packed or separate q/k/v\n"
            "projections, LayerNormalization or its decomposition) and tickinfer's own full-graph\n"
            "exports of tinyrv and rv_causal.  Anything else is refused with an error naming the\n"
            "first node that does not fit (docs/onnx.md lists the patterns).\n\n"
            "options:\n"
            "  -o, --output FILE  safetensors checkpoint to write (required; written atomically)\n"
            "  --heads H          number of attention heads when the graph does not tell\n"
            "  -q, --quiet        print nothing on success\n");
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"heads", required_argument, 0, 'H'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    ti_onnx_import_opts io = {.no_pack = 1};
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'H': {
            char *end;
            long h = strtol(optarg, &end, 10);
            if (*end || h < 1 || h > TI_MODEL_MAX_HEADS) {
                fprintf(stderr, "tickinfer import: --heads must be 1..%d\n", TI_MODEL_MAX_HEADS);
                return 2;
            }
            io.n_heads = (int)h;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc || !out) {
        usage(stderr);
        return 2;
    }
    ti_tfm *m = NULL;
    ti_onnx_info info;
    ti_err e = ti_onnx_import(&m, &info, argv[optind], &io);
    if (e) return cli_fail("import", e);
    ti_ckpt_data data = {.n_features = ti_tfm_get_config(m)->n_features,
                         .feature_names = (const char *const *)info.meta.feature_names,
                         .mean = info.meta.mean,
                         .std = info.meta.std,
                         .n_extra = info.n_extra,
                         .extra_keys = (const char *const *)info.extra_keys,
                         .extra_values = (const char *const *)info.extra_values};
    e = ti_tfm_save(m, out, &data);
    if (!e && !quiet) {
        const ti_tfm_config *cfg = ti_tfm_get_config(m);
        printf("wrote %s: %s (%s), opset %lld, producer '%s'\n  F %d, d_model %d, heads %d, layers %d, d_ff %d, %s, "
               "context %d%s\n",
               out, ti_tfm_arch_name(cfg->kind), info.pattern, (long long)info.opset, info.producer, cfg->n_features,
               cfg->d_model, cfg->n_heads, cfg->n_layers, cfg->d_ff, ti_tfm_act_name(cfg->activation), cfg->context,
               info.meta.config_source == TI_CONFIG_FROM_METADATA ? " (config from metadata)" : "");
    }
    ti_onnx_info_free(&info);
    ti_tfm_destroy(m);
    return e ? cli_fail("import", e) : 0;
}
