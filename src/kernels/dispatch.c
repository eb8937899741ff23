/* Kernel tables: one per SIMD level, filled once.  A level's table starts as a copy of
 * the scalar one and each op that has a variant for that ISA overrides its slots, so
 * the AVX-512 table may use AVX2 code for an op with no AVX-512 body. */
#include <pthread.h>

#include "kernels/kernels_internal.h"

static ti_kernels g_tables[TI_SIMD__COUNT];
static int g_have[TI_SIMD__COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const ti_kernels *g_best;

static void fill_ref(ti_kernels *k)
{
#define FILL_REF(op) ti_kern_fill_##op##_ref(k);
    TI_KERN_OPS(FILL_REF)
#undef FILL_REF
    ti_kern_fill_rope_ref(k);
}

static void init_tables(void)
{
    ti_simd_level sup = ti_simd_supported();
    for (int l = 0; l < TI_SIMD__COUNT; l++) {
        ti_kernels *k = &g_tables[l];
        fill_ref(k);
        k->level = (ti_simd_level)l;
        k->name = ti_simd_name((ti_simd_level)l);
        g_have[l] = (ti_simd_level)l <= sup;
    }
    /* The SIMD fill functions are compiled with their ISA flags: call them only when the
     * CPU has that ISA. */
    if (sup >= TI_SIMD_AVX2) {
        for (int l = TI_SIMD_AVX2; l < TI_SIMD__COUNT; l++) {
#define FILL_AVX2(op) ti_kern_fill_##op##_avx2(&g_tables[l]);
            TI_KERN_OPS(FILL_AVX2)
#undef FILL_AVX2
        }
    }
    if (sup >= TI_SIMD_AVX512) {
#define FILL_AVX512(op) ti_kern_fill_##op##_avx512(&g_tables[TI_SIMD_AVX512]);
        TI_KERN_OPS(FILL_AVX512)
#undef FILL_AVX512
    }
    g_best = &g_tables[ti_simd_active()];
}

const ti_kernels *ti_kernels_get(ti_simd_level level)
{
    if ((int)level < 0 || level >= TI_SIMD__COUNT) return NULL;
    pthread_once(&g_once, init_tables);
    return g_have[level] ? &g_tables[level] : NULL;
}

const ti_kernels *ti_kernels_best(void)
{
    pthread_once(&g_once, init_tables);
    return g_best;
}
