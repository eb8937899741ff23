/* Build checks that need no GPU.
 * 1. The nvcc build leaves the ptxas resource listing of every kernel next to
 *    libtickinfer_cuda.a (TI_CUDA_RES_PATH, see the Makefile's CUDA block).  Every kernel must
 *    be compiled for sm_80 and sm_90, with no register spills (a spill in these small kernels
 *    means a code change blew the register budget).
 * 2. `nm` on the archive (TI_CUDA_LIB_PATH: the CUDA archive, or libtickinfer.a holding the
 *    stub) defines every function declared in include/tickinfer/cuda.h and, with nvcc, the
 *    host entry of every kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tickinfer/cuda.h"

#ifdef TI_HAVE_CUDA
static const char *const kernels[] = {
    "k_batched_gemv", "k_softmax",   "k_price_vectors", "k_rmspe_partial", "k_rmspe_final",
    "k_rmspe_grad",   "k_bias_act",  "k_layernorm",     "k_act",           "k_add",
    "k_attention",    "k_paged_decode", "k_quantize_kv",   "k_tiny_embed",   "k_dec_advance", "k_dec_append",
};

#endif

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap > (64u << 20)) break; /* listing is a few KiB; refuse absurd files */
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* Output of `nm -C -g --defined-only` on the archive, or NULL if nm cannot run. */
static char *nm_archive(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "nm -C -g --defined-only '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, p)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = cap > (256u << 20) ? NULL : realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    int rc = pclose(p);
    if (buf) buf[n] = 0;
    if (rc != 0 || n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* 1 if nm's text has a line "<addr> T <name><end>" (end: "\n" for C, "(" for C++). */
static int has_text_symbol(const char *nm, const char *name, const char *end)
{
    char want[160];
    snprintf(want, sizeof want, " T %s%s", name, end);
    return strstr(nm, want) != NULL;
}

TI_TEST(every_kernel_built_for_both_arches_without_spills)
{
#ifndef TI_HAVE_CUDA
    TI_CHECK(!ti_cuda_compiled());
    TI_SKIP("built without nvcc: the CUDA stub is linked (ti_cuda_compiled() == 0)");
#else
    TI_CHECK(ti_cuda_compiled());
    size_t len = 0;
    char *txt = slurp(TI_CUDA_RES_PATH, &len);
    TI_CHECK_MSG(txt != NULL, "cannot read %s", TI_CUDA_RES_PATH);
    if (!txt) return;
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        int arch80 = 0, arch90 = 0;
        for (const char *p = txt; (p = strstr(p, "Compiling entry function '")) != NULL; p++) {
            const char *name = p + strlen("Compiling entry function '");
            const char *end = strchr(name, '\'');
            if (!end) break;
            /* mangled names carry the identifier with its length prefix: _Z9k_softmax... */
            char want[64];
            snprintf(want, sizeof want, "%zu%s", strlen(kernels[i]), kernels[i]);
            const char *hit = strstr(name, want);
            if (!hit || hit > end) continue;
            if (strncmp(end, "' for 'sm_80'", 13) == 0) arch80 = 1;
            if (strncmp(end, "' for 'sm_90'", 13) == 0) arch90 = 1;
        }
        TI_CHECK_MSG(arch80 && arch90, "kernel %s: sm_80 %d sm_90 %d in %s", kernels[i], arch80, arch90,
                     TI_CUDA_RES_PATH);
    }
    for (const char *p = txt; (p = strstr(p, "bytes spill stores")) != NULL; p++) {
        const char *line = p;
        while (line > txt && line[-1] != '\n') line--;
        TI_CHECK_MSG(strncmp(line + strspn(line, " "), "0 bytes stack frame, 0 bytes spill stores", 41) == 0,
                     "spill in %.80s", line);
    }
    free(txt);
#endif
}

TI_TEST(archive_defines_every_api_function_and_kernel)
{
    char *nm = nm_archive(TI_CUDA_LIB_PATH);
    TI_CHECK_MSG(nm != NULL, "cannot run nm on %s (binutils missing?)", TI_CUDA_LIB_PATH);
    if (!nm) return;
    size_t hlen = 0;
    char *hdr = slurp("include/tickinfer/cuda.h", &hlen);
    TI_CHECK_MSG(hdr != NULL, "cannot read include/tickinfer/cuda.h");
    int n_api = 0;
    /* every "ti_cuda_<name>(" in the header is a declaration */
    for (const char *p = hdr; hdr && (p = strstr(p, "ti_cuda_")) != NULL;) {
        size_t k = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (p[k] == '(' && k < 100) {
            char name[128];
            memcpy(name, p, k);
            name[k] = 0;
            n_api++;
            TI_CHECK_MSG(has_text_symbol(nm, name, "\n"), "%s declared in cuda.h, not defined in %s", name,
                         TI_CUDA_LIB_PATH);
        }
        p += k;
    }
    TI_CHECK_MSG(n_api >= 36, "found only %d declarations in cuda.h", n_api);
#ifdef TI_HAVE_CUDA
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        TI_CHECK_MSG(has_text_symbol(nm, kernels[i], "("), "kernel %s missing from %s", kernels[i],
                     TI_CUDA_LIB_PATH);
#endif
    free(hdr);
    free(nm);
}

int main(void)
{
    TI_RUN(every_kernel_built_for_both_arches_without_spills);
    TI_RUN(archive_defines_every_api_function_and_kernel);
    return ti_test_summary();
}
