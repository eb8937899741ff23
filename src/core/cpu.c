/* CPU feature detection (cpuid via GCC builtins, which also check OS XSAVE support). */
#include "tickinfer/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ti_cpu_info g_cpu;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void read_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                size_t n = strcspn(p, "\n");
                if (n >= cap) n = cap - 1;
                memcpy(out, p, n);
                out[n] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

static void detect(void)
{
    __builtin_cpu_init();
#if defined(__x86_64__) || defined(__i386__)
    g_cpu.has_sse42 = __builtin_cpu_supports("sse4.2");
    g_cpu.has_avx2 = __builtin_cpu_supports("avx2");
    g_cpu.has_fma = __builtin_cpu_supports("fma");
    g_cpu.has_avx512f = __builtin_cpu_supports("avx512f");
    g_cpu.has_avx512bw = __builtin_cpu_supports("avx512bw");
    g_cpu.has_avx512dq = __builtin_cpu_supports("avx512dq");
    g_cpu.has_avx512vl = __builtin_cpu_supports("avx512vl");
    g_cpu.has_avx512_vnni = __builtin_cpu_supports("avx512vnni");
    g_cpu.has_avx512_bf16 = __builtin_cpu_supports("avx512bf16");
#if !defined(__clang__) || __clang_major__ >= 16
    /* clang 14 does not know these feature names (only reported by `tickinfer info`). */
    g_cpu.has_avx_vnni = __builtin_cpu_supports("avxvnni");
    g_cpu.has_amx_bf16 = __builtin_cpu_supports("amx-bf16");
#endif
#endif
    g_cpu.n_cores_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (g_cpu.n_cores_online < 1) g_cpu.n_cores_online = 1;
    read_model(g_cpu.model, sizeof g_cpu.model);
}

const ti_cpu_info *ti_cpu_get(void)
{
    pthread_once(&g_once, detect);
    return &g_cpu;
}

ti_simd_level ti_simd_supported(void)
{
    const ti_cpu_info *c = ti_cpu_get();
    if (c->has_avx512f && c->has_avx512bw && c->has_avx512dq && c->has_avx512vl && c->has_fma)
        return TI_SIMD_AVX512;
    if (c->has_avx2 && c->has_fma) return TI_SIMD_AVX2;
    return TI_SIMD_SCALAR;
}

ti_simd_level ti_simd_active(void)
{
    ti_simd_level lvl = ti_simd_supported();
    const char *cap = getenv("TI_SIMD");
    if (cap && *cap) {
        ti_simd_level want = lvl;
        if (strcmp(cap, "scalar") == 0) want = TI_SIMD_SCALAR;
        else if (strcmp(cap, "avx2") == 0) want = TI_SIMD_AVX2;
        else if (strcmp(cap, "avx512") == 0) want = TI_SIMD_AVX512;
        if (want < lvl) lvl = want;
    }
    return lvl;
}

const char *ti_simd_name(ti_simd_level level)
{
    switch (level) {
    case TI_SIMD_SCALAR: return "scalar";
    case TI_SIMD_AVX2: return "avx2";
    case TI_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}
