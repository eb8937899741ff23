/* Build check that needs no GPU: the nvcc build leaves the ptxas resource listing of every
 * kernel next to libtickinfer_cuda.a (TI_CUDA_RES_PATH, see the Makefile's CUDA block).
 * Every kernel must be compiled for sm_80 and sm_90, with no register spills (a spill in
 * these small kernels means a code change blew the register budget). */
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
#endif

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

int main(void)
{
    TI_RUN(every_kernel_built_for_both_arches_without_spills);
    return ti_test_summary();
}
