/* tickinfer convert IN.pt -o OUT.safetensors [--key K] [--strip-prefix P] [--keep-dtype] [--meta K=V]... */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tickinfer/safetensors.h"
#include "tickinfer/torch_pt.h"

#define MAX_META 64
#define COMPILE_PREFIX "_orig_mod."

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickinfer convert IN.pt -o OUT.safetensors [options]\n\n"
            "Convert a PyTorch torch.save checkpoint (zip + pickle) to safetensors, without Python.\n"
            "The pickle is read by a safe subset VM: nothing in the file is executed.\n\n"
            "options:\n"
            "  -o, --output FILE    safetensors file to write (required; written atomically)\n"
            "  --key K              where the state dict is: 'model', 'a/b', '' = the top level\n"
            "                       (default: auto, the top level or its only dict of tensors)\n"
            "  --strip-prefix P     remove P from tensor names ('' keeps names as saved); by default\n"
            "                       '" COMPILE_PREFIX "' (added by torch.compile) is removed when every name has it\n"
            "  --keep-dtype         keep F16/BF16/F64 tensors as saved (default: convert them to F32)\n"
            "  --meta K=V           add a metadata string (repeatable; overrides the automatic ones)\n"
            "  -q, --quiet          print nothing on success\n\n"
            "Metadata written: format=pt, source (input file name), state_dict_key, stripped_prefix,\n"
            "and every number saved beside the weights (e.g. best_rmspe, epoch).\n");
}

/* 476801 -> "476,801" */
static const char *grouped(char *buf, size_t cap, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"key", required_argument, 0, 'k'},
                                         {"strip-prefix", required_argument, 0, 's'},
                                         {"keep-dtype", no_argument, 0, 'd'},
                                         {"meta", required_argument, 0, 'm'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *key = NULL, *strip = NULL, *meta[MAX_META];
    int keep_dtype = 0, quiet = 0, n_meta = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'k': key = optarg; break;
        case 's': strip = optarg; break;
        case 'd': keep_dtype = 1; break;
        case 'q': quiet = 1; break;
        case 'm':
            if (!strchr(optarg, '=') || optarg[0] == '=' || n_meta == MAX_META) {
                fprintf(stderr, "tickinfer convert: --meta wants KEY=VALUE (at most %d): '%s'\n", MAX_META, optarg);
                return 2;
            }
            meta[n_meta++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !out) {
        usage(stderr);
        return 2;
    }
    const char *in = argv[optind];

    ti_pt_options opt = {.key = key};
    ti_pt *pt = NULL;
    ti_st_builder *b = NULL;
    ti_err e = ti_pt_open(&pt, in, &opt);
    if (e) return cli_fail("convert", e);
    size_t n = ti_pt_count(pt), n_stripped = 0, n_converted = 0;
    char prefix[256];
    ti_pt_shared_prefix(pt, prefix, sizeof prefix);
    int auto_strip = !strip && strncmp(prefix, COMPILE_PREFIX, strlen(COMPILE_PREFIX)) == 0;
    const char *strip_used = strip ? strip : auto_strip ? COMPILE_PREFIX : "";
    if (*strip_used && (e = ti_pt_strip_prefix(pt, strip_used, &n_stripped))) goto fail;
    for (size_t i = 0; i < n; i++) {
        ti_st_dtype dt = ti_pt_at(pt, i)->dtype;
        n_converted += !keep_dtype && (dt == TI_ST_F16 || dt == TI_ST_BF16 || dt == TI_ST_F64);
    }
    if ((e = ti_st_builder_create(&b)) || (e = ti_pt_to_safetensors(b, pt, !keep_dtype))) goto fail;
    if ((e = ti_st_builder_set_meta(b, "format", "pt")) || (e = ti_st_builder_set_meta(b, "source", base_name(in))) ||
        (e = ti_st_builder_set_meta(b, "state_dict_key", ti_pt_selected_key(pt))) ||
        (e = ti_st_builder_set_meta(b, "stripped_prefix", n_stripped ? strip_used : "")))
        goto fail;
    for (size_t i = 0; i < ti_pt_scalar_count(pt) && i < MAX_META; i++) {
        const ti_pt_scalar *s = ti_pt_scalar_at(pt, i);
        char v[64];
        snprintf(v, sizeof v, s->is_int ? "%.0f" : "%.17g", s->value);
        if ((e = ti_st_builder_set_meta(b, s->name, v))) goto fail;
    }
    for (int i = 0; i < n_meta; i++) {
        char k[256];
        const char *eq = strchr(meta[i], '=');
        snprintf(k, sizeof k, "%.*s", (int)(eq - meta[i]), meta[i]);
        if ((e = ti_st_builder_set_meta(b, k, eq + 1))) goto fail;
    }
    if ((e = ti_st_builder_write(b, out))) goto fail;

    if (!quiet) {
        char g1[32], g2[32], g3[32];
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
            const ti_pt_tensor *t = ti_pt_at(pt, i);
            int conv = !keep_dtype && (t->dtype == TI_ST_F16 || t->dtype == TI_ST_BF16 || t->dtype == TI_ST_F64);
            bytes += conv ? t->numel * 4 : t->nbytes;
        }
        struct stat st;
        uint64_t fsize = stat(out, &st) == 0 ? (uint64_t)st.st_size : 0;
        printf("convert: %s -> %s\n", in, out);
        const char *sel = ti_pt_selected_key(pt);
        printf("  state dict: %s%s%s%s\n", *sel ? "'" : "", *sel ? sel : "the top-level object", *sel ? "'" : "",
               key ? "" : " (auto-detected; --key to choose)");
        if (n_stripped)
            printf("  stripped prefix '%s' from %zu of %zu tensor names%s\n", strip_used, n_stripped, n,
                   auto_strip ? " (torch.compile wrapper; --strip-prefix '' keeps it)" : "");
        char rest[256];
        if (n > 1 && ti_pt_shared_prefix(pt, rest, sizeof rest))
            printf("  note: every tensor name still starts with '%s' (--strip-prefix '%s%s' removes it)\n", rest,
                   n_stripped ? strip_used : "", rest);
        if (n_converted) printf("  converted %zu F16/BF16/F64 tensors to F32\n", n_converted);
        for (size_t i = 0; i < ti_pt_scalar_count(pt) && i < 8; i++)
            printf("  scalar %s = %.9g\n", ti_pt_scalar_at(pt, i)->name, ti_pt_scalar_at(pt, i)->value);
        printf("  wrote %zu tensors, %s params, %s data bytes (file %s bytes)\n", n,
               grouped(g1, sizeof g1, ti_pt_param_count(pt)), grouped(g2, sizeof g2, bytes),
               grouped(g3, sizeof g3, fsize));
    }
    ti_st_builder_destroy(b);
    ti_pt_close(pt);
    return 0;
fail:
    ti_st_builder_destroy(b);
    ti_pt_close(pt);
    return cli_fail("convert", e);
}
