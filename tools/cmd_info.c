/* tickinfer info: version, CPU, SIMD level. */
#include <stdio.h>

#include "cli.h"
#include "tickinfer/cpu.h"
#include "tickinfer/version.h"

int cmd_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: tickinfer info\n\nPrints the version, the CPU model and features, and the SIMD\n"
               "code path in use (cap it with TI_SIMD=scalar|avx2|avx512).\n");
        return 0;
    }
    const ti_cpu_info *c = ti_cpu_get();
    printf("tickinfer %s\n", TI_VERSION_STRING);
    printf("cpu:        %s (%d cores online)\n", c->model, c->n_cores_online);
    printf("features:  %s%s%s%s%s%s%s%s%s\n", c->has_avx2 ? " avx2" : "", c->has_fma ? " fma" : "",
           c->has_avx512f ? " avx512f" : "", c->has_avx512bw ? " avx512bw" : "",
           c->has_avx512vl ? " avx512vl" : "", c->has_avx512_vnni ? " avx512_vnni" : "",
           c->has_avx512_bf16 ? " avx512_bf16" : "", c->has_avx_vnni ? " avx_vnni" : "",
           c->has_amx_bf16 ? " amx_bf16" : "");
    printf("simd:       %s (supported: %s)\n", ti_simd_name(ti_simd_active()), ti_simd_name(ti_simd_supported()));
    return 0;
}
