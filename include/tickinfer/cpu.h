/* tickinfer: CPU feature detection and SIMD level selection.
 *
 * One portable binary: kernels are compiled for several instruction sets and the best
 * one the CPU supports is chosen once at start.  TI_SIMD=scalar|avx2|avx512 in the
 * environment caps the level (for tests and benchmarks). */
#ifndef TICKINFER_CPU_H
#define TICKINFER_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ti_simd_level {
    TI_SIMD_SCALAR = 0,
    TI_SIMD_AVX2 = 1,    /* AVX2 + FMA */
    TI_SIMD_AVX512 = 2,  /* AVX-512 F/BW/DQ/VL + FMA */
    TI_SIMD__COUNT
} ti_simd_level;

typedef struct ti_cpu_info {
    char model[64];
    int n_cores_online;
    int has_avx2, has_fma, has_avx512f, has_avx512bw, has_avx512dq, has_avx512vl;
    int has_avx512_bf16, has_avx512_vnni, has_avx_vnni, has_amx_bf16, has_sse42;
} ti_cpu_info;

/* Filled once; thread-safe. */
const ti_cpu_info *ti_cpu_get(void);

/* Highest level the CPU supports. */
ti_simd_level ti_simd_supported(void);

/* Level in use: min(supported, TI_SIMD env cap). */
ti_simd_level ti_simd_active(void);

const char *ti_simd_name(ti_simd_level level);

#ifdef __cplusplus
}
#endif
#endif
